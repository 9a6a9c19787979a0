/*
 * t_config.c - CONFIG GET SET RESETSTAT REWRITE HELP.
 *
 * Besides the options of config.c, two per database: db<N>-compaction-style (default:
 * the main engine; fifo: an engine of its own that drops its oldest tables past
 * db<N>-fifo-max-size bytes, for pure cache data). They belong to the stored database
 * (the keyspace's mapping record keeps them), so they persist without CONFIG REWRITE and
 * a style only changes on an empty database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "glob.h"
#include "repl.h"
#include "server.h"

/* CONFIG GET's reply so far; every option and per-database option once at most (many
   times the options there are, so that several patterns never list one twice) */
#define GET_MAX 1024
typedef struct get_ctx {
    resp_out body;
    long long n;
    const char *seen[GET_MAX];
} get_ctx;

static void emit(void *ctx, const char *id, const char *shown, const char *value)
{
    get_ctx *g = ctx;
    for (long long i = 0; i < g->n; i++) /* several patterns may match one name */
        if (g->seen[i] == id)
            return;
    if (g->n == GET_MAX)
        return;
    g->seen[g->n] = id;
    resp_bulk_cstr(&g->body, shown);
    resp_bulk_cstr(&g->body, value);
    g->n++;
}

/* ---- per-database options ---- */

enum { DB_STYLE, DB_FIFO_CAP };

/* "db<N>-compaction-style" and "db<N>-fifo-max-size", made once so that CONFIG GET can
   tell names apart by pointer as it does config.c's. */
static const char *db_option_name(int dbi, int which)
{
    static char names[KS_DBS][2][32];
    if (!names[0][0][0])
        for (int i = 0; i < KS_DBS; i++) {
            snprintf(names[i][DB_STYLE], sizeof names[i][DB_STYLE], "db%d-compaction-style", i);
            snprintf(names[i][DB_FIFO_CAP], sizeof names[i][DB_FIFO_CAP], "db%d-fifo-max-size", i);
        }
    return names[dbi][which];
}

static void db_options_get(server *s, const char *pattern, size_t plen, get_ctx *g)
{
    for (int i = 0; i < KS_DBS; i++)
        for (int w = 0; w < 2; w++) {
            const char *name = db_option_name(i, w);
            if (!glob_match(pattern, plen, name, strlen(name), true))
                continue;
            ks_fifo *f = ks_fifo_of(&s->ks, i);
            char v[32];
            if (w == DB_STYLE)
                snprintf(v, sizeof v, "%s", f ? "fifo" : "default");
            else
                snprintf(v, sizeof v, "%llu", f ? (unsigned long long)f->cap : 0ull);
            emit(g, name, name, v);
        }
}

int config_apply_db_options(server *s)
{
    for (int i = 0; i < KS_DBS; i++) {
        const char *style = s->cfg.db_compaction_style[i];
        uint64_t cap = s->cfg.db_fifo_max_size[i];
        bool is_fifo = ks_fifo_of(&s->ks, i) != NULL;
        bool fifo = style[0] ? strcmp(style, "fifo") == 0 : is_fifo;
        if (fifo != is_fifo && s->ks.count[i] != 0) {
            fprintf(stderr, "shale-server: db%d-compaction-style %s ignored: database %d holds "
                            "keys as %s (FLUSHDB it to change its style)\n",
                    i, style, i, is_fifo ? "fifo" : "default");
            fifo = is_fifo;
        }
        int rc = fifo != is_fifo || (fifo && cap) ? ks_set_fifo(&s->ks, i, fifo, cap) : 0;
        if (rc) {
            fprintf(stderr, "shale-server: cannot apply db%d's compaction style: %s\n", i,
                    shale_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* ---- CONFIG SET: all or nothing, as in Redis 7 ----
 *
 * Every name is checked first (unknown, immutable, given twice), then every value is
 * written into a copy of the configuration and checked, alone and together; only then do
 * the engines get their options, and if one refuses, those already given get their old
 * values back. Per-database styles and caps go last (they write the store's mapping
 * record) and are undone the same way if a later one fails.
 */

typedef struct set_pair {
    const char *given;  /* the name as the client wrote it (for errors) */
    const char *id;     /* the option's own name: one pointer per option */
    char *value;        /* NUL-terminated copy */
    int dbi;            /* a per-database option's database, else -1 */
    bool cap_option;    /* db<N>-fifo-max-size (else db<N>-compaction-style) */
    bool engine_done;   /* the engines have this pair's new value */
    bool noop;          /* a per-database value that changes nothing */
} set_pair;

typedef struct set_cmd {
    set_pair *pair;
    int n;
    server_config next; /* the configuration if everything succeeds */
    char err[256];
    const char *culprit; /* the argument the error is about */
} set_cmd;

/* Engine options that fifo databases' engines follow too (the sizes are their own). */
static bool fifo_follows(const char *id)
{
    static const char *const shared[] = {"sync-writes", "sync-interval-ms",
                                         "write-stall-timeout-ms", "delayed-write-rate",
                                         "compaction-rate-limit"};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
        if (strcmp(id, shared[i]) == 0)
            return true;
    return false;
}

/* Gives the engines option id as cfg has it: the main engine must take it; the fifo
   databases' engines follow (their failures only matter to them, as before). */
static int give_engines(server *s, const server_config *cfg, const char *id, char *err,
                        size_t errlen)
{
    if (config_apply_engine(cfg, s->db, id, err, errlen))
        return -1;
    if (fifo_follows(id))
        for (int e = 1; e < ks_engine_count(&s->ks); e++) {
            char ignored[256];
            config_apply_engine(cfg, ks_engine_at(&s->ks, e), id, ignored, sizeof ignored);
        }
    return 0;
}

/* Gives the engines the options of x whose engine_done equals !want, from cfg, until
   each has engine_done == want. The l0 triggers must stay ordered after every step, so
   one refused now is tried again after the others; -1 when a round changes nothing (the
   reason in x->err when giving new values; when putting old ones back, in the log). */
static int engines_to(server *s, set_cmd *x, const server_config *cfg, bool want)
{
    for (bool moved = true; moved;) {
        moved = false;
        const char *refused = NULL;
        char why[256], first[256] = "";
        for (int i = 0; i < x->n; i++) {
            set_pair *p = &x->pair[i];
            if (p->dbi >= 0 || p->engine_done == want)
                continue;
            if (give_engines(s, cfg, p->id, why, sizeof why) == 0) {
                p->engine_done = want;
                moved = true;
            } else if (!refused) {
                refused = p->given;
                snprintf(first, sizeof first, "%s", why);
                if (want) {
                    x->culprit = p->given;
                    snprintf(x->err, sizeof x->err, "%s", why);
                }
            }
        }
        if (!refused)
            return 0;
        if (!moved && !want)
            fprintf(stderr, "shale-server: CONFIG SET failed and '%s' could not be put back: %s\n",
                    refused, first);
    }
    return -1;
}

static bool db_will_be_fifo(server *s, const set_cmd *x, int dbi, bool *style_given)
{
    *style_given = false;
    for (int i = 0; i < x->n; i++)
        if (x->pair[i].dbi == dbi && !x->pair[i].cap_option)
            *style_given = true;
    return *style_given ? strcmp(x->next.db_compaction_style[dbi], "fifo") == 0
                        : ks_fifo_of(&s->ks, dbi) != NULL;
}

/* The per-database options given, checked against the databases as they are. */
static int check_db_options(server *s, set_cmd *x)
{
    for (int i = 0; i < x->n; i++) {
        set_pair *p = &x->pair[i];
        if (p->dbi < 0)
            continue;
        bool style_given, fifo = db_will_be_fifo(s, x, p->dbi, &style_given);
        x->culprit = p->given;
        if (!p->cap_option && fifo != (ks_fifo_of(&s->ks, p->dbi) != NULL) &&
            s->ks.count[p->dbi] != 0) {
            snprintf(x->err, sizeof x->err,
                     "database %d is not empty: a compaction style is chosen for an empty "
                     "database (FLUSHDB it first)", p->dbi);
            return -1;
        }
        uint64_t cap = x->next.db_fifo_max_size[p->dbi];
        if (p->cap_option && !fifo && cap != 0) {
            snprintf(x->err, sizeof x->err,
                     "database %d is not fifo: set db%d-compaction-style fifo first", p->dbi,
                     p->dbi);
            return -1;
        }
        if (p->cap_option && fifo && cap == 0) {
            snprintf(x->err, sizeof x->err, "argument must be a memory value of at least 1mb");
            return -1;
        }
        p->noop = p->cap_option && !fifo && !style_given; /* 0 where there is no cap */
    }
    return 0;
}

/* Applies the per-database options, one call per database; on a failure puts back the
   databases already changed (their style and cap as they were) and returns -1. */
static int apply_db_options(server *s, set_cmd *x)
{
    bool before_fifo[KS_DBS], changed[KS_DBS] = {false};
    uint64_t before_cap[KS_DBS];
    for (int dbi = 0; dbi < KS_DBS; dbi++) {
        ks_fifo *f = ks_fifo_of(&s->ks, dbi);
        before_fifo[dbi] = f != NULL;
        before_cap[dbi] = f ? f->cap : 0;
    }
    int rc = 0;
    for (int i = 0; i < x->n && rc == 0; i++) {
        set_pair *p = &x->pair[i];
        if (p->dbi < 0 || changed[p->dbi] || p->noop)
            continue;
        bool style_given, cap_given = false;
        bool fifo = db_will_be_fifo(s, x, p->dbi, &style_given);
        for (int j = 0; j < x->n; j++)
            cap_given |= x->pair[j].dbi == p->dbi && x->pair[j].cap_option;
        /* a database made fifo here starts with the cap given with it (its first memtable
           and log are sized by it) */
        rc = ks_set_fifo(&s->ks, p->dbi, fifo, cap_given ? x->next.db_fifo_max_size[p->dbi] : 0);
        if (rc) {
            x->culprit = p->given;
            snprintf(x->err, sizeof x->err, "%s",
                     rc == -ENOTEMPTY ? "the database is not empty" : shale_strerror(rc));
        } else {
            changed[p->dbi] = true;
        }
    }
    if (rc)
        for (int dbi = 0; dbi < KS_DBS; dbi++)
            if (changed[dbi] && ks_set_fifo(&s->ks, dbi, before_fifo[dbi], before_cap[dbi]))
                fprintf(stderr, "shale-server: CONFIG SET failed and database %d's compaction "
                                "style or cap could not be put back\n", dbi);
    for (int dbi = 0; dbi < KS_DBS; dbi++)
        if (changed[dbi]) {
            server_wrote(s); /* the mapping record is a write like any other */
            break;
        }
    return rc ? -1 : 0;
}

/* Reads and checks the pairs of "CONFIG SET name value [name value ...]" into x. */
static int parse_pairs(server *s, client *c, set_cmd *x, char *msg, size_t msglen)
{
    resp_arg *a = c->cmd.argv;
    x->n = c->cmd.argc > 2 ? (c->cmd.argc - 2) / 2 : 0; /* the caller checked: at least 1 */
    x->pair = calloc((size_t)x->n + 1, sizeof *x->pair);
    x->next = s->cfg;
    if (!x->pair) {
        snprintf(msg, msglen, "ERR out of memory");
        return -1;
    }
    for (int i = 0; i < x->n; i++) {
        set_pair *p = &x->pair[i];
        const resp_arg *name = &a[2 + 2 * i], *value = &a[3 + 2 * i];
        p->dbi = -1;
        p->given = strndup(name->p, name->len < 127 ? name->len : 127);
        p->value = memchr(value->p, '\0', value->len) ? NULL : strndup(value->p, value->len);
        if (!p->given || !p->value) {
            snprintf(msg, msglen, "ERR CONFIG SET failed (possibly related to argument '%.*s') - "
                                  "%s", (int)(name->len < 127 ? name->len : 127), name->p,
                     p->given && !memchr(value->p, '\0', value->len) ? "out of memory"
                                                                      : "argument holds a NUL byte");
            return -1;
        }
        bool cap_option;
        const char *why = NULL;
        if (config_db_option(p->given, &p->dbi, &cap_option)) {
            p->cap_option = cap_option;
            p->id = db_option_name(p->dbi, cap_option ? DB_FIFO_CAP : DB_STYLE);
        } else {
            p->id = config_option_name(&s->cfg, p->given, p->value, &why);
        }
        if (!p->id) {
            snprintf(msg, msglen, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                     p->given);
            return -1;
        }
        for (int j = 0; j < i && !why; j++)
            if (x->pair[j].id == p->id)
                why = "duplicate parameter";
        if (why) {
            snprintf(msg, msglen, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     p->given, why);
            return -1;
        }
    }
    return 0;
}

static void free_pairs(set_cmd *x)
{
    for (int i = 0; x->pair && i < x->n; i++) {
        free((char *)x->pair[i].given);
        free(x->pair[i].value);
    }
    free(x->pair);
}

/* The values of secret options never reach the slowlog, even when the SET fails. */
static void redact_secrets(client *c)
{
    for (int i = 2; i + 1 < c->cmd.argc && i + 1 < 32; i += 2)
        if (arg_is(&c->cmd.argv[i], "requirepass"))
            c->redacted |= 1u << (i + 1);
}

static void config_set_cmd(server *s, client *c)
{
    set_cmd x = {0};
    char msg[512];
    redact_secrets(c);
    int rc = parse_pairs(s, c, &x, msg, sizeof msg);
    for (int i = 0; rc == 0 && i < x.n; i++) {
        set_pair *p = &x.pair[i];
        char *argv[1] = {p->value};
        x.culprit = p->given;
        rc = p->dbi >= 0 ? config_set(&x.next, p->id, 1, argv, x.err, sizeof x.err)
                         : config_set_value(&x.next, p->id, p->value, x.err, sizeof x.err);
    }
    if (rc == 0 && (rc = config_check(&x.next, x.err, sizeof x.err)) != 0)
        for (int i = x.n - 1; i >= 0; i--) /* the first l0 trigger given */
            if (strncmp(x.pair[i].id, "l0-", 3) == 0)
                x.culprit = x.pair[i].given;
    if (rc == 0)
        rc = check_db_options(s, &x);
    if (rc == 0 && engines_to(s, &x, &x.next, true)) {
        rc = -1;
        engines_to(s, &x, &s->cfg, false); /* the old values back */
    }
    if (rc == 0 && apply_db_options(s, &x)) {
        rc = -1;
        engines_to(s, &x, &s->cfg, false);
    }
    if (rc == 0) {
        uint64_t old_maxmemory = s->cfg.maxmemory;
        s->cfg = x.next; /* CONFIG GET shows it, CONFIG REWRITE writes it */
        net_config_publish(s); /* what the loops read outside the lock */
        repl_config_changed(s);
        caps_refresh(s); /* a new maxmemory or maxdisk holds from the next command on */
        caps_maxmemory_set(s, old_maxmemory);
        resp_simple(&c->out, "OK");
    } else {
        if (x.culprit)
            snprintf(msg, sizeof msg,
                     "ERR CONFIG SET failed (possibly related to argument '%s') - %s", x.culprit,
                     x.err);
        resp_error(&c->out, msg);
    }
    free_pairs(&x);
}

void cmd_config(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (arg_is(&a[1], "get") && argc >= 3) {
        get_ctx g = {0};
        for (int i = 2; i < argc; i++) {
            config_get(&s->cfg, a[i].p, a[i].len, emit, &g);
            db_options_get(s, a[i].p, a[i].len, &g);
        }
        resp_map(&c->out, g.n, c->proto);
        resp_raw(&c->out, g.body.data, g.body.len);
        resp_out_free(&g.body);
    } else if (arg_is(&a[1], "set") && argc >= 4 && argc % 2 == 0) {
        config_set_cmd(s, c);
    } else if (arg_is(&a[1], "set") && argc >= 3) {
        resp_error(&c->out, "ERR wrong number of arguments for 'config|set' command");
    } else if (arg_is(&a[1], "resetstat") && argc == 2) {
        memset(&s->stats, 0, sizeof s->stats);
        cmdstats_reset(&s->cmds);
        s->ks.expired_keys = 0;
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "rewrite") && argc == 2) {
        int rc = config_rewrite(&s->cfg);
        if (rc == -ENOENT)
            resp_error(&c->out, "ERR The server is running without a config file");
        else if (rc)
            resp_error(&c->out, "ERR Rewriting config file: cannot write it");
        else
            resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "help") && argc == 2) {
        static const char *const lines[] = {
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else if (arg_is(&a[1], "get") && argc == 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'config|get' command");
    } else {
        reply_subcommand_error(c);
    }
}

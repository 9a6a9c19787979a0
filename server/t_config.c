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
#include "server.h"

typedef struct get_ctx {
    resp_out body;
    long long n;
    const char *seen[128];
} get_ctx;

static void emit(void *ctx, const char *name, const char *value)
{
    get_ctx *g = ctx;
    for (long long i = 0; i < g->n && i < 128; i++) /* several patterns may match one name */
        if (g->seen[i] == name)
            return;
    if (g->n < 128)
        g->seen[g->n] = name;
    resp_bulk_cstr(&g->body, name);
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
            emit(g, name, v);
        }
}

/* Checks (apply false) or applies one per-database option. 0, or -1 with err. */
/* caps: the caps this CONFIG SET gives (0: none), so that a database made fifo by it
   starts with its cap (its first memtable and log are sized by it). */
static int db_option_set(server *s, int dbi, bool cap_option, const char *value, bool apply,
                         uint64_t *caps, char *err, size_t errlen)
{
    server_config parsed = s->cfg; /* config.c parses and checks the value */
    char *argv[1] = {(char *)value};
    if (config_set(&parsed, cap_option ? db_option_name(dbi, DB_FIFO_CAP)
                                       : db_option_name(dbi, DB_STYLE),
                   1, argv, err, errlen))
        return -1;
    bool fifo = strcmp(parsed.db_compaction_style[dbi], "fifo") == 0;
    uint64_t cap = parsed.db_fifo_max_size[dbi];
    ks_fifo *f = ks_fifo_of(&s->ks, dbi);
    if (!cap_option && (f != NULL) != fifo && s->ks.count[dbi] != 0) {
        snprintf(err, errlen, "database %d is not empty: a compaction style is chosen for an "
                              "empty database (FLUSHDB it first)", dbi);
        return -1;
    }
    if (!apply) {
        if (cap_option)
            caps[dbi] = cap;
        return 0;
    }
    if (cap_option && !f) {
        snprintf(err, errlen, "database %d is not fifo: set db%d-compaction-style fifo first",
                 dbi, dbi);
        return -1;
    }
    int rc = ks_set_fifo(&s->ks, dbi, fifo || cap_option, cap_option ? cap : caps[dbi]);
    if (rc) {
        snprintf(err, errlen, "%s", rc == -ENOTEMPTY ? "the database is not empty"
                                                     : shale_strerror(rc));
        return -1;
    }
    s->cfg = parsed; /* CONFIG REWRITE writes it */
    server_wrote(s); /* the mapping record is a write like any other */
    return 0;
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

/* Engine options that fifo databases' engines follow too (the sizes are their own). */
static void apply_to_fifo_engines(server *s, const char *name, const char *value)
{
    static const char *const shared[] = {"sync-writes", "sync-interval-ms",
                                         "write-stall-timeout-ms", "delayed-write-rate",
                                         "compaction-rate-limit"};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
        if (strcasecmp(name, shared[i]) == 0)
            for (int e = 1; e < ks_engine_count(&s->ks); e++) {
                char err[256];
                server_config scratch = s->cfg;
                config_set_live(&scratch, ks_engine_at(&s->ks, e), name, value, err, sizeof err);
            }
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
        server_config saved = s->cfg;
        /* twice: the per-database options are checked before anything changes, since
           they cannot be undone like the others */
        uint64_t caps[KS_DBS] = {0};
        for (int pass = 0; pass < 2; pass++)
        for (int i = 2; i < argc; i += 2) {
            char name[128], value[4096], err[256];
            snprintf(name, sizeof name, "%.*s", (int)(a[i].len < 127 ? a[i].len : 127), a[i].p);
            snprintf(value, sizeof value, "%.*s", (int)(a[i + 1].len < 4095 ? a[i + 1].len : 4095),
                     a[i + 1].p);
            int dbi, rc = 0;
            bool cap_option;
            if (config_db_option(name, &dbi, &cap_option))
                rc = db_option_set(s, dbi, cap_option, value, pass == 1, caps, err, sizeof err);
            else if (pass == 1 && (rc = config_set_live(&s->cfg, s->db, name, value, err,
                                                        sizeof err)) == 0)
                apply_to_fifo_engines(s, name, value);
            if (rc) {
                char msg[512];
                if (strcmp(err, "Unknown option") == 0)
                    snprintf(msg, sizeof msg,
                             "ERR Unknown option or number of arguments for CONFIG SET - '%s'", name);
                else
                    snprintf(msg, sizeof msg,
                             "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name,
                             err);
                s->cfg = saved; /* all or nothing, as in Redis 7 */
                resp_error(&c->out, msg);
                return;
            }
        }
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "set") && argc >= 3) {
        resp_error(&c->out, "ERR wrong number of arguments for 'config|set' command");
    } else if (arg_is(&a[1], "resetstat") && argc == 2) {
        memset(&s->stats, 0, sizeof s->stats);
        cmdstats_reset(&s->cmds);
        s->ks.expired_keys = 0;
        s->latency_max_us = 0;
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "rewrite") && argc == 2) {
        int rc = config_rewrite(&s->cfg);
        if (rc == -ENOENT)
            resp_error(&c->out, "ERR The server is running without a config file");
        else if (rc)
            resp_error(&c->out, "ERR Rewriting config file: cannot write it");
        else
            resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "get") && argc == 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'config|get' command");
    } else {
        reply_subcommand_error(c);
    }
}

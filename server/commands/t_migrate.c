/*
 * t_migrate.c - MIGRATE: moves keys to another server (Redis or shale) as DUMP payloads
 * that the target RESTOREs, then deletes the ones it acknowledged (none with COPY).
 * Arguments, replies and errors as Redis 7.0's migrateCommand, retry included: a
 * connection that fails before anything was acknowledged (not by a timeout) is opened
 * anew once. The connections are cached (net/migrate_cache.h); the waits are blocking
 * ones, bounded by the timeout, on the thread that runs the command with the server's
 * lock held, as Redis blocks its one thread: docs/commands.md says why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "migrate_cache.h"
#include "notify.h"
#include "server.h"
#include "value.h"

#define MIGRATE_CHUNK (64 * 1024) /* bytes per timed write, as Redis */
#define MIGRATE_LINE 1024         /* a reply line's bytes kept, as Redis's buffers */

typedef struct migrate_args {
    bool copy, replace;
    const resp_arg *user, *pass; /* AUTH2's user; AUTH's or AUTH2's password */
    int first_key, num_keys;
    long long db, timeout_ms;
} migrate_args;

/* A key found here, its metadata, and whether the target acknowledged it. */
typedef struct migrate_key {
    const resp_arg *name;
    ks_meta m;
    bool acked;
} migrate_key;

/* One attempt's outcome on the connection. */
typedef struct migrate_try {
    migrate_socket *ms;
    bool select, write_error, socket_error, target_error;
    int err;  /* the socket error (-ETIMEDOUT: no retry) */
    int read; /* RESTORE replies read */
    char target_msg[MIGRATE_LINE + 64];
} migrate_try;

/* The slowlog shows argv[j] as "(redacted)". */
static void redact(client *c, int j)
{
    if (j < 32)
        c->redacted |= 1u << j;
}

/* Options from argv[6] on, in Redis's order of checks. False with the error replied. */
static bool parse_options(client *c, migrate_args *a)
{
    resp_arg *argv = c->cmd.argv;
    int argc = c->cmd.argc;
    for (int j = 6; j < argc; j++) {
        int more = argc - 1 - j;
        if (arg_is(&argv[j], "copy")) {
            a->copy = true;
        } else if (arg_is(&argv[j], "replace")) {
            a->replace = true;
        } else if (arg_is(&argv[j], "auth") && more >= 1) {
            a->pass = &argv[++j];
            redact(c, j);
        } else if (arg_is(&argv[j], "auth2") && more >= 2) {
            a->user = &argv[++j];
            redact(c, j);
            a->pass = &argv[++j];
            redact(c, j);
        } else if (arg_is(&argv[j], "keys")) {
            if (argv[3].len != 0) {
                resp_error(&c->out, "ERR When using MIGRATE KEYS option, the key argument "
                                    "must be set to the empty string");
                return false;
            }
            a->first_key = j + 1;
            a->num_keys = argc - j - 1;
            break; /* the rest are keys */
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

static bool parse_args(client *c, migrate_args *a)
{
    *a = (migrate_args){.first_key = 3, .num_keys = 1};
    if (!parse_options(c, a))
        return false;
    if (!arg_ll(&c->cmd.argv[5], &a->timeout_ms) || !arg_ll(&c->cmd.argv[4], &a->db)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return false;
    }
    if (a->timeout_ms <= 0)
        a->timeout_ms = 1000;
    return true;
}

static void free_keys(migrate_key *keys, int n)
{
    for (int i = 0; i < n; i++)
        ks_meta_free(&keys[i].m);
    free(keys);
}

/* The named keys that exist (a lookup each, counted as a read's). False with the error
   replied. *keys: malloc'ed (free_keys). */
static bool find_keys(server *s, client *c, const migrate_args *a, migrate_key **keys, int *n)
{
    *n = 0;
    *keys = calloc((size_t)a->num_keys + 1, sizeof **keys);
    if (!*keys) {
        reply_engine_error(c, -ENOMEM);
        return false;
    }
    for (int i = 0; i < a->num_keys; i++) {
        migrate_key *k = &(*keys)[*n];
        k->name = &c->cmd.argv[a->first_key + i];
        if (!read_key(s, c, c->db, k->name, 0, true, &k->m)) {
            free_keys(*keys, *n);
            *keys = NULL;
            return false;
        }
        if (k->m.type)
            (*n)++;
        else
            ks_meta_free(&k->m);
    }
    return true;
}

static void add_bulk(resp_out *o, const resp_arg *a)
{
    resp_bulk(o, a->p, a->len);
}

static void add_bulk_ll(resp_out *o, long long v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    resp_bulk(o, buf, (size_t)n);
}

/* Appends RESTORE key ttl payload [REPLACE] for each key not expired by now, moving the
   keys sent to the front (*sent of them). 0 or a read error. */
static int build_restores(server *s, client *c, const migrate_args *a, migrate_key *keys, int n,
                          resp_out *body, int *sent)
{
    *sent = 0;
    uint64_t now = ks_now_ms();
    for (int i = 0; i < n; i++) {
        long long ttl = 0;
        if (keys[i].m.expire_at_ms) {
            ttl = (long long)keys[i].m.expire_at_ms - (long long)now;
            if (ttl < 0) /* expired since it was looked up: not sent, not deleted */
                continue;
            if (ttl < 1)
                ttl = 1;
        }
        migrate_key k = keys[i];
        keys[i] = keys[*sent];
        keys[(*sent)++] = k;
        rdb_value v;
        char *payload = NULL;
        size_t plen = 0;
        int rc = value_load(&s->ks, c->db, k.name->p, k.name->len, &k.m, &v);
        rc = rc ? rc : rdb_encode(&v, &payload, &plen);
        rdb_value_free(&v);
        if (rc)
            return rc;
        resp_array(body, a->replace ? 5 : 4);
        resp_bulk_cstr(body, "RESTORE");
        add_bulk(body, k.name);
        add_bulk_ll(body, ttl);
        resp_bulk(body, payload, plen);
        if (a->replace)
            resp_bulk_cstr(body, "REPLACE");
        free(payload);
    }
    return body->err;
}

/* AUTH (when asked) and SELECT (unless the connection has db selected already). */
static void build_head(const migrate_args *a, migrate_try *t, resp_out *head)
{
    if (a->pass) {
        resp_array(head, a->user ? 3 : 2);
        resp_bulk_cstr(head, "AUTH");
        if (a->user)
            add_bulk(head, a->user);
        add_bulk(head, a->pass);
    }
    t->select = t->ms->last_db != a->db;
    if (t->select) {
        resp_array(head, 2);
        resp_bulk_cstr(head, "SELECT");
        add_bulk_ll(head, a->db);
    }
}

/* Sends head then body, body in 64 KiB writes each bounded by the timeout. */
static int send_all(int fd, const resp_out *head, const resp_out *body, long long timeout_ms)
{
    int rc = head->len ? sync_write(fd, head->data, head->len, timeout_ms) : 0;
    for (size_t at = 0; rc == 0 && at < body->len; at += MIGRATE_CHUNK) {
        size_t n = body->len - at < MIGRATE_CHUNK ? body->len - at : MIGRATE_CHUNK;
        rc = sync_write(fd, body->data + at, n, timeout_ms);
    }
    return rc;
}

/* Notes the target's first error reply ("-" line): the attempt's error to the client. */
static void note_target_error(migrate_try *t, const char *line)
{
    if (t->target_error)
        return;
    t->target_error = true;
    t->ms->last_db = -1; /* the SELECT may not have happened */
    snprintf(t->target_msg, sizeof t->target_msg, "ERR Target instance replied with error: %s",
             line + 1);
}

/* Reads the AUTH and SELECT replies, then one reply per key sent, marking the keys
   acknowledged (an AUTH or SELECT error fails them all, as in Redis). False when a
   socket error happened before the first RESTORE reply (t->err). */
static bool read_replies(const migrate_args *a, migrate_try *t, migrate_key *keys, int sent)
{
    char auth[MIGRATE_LINE], sel[MIGRATE_LINE], line[MIGRATE_LINE];
    long r = 1;
    if (a->pass)
        r = sync_read_line(&t->ms->rd, auth, sizeof auth, a->timeout_ms);
    if (r > 0 && t->select)
        r = sync_read_line(&t->ms->rd, sel, sizeof sel, a->timeout_ms);
    if (r <= 0) { /* an empty line is an error too, as Redis's <= 0 */
        t->err = r < 0 ? (int)r : -EPROTO;
        return false;
    }
    for (t->read = 0; t->read < sent; t->read++) {
        r = sync_read_line(&t->ms->rd, line, sizeof line, a->timeout_ms);
        if (r <= 0) {
            t->socket_error = true;
            t->err = r < 0 ? (int)r : -EPROTO;
            break;
        }
        if (a->pass && auth[0] == '-')
            note_target_error(t, auth);
        else if (t->select && sel[0] == '-')
            note_target_error(t, sel);
        else if (line[0] == '-')
            note_target_error(t, line);
        else
            keys[t->read].acked = true;
    }
    return true;
}

static int cmp_names(const void *x, const void *y)
{
    const resp_arg *a = ((const migrate_key *)x)->name, *b = ((const migrate_key *)y)->name;
    int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Deletes the acknowledged keys in one batch (a key named twice once). False with the
   engine's error replied. */
/* By place among the arguments: the order Redis tells the deletions in. */
static int cmp_places(const void *x, const void *y)
{
    const resp_arg *a = ((const migrate_key *)x)->name, *b = ((const migrate_key *)y)->name;
    return a < b ? -1 : a > b;
}

static bool delete_acked(server *s, client *c, migrate_key *keys, int sent)
{
    int n = 0;
    for (int i = 0; i < sent; i++)
        if (keys[i].acked) {
            migrate_key k = keys[i];
            keys[i] = keys[n];
            keys[n++] = k;
        }
    if (n == 0)
        return true;
    qsort(keys, (size_t)n, sizeof *keys, cmp_names);
    ks_begin(&s->ks);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        if (i == 0 || cmp_names(&keys[i - 1], &keys[i]) != 0)
            rc = ks_del_key(&s->ks, c->db, keys[i].name->p, keys[i].name->len, &keys[i].m);
    if (notify_wanted(s, NOTIFY_GENERIC)) {
        qsort(keys, (size_t)n, sizeof *keys, cmp_places);
        for (int i = 0; i < n; i++) /* each key sent and acknowledged, as Redis */
            notify_arg(s, NOTIFY_GENERIC, "del", c->db, keys[i].name);
    }
    return ks_finish(s, c, rc);
}

static void reply_io_error(client *c, bool writing)
{
    resp_error(&c->out, writing ? "IOERR error or timeout writing to target instance"
                                : "IOERR error or timeout reading to target instance");
}

/* After a socket error that came before any acknowledgement: closes the connection and
   either asks for a new one (a cached connection the target closed meanwhile is common)
   or, after a timeout or on the second try, replies the IOERR. True when replied. */
static bool fail_unacked(server *s, client *c, int err, bool writing, bool may_retry)
{
    const resp_arg *host = &c->cmd.argv[1], *port = &c->cmd.argv[2];
    migrate_cache_close(&s->migrate, host->p, host->len, port->p, port->len);
    if (err != -ETIMEDOUT && may_retry)
        return false;
    reply_io_error(c, writing);
    return true;
}

/* One attempt on the (cached or new) connection. Returns true when the command is done
   (replied), false to retry on a new connection. */
static bool attempt(server *s, client *c, const migrate_args *a, migrate_key *keys, int sent,
                    const resp_out *body, bool may_retry)
{
    const resp_arg *host = &c->cmd.argv[1], *port = &c->cmd.argv[2];
    migrate_try t = {0};
    if (migrate_cache_get(&s->migrate, host->p, host->len, port->p, port->len, a->timeout_ms,
                          ks_now_ms(), &t.ms)) {
        resp_error(&c->out, "IOERR error or timeout connecting to the client");
        return true;
    }
    resp_out head = {0};
    build_head(a, &t, &head);
    int rc = head.err ? head.err : send_all(t.ms->rd.fd, &head, body, a->timeout_ms);
    resp_out_free(&head);
    if (rc)
        return fail_unacked(s, c, rc, true, may_retry);
    if (!read_replies(a, &t, keys, sent))
        return fail_unacked(s, c, t.err, false, may_retry);
    if (t.socket_error && !t.target_error && t.read == 0 && may_retry && t.err != -ETIMEDOUT)
        return fail_unacked(s, c, t.err, false, may_retry);
    long long db = a->db;
    if (t.socket_error) /* some were acknowledged: those are deleted, no retry */
        migrate_cache_close(&s->migrate, host->p, host->len, port->p, port->len);
    if (!a->copy && !delete_acked(s, c, keys, sent))
        return true;
    if (t.target_error)
        resp_error(&c->out, t.target_msg);
    else if (t.socket_error)
        reply_io_error(c, false);
    else {
        t.ms->last_db = db; /* the next MIGRATE to this db sends no SELECT */
        resp_simple(&c->out, "OK");
    }
    return true;
}

/* MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]
   [KEYS key ...] */
void cmd_migrate(server *s, client *c)
{
    migrate_args a;
    if (!parse_args(c, &a))
        return;
    migrate_key *keys;
    int n;
    if (!find_keys(s, c, &a, &keys, &n))
        return;
    if (n == 0) { /* not an error: the keys may just have expired */
        resp_simple(&c->out, "NOKEY");
        free_keys(keys, 0);
        return;
    }
    resp_out body = {0};
    int sent, rc = build_restores(s, c, &a, keys, n, &body, &sent);
    if (rc)
        reply_read_error(c, rc);
    else if (!attempt(s, c, &a, keys, sent, &body, true))
        attempt(s, c, &a, keys, sent, &body, false);
    resp_out_free(&body);
    free_keys(keys, n);
}

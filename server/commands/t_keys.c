/*
 * t_keys.c - commands on keys of any type: DEL UNLINK EXISTS TYPE RENAME RENAMENX KEYS
 * SCAN RANDOMKEY DBSIZE EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME
 * PEXPIRETIME PERSIST TOUCH COPY.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "glob.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"

bool read_key(server *s, client *c, int dbi, const resp_arg *key, int type, bool counted,
              ks_meta *m)
{
    int rc = ks_read(&s->ks, dbi, key->p, key->len, m);
    if (rc) {
        reply_read_error(c, rc);
        return false;
    }
    if (counted)
        server_count_lookup(s, m->type != 0);
    if (counted && !m->type) /* a read's miss, as Redis's lookupKeyRead tells it */
        notify_arg(s, NOTIFY_KEY_MISS, "keymiss", dbi, key);
    if (m->type && !c->no_touch)
        access_touch(&s->access, s->ks.phys[dbi], key->p, key->len, ks_now_ms(),
                     s->cfg.lfu_log_factor, s->cfg.lfu_decay_time);
    if (type && m->type && m->type != type) {
        ks_meta_free(m);
        resp_error(&c->out, WRONGTYPE_ERR);
        return false;
    }
    return true;
}

void key_stored(server *s, client *c, int dbi, const resp_arg *key)
{
    if (!c->no_touch)
        access_touch(&s->access, s->ks.phys[dbi], key->p, key->len, ks_now_ms(),
                     s->cfg.lfu_log_factor, s->cfg.lfu_decay_time);
}

void cmd_del(server *s, client *c)
{
    long long n = 0;
    for (int i = 1; i < c->cmd.argc; i++) {
        ks_meta m;
        resp_arg *k = &c->cmd.argv[i];
        if (!read_key(s, c, c->db, k, 0, false, &m))
            return;
        if (m.type) {
            ks_begin(&s->ks);
            int rc = ks_del_key(&s->ks, c->db, k->p, k->len, &m);
            notify_arg(s, NOTIFY_GENERIC, "del", c->db, k);
            bool ok = ks_finish(s, c, rc);
            ks_meta_free(&m);
            if (!ok)
                return;
            n++;
        }
    }
    resp_integer(&c->out, n);
}

/* EXISTS and TOUCH: how many of the keys exist (repeats count each time). */
void cmd_exists(server *s, client *c)
{
    long long n = 0;
    for (int i = 1; i < c->cmd.argc; i++) {
        ks_meta m;
        if (!read_key(s, c, c->db, &c->cmd.argv[i], 0, true, &m))
            return;
        n += m.type != 0;
        ks_meta_free(&m);
    }
    resp_integer(&c->out, n);
}

void cmd_type(server *s, client *c)
{
    ks_meta m;
    if (!read_key(s, c, c->db, &c->cmd.argv[1], 0, false, &m))
        return;
    if (!m.type) /* Redis's TYPE looks up as a read (without counting it here) */
        notify_arg(s, NOTIFY_KEY_MISS, "keymiss", c->db, &c->cmd.argv[1]);
    resp_simple(&c->out, ks_type_name(m.type));
    ks_meta_free(&m);
}

static void rename_generic(server *s, client *c, bool nx)
{
    resp_arg *src = &c->cmd.argv[1], *dst = &c->cmd.argv[2];
    ks_meta sm, dm = {0};
    if (!read_key(s, c, c->db, src, 0, false, &sm))
        return;
    if (!sm.type) {
        resp_error(&c->out, "ERR no such key");
        return;
    }
    bool same = src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0;
    if (same) {
        ks_meta_free(&sm);
        if (nx)
            resp_integer(&c->out, 0);
        else
            resp_simple(&c->out, "OK");
        return;
    }
    if (!read_key(s, c, c->db, dst, 0, false, &dm)) {
        ks_meta_free(&sm);
        return;
    }
    if (nx && dm.type) {
        resp_integer(&c->out, 0);
    } else {
        ks_begin(&s->ks);
        int rc = ks_copy_value(&s->ks, c->db, src->p, src->len, &sm, c->db, dst->p, dst->len, &dm,
                               sm.expire_at_ms);
        rc = rc ? rc : ks_del_key(&s->ks, c->db, src->p, src->len, &sm);
        if (dm.type) /* Redis deletes the old one and adds the key anew */
            notify_arg(s, NOTIFY_NEW, "new", c->db, dst);
        notify_arg(s, NOTIFY_GENERIC, "rename_from", c->db, src);
        notify_arg(s, NOTIFY_GENERIC, "rename_to", c->db, dst);
        if (ks_finish(s, c, rc)) {
            if (nx)
                resp_integer(&c->out, 1);
            else
                resp_simple(&c->out, "OK");
        }
    }
    ks_meta_free(&sm);
    ks_meta_free(&dm);
}

void cmd_rename(server *s, client *c)
{
    rename_generic(s, c, false);
}

void cmd_renamenx(server *s, client *c)
{
    rename_generic(s, c, true);
}

void cmd_copy(server *s, client *c)
{
    resp_arg *src = &c->cmd.argv[1], *dst = &c->cmd.argv[2];
    int ddb = c->db;
    bool replace = false;
    for (int i = 3; i < c->cmd.argc; i++) {
        long long n;
        if (arg_is(&c->cmd.argv[i], "replace")) {
            replace = true;
        } else if (arg_is(&c->cmd.argv[i], "db") && i + 1 < c->cmd.argc) {
            if (!arg_ll(&c->cmd.argv[++i], &n)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return;
            }
            if (n < 0 || n >= KS_DBS) {
                resp_error(&c->out, "ERR DB index is out of range");
                return;
            }
            ddb = (int)n;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
    }
    if (ddb == c->db && src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        resp_error(&c->out, "ERR source and destination objects are the same");
        return;
    }
    ks_meta sm, dm = {0};
    if (!read_key(s, c, c->db, src, 0, false, &sm))
        return;
    if (!sm.type) {
        resp_integer(&c->out, 0);
        return;
    }
    if (read_key(s, c, ddb, dst, 0, false, &dm)) {
        if (dm.type && !replace) {
            resp_integer(&c->out, 0);
        } else {
            ks_begin(&s->ks);
            int rc = ks_copy_value(&s->ks, c->db, src->p, src->len, &sm, ddb, dst->p, dst->len,
                                   &dm, sm.expire_at_ms);
            if (dm.type) /* replaced: Redis deletes it and adds the copy anew */
                notify_arg(s, NOTIFY_NEW, "new", ddb, dst);
            notify_arg(s, NOTIFY_GENERIC, "copy_to", ddb, dst);
            if (ks_finish(s, c, rc))
                resp_integer(&c->out, 1);
        }
    }
    ks_meta_free(&sm);
    ks_meta_free(&dm);
}

/*
 * MOVE key db, as Redis 7.0: 1 when moved (with its TTL), 0 when the key is absent or
 * the destination already holds it. Within one engine the copy and the delete are one
 * batch; between the main engine and a fifo database's they cannot be, so the copy is
 * committed first: a failure in between leaves the key in both databases, never in
 * neither.
 */
static bool move_key(server *s, client *c, const resp_arg *key, const ks_meta *sm, int ddb,
                     const ks_meta *dm)
{
    bool one_engine = ks_fifo_of(&s->ks, c->db) == ks_fifo_of(&s->ks, ddb);
    ks_begin(&s->ks);
    int rc = ks_copy_value(&s->ks, c->db, key->p, key->len, sm, ddb, key->p, key->len, dm,
                           sm->expire_at_ms);
    if (!one_engine) {
        if (!ks_finish(s, c, rc))
            return false;
        ks_begin(&s->ks);
    }
    rc = rc ? rc : ks_del_key(&s->ks, c->db, key->p, key->len, sm);
    notify_arg(s, NOTIFY_GENERIC, "move_from", c->db, key);
    notify_arg(s, NOTIFY_GENERIC, "move_to", ddb, key);
    return ks_finish(s, c, rc);
}

void cmd_move(server *s, client *c)
{
    resp_arg *key = &c->cmd.argv[1];
    long long n;
    if (!arg_ll(&c->cmd.argv[2], &n)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    if (n < 0 || n >= KS_DBS) {
        resp_error(&c->out, "ERR DB index is out of range");
        return;
    }
    int ddb = (int)n;
    if (ddb == c->db) {
        resp_error(&c->out, "ERR source and destination objects are the same");
        return;
    }
    ks_meta sm, dm = {0};
    if (!read_key(s, c, c->db, key, 0, false, &sm))
        return;
    if (!sm.type) {
        resp_integer(&c->out, 0);
    } else if (read_key(s, c, ddb, key, 0, false, &dm)) {
        if (dm.type || move_key(s, c, key, &sm, ddb, &dm))
            resp_integer(&c->out, dm.type ? 0 : 1);
    }
    ks_meta_free(&sm);
    ks_meta_free(&dm);
}

void cmd_dbsize(server *s, client *c)
{
    resp_integer(&c->out, s->ks.count[c->db]);
}

/* The literal prefix of a glob pattern (up to its first special character). */
static size_t literal_prefix(const resp_arg *pat)
{
    size_t n = 0;
    while (n < pat->len && !strchr("*?[\\", pat->p[n]))
        n++;
    return n;
}

void cmd_keys(server *s, client *c)
{
    resp_arg *pat = &c->cmd.argv[1];
    /* "*" is every key without asking the matcher, the empty key too (as Redis) */
    bool all = pat->len == 1 && pat->p[0] == '*';
    size_t lit = literal_prefix(pat);
    ks_range r;
    int rc = ks_range_open_db_prefix(&s->ks, c->db, pat->p, lit, &r);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    /* the count is not known in advance: collect, then reply */
    resp_out body = {0};
    long long n = 0;
    for (; ks_iter_valid(r.it); ks_iter_next(r.it)) {
        size_t kl;
        const char *k = ks_iter_key(r.it, &kl);
        k += KS_META_PREFIX;
        kl -= KS_META_PREFIX;
        if (all || (lit == pat->len ? kl == lit : glob_match(pat->p, pat->len, k, kl, false))) {
            resp_bulk(&body, k, kl);
            n++;
        }
    }
    rc = ks_iter_status(r.it);
    ks_range_close(&r);
    if (rc || body.err) {
        reply_engine_error(c, rc ? rc : body.err);
    } else {
        resp_array(&c->out, n);
        resp_raw(&c->out, body.data, body.len);
    }
    resp_out_free(&body);
}

/*
 * Shared SCAN loop over a range of engine keys: resumes where the cursor says, visits up
 * to count entries calling emit for each, and returns the next cursor (0 when the range
 * is done): the shortest position after the last key visited that is not after the next
 * one, relative to the range's prefix (cursor.h: carried by the cursor when short).
 */
int scan_range(server *s, client *c, ks_range *r, uint64_t cursor, long long count,
               void (*emit)(void *ctx, const char *k, size_t kl, const char *v, size_t vl),
               void *ctx, uint64_t *next)
{
    char buf[CURSOR_INLINE];
    const char *pos;
    size_t pl = cursor ? cursor_decode(&s->cursors, cursor, buf, &pos) : 0;
    ks_key at; /* the range's prefix, then the position or the last key visited */
    ks_key_init(&at);
    int rc = ks_key_append(&at, r->lo.p, r->lo.len);
    if (rc == 0 && pl) {
        rc = ks_key_append(&at, pos, pl);
        if (rc == 0)
            ks_iter_seek(r->it, at.p, at.len);
    }
    long long visited = 0;
    for (; rc == 0 && ks_iter_valid(r->it) && visited < count;
         ks_iter_next(r->it), visited++) {
        size_t kl, vl;
        const char *k = ks_iter_key(r->it, &kl);
        const char *v = ks_iter_value(r->it, &vl);
        emit(ctx, k, kl, v, vl);
        if (visited + 1 == count) { /* the last of this call: the next cursor starts after it */
            at.len = 0;
            rc = ks_key_append(&at, k, kl);
        }
    }
    *next = 0;
    if (rc == 0 && ks_iter_valid(r->it)) {
        size_t kl, lo = r->lo.len;
        const char *k = ks_iter_key(r->it, &kl);
        size_t n = cursor_position(at.p + lo, at.len - lo, k + lo, kl - lo);
        *next = cursor_encode(&s->cursors, k + lo, n);
        if (!*next)
            rc = -ENOMEM;
    }
    ks_key_free(&at);
    return rc ? rc : ks_iter_status(r->it);
}

bool parse_scan_cursor(const resp_arg *a, uint64_t *out)
{
    /* Redis reads it with strtoul: an optional sign, digits, no overflow (a minus negates
       modulo 2^64); the bytes up to a NUL, and an empty one is 0. A leading space is
       refused. */
    size_t n = strnlen(a->p, a->len), i = 0;
    *out = 0;
    if (n == 0)
        return true;
    bool neg = a->p[0] == '-';
    if (a->p[0] == '-' || a->p[0] == '+')
        i++;
    if (i == n)
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (a->p[i] < '0' || a->p[i] > '9')
            return false;
        unsigned d = (unsigned)(a->p[i] - '0');
        if (v > UINT64_MAX / 10 || v * 10 > UINT64_MAX - d)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (uint64_t)0 - v : v;
    return true;
}

/* Parses "cursor [MATCH p] [COUNT n] [TYPE t]" (TYPE only for SCAN) from argv[first]. */
bool parse_scan_args(client *c, int first, bool allow_type, scan_args *a)
{
    memset(a, 0, sizeof *a);
    a->count = 10;
    if (!parse_scan_cursor(&c->cmd.argv[first], &a->cursor)) {
        resp_error(&c->out, "ERR invalid cursor");
        return false;
    }
    for (int i = first + 1; i < c->cmd.argc; i++) {
        bool more = i + 1 < c->cmd.argc;
        if (arg_is(&c->cmd.argv[i], "count") && more) {
            if (!arg_ll(&c->cmd.argv[++i], &a->count)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return false;
            }
            if (a->count < 1) {
                resp_error(&c->out, "ERR syntax error");
                return false;
            }
        } else if (arg_is(&c->cmd.argv[i], "match") && more) {
            a->match = &c->cmd.argv[++i];
            if (a->match->len == 1 && a->match->p[0] == '*')
                a->match = NULL;
        } else if (allow_type && arg_is(&c->cmd.argv[i], "type") && more) {
            a->type = &c->cmd.argv[++i];
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

typedef struct scan_ctx {
    resp_out body;
    long long n;
    const scan_args *a;
} scan_ctx;

static void emit_key(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    scan_ctx *x = ctx;
    k += KS_META_PREFIX;
    kl -= KS_META_PREFIX;
    if (x->a->match && !glob_match(x->a->match->p, x->a->match->len, k, kl, false))
        return;
    if (x->a->type) {
        if (!vl || !arg_is(x->a->type, ks_type_name((unsigned char)v[0])))
            return;
    }
    resp_bulk(&x->body, k, kl);
    x->n++;
}

/* Replies [cursor, array] from a finished scan. */
void reply_scan(client *c, int rc, uint64_t next, const resp_out *body, long long n)
{
    if (rc || body->err) {
        reply_engine_error(c, rc ? rc : body->err);
        return;
    }
    char cur[24];
    int cl = snprintf(cur, sizeof cur, "%llu", (unsigned long long)next);
    resp_array(&c->out, 2);
    resp_bulk(&c->out, cur, (size_t)cl);
    resp_array(&c->out, n);
    resp_raw(&c->out, body->data, body->len);
}

void cmd_scan(server *s, client *c)
{
    scan_args a;
    if (!parse_scan_args(c, 1, true, &a))
        return;
    ks_range r;
    int rc = ks_range_open_db(&s->ks, c->db, &r);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    scan_ctx x = {.a = &a};
    uint64_t next;
    rc = scan_range(s, c, &r, a.cursor, a.count, emit_key, &x, &next);
    ks_range_close(&r);
    reply_scan(c, rc, next, &x.body, x.n);
    resp_out_free(&x.body);
}

void cmd_randomkey(server *s, client *c)
{
    ks_range r;
    int rc = ks_range_open_db(&s->ks, c->db, &r);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    /* a random point between the database's first and last keys */
    rc = ks_range_seek_random(&r, (uint64_t)rand() << 31 ^ (uint64_t)rand());
    if (rc == 0 && ks_iter_valid(r.it)) {
        size_t kl;
        const char *k = ks_iter_key(r.it, &kl);
        resp_bulk(&c->out, k + KS_META_PREFIX, kl - KS_META_PREFIX);
    } else if (rc || (rc = ks_iter_status(r.it)) != 0) {
        reply_engine_error(c, rc);
    } else {
        resp_null(&c->out, c->proto);
    }
    ks_range_close(&r);
}

/* ---- expiry ---- */

/* EXPIRE PEXPIRE EXPIREAT PEXPIREAT: unit 1000 for seconds, absolute for *AT. */
static void expire_generic(server *s, client *c, const char *name, uint64_t unit, bool absolute)
{
    long long n;
    bool nx = false, xx = false, gt = false, lt = false;
    for (int i = 3; i < c->cmd.argc; i++) {
        resp_arg *o = &c->cmd.argv[i];
        if (arg_is(o, "nx"))
            nx = true;
        else if (arg_is(o, "xx"))
            xx = true;
        else if (arg_is(o, "gt"))
            gt = true;
        else if (arg_is(o, "lt"))
            lt = true;
        else {
            char msg[160];
            snprintf(msg, sizeof msg, "ERR Unsupported option %.*s", (int)(o->len > 100 ? 100 : o->len),
                     o->p);
            resp_error(&c->out, msg);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        resp_error(&c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        resp_error(&c->out, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    if (!arg_ll(&c->cmd.argv[2], &n)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    uint64_t now = ks_now_ms();
    long long when = n;
    bool overflow = (unit == 1000 && (n > LLONG_MAX / 1000 || n < LLONG_MIN / 1000));
    if (!overflow) {
        when = n * (long long)unit;
        if (!absolute) {
            if (when > 0 && when > LLONG_MAX - (long long)now)
                overflow = true;
            else
                when += (long long)now;
        }
    }
    if (overflow) {
        char msg[80];
        snprintf(msg, sizeof msg, "ERR invalid expire time in '%s' command", name);
        resp_error(&c->out, msg);
        return;
    }
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_key(s, c, c->db, key, 0, false, &m))
        return;
    if (!m.type) {
        resp_integer(&c->out, 0);
        return;
    }
    uint64_t cur = m.expire_at_ms; /* 0: no TTL, i.e. infinite */
    bool ok = !((nx && cur) || (xx && !cur) || (gt && (!cur || when <= (long long)cur)) ||
                (lt && cur && when >= (long long)cur));
    if (!ok) {
        resp_integer(&c->out, 0);
    } else {
        ks_begin(&s->ks);
        bool past = when <= (long long)now;
        int rc = past ? ks_del_key(&s->ks, c->db, key->p, key->len, &m)
                      : ks_put_meta(&s->ks, c->db, key->p, key->len, &m, m.type, m.val, m.vlen,
                                    (uint64_t)when);
        if (!past)
            notify_reply_first(s); /* Redis tells "expire" after its reply ("del" before) */
        notify_arg(s, NOTIFY_GENERIC, past ? "del" : "expire", c->db, key);
        if (ks_finish(s, c, rc))
            resp_integer(&c->out, 1);
    }
    ks_meta_free(&m);
}

void cmd_expire(server *s, client *c)
{
    expire_generic(s, c, "expire", 1000, false);
}

void cmd_pexpire(server *s, client *c)
{
    expire_generic(s, c, "pexpire", 1, false);
}

void cmd_expireat(server *s, client *c)
{
    expire_generic(s, c, "expireat", 1000, true);
}

void cmd_pexpireat(server *s, client *c)
{
    expire_generic(s, c, "pexpireat", 1, true);
}

/* TTL PTTL EXPIRETIME PEXPIRETIME: -2 absent, -1 no TTL. */
static void ttl_generic(server *s, client *c, bool ms, bool absolute)
{
    ks_meta m;
    if (!read_key(s, c, c->db, &c->cmd.argv[1], 0, true, &m))
        return;
    if (!m.type) {
        resp_integer(&c->out, -2);
    } else if (!m.expire_at_ms) {
        resp_integer(&c->out, -1);
    } else {
        uint64_t now = ks_now_ms();
        long long v = absolute ? (long long)m.expire_at_ms
                               : (long long)(m.expire_at_ms > now ? m.expire_at_ms - now : 0);
        resp_integer(&c->out, ms ? v : (v + 500) / 1000); /* seconds rounded, as Redis */
    }
    ks_meta_free(&m);
}

void cmd_ttl(server *s, client *c)
{
    ttl_generic(s, c, false, false);
}

void cmd_pttl(server *s, client *c)
{
    ttl_generic(s, c, true, false);
}

void cmd_expiretime(server *s, client *c)
{
    ttl_generic(s, c, false, true);
}

void cmd_pexpiretime(server *s, client *c)
{
    ttl_generic(s, c, true, true);
}

void cmd_persist(server *s, client *c)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_key(s, c, c->db, key, 0, false, &m))
        return;
    if (!m.type || !m.expire_at_ms) {
        resp_integer(&c->out, 0);
    } else {
        ks_begin(&s->ks);
        int rc = ks_put_meta(&s->ks, c->db, key->p, key->len, &m, m.type, m.val, m.vlen, 0);
        notify_arg(s, NOTIFY_GENERIC, "persist", c->db, key);
        if (ks_finish(s, c, rc))
            resp_integer(&c->out, 1);
    }
    ks_meta_free(&m);
}

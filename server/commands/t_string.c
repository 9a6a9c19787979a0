/*
 * t_string.c - string commands: GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET
 * MSETNX INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE (and SUBSTR)
 * SETRANGE LCS, with Redis 7.0's options, replies and errors.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "keyspace.h"
#include "lcs.h"
#include "notify.h"
#include "server.h"

#define MAX_STRING (512ull * 1024 * 1024) /* Redis's string size limit */

/* Reads key as a string: false (error replied) on an engine error or the wrong type.
   counted: a read command's lookup (keyspace_hits/misses). */
static bool read_string(server *s, client *c, const resp_arg *key, bool counted, ks_meta *m)
{
    return read_key(s, c, c->db, key, KS_TYPE_STRING, counted, m);
}

/* GETSET GETDEL GETEX and SET ... GET read the old value as Redis's GET does: an absent
   key is a keymiss event. */
static void notify_get_miss(server *s, client *c, const resp_arg *key, const ks_meta *m)
{
    if (!m->type)
        notify_arg(s, NOTIFY_KEY_MISS, "keymiss", c->db, key);
}

/* Stores a string (one-write transaction) and tells the keyspace event (cls, event);
   false when the error was replied. */
static bool write_string(server *s, client *c, const resp_arg *key, const ks_meta *old,
                         const void *v, size_t vl, uint64_t expire_at, int cls,
                         const char *event)
{
    ks_begin(&s->ks);
    int rc = ks_put_meta(&s->ks, c->db, key->p, key->len, old, KS_TYPE_STRING, v, vl, expire_at);
    notify_arg(s, cls, event, c->db, key);
    if (!ks_finish(s, c, rc))
        return false;
    if (!old->type) /* an existing key was touched when read */
        key_stored(s, c, c->db, key);
    return true;
}

void cmd_get(server *s, client *c)
{
    ks_meta m;
    if (!read_string(s, c, &c->cmd.argv[1], true, &m))
        return;
    if (m.type)
        resp_bulk(&c->out, m.val, m.vlen);
    else
        resp_null(&c->out, c->proto);
    ks_meta_free(&m);
}

/*
 * Parses SET/GETEX expiry options from argv[from..]: EX PX EXAT PXAT (and KEEPTTL for
 * SET, PERSIST for GETEX). Returns false with the error replied. Only the syntax is
 * checked here; expire_value reads the time, since GETEX (as Redis) looks the key up in
 * between: a missing key is nil whatever the time says.
 */
typedef struct expire_opts {
    bool nx, xx, get, keepttl, persist, has_expire;
    const resp_arg *unit, *time; /* "ex"/"px"/"exat"/"pxat" and its argument */
    uint64_t expire_at;          /* set by expire_value */
} expire_opts;

static bool parse_expire_opts(client *c, int from, bool is_set, expire_opts *o)
{
    memset(o, 0, sizeof *o);
    resp_arg *a = c->cmd.argv;
    for (int i = from; i < c->cmd.argc; i++) {
        bool more = i + 1 < c->cmd.argc;
        bool any_ttl = o->keepttl || o->persist || o->has_expire;
        if (is_set && arg_is(&a[i], "nx") && !o->xx) {
            o->nx = true;
        } else if (is_set && arg_is(&a[i], "xx") && !o->nx) {
            o->xx = true;
        } else if (is_set && arg_is(&a[i], "get")) {
            o->get = true;
        } else if (is_set && arg_is(&a[i], "keepttl") && !any_ttl) {
            o->keepttl = true;
        } else if (!is_set && arg_is(&a[i], "persist") && !any_ttl) {
            o->persist = true;
        } else if ((arg_is(&a[i], "ex") || arg_is(&a[i], "px") || arg_is(&a[i], "exat") ||
                    arg_is(&a[i], "pxat")) &&
                   !any_ttl && more) {
            o->unit = &a[i];
            o->time = &a[i + 1];
            o->has_expire = true;
            i++;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

/* Sets o->expire_at from the parsed EX/PX/EXAT/PXAT time (cmd names the command in the
   error). False with the error replied. */
static bool expire_value(client *c, expire_opts *o, const char *cmd)
{
    if (!o->has_expire)
        return true;
    long long n;
    if (!arg_ll(o->time, &n)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return false;
    }
    bool seconds = arg_is(o->unit, "ex") || arg_is(o->unit, "exat");
    bool absolute = o->unit->len == 4;
    uint64_t now = ks_now_ms();
    if (n <= 0 || (seconds && n > LLONG_MAX / 1000) ||
        (!absolute && (uint64_t)n * (seconds ? 1000u : 1u) > (uint64_t)LLONG_MAX - now)) {
        char msg[80];
        snprintf(msg, sizeof msg, "ERR invalid expire time in '%s' command", cmd);
        resp_error(&c->out, msg);
        return false;
    }
    uint64_t ms = (uint64_t)n * (seconds ? 1000u : 1u);
    o->expire_at = absolute ? ms : now + ms;
    return true;
}

void cmd_set(server *s, client *c)
{
    expire_opts o;
    if (!parse_expire_opts(c, 3, true, &o) || !expire_value(c, &o, "set"))
        return;
    resp_arg *key = &c->cmd.argv[1], *val = &c->cmd.argv[2];
    ks_meta old = {0};
    /* only GET needs the old record; the rest asks whether it exists and its TTL */
    int rc = o.get ? ks_read(&s->ks, c->db, key->p, key->len, &old)
                   : ks_read_head(&s->ks, c->db, key->p, key->len, &old);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    if (o.get)
        notify_get_miss(s, c, key, &old);
    if (o.get && old.type && old.type != KS_TYPE_STRING) {
        ks_meta_free(&old);
        resp_error(&c->out, WRONGTYPE_ERR);
        return;
    }
    bool apply = (!o.nx || !old.type) && (!o.xx || old.type);
    if (apply) {
        uint64_t exp = o.keepttl ? old.expire_at_ms : o.expire_at;
        /* a hash replaced by a string leaves its fields under a version nothing names */
        if (o.get)
            notify_reply_first(s); /* Redis replies the old value first */
        ks_begin(&s->ks);
        rc = ks_put_meta(&s->ks, c->db, key->p, key->len, &old, KS_TYPE_STRING, val->p, val->len,
                         exp);
        notify_arg(s, NOTIFY_STRING, "set", c->db, key);
        if (o.has_expire)
            notify_arg(s, NOTIFY_GENERIC, "expire", c->db, key);
        if (!ks_finish(s, c, rc)) {
            ks_meta_free(&old);
            return;
        }
        key_stored(s, c, c->db, key);
    }
    if (o.get) {
        if (old.type)
            resp_bulk(&c->out, old.val, old.vlen);
        else
            resp_null(&c->out, c->proto);
    } else if (apply) {
        resp_simple(&c->out, "OK");
    } else {
        resp_null(&c->out, c->proto);
    }
    ks_meta_free(&old);
}

/* SET key value with a fixed condition/expiry: the shared body of SETNX SETEX PSETEX. */
static void set_simple(server *s, client *c, const resp_arg *key, const resp_arg *val, bool nx,
                       uint64_t expire_at, bool reply_int)
{
    ks_meta old;
    int rc = ks_read_head(&s->ks, c->db, key->p, key->len, &old);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    if (nx && old.type) {
        ks_meta_free(&old);
        resp_integer(&c->out, 0);
        return;
    }
    ks_begin(&s->ks);
    rc = ks_put_meta(&s->ks, c->db, key->p, key->len, &old, KS_TYPE_STRING, val->p, val->len,
                     expire_at);
    notify_arg(s, NOTIFY_STRING, "set", c->db, key);
    if (expire_at)
        notify_arg(s, NOTIFY_GENERIC, "expire", c->db, key);
    ks_meta_free(&old);
    if (!ks_finish(s, c, rc))
        return;
    key_stored(s, c, c->db, key);
    if (reply_int)
        resp_integer(&c->out, 1);
    else
        resp_simple(&c->out, "OK");
}

void cmd_setnx(server *s, client *c)
{
    set_simple(s, c, &c->cmd.argv[1], &c->cmd.argv[2], true, 0, true);
}

static void setex_generic(server *s, client *c, bool seconds)
{
    long long n;
    if (!arg_ll(&c->cmd.argv[2], &n)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    uint64_t now = ks_now_ms();
    if (n <= 0 || (seconds && n > LLONG_MAX / 1000) ||
        (uint64_t)n * (seconds ? 1000u : 1u) > (uint64_t)LLONG_MAX - now) {
        resp_error(&c->out, seconds ? "ERR invalid expire time in 'setex' command"
                                    : "ERR invalid expire time in 'psetex' command");
        return;
    }
    set_simple(s, c, &c->cmd.argv[1], &c->cmd.argv[3], false,
               now + (uint64_t)n * (seconds ? 1000u : 1u), false);
}

void cmd_setex(server *s, client *c)
{
    setex_generic(s, c, true);
}

void cmd_psetex(server *s, client *c)
{
    setex_generic(s, c, false);
}

void cmd_getset(server *s, client *c)
{
    ks_meta old;
    resp_arg *key = &c->cmd.argv[1];
    if (!read_string(s, c, key, false, &old))
        return;
    notify_get_miss(s, c, key, &old);
    notify_reply_first(s); /* Redis replies the old value, then writes */
    if (write_string(s, c, key, &old, c->cmd.argv[2].p, c->cmd.argv[2].len, 0, NOTIFY_STRING,
                     "set")) {
        if (old.type)
            resp_bulk(&c->out, old.val, old.vlen);
        else
            resp_null(&c->out, c->proto);
    }
    ks_meta_free(&old);
}

void cmd_getdel(server *s, client *c)
{
    ks_meta old;
    resp_arg *key = &c->cmd.argv[1];
    if (!read_string(s, c, key, false, &old))
        return;
    notify_get_miss(s, c, key, &old);
    if (!old.type) {
        resp_null(&c->out, c->proto);
        return;
    }
    ks_begin(&s->ks);
    int rc = ks_del_key(&s->ks, c->db, key->p, key->len, &old);
    notify_reply_first(s); /* Redis replies the value, then deletes */
    notify_arg(s, NOTIFY_GENERIC, "del", c->db, key);
    if (ks_finish(s, c, rc))
        resp_bulk(&c->out, old.val, old.vlen);
    ks_meta_free(&old);
}

void cmd_getex(server *s, client *c)
{
    expire_opts o;
    if (!parse_expire_opts(c, 2, false, &o))
        return;
    ks_meta m;
    resp_arg *key = &c->cmd.argv[1];
    if (!read_string(s, c, key, false, &m))
        return;
    notify_get_miss(s, c, key, &m);
    if (!m.type) {
        resp_null(&c->out, c->proto);
        return;
    }
    if (!expire_value(c, &o, "getex")) {
        ks_meta_free(&m);
        return;
    }
    bool ok = true;
    notify_reply_first(s); /* Redis replies the value, then changes the key */
    if (o.has_expire && o.expire_at <= ks_now_ms()) {
        ks_begin(&s->ks); /* an expiry in the past deletes the key, as in Redis */
        int rc = ks_del_key(&s->ks, c->db, key->p, key->len, &m);
        notify_arg(s, NOTIFY_GENERIC, "del", c->db, key);
        ok = ks_finish(s, c, rc);
    } else if (o.has_expire || (o.persist && m.expire_at_ms)) {
        ok = write_string(s, c, key, &m, m.val, m.vlen, o.persist ? 0 : o.expire_at,
                          NOTIFY_GENERIC, o.persist ? "persist" : "expire");
    }
    if (ok)
        resp_bulk(&c->out, m.val, m.vlen);
    ks_meta_free(&m);
}

void cmd_mget(server *s, client *c)
{
    size_t from = c->out.len;
    resp_array(&c->out, c->cmd.argc - 1);
    for (int i = 1; i < c->cmd.argc; i++) {
        ks_meta m;
        int rc = ks_read(&s->ks, c->db, c->cmd.argv[i].p, c->cmd.argv[i].len, &m);
        if (rc) {
            /* a key that cannot be read is not an absent one: the reply is the error */
            c->out.len = from;
            reply_read_error(c, rc);
            return;
        }
        server_count_lookup(s, m.type != 0);
        if (!m.type)
            notify_arg(s, NOTIFY_KEY_MISS, "keymiss", c->db, &c->cmd.argv[i]);
        if (m.type == KS_TYPE_STRING)
            resp_bulk(&c->out, m.val, m.vlen);
        else
            resp_null(&c->out, c->proto); /* absent, or another type */
        ks_meta_free(&m);
    }
}

static void mset_generic(server *s, client *c, bool nx)
{
    if (c->cmd.argc % 2 == 0) {
        resp_error(&c->out, nx ? "ERR wrong number of arguments for 'msetnx' command"
                               : "ERR wrong number of arguments for 'mset' command");
        return;
    }
    int n = (c->cmd.argc - 1) / 2;
    ks_meta *olds = calloc((size_t)n, sizeof *olds);
    if (!olds) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    int rc = 0;
    bool any_exists = false;
    for (int i = 0; i < n && rc == 0; i++) {
        resp_arg *k = &c->cmd.argv[1 + 2 * i];
        /* a key repeated later in the same call: the earlier write is overwritten */
        rc = ks_read_head(&s->ks, c->db, k->p, k->len, &olds[i]);
        any_exists |= olds[i].type != 0;
    }
    if (rc) {
        reply_engine_error(c, rc);
    } else if (nx && any_exists) {
        resp_integer(&c->out, 0);
    } else {
        ks_begin(&s->ks);
        const ks_meta written = {.type = KS_TYPE_STRING};
        for (int i = 0; i < n && rc == 0; i++) {
            resp_arg *k = &c->cmd.argv[1 + 2 * i], *v = k + 1;
            const ks_meta *old = &olds[i];
            if (arg_repeats(c->cmd.argv, 1, 1 + 2 * i, 2)) /* an earlier pair wrote it */
                old = &written;
            rc = ks_put_meta(&s->ks, c->db, k->p, k->len, old, KS_TYPE_STRING, v->p, v->len, 0);
            notify_arg(s, NOTIFY_STRING, "set", c->db, k);
        }
        if (ks_finish(s, c, rc)) {
            for (int i = 0; i < n; i++)
                if (!arg_repeats(c->cmd.argv, 1, 1 + 2 * i, 2))
                    key_stored(s, c, c->db, &c->cmd.argv[1 + 2 * i]);
            if (nx)
                resp_integer(&c->out, 1);
            else
                resp_simple(&c->out, "OK");
        }
    }
    for (int i = 0; i < n; i++)
        ks_meta_free(&olds[i]);
    free(olds);
}

void cmd_mset(server *s, client *c)
{
    mset_generic(s, c, false);
}

void cmd_msetnx(server *s, client *c)
{
    mset_generic(s, c, true);
}

static void incr_generic(server *s, client *c, long long by)
{
    ks_meta m;
    resp_arg *key = &c->cmd.argv[1];
    if (!read_string(s, c, key, false, &m))
        return;
    long long v = 0;
    if (m.type && !parse_ll(m.val, m.vlen, &v)) {
        ks_meta_free(&m);
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        ks_meta_free(&m);
        resp_error(&c->out, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    if (write_string(s, c, key, &m, buf, (size_t)n, m.expire_at_ms, NOTIFY_STRING, "incrby"))
        resp_integer(&c->out, v);
    ks_meta_free(&m);
}

void cmd_incr(server *s, client *c)
{
    incr_generic(s, c, 1);
}

void cmd_decr(server *s, client *c)
{
    incr_generic(s, c, -1);
}

void cmd_incrby(server *s, client *c)
{
    long long by;
    if (!arg_ll(&c->cmd.argv[2], &by))
        resp_error(&c->out, "ERR value is not an integer or out of range");
    else
        incr_generic(s, c, by);
}

void cmd_decrby(server *s, client *c)
{
    long long by;
    if (!arg_ll(&c->cmd.argv[2], &by))
        resp_error(&c->out, "ERR value is not an integer or out of range");
    else if (by == LLONG_MIN)
        resp_error(&c->out, "ERR decrement would overflow");
    else
        incr_generic(s, c, -by);
}

void cmd_incrbyfloat(server *s, client *c)
{
    ks_meta m;
    resp_arg *key = &c->cmd.argv[1];
    long double by, v = 0;
    if (!read_string(s, c, key, false, &m))
        return;
    if ((m.type && !parse_ld(m.val, m.vlen, &v)) ||
        !parse_ld(c->cmd.argv[2].p, c->cmd.argv[2].len, &by)) {
        ks_meta_free(&m);
        resp_error(&c->out, "ERR value is not a valid float");
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        ks_meta_free(&m);
        resp_error(&c->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5200];
    size_t n = format_ld_human(v, buf, sizeof buf);
    if (write_string(s, c, key, &m, buf, n, m.expire_at_ms, NOTIFY_STRING, "incrbyfloat"))
        resp_bulk(&c->out, buf, n);
    ks_meta_free(&m);
}

void cmd_append(server *s, client *c)
{
    ks_meta m;
    resp_arg *key = &c->cmd.argv[1], *add = &c->cmd.argv[2];
    if (!read_string(s, c, key, false, &m))
        return;
    if (m.vlen + add->len > MAX_STRING) {
        ks_meta_free(&m);
        resp_error(&c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    char *v = malloc(m.vlen + add->len + 1);
    if (!v) {
        ks_meta_free(&m);
        reply_engine_error(c, -ENOMEM);
        return;
    }
    if (m.vlen)
        memcpy(v, m.val, m.vlen);
    memcpy(v + m.vlen, add->p, add->len);
    size_t n = m.vlen + add->len;
    if (write_string(s, c, key, &m, v, n, m.expire_at_ms, NOTIFY_STRING, "append"))
        resp_integer(&c->out, (long long)n);
    free(v);
    ks_meta_free(&m);
}

void cmd_strlen(server *s, client *c)
{
    ks_meta m;
    if (!read_string(s, c, &c->cmd.argv[1], true, &m))
        return;
    resp_integer(&c->out, (long long)m.vlen);
    ks_meta_free(&m);
}

void cmd_getrange(server *s, client *c)
{
    long long start, end;
    if (!arg_ll(&c->cmd.argv[2], &start) || !arg_ll(&c->cmd.argv[3], &end)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    ks_meta m;
    if (!read_string(s, c, &c->cmd.argv[1], true, &m))
        return;
    long long len = (long long)m.vlen;
    if (start < 0 && end < 0 && start > end) {
        resp_bulk(&c->out, "", 0);
    } else {
        if (start < 0)
            start += len;
        if (end < 0)
            end += len;
        if (start < 0)
            start = 0;
        if (end < 0)
            end = 0;
        if (end >= len)
            end = len - 1;
        if (start > end || len == 0)
            resp_bulk(&c->out, "", 0);
        else
            resp_bulk(&c->out, m.val + start, (size_t)(end - start + 1));
    }
    ks_meta_free(&m);
}

void cmd_setrange(server *s, client *c)
{
    long long off;
    resp_arg *key = &c->cmd.argv[1], *val = &c->cmd.argv[3];
    if (!arg_ll(&c->cmd.argv[2], &off)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    if (off < 0) {
        resp_error(&c->out, "ERR offset is out of range");
        return;
    }
    ks_meta m;
    if (!read_string(s, c, key, false, &m))
        return;
    if (val->len == 0) { /* nothing to write: Redis neither creates nor pads */
        resp_integer(&c->out, (long long)m.vlen);
        ks_meta_free(&m);
        return;
    }
    if ((uint64_t)off + val->len > MAX_STRING) {
        ks_meta_free(&m);
        resp_error(&c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    size_t n = (size_t)off + val->len > m.vlen ? (size_t)off + val->len : m.vlen;
    char *v = calloc(1, n);
    if (!v) {
        ks_meta_free(&m);
        reply_engine_error(c, -ENOMEM);
        return;
    }
    if (m.vlen)
        memcpy(v, m.val, m.vlen);
    memcpy(v + off, val->p, val->len);
    if (write_string(s, c, key, &m, v, n, m.expire_at_ms, NOTIFY_STRING, "setrange"))
        resp_integer(&c->out, (long long)n);
    free(v);
    ks_meta_free(&m);
}

/* ---- LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN] ---- */

typedef struct lcs_opts {
    bool len, idx, withmatchlen;
    long long minmatchlen;
} lcs_opts;

static bool parse_lcs_opts(client *c, lcs_opts *o)
{
    resp_arg *a = c->cmd.argv;
    for (int j = 3; j < c->cmd.argc; j++) {
        if (arg_is(&a[j], "idx")) {
            o->idx = true;
        } else if (arg_is(&a[j], "len")) {
            o->len = true;
        } else if (arg_is(&a[j], "withmatchlen")) {
            o->withmatchlen = true;
        } else if (arg_is(&a[j], "minmatchlen") && j + 1 < c->cmd.argc) {
            if (!arg_ll(&a[++j], &o->minmatchlen)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return false;
            }
            if (o->minmatchlen < 0)
                o->minmatchlen = 0;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    if (o->len && o->idx) {
        resp_error(&c->out, "ERR If you want both the length and indexes, please just use IDX.");
        return false;
    }
    return true;
}

/* IDX's reply: {matches: [[[a1 a2] [b1 b2] (len)] ...], len: n}, runs shorter than
   MINMATCHLEN left out. */
static void reply_lcs_idx(client *c, const lcs_result *r, const lcs_opts *o)
{
    long long n = 0;
    for (uint32_t i = 0; i < r->nranges; i++)
        n += r->ranges[i].a_end - r->ranges[i].a_start + 1 >= (uint64_t)o->minmatchlen;
    resp_map(&c->out, 2, c->proto);
    resp_bulk_cstr(&c->out, "matches");
    resp_array(&c->out, n);
    for (uint32_t i = 0; i < r->nranges; i++) {
        const lcs_range *g = &r->ranges[i];
        long long len = (long long)g->a_end - g->a_start + 1;
        if (len < o->minmatchlen)
            continue;
        resp_array(&c->out, 2 + o->withmatchlen);
        resp_array(&c->out, 2);
        resp_integer(&c->out, g->a_start);
        resp_integer(&c->out, g->a_end);
        resp_array(&c->out, 2);
        resp_integer(&c->out, g->b_start);
        resp_integer(&c->out, g->b_end);
        if (o->withmatchlen)
            resp_integer(&c->out, len);
    }
    resp_bulk_cstr(&c->out, "len");
    resp_integer(&c->out, r->len);
}

/* LCS reads both keys first (absent ones are empty strings), then its options. */
void cmd_lcs(server *s, client *c)
{
    ks_meta ma, mb;
    if (!read_key(s, c, c->db, &c->cmd.argv[1], 0, true, &ma))
        return;
    if (!read_key(s, c, c->db, &c->cmd.argv[2], 0, true, &mb)) {
        ks_meta_free(&ma);
        return;
    }
    lcs_opts o = {0};
    if ((ma.type && ma.type != KS_TYPE_STRING) || (mb.type && mb.type != KS_TYPE_STRING)) {
        resp_error(&c->out, "ERR The specified keys must contain string values");
    } else if (parse_lcs_opts(c, &o)) {
        uint64_t bytes = lcs_table_bytes(ma.vlen, mb.vlen);
        lcs_result r;
        if (bytes == UINT64_MAX)
            resp_error(&c->out, "ERR String too long for LCS");
        else if (bytes > s->cfg.proto_max_bulk_len)
            resp_error(&c->out, "ERR Insufficient memory, transient memory for LCS exceeds "
                                "proto-max-bulk-len");
        else if (lcs_compute(ma.type ? ma.val : "", ma.vlen, mb.type ? mb.val : "", mb.vlen,
                             !o.len && !o.idx, o.idx, &r))
            resp_error(&c->out, "ERR Insufficient memory, failed allocating transient memory "
                                "for LCS");
        else {
            if (o.idx)
                reply_lcs_idx(c, &r, &o);
            else if (o.len)
                resp_integer(&c->out, r.len);
            else
                resp_bulk(&c->out, r.str, r.len);
            lcs_result_free(&r);
        }
    }
    ks_meta_free(&ma);
    ks_meta_free(&mb);
}

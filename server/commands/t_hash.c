/*
 * t_hash.c - hash commands: HSET HSETNX HGET HMGET HMSET HDEL HLEN HEXISTS HGETALL HKEYS
 * HVALS HINCRBY HINCRBYFLOAT HSTRLEN HSCAN HRANDFIELD: arguments, checks and replies.
 * How a hash lives on engine keys is types/hash.c: HGET reads one field, never the hash.
 * Fields come back in byte order of their names (Redis: insertion order for small hashes).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "glob.h"
#include "hash.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"

/* Reads key as a hash (type 0 when absent); false with the error replied. counted: a
   read command's lookup (keyspace_hits/misses). */
static bool read_hash(server *s, client *c, const resp_arg *key, bool counted, ks_meta *m)
{
    return read_key(s, c, c->db, key, KS_TYPE_HASH, counted, m);
}

/* Reads one field: 0 with *val (malloc'ed) set, SHALE_ENOTFOUND, or an error. */
static int get_field(server *s, client *c, const resp_arg *key, const ks_meta *m,
                     const void *f, size_t fl, void **val, size_t *vl)
{
    return hash_get_field(&s->ks, c->db, key->p, key->len, m, f, fl, val, vl);
}

/*
 * The encoding Redis would give the hash, kept in the metadata's one extra byte because
 * Redis decides it as the hash is written: a listpack becomes a hashtable when a write
 * takes it past hash-max-listpack-entries fields or stores a field or value longer than
 * hash-max-listpack-value, and never turns back (a later CONFIG SET changes nothing for
 * it). A hash written before the byte existed reads by its size.
 */
static char hash_encoding(const server *s, const ks_meta *m)
{
    if (!m->type)
        return HASH_LISTPACK;
    if (m->extralen >= 1)
        return m->extra[0] == HASH_TABLE ? HASH_TABLE : HASH_LISTPACK;
    return m->size > (uint64_t)s->cfg.hash_max_listpack_entries ? HASH_TABLE : HASH_LISTPACK;
}

const char *hash_encoding_name(const server *s, const ks_meta *m)
{
    return hash_encoding(s, m) == HASH_TABLE ? "hashtable" : "listpack";
}

/* The encoding once a field and value of these lengths are written into it. */
static char encoding_with(const server *s, char enc, size_t flen, size_t vlen)
{
    uint64_t max = s->cfg.hash_max_listpack_value;
    return flen > max || vlen > max ? HASH_TABLE : enc;
}

/* ... and once it holds nfields fields. */
static char encoding_sized(const server *s, char enc, uint64_t nfields)
{
    return nfields > (uint64_t)s->cfg.hash_max_listpack_entries ? HASH_TABLE : enc;
}

/* Writes the hash's metadata with a new field count (a new version for a new hash) and
   its encoding, or deletes the key when no field is left. */
static int put_hash_meta(server *s, client *c, const resp_arg *key, const ks_meta *m,
                         uint64_t version, uint64_t nfields, char enc)
{
    return hash_put_meta(&s->ks, c->db, key->p, key->len, m, version, nfields, enc);
}

/*
 * Sets fields argv[first], argv[first+1], ... in one transaction. nx: only absent ones.
 * Returns the number of new fields, or -1 with the error replied.
 */
static long long set_fields(server *s, client *c, int first, bool nx)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_hash(s, c, key, false, &m))
        return -1;
    uint64_t version = m.type ? m.version : ks_new_version(&s->ks);
    uint64_t size = m.type ? m.size : 0;
    long long added = 0;
    int rc = 0;
    char enc = hash_encoding(s, &m), was = enc;
    ks_begin(&s->ks);
    for (int i = first; i + 1 < c->cmd.argc && rc == 0; i += 2) {
        resp_arg *f = &c->cmd.argv[i], *v = f + 1;
        int had = hash_has_field(&s->ks, c->db, key->p, key->len, &m, f->p, f->len);
        rc = had < 0 ? had : 0;
        bool exists = had > 0 || arg_repeats(c->cmd.argv, first, i, 2); /* set earlier here */
        if (rc || (nx && exists))
            continue;
        enc = encoding_with(s, enc, f->len, v->len);
        rc = hash_put_field(&s->ks, c->db, key->p, key->len, version, f->p, f->len, v->p, v->len);
        if (!exists)
            added++;
    }
    enc = encoding_sized(s, enc, size + (uint64_t)added);
    if (rc == 0 && (added || !m.type || enc != was))
        rc = put_hash_meta(s, c, key, &m, version, size + (uint64_t)added, enc);
    notify_reply_first(s); /* Redis replies, then tells ("new" stays before) */
    if (!nx || added) /* HSET tells even a write that changed nothing, as Redis */
        notify_arg(s, NOTIFY_HASH, "hset", c->db, key);
    bool ok = ks_finish(s, c, rc);
    if (ok && !m.type) /* a new hash: an existing one was touched when read */
        key_stored(s, c, c->db, key);
    ks_meta_free(&m);
    return ok ? added : -1;
}

void cmd_hset(server *s, client *c)
{
    if (c->cmd.argc % 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'hset' command");
        return;
    }
    long long n = set_fields(s, c, 2, false);
    if (n >= 0)
        resp_integer(&c->out, n);
}

void cmd_hmset(server *s, client *c)
{
    if (c->cmd.argc % 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'hmset' command");
        return;
    }
    if (set_fields(s, c, 2, false) >= 0)
        resp_simple(&c->out, "OK");
}

void cmd_hsetnx(server *s, client *c)
{
    long long n = set_fields(s, c, 2, true);
    if (n >= 0)
        resp_integer(&c->out, n);
}

void cmd_hget(server *s, client *c)
{
    ks_meta m;
    if (!read_hash(s, c, &c->cmd.argv[1], true, &m))
        return;
    void *v = NULL;
    size_t vl;
    int rc = get_field(s, c, &c->cmd.argv[1], &m, c->cmd.argv[2].p, c->cmd.argv[2].len, &v, &vl);
    if (rc == 0)
        resp_bulk(&c->out, v, vl);
    else if (rc == SHALE_ENOTFOUND)
        resp_null(&c->out, c->proto);
    else
        reply_read_error(c, rc);
    shale_free(v);
    ks_meta_free(&m);
}

void cmd_hmget(server *s, client *c)
{
    ks_meta m;
    if (!read_hash(s, c, &c->cmd.argv[1], true, &m))
        return;
    size_t from = c->out.len;
    resp_array(&c->out, c->cmd.argc - 2);
    for (int i = 2; i < c->cmd.argc; i++) {
        void *v = NULL;
        size_t vl;
        int rc = get_field(s, c, &c->cmd.argv[1], &m, c->cmd.argv[i].p, c->cmd.argv[i].len, &v, &vl);
        if (rc == 0) {
            resp_bulk(&c->out, v, vl);
        } else if (rc == SHALE_ENOTFOUND) {
            resp_null(&c->out, c->proto);
        } else {
            /* a field that cannot be read is not an absent one: the reply is the error */
            c->out.len = from;
            reply_read_error(c, rc);
            break;
        }
        shale_free(v);
    }
    ks_meta_free(&m);
}

void cmd_hstrlen(server *s, client *c)
{
    ks_meta m;
    if (!read_hash(s, c, &c->cmd.argv[1], true, &m))
        return;
    size_t vl = 0;
    int rc = get_field(s, c, &c->cmd.argv[1], &m, c->cmd.argv[2].p, c->cmd.argv[2].len, NULL, &vl);
    if (rc && rc != SHALE_ENOTFOUND)
        reply_engine_error(c, rc);
    else
        resp_integer(&c->out, rc ? 0 : (long long)vl);
    ks_meta_free(&m);
}

void cmd_hexists(server *s, client *c)
{
    ks_meta m;
    if (!read_hash(s, c, &c->cmd.argv[1], true, &m))
        return;
    int rc = get_field(s, c, &c->cmd.argv[1], &m, c->cmd.argv[2].p, c->cmd.argv[2].len, NULL, NULL);
    if (rc && rc != SHALE_ENOTFOUND)
        reply_engine_error(c, rc);
    else
        resp_integer(&c->out, rc == 0);
    ks_meta_free(&m);
}

void cmd_hlen(server *s, client *c)
{
    ks_meta m;
    if (!read_hash(s, c, &c->cmd.argv[1], true, &m))
        return;
    resp_integer(&c->out, m.type ? (long long)m.size : 0);
    ks_meta_free(&m);
}

void cmd_hdel(server *s, client *c)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_hash(s, c, key, false, &m))
        return;
    if (!m.type) {
        resp_integer(&c->out, 0);
        return;
    }
    long long removed = 0;
    int rc = 0;
    ks_begin(&s->ks);
    for (int i = 2; i < c->cmd.argc && rc == 0; i++) {
        resp_arg *f = &c->cmd.argv[i];
        if (arg_repeats(c->cmd.argv, 2, i, 1))
            continue;
        rc = get_field(s, c, key, &m, f->p, f->len, NULL, NULL);
        if (rc == SHALE_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        rc = hash_del_field(&s->ks, c->db, key->p, key->len, &m, f->p, f->len);
        removed++;
    }
    if (rc == 0 && removed)
        rc = put_hash_meta(s, c, key, &m, m.version, m.size - (uint64_t)removed,
                           hash_encoding(s, &m));
    if (removed)
        notify_arg(s, NOTIFY_HASH, "hdel", c->db, key);
    if (removed && (uint64_t)removed == m.size)
        notify_arg(s, NOTIFY_GENERIC, "del", c->db, key);
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, removed);
    ks_meta_free(&m);
}

/* HGETALL HKEYS HVALS: keys and/or values of every field. */
static void getall_generic(server *s, client *c, bool keys, bool vals)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_hash(s, c, key, true, &m))
        return;
    if (!m.type) {
        if (keys && vals)
            resp_map(&c->out, 0, c->proto);
        else
            resp_array(&c->out, 0);
        return;
    }
    hash_iter it;
    int rc = hash_iter_open(&s->ks, c->db, key->p, key->len, &m, &it);
    resp_out body = {0};
    long long n = 0;
    const char *f, *v;
    size_t fl, vl;
    for (; rc == 0 && hash_iter_next(&it, &f, &fl, &v, &vl); n++) {
        if (keys)
            resp_bulk(&body, f, fl);
        if (vals)
            resp_bulk(&body, v, vl);
    }
    int err = hash_iter_close(&it);
    rc = rc ? rc : err;
    if (rc || body.err) {
        reply_engine_error(c, rc ? rc : body.err);
    } else {
        if (keys && vals)
            resp_map(&c->out, n, c->proto);
        else
            resp_array(&c->out, n);
        resp_raw(&c->out, body.data, body.len);
    }
    resp_out_free(&body);
    ks_meta_free(&m);
}

void cmd_hgetall(server *s, client *c)
{
    getall_generic(s, c, true, true);
}

void cmd_hkeys(server *s, client *c)
{
    getall_generic(s, c, true, false);
}

void cmd_hvals(server *s, client *c)
{
    getall_generic(s, c, false, true);
}

/* Writes one field's new value (the field may be new). */
static bool put_field(server *s, client *c, const resp_arg *key, const ks_meta *m, bool is_new,
                      const char *v, size_t vl, const char *event)
{
    uint64_t version = m->type ? m->version : ks_new_version(&s->ks);
    resp_arg *f = &c->cmd.argv[2];
    ks_begin(&s->ks);
    int rc = hash_put_field(&s->ks, c->db, key->p, key->len, version, f->p, f->len, v, vl);
    uint64_t nfields = (m->type ? m->size : 0) + is_new;
    char was = hash_encoding(s, m);
    char enc = encoding_sized(s, encoding_with(s, was, f->len, vl), nfields);
    if (rc == 0 && (is_new || enc != was))
        rc = put_hash_meta(s, c, key, m, version, nfields, enc);
    notify_reply_first(s); /* Redis replies, then tells ("new" stays before) */
    notify_arg(s, NOTIFY_HASH, event, c->db, key);
    if (!ks_finish(s, c, rc))
        return false;
    if (!m->type)
        key_stored(s, c, c->db, key);
    return true;
}

/* HINCRBY/HINCRBYFLOAT: reads the hash and argv[2]'s current value (*old NULL when the
   field is absent). False when an error was replied. */
static bool read_field_for_update(server *s, client *c, ks_meta *m, char **old, size_t *ol)
{
    *old = NULL;
    *ol = 0;
    if (!read_hash(s, c, &c->cmd.argv[1], false, m))
        return false;
    void *v = NULL;
    int rc = get_field(s, c, &c->cmd.argv[1], m, c->cmd.argv[2].p, c->cmd.argv[2].len, &v, ol);
    if (rc && rc != SHALE_ENOTFOUND) {
        reply_engine_error(c, rc);
        ks_meta_free(m);
        return false;
    }
    *old = v;
    return true;
}

void cmd_hincrby(server *s, client *c)
{
    long long by, v = 0;
    resp_arg *key = &c->cmd.argv[1];
    if (!arg_ll(&c->cmd.argv[3], &by)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    ks_meta m;
    char *old;
    size_t ol;
    if (!read_field_for_update(s, c, &m, &old, &ol))
        return;
    if (old && !parse_ll(old, ol, &v)) {
        resp_error(&c->out, "ERR hash value is not an integer");
    } else if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        resp_error(&c->out, "ERR increment or decrement would overflow");
    } else {
        v += by;
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%lld", v);
        if (put_field(s, c, key, &m, !old, buf, (size_t)n, "hincrby"))
            resp_integer(&c->out, v);
    }
    shale_free(old);
    ks_meta_free(&m);
}

void cmd_hincrbyfloat(server *s, client *c)
{
    long double by, v = 0;
    resp_arg *key = &c->cmd.argv[1];
    if (!parse_ld(c->cmd.argv[3].p, c->cmd.argv[3].len, &by)) {
        resp_error(&c->out, "ERR value is not a valid float");
        return;
    }
    if (isinf(by)) { /* Redis 7.0.12 refuses it before looking at the hash */
        resp_error(&c->out, "ERR value is NaN or Infinity");
        return;
    }
    ks_meta m;
    char *old;
    size_t ol;
    if (!read_field_for_update(s, c, &m, &old, &ol))
        return;
    if (old && !parse_ld(old, ol, &v)) {
        resp_error(&c->out, "ERR hash value is not a float");
    } else if (isnan(v + by) || isinf(v + by)) {
        resp_error(&c->out, "ERR increment would produce NaN or Infinity");
    } else {
        char buf[5200];
        size_t n = format_ld_human(v + by, buf, sizeof buf);
        if (put_field(s, c, key, &m, !old, buf, n, "hincrbyfloat"))
            resp_bulk(&c->out, buf, n);
    }
    shale_free(old);
    ks_meta_free(&m);
}

typedef struct hscan_ctx {
    resp_out body;
    long long n;
    const scan_args *a;
    size_t prefix_len;
} hscan_ctx;

static void emit_field(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    hscan_ctx *x = ctx;
    k += x->prefix_len;
    kl -= x->prefix_len;
    if (x->a->match && !glob_match(x->a->match->p, x->a->match->len, k, kl, false))
        return;
    resp_bulk(&x->body, k, kl);
    resp_bulk(&x->body, v, vl);
    x->n += 2;
}

void cmd_hscan(server *s, client *c)
{
    scan_args a;
    if (!parse_scan_args(c, 2, false, &a))
        return;
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_hash(s, c, key, false, &m))
        return;
    hscan_ctx x = {.a = &a};
    uint64_t next = 0;
    int rc = 0;
    if (m.type) {
        hash_iter it;
        rc = hash_iter_open(&s->ks, c->db, key->p, key->len, &m, &it);
        x.prefix_len = it.range.lo.len; /* a field's name follows it (hash.h) */
        if (rc == 0)
            rc = scan_range(s, c, &it.range, a.cursor, a.count, emit_field, &x, &next);
        hash_iter_close(&it);
    }
    reply_scan(c, rc, next, &x.body, x.n);
    resp_out_free(&x.body);
    ks_meta_free(&m);
}

/* HRANDFIELD key [count [WITHVALUES]] */
void cmd_hrandfield(server *s, client *c)
{
    long long count = 1;
    bool with_count = c->cmd.argc >= 3, withvalues = false;
    if (c->cmd.argc > 4 || (c->cmd.argc == 4 && !arg_is(&c->cmd.argv[3], "withvalues"))) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    withvalues = c->cmd.argc == 4;
    if (with_count && !arg_ll(&c->cmd.argv[2], &count)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return;
    }
    if (with_count && (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2)) {
        resp_error(&c->out, "ERR value is out of range");
        return;
    }
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_hash(s, c, key, false, &m))
        return;
    if (!m.type || count == 0) {
        if (with_count)
            resp_array(&c->out, 0);
        else
            resp_null(&c->out, c->proto);
        ks_meta_free(&m);
        return;
    }
    /* Reads the fields once (bounded by the hash's size), then samples from them. */
    bool distinct = count > 0;
    long long want = distinct ? (count < (long long)m.size ? count : (long long)m.size) : -count;
    hash_iter it;
    int rc = hash_iter_open(&s->ks, c->db, key->p, key->len, &m, &it);
    resp_out all = {0}; /* every field (and value), as replies, with their offsets */
    size_t *off = NULL, n = 0, cap = 0;
    const char *f, *v;
    size_t fl, vl;
    while (rc == 0 && hash_iter_next(&it, &f, &fl, &v, &vl)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            size_t *p = realloc(off, (cap + 1) * sizeof *off);
            if (!p)
                break;
            off = p;
        }
        off[n++] = all.len;
        resp_bulk(&all, f, fl);
        if (withvalues)
            resp_bulk(&all, v, vl);
    }
    int err = hash_iter_close(&it);
    rc = rc ? rc : err;
    if (rc || all.err || !off || (size_t)n < m.size) {
        reply_engine_error(c, rc ? rc : -ENOMEM);
    } else {
        off[n] = all.len;
        if (distinct && want > (long long)n)
            want = (long long)n;
        if (!with_count) {
            size_t i = (size_t)rand() % n;
            resp_raw(&c->out, all.data + off[i], off[i + 1] - off[i]);
        } else {
            bool pairs = withvalues && c->proto == 3;
            resp_array(&c->out, withvalues && !pairs ? want * 2 : want);
            /* distinct: a partial Fisher-Yates shuffle of the indexes */
            size_t *idx = distinct ? malloc(n * sizeof *idx) : NULL;
            for (size_t i = 0; idx && i < n; i++)
                idx[i] = i;
            for (long long j = 0; j < want; j++) {
                size_t i = (size_t)rand() % n;
                if (idx) {
                    size_t pick = (size_t)j + (size_t)rand() % (n - (size_t)j);
                    size_t t = idx[j];
                    idx[j] = idx[pick];
                    idx[pick] = t;
                    i = idx[j];
                }
                if (pairs)
                    resp_array(&c->out, 2);
                resp_raw(&c->out, all.data + off[i], off[i + 1] - off[i]);
            }
            free(idx);
        }
    }
    free(off);
    resp_out_free(&all);
    ks_meta_free(&m);
}

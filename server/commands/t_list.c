/*
 * t_list.c - list commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET
 * LINSERT LREM LTRIM LPOS RPOPLPUSH LMOVE LMPOP, and the blocking BLPOP BRPOP BRPOPLPUSH
 * BLMOVE BLMPOP (blocking.h). Arguments, Redis 7.0's checks in its order, its errors and
 * replies; the elements live on engine keys through types/list.c, which this file never
 * builds. A reply that reports a write is built aside and sent only once the write has
 * committed (ks_finish replies the error otherwise).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "blocking.h"
#include "keyspace.h"
#include "list.h"
#include "notify.h"
#include "server.h"

#define SYNTAX_ERR "ERR syntax error"
#define NOT_INTEGER_ERR "ERR value is not an integer or out of range"

/* Reads key as a list (type 0 when absent); false with the error replied. counted: a
   read command's lookup (keyspace_hits/misses), as Redis's lookupKeyRead counts. */
static bool read_list(server *s, client *c, const resp_arg *key, bool counted, ks_meta *m)
{
    return read_key(s, c, c->db, key, KS_TYPE_LIST, counted, m);
}

/* Opens the list m of key; false with the error replied (a metadata that is not a
   list's: corruption). l is safe to list_close either way, and so is a list zeroed
   with {0} that was never opened. */
static bool open_list(server *s, client *c, const resp_arg *key, const ks_meta *m, list *l)
{
    int rc = list_open(l, &s->ks, c->db, key->p, key->len, m);
    if (rc)
        reply_read_error(c, rc);
    return rc == 0;
}

/* Values as bulk replies into a resp_out (the callback of list reads). */
static int emit_bulk(void *ctx, const void *v, size_t vl)
{
    resp_out *o = ctx;
    resp_bulk(o, v, vl);
    return o->err;
}

/* One value kept (malloc'ed) from a list read: LMOVE's element. */
typedef struct captured {
    char *p;
    size_t n;
} captured;

static int capture(void *ctx, const void *v, size_t vl)
{
    captured *c = ctx;
    c->p = malloc(vl + 1);
    if (!c->p)
        return -ENOMEM;
    memcpy(c->p, v, vl);
    c->n = vl;
    return 0;
}

/* "LEFT" / "RIGHT" (Redis's getListPositionFromObjectOrReply). */
static bool parse_side(client *c, const resp_arg *a, bool *left)
{
    if (arg_is(a, "left"))
        *left = true;
    else if (arg_is(a, "right"))
        *left = false;
    else {
        resp_error(&c->out, SYNTAX_ERR);
        return false;
    }
    return true;
}

/* Redis's getRangeLongFromObjectOrReply(min, LONG_MAX) with its message for both a
   non-integer and a value out of range. */
static bool parse_at_least(client *c, const resp_arg *a, long long min, const char *err,
                           long long *out)
{
    if (!arg_ll(a, out) || *out < min) {
        resp_error(&c->out, err);
        return false;
    }
    return true;
}

/* Ends a write: commits, then sends the reply built in body (freed either way). */
static void finish_with(server *s, client *c, int rc, resp_out *body)
{
    if (rc == 0 && body->err)
        rc = body->err;
    if (ks_finish(s, c, rc))
        resp_raw(&c->out, body->data, body->len);
    resp_out_free(body);
}

/* The keyspace events of a pop from key (left or right) that left l: "del" too when it
   emptied the list (Redis's listElementsRemoved, after the popped values' reply). */
static void notify_popped(server *s, client *c, const resp_arg *key, bool left, list *l)
{
    notify_reply_first(s);
    notify_arg(s, NOTIFY_LIST, left ? "lpop" : "rpop", c->db, key);
    if (list_len(l) == 0)
        notify_arg(s, NOTIFY_GENERIC, "del", c->db, key);
}

/* ---- pushes ---- */

/* LPUSH RPUSH LPUSHX RPUSHX: xx pushes only onto an existing list. */
static void push_generic(server *s, client *c, bool left, bool xx)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_list(s, c, key, false, &m))
        return;
    list l = {0};
    if (xx && !m.type) {
        resp_integer(&c->out, 0);
    } else if (open_list(s, c, key, &m, &l)) {
        ks_begin(&s->ks);
        int rc = 0;
        for (int i = 2; i < c->cmd.argc && rc == 0; i++)
            rc = list_push(&l, left, c->cmd.argv[i].p, c->cmd.argv[i].len);
        rc = rc ? rc : list_save(&l);
        notify_reply_first(s); /* Redis replies the length first ("new" stays before) */
        notify_arg(s, NOTIFY_LIST, left ? "lpush" : "rpush", c->db, key);
        if (ks_finish(s, c, rc))
            resp_integer(&c->out, (long long)list_len(&l));
    }
    list_close(&l);
    ks_meta_free(&m);
}

void cmd_lpush(server *s, client *c)
{
    push_generic(s, c, true, false);
}

void cmd_rpush(server *s, client *c)
{
    push_generic(s, c, false, false);
}

void cmd_lpushx(server *s, client *c)
{
    push_generic(s, c, true, true);
}

void cmd_rpushx(server *s, client *c)
{
    push_generic(s, c, false, true);
}

/* ---- pops ---- */

/* How a pop replies: one bulk (LPOP, RPOP), an array (with a COUNT), [key, element]
   (BLPOP, BRPOP), [key, [elements]] (LMPOP, BLMPOP). */
enum pop_reply { POP_BULK, POP_ARRAY, POP_KEY_BULK, POP_KEY_ARRAY };

/* Pops up to count elements of the list m of key (non-empty) and replies once that is
   committed. */
static void pop_and_reply(server *s, client *c, const resp_arg *key, const ks_meta *m, bool left,
                          uint64_t count, enum pop_reply shape)
{
    list l = {0};
    if (!open_list(s, c, key, m, &l)) {
        list_close(&l);
        return;
    }
    uint64_t n = count < list_len(&l) ? count : list_len(&l);
    resp_out body = {0};
    if (shape == POP_KEY_BULK || shape == POP_KEY_ARRAY) {
        resp_array(&body, 2);
        resp_bulk(&body, key->p, key->len);
    }
    if (shape == POP_ARRAY || shape == POP_KEY_ARRAY)
        resp_array(&body, (long long)n);
    ks_begin(&s->ks);
    int rc = list_pop(&l, left, n, emit_bulk, &body);
    rc = rc ? rc : list_save(&l);
    notify_popped(s, c, key, left, &l);
    finish_with(s, c, rc, &body);
    list_close(&l);
}

/* LPOP/RPOP key [count] */
static void pop_generic(server *s, client *c, bool left)
{
    bool has_count = c->cmd.argc == 3;
    long long count = 1;
    if (c->cmd.argc > 3) {
        char msg[80];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command",
                 left ? "lpop" : "rpop");
        resp_error(&c->out, msg);
        return;
    }
    if (has_count && !parse_at_least(c, &c->cmd.argv[2], 0,
                                     "ERR value is out of range, must be positive", &count))
        return;
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_list(s, c, key, false, &m))
        return;
    if (!m.type) {
        if (has_count)
            resp_null_array(&c->out, c->proto);
        else
            resp_null(&c->out, c->proto);
    } else if (has_count && count == 0) {
        resp_array(&c->out, 0);
    } else {
        pop_and_reply(s, c, key, &m, left, (uint64_t)count, has_count ? POP_ARRAY : POP_BULK);
    }
    ks_meta_free(&m);
}

void cmd_lpop(server *s, client *c)
{
    pop_generic(s, c, true);
}

void cmd_rpop(server *s, client *c)
{
    pop_generic(s, c, false);
}

/* ---- reads ---- */

void cmd_llen(server *s, client *c)
{
    ks_meta m;
    if (!read_list(s, c, &c->cmd.argv[1], true, &m))
        return;
    resp_integer(&c->out, m.type ? (long long)m.size : 0);
    ks_meta_free(&m);
}

void cmd_lindex(server *s, client *c)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_list(s, c, key, true, &m))
        return;
    long long index;
    list l = {0};
    uint64_t pos;
    if (!m.type) {
        resp_null(&c->out, c->proto);
    } else if (!arg_ll(&c->cmd.argv[2], &index)) { /* Redis looks the key up first */
        resp_error(&c->out, NOT_INTEGER_ERR);
    } else if (open_list(s, c, key, &m, &l)) {
        void *v;
        size_t vl;
        int rc = list_pos_of(list_len(&l), index, &pos) ? list_get(&l, pos, &v, &vl)
                                                         : SHALE_ENOTFOUND;
        if (rc == 0) {
            resp_bulk(&c->out, v, vl);
            shale_free(v);
        } else if (rc == SHALE_ENOTFOUND) {
            resp_null(&c->out, c->proto);
        } else {
            reply_read_error(c, rc);
        }
    }
    list_close(&l);
    ks_meta_free(&m);
}

void cmd_lrange(server *s, client *c)
{
    long long start, stop;
    if (!arg_ll(&c->cmd.argv[2], &start) || !arg_ll(&c->cmd.argv[3], &stop)) {
        resp_error(&c->out, NOT_INTEGER_ERR);
        return;
    }
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_list(s, c, key, true, &m))
        return;
    list l = {0};
    if (!m.type) {
        resp_array(&c->out, 0);
    } else if (open_list(s, c, key, &m, &l)) {
        uint64_t from, count;
        list_span(list_len(&l), start, stop, &from, &count);
        size_t at = c->out.len;
        resp_array(&c->out, (long long)count);
        int rc = list_read(&l, from, count, false, emit_bulk, &c->out);
        if (rc) { /* a part of a list is not the list: the reply is the error */
            c->out.len = at;
            c->out.err = 0;
            reply_read_error(c, rc);
        }
    }
    list_close(&l);
    ks_meta_free(&m);
}

/* Collects LPOS's positions as integer replies. */
typedef struct pos_reply {
    resp_out body;
    long long n;
} pos_reply;

static int emit_pos(void *ctx, uint64_t pos)
{
    pos_reply *p = ctx;
    resp_integer(&p->body, (long long)pos);
    p->n++;
    return p->body.err;
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
void cmd_lpos(server *s, client *c)
{
    long long rank = 1, count = -1, maxlen = 0; /* count -1: no COUNT */
    resp_arg *a = c->cmd.argv;
    for (int i = 3; i < c->cmd.argc; i++) {
        bool more = i + 1 < c->cmd.argc;
        if (arg_is(&a[i], "rank") && more) {
            if (!arg_ll(&a[++i], &rank)) {
                resp_error(&c->out, NOT_INTEGER_ERR);
                return;
            }
            if (rank == 0) {
                resp_error(&c->out, "ERR RANK can't be zero: use 1 to start from the first "
                                    "match, 2 from the second ... or use negative to start "
                                    "from the end of the list");
                return;
            }
        } else if (arg_is(&a[i], "count") && more) {
            if (!parse_at_least(c, &a[++i], 0, "ERR COUNT can't be negative", &count))
                return;
        } else if (arg_is(&a[i], "maxlen") && more) {
            if (!parse_at_least(c, &a[++i], 0, "ERR MAXLEN can't be negative", &maxlen))
                return;
        } else {
            resp_error(&c->out, SYNTAX_ERR);
            return;
        }
    }
    ks_meta m;
    if (!read_list(s, c, &a[1], true, &m))
        return;
    list l = {0};
    if (!m.type) {
        if (count != -1)
            resp_array(&c->out, 0);
        else
            resp_null(&c->out, c->proto);
    } else if (open_list(s, c, &a[1], &m, &l)) {
        pos_reply p = {{0}, 0};
        /* Redis stops at COUNT matches past the first rank - 1 ones, a test that its
           negation of RANK LLONG_MIN (which wraps) never passes: all of them then */
        uint64_t limit = count == -1 ? 1 : rank == LLONG_MIN ? 0 : (uint64_t)count;
        int rc = list_find(&l, a[2].p, a[2].len, rank, limit, (uint64_t)maxlen, emit_pos, &p);
        if (rc) {
            reply_read_error(c, rc);
        } else if (count != -1) {
            resp_array(&c->out, p.n);
            resp_raw(&c->out, p.body.data, p.body.len);
        } else if (p.n) {
            resp_raw(&c->out, p.body.data, p.body.len);
        } else {
            resp_null(&c->out, c->proto);
        }
        resp_out_free(&p.body);
    }
    list_close(&l);
    ks_meta_free(&m);
}

/* ---- rewrites ---- */

void cmd_lset(server *s, client *c)
{
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_list(s, c, key, false, &m))
        return;
    long long index;
    uint64_t pos;
    list l = {0};
    if (!m.type) {
        resp_error(&c->out, "ERR no such key");
    } else if (!arg_ll(&c->cmd.argv[2], &index)) {
        resp_error(&c->out, NOT_INTEGER_ERR);
    } else if (open_list(s, c, key, &m, &l)) {
        if (!list_pos_of(list_len(&l), index, &pos)) {
            resp_error(&c->out, "ERR index out of range");
        } else {
            ks_begin(&s->ks);
            int rc = list_set(&l, pos, c->cmd.argv[3].p, c->cmd.argv[3].len);
            notify_reply_first(s); /* Redis replies +OK first */
            notify_arg(s, NOTIFY_LIST, "lset", c->db, key);
            if (ks_finish(s, c, rc))
                resp_simple(&c->out, "OK");
        }
    }
    list_close(&l);
    ks_meta_free(&m);
}

/* LINSERT key BEFORE|AFTER pivot element */
void cmd_linsert(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    bool after;
    if (arg_is(&a[2], "after"))
        after = true;
    else if (arg_is(&a[2], "before"))
        after = false;
    else {
        resp_error(&c->out, SYNTAX_ERR);
        return;
    }
    ks_meta m;
    if (!read_list(s, c, &a[1], false, &m))
        return;
    list l = {0};
    if (!m.type) {
        resp_integer(&c->out, 0);
    } else if (open_list(s, c, &a[1], &m, &l)) {
        bool found;
        ks_begin(&s->ks);
        int rc = list_insert(&l, after, a[3].p, a[3].len, a[4].p, a[4].len, &found);
        if (rc == 0 && !found) {
            ks_abort(&s->ks); /* nothing written: no write to wait for either */
            resp_integer(&c->out, -1);
        } else {
            rc = rc ? rc : list_save(&l);
            notify_arg(s, NOTIFY_LIST, "linsert", c->db, &a[1]);
            if (ks_finish(s, c, rc))
                resp_integer(&c->out, (long long)list_len(&l));
        }
    }
    list_close(&l);
    ks_meta_free(&m);
}

/* LREM key count element */
void cmd_lrem(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    long long count;
    if (!arg_ll(&a[2], &count)) {
        resp_error(&c->out, NOT_INTEGER_ERR);
        return;
    }
    ks_meta m;
    if (!read_list(s, c, &a[1], false, &m))
        return;
    list l = {0};
    if (!m.type) {
        resp_integer(&c->out, 0);
    } else if (open_list(s, c, &a[1], &m, &l)) {
        uint64_t removed;
        ks_begin(&s->ks);
        int rc = list_remove(&l, count, a[3].p, a[3].len, &removed);
        if (rc == 0 && removed == 0) {
            ks_abort(&s->ks);
            resp_integer(&c->out, 0);
        } else {
            rc = rc ? rc : list_save(&l);
            notify_arg(s, NOTIFY_LIST, "lrem", c->db, &a[1]);
            if (list_len(&l) == 0)
                notify_arg(s, NOTIFY_GENERIC, "del", c->db, &a[1]);
            if (ks_finish(s, c, rc))
                resp_integer(&c->out, (long long)removed);
        }
    }
    list_close(&l);
    ks_meta_free(&m);
}

/* LTRIM key start stop */
void cmd_ltrim(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    long long start, stop;
    if (!arg_ll(&a[2], &start) || !arg_ll(&a[3], &stop)) {
        resp_error(&c->out, NOT_INTEGER_ERR);
        return;
    }
    ks_meta m;
    if (!read_list(s, c, &a[1], false, &m))
        return;
    list l = {0};
    if (!m.type) {
        resp_simple(&c->out, "OK");
    } else if (open_list(s, c, &a[1], &m, &l)) {
        ks_begin(&s->ks);
        int rc = list_trim(&l, start, stop);
        if (rc == 0 && !l.dirty) {
            ks_abort(&s->ks); /* nothing trimmed: no write to wait for */
            notify_arg(s, NOTIFY_LIST, "ltrim", c->db, &a[1]); /* told anyway, as Redis */
            resp_simple(&c->out, "OK");
        } else {
            rc = rc ? rc : list_save(&l);
            notify_arg(s, NOTIFY_LIST, "ltrim", c->db, &a[1]);
            if (list_len(&l) == 0)
                notify_arg(s, NOTIFY_GENERIC, "del", c->db, &a[1]);
            if (ks_finish(s, c, rc))
                resp_simple(&c->out, "OK");
        }
    }
    list_close(&l);
    ks_meta_free(&m);
}

/* ---- moves ---- */

/*
 * LMOVE, RPOPLPUSH, and BLMOVE/BRPOPLPUSH once the source has an element: pops from src
 * (whose metadata sm is non-empty) and pushes onto dst in one transaction; on one key
 * the pop comes first, so a rotation of a one-element list keeps its key. Replies the
 * element.
 */
static void move_and_reply(server *s, client *c, const resp_arg *src, const ks_meta *sm,
                           const resp_arg *dst, bool from_left, bool to_left)
{
    bool same = src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0;
    ks_meta dm = {0};
    if (!same && !read_list(s, c, dst, false, &dm))
        return;
    list sl = {0}, dl = {0};
    if (open_list(s, c, src, sm, &sl) && (same || open_list(s, c, dst, &dm, &dl))) {
        list *d = same ? &sl : &dl;
        captured v = {0};
        ks_begin(&s->ks);
        int rc = list_pop(&sl, from_left, 1, capture, &v);
        rc = rc ? rc : list_push(d, to_left, v.p, v.n);
        rc = rc ? rc : list_save(&sl);
        rc = rc || same ? rc : list_save(&dl);
        notify_arg(s, NOTIFY_LIST, to_left ? "lpush" : "rpush", c->db, dst);
        notify_popped(s, c, src, from_left, &sl);
        resp_out body = {0};
        resp_bulk(&body, v.p, v.n);
        finish_with(s, c, rc, &body);
        free(v.p);
    }
    list_close(&sl);
    list_close(&dl);
    ks_meta_free(&dm);
}

/* LMOVE/RPOPLPUSH after the sides are parsed. */
static void lmove_generic(server *s, client *c, bool from_left, bool to_left)
{
    resp_arg *src = &c->cmd.argv[1];
    ks_meta sm;
    if (!read_list(s, c, src, false, &sm))
        return;
    if (!sm.type)
        resp_null(&c->out, c->proto);
    else
        move_and_reply(s, c, src, &sm, &c->cmd.argv[2], from_left, to_left);
    ks_meta_free(&sm);
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT */
void cmd_lmove(server *s, client *c)
{
    bool from_left, to_left;
    if (parse_side(c, &c->cmd.argv[3], &from_left) && parse_side(c, &c->cmd.argv[4], &to_left))
        lmove_generic(s, c, from_left, to_left);
}

void cmd_rpoplpush(server *s, client *c)
{
    lmove_generic(s, c, false, true);
}

/* ---- several keys ---- */

/* LMPOP and BLMPOP's arguments after the timeout: numkeys key... LEFT|RIGHT [COUNT n]. */
typedef struct mpop_args {
    int first_key, nkeys;
    bool left;
    long long count;
} mpop_args;

static bool parse_mpop(client *c, int numkeys_at, mpop_args *p)
{
    resp_arg *a = c->cmd.argv;
    long long numkeys;
    if (!parse_at_least(c, &a[numkeys_at], 1, "ERR numkeys should be greater than 0", &numkeys))
        return false;
    if (numkeys >= c->cmd.argc - numkeys_at - 1) { /* no room for LEFT|RIGHT after them */
        resp_error(&c->out, SYNTAX_ERR);
        return false;
    }
    p->first_key = numkeys_at + 1;
    p->nkeys = (int)numkeys;
    int where = p->first_key + p->nkeys;
    if (!parse_side(c, &a[where], &p->left))
        return false;
    p->count = -1;
    for (int i = where + 1; i < c->cmd.argc; i++) {
        if (p->count == -1 && arg_is(&a[i], "count") && i + 1 < c->cmd.argc) {
            if (!parse_at_least(c, &a[++i], 1, "ERR count should be greater than 0", &p->count))
                return false;
        } else {
            resp_error(&c->out, SYNTAX_ERR);
            return false;
        }
    }
    if (p->count == -1)
        p->count = 1;
    return true;
}

/*
 * The first non-empty list of keys[0..n): pops from it and replies. Returns true when it
 * replied (a pop or an error), false when every key is absent. A client woken for one of
 * its keys looks at that key only (blocking_may_serve).
 */
static bool pop_first(server *s, client *c, const resp_arg *keys, int n, bool left,
                      uint64_t count, enum pop_reply shape)
{
    for (int i = 0; i < n; i++) {
        if (!blocking_may_serve(c, &keys[i]))
            continue;
        ks_meta m;
        if (!read_list(s, c, &keys[i], false, &m))
            return true;
        if (m.type) {
            pop_and_reply(s, c, &keys[i], &m, left, count, shape);
            ks_meta_free(&m);
            return true;
        }
    }
    return false;
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] */
void cmd_lmpop(server *s, client *c)
{
    mpop_args p;
    if (!parse_mpop(c, 1, &p))
        return;
    if (!pop_first(s, c, &c->cmd.argv[p.first_key], p.nkeys, p.left, (uint64_t)p.count,
                   POP_KEY_ARRAY))
        resp_null_array(&c->out, c->proto);
}

/* ---- blocking ---- */

/* BLPOP/BRPOP key [key ...] timeout */
static void bpop_generic(server *s, client *c, bool left, command_fn self)
{
    uint64_t deadline;
    if (!blocking_parse_timeout(c, &c->cmd.argv[c->cmd.argc - 1], &deadline))
        return;
    int nkeys = c->cmd.argc - 2;
    if (!pop_first(s, c, &c->cmd.argv[1], nkeys, left, 1, POP_KEY_BULK))
        blocking_wait(s, c, 1, nkeys, KS_TYPE_LIST, deadline, self);
}

void cmd_blpop(server *s, client *c)
{
    bpop_generic(s, c, true, cmd_blpop);
}

void cmd_brpop(server *s, client *c)
{
    bpop_generic(s, c, false, cmd_brpop);
}

/* BLMOVE and BRPOPLPUSH once their arguments are parsed: LMOVE when the source has an
   element, else a wait on the source (the destination is looked at when it has one). */
static void blmove_generic(server *s, client *c, bool from_left, bool to_left,
                           uint64_t deadline, command_fn self)
{
    resp_arg *src = &c->cmd.argv[1];
    ks_meta sm;
    if (!read_list(s, c, src, false, &sm))
        return;
    if (sm.type)
        move_and_reply(s, c, src, &sm, &c->cmd.argv[2], from_left, to_left);
    else
        blocking_wait(s, c, 1, 1, KS_TYPE_LIST, deadline, self);
    ks_meta_free(&sm);
}

/* BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout */
void cmd_blmove(server *s, client *c)
{
    bool from_left, to_left;
    uint64_t deadline;
    if (parse_side(c, &c->cmd.argv[3], &from_left) && parse_side(c, &c->cmd.argv[4], &to_left) &&
        blocking_parse_timeout(c, &c->cmd.argv[5], &deadline))
        blmove_generic(s, c, from_left, to_left, deadline, cmd_blmove);
}

/* BRPOPLPUSH source destination timeout */
void cmd_brpoplpush(server *s, client *c)
{
    uint64_t deadline;
    if (blocking_parse_timeout(c, &c->cmd.argv[3], &deadline))
        blmove_generic(s, c, false, true, deadline, cmd_brpoplpush);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the other arguments are
   checked before the timeout, as Redis does. */
void cmd_blmpop(server *s, client *c)
{
    mpop_args p;
    uint64_t deadline;
    if (!parse_mpop(c, 2, &p) || !blocking_parse_timeout(c, &c->cmd.argv[1], &deadline))
        return;
    if (!pop_first(s, c, &c->cmd.argv[p.first_key], p.nkeys, p.left, (uint64_t)p.count,
                   POP_KEY_ARRAY))
        blocking_wait(s, c, p.first_key, p.nkeys, KS_TYPE_LIST, deadline, cmd_blmpop);
}

/*
 * t_set.c - set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SINTER
 * SINTERSTORE SINTERCARD SUNION SUNIONSTORE SDIFF SDIFFSTORE SMOVE SPOP SRANDMEMBER
 * SSCAN. Arguments, checks, Redis 7.0's errors and replies; how a set lives on engine
 * keys is types/set.c's. A set Redis would hold as an intset (integers only, at most
 * 512) is replied in integer order, as Redis replies it; any other in hash order (Redis:
 * its hashtable's order, unspecified as ours).
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
#include "set.h"

#define ERR_NOT_INT "ERR value is not an integer or out of range"

/* Reads argv[i] as a set (type 0 when absent); false with the error replied. counted:
   a lookup as Redis's lookupKeyRead makes (keyspace_hits/misses). */
static bool read_set(server *s, client *c, int i, bool counted, ks_meta *m, set_ref *ref)
{
    if (!read_key(s, c, c->db, &c->cmd.argv[i], KS_TYPE_SET, counted, m))
        return false;
    *ref = (set_ref){.key = c->cmd.argv[i].p, .klen = c->cmd.argv[i].len, .m = m};
    return true;
}

/* The sets named by argv[first .. first + n): false with the error replied (the first
   key of another type stops the reads, as in Redis). Free with free_sets. */
static bool read_sets(server *s, client *c, int first, int n, ks_meta **metas, set_ref **refs)
{
    *metas = calloc((size_t)n, sizeof **metas);
    *refs = calloc((size_t)n, sizeof **refs);
    if (!*metas || !*refs) {
        free(*metas);
        free(*refs);
        reply_engine_error(c, -ENOMEM);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!read_set(s, c, first + i, true, &(*metas)[i], &(*refs)[i])) {
            for (int j = 0; j < i; j++)
                ks_meta_free(&(*metas)[j]);
            free(*metas);
            free(*refs);
            return false;
        }
    }
    return true;
}

static void free_sets(ks_meta *metas, set_ref *refs, int n)
{
    for (int i = 0; i < n; i++)
        ks_meta_free(&metas[i]);
    free(metas);
    free(refs);
}

/* argv[first..argc) as member arrays (pointers into argv). */
static bool arg_members(client *c, int first, const char ***p, size_t **lens)
{
    size_t n = (size_t)(c->cmd.argc - first);
    *p = malloc(n * sizeof **p);
    *lens = malloc(n * sizeof **lens);
    if (!*p || !*lens) {
        free(*p);
        free(*lens);
        reply_engine_error(c, -ENOMEM);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        (*p)[i] = c->cmd.argv[first + (int)i].p;
        (*lens)[i] = c->cmd.argv[first + (int)i].len;
    }
    return true;
}

/* Members as a set reply (an array in RESP2), or an array. rc: the read's result. */
static void reply_members(client *c, int rc, const set_list *l, bool as_set)
{
    if (rc) {
        reply_read_error(c, rc);
        return;
    }
    if (as_set)
        resp_set(&c->out, (long long)l->n, c->proto);
    else
        resp_array(&c->out, (long long)l->n);
    for (size_t i = 0; i < l->n; i++) {
        size_t len;
        const char *p = set_list_at(l, i, &len);
        resp_bulk(&c->out, p, len);
    }
}

/*
 * A set reply built as members come: bulks into a body, and while every member is an
 * integer and there are at most SET_INTSET_MAX, a copy in a list too, which is replied
 * instead, in integer order (as Redis replies an intset). A big reply is held once.
 */
typedef struct collector {
    resp_out body;
    long long n;
    set_list ints;
    bool intset; /* ints still holds every member */
} collector;

static int collect(void *ctx, const char *p, size_t len)
{
    collector *x = ctx;
    resp_bulk(&x->body, p, len);
    x->n++;
    if (x->intset && (x->n > SET_INTSET_MAX || !set_member_is_int(p, len))) {
        x->intset = false;
        set_list_free(&x->ints);
    }
    int rc = x->intset ? set_list_push(&x->ints, p, len) : 0;
    return rc ? rc : x->body.err;
}

/* Replies what x collected as a set (rc: the reads' result), and frees it. */
static void reply_collected(client *c, int rc, collector *x)
{
    if (rc == 0 && x->intset) {
        rc = set_list_intset_order(&x->ints);
        if (rc == 0)
            reply_members(c, 0, &x->ints, true);
    } else if (rc == 0) {
        resp_set(&c->out, x->n, c->proto);
        resp_raw(&c->out, x->body.data, x->body.len);
    }
    if (rc)
        reply_read_error(c, rc);
    resp_out_free(&x->body);
    set_list_free(&x->ints);
}

/* SADD and SREM: the members of argv[2..] added or removed in one transaction. */
static void add_or_remove(server *s, client *c, bool add)
{
    ks_meta m;
    set_ref ref;
    if (!read_set(s, c, 1, false, &m, &ref))
        return;
    const char **p;
    size_t *lens;
    if (!arg_members(c, 2, &p, &lens)) {
        ks_meta_free(&m);
        return;
    }
    uint64_t n = 0;
    size_t count = (size_t)(c->cmd.argc - 2);
    ks_begin(&s->ks);
    int rc = add ? set_add(&s->ks, c->db, &ref, p, lens, count, &n)
                 : set_remove(&s->ks, c->db, &ref, p, lens, count, &n);
    if (n)
        notify_arg(s, NOTIFY_SET, add ? "sadd" : "srem", c->db, &c->cmd.argv[1]);
    if (n && !add && n == m.size)
        notify_arg(s, NOTIFY_GENERIC, "del", c->db, &c->cmd.argv[1]);
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, (long long)n);
    free(p);
    free(lens);
    ks_meta_free(&m);
}

void cmd_sadd(server *s, client *c)
{
    add_or_remove(s, c, true);
}

void cmd_srem(server *s, client *c)
{
    add_or_remove(s, c, false);
}

void cmd_scard(server *s, client *c)
{
    ks_meta m;
    set_ref ref;
    if (!read_set(s, c, 1, true, &m, &ref))
        return;
    resp_integer(&c->out, m.type ? (long long)m.size : 0);
    ks_meta_free(&m);
}

/* SISMEMBER and SMISMEMBER: membership of argv[2..]. */
static void ismember_generic(server *s, client *c, bool multi)
{
    ks_meta m;
    set_ref ref;
    if (!read_set(s, c, 1, true, &m, &ref))
        return;
    const char **p;
    size_t *lens;
    if (!arg_members(c, 2, &p, &lens)) {
        ks_meta_free(&m);
        return;
    }
    size_t n = (size_t)(c->cmd.argc - 2);
    bool *found = calloc(n, sizeof *found);
    int rc = found ? set_contains(&s->ks, c->db, &ref, p, lens, n, found) : -ENOMEM;
    if (rc) {
        reply_read_error(c, rc);
    } else {
        if (multi)
            resp_array(&c->out, (long long)n);
        for (size_t i = 0; i < n; i++)
            resp_integer(&c->out, found[i]);
    }
    free(found);
    free(p);
    free(lens);
    ks_meta_free(&m);
}

void cmd_sismember(server *s, client *c)
{
    ismember_generic(s, c, false);
}

void cmd_smismember(server *s, client *c)
{
    ismember_generic(s, c, true);
}

void cmd_smembers(server *s, client *c)
{
    ks_meta m;
    set_ref ref;
    if (!read_set(s, c, 1, true, &m, &ref))
        return;
    collector x = {.intset = true};
    int rc = set_members(&s->ks, c->db, &ref, collect, &x);
    reply_collected(c, rc, &x);
    ks_meta_free(&m);
}

/* ---- SINTER SUNION SDIFF and their STORE forms ---- */

enum set_op { OP_INTER, OP_UNION, OP_DIFF };

static int run_op(server *s, client *c, enum set_op op, const set_ref *refs, int n,
                  set_emit_fn emit, void *ctx)
{
    switch (op) {
    case OP_INTER:
        return set_inter(&s->ks, c->db, refs, (size_t)n, 0, emit, ctx);
    case OP_UNION:
        return set_union(&s->ks, c->db, refs, (size_t)n, emit, ctx);
    default:
        return set_diff(&s->ks, c->db, refs, (size_t)n, emit, ctx);
    }
}

/* SINTER SUNION SDIFF key...: the result as a set reply. */
static void op_reply(server *s, client *c, enum set_op op)
{
    int n = c->cmd.argc - 1;
    ks_meta *metas;
    set_ref *refs;
    if (!read_sets(s, c, 1, n, &metas, &refs))
        return;
    collector x = {.intset = true};
    int rc = run_op(s, c, op, refs, n, collect, &x);
    reply_collected(c, rc, &x);
    free_sets(metas, refs, n);
}

/* SINTERSTORE SUNIONSTORE SDIFFSTORE dst key...: the result replaces dst (an empty one
   deletes it); replies its size. */
static void op_store(server *s, client *c, enum set_op op)
{
    int n = c->cmd.argc - 2;
    ks_meta *metas;
    set_ref *refs;
    if (!read_sets(s, c, 2, n, &metas, &refs))
        return;
    resp_arg *dkey = &c->cmd.argv[1];
    ks_meta dm;
    int rc = ks_read(&s->ks, c->db, dkey->p, dkey->len, &dm);
    if (rc) {
        reply_read_error(c, rc);
        free_sets(metas, refs, n);
        return;
    }
    set_ref dst = {.key = dkey->p, .klen = dkey->len, .m = &dm};
    set_writer w;
    uint64_t size = 0;
    ks_begin(&s->ks);
    rc = set_writer_begin(&w, &s->ks, c->db, &dst);
    rc = rc ? rc : run_op(s, c, op, refs, n, set_writer_emit, &w);
    rc = set_writer_end(&w, rc, &size);
    static const char *const events[] = {[OP_INTER] = "sinterstore",
                                         [OP_UNION] = "sunionstore",
                                         [OP_DIFF] = "sdiffstore"};
    if (size) /* Redis replies before it tells a store ("del" of an empty one: after) */
        notify_reply_first(s);
    notify_stored(s, NOTIFY_SET, events[op], c->db, dkey, size, dm.type != 0);
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, (long long)size);
    ks_meta_free(&dm);
    free_sets(metas, refs, n);
}

void cmd_sinter(server *s, client *c)
{
    op_reply(s, c, OP_INTER);
}

void cmd_sunion(server *s, client *c)
{
    op_reply(s, c, OP_UNION);
}

void cmd_sdiff(server *s, client *c)
{
    op_reply(s, c, OP_DIFF);
}

void cmd_sinterstore(server *s, client *c)
{
    op_store(s, c, OP_INTER);
}

void cmd_sunionstore(server *s, client *c)
{
    op_store(s, c, OP_UNION);
}

void cmd_sdiffstore(server *s, client *c)
{
    op_store(s, c, OP_DIFF);
}

static int count_member(void *ctx, const char *p, size_t len)
{
    (*(long long *)ctx)++;
    return 0;
}

/* SINTERCARD numkeys key... [LIMIT limit] */
void cmd_sintercard(server *s, client *c)
{
    long long numkeys, limit = 0;
    if (!arg_ll(&c->cmd.argv[1], &numkeys) || numkeys < 1) {
        resp_error(&c->out, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > c->cmd.argc - 2) {
        resp_error(&c->out, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)numkeys; i < c->cmd.argc; i++) {
        if (arg_is(&c->cmd.argv[i], "limit") && i + 1 < c->cmd.argc) {
            if (!arg_ll(&c->cmd.argv[++i], &limit) || limit < 0) {
                resp_error(&c->out, "ERR LIMIT can't be negative");
                return;
            }
        } else {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
    }
    int n = (int)numkeys;
    ks_meta *metas;
    set_ref *refs;
    if (!read_sets(s, c, 2, n, &metas, &refs))
        return;
    long long card = 0;
    int rc = set_inter(&s->ks, c->db, refs, (size_t)n, (uint64_t)limit, count_member, &card);
    if (rc)
        reply_read_error(c, rc);
    else
        resp_integer(&c->out, card);
    free_sets(metas, refs, n);
}

/* SMOVE source destination member */
void cmd_smove(server *s, client *c)
{
    ks_meta sm, dm;
    if (!read_key(s, c, c->db, &c->cmd.argv[1], 0, false, &sm))
        return;
    if (!read_key(s, c, c->db, &c->cmd.argv[2], 0, false, &dm)) {
        ks_meta_free(&sm);
        return;
    }
    set_ref src = {.key = c->cmd.argv[1].p, .klen = c->cmd.argv[1].len, .m = &sm};
    set_ref dst = {.key = c->cmd.argv[2].p, .klen = c->cmd.argv[2].len, .m = &dm};
    if (!sm.type || (sm.type != KS_TYPE_SET || (dm.type && dm.type != KS_TYPE_SET))) {
        /* an absent source answers 0 whatever the destination holds */
        if (sm.type)
            resp_error(&c->out, WRONGTYPE_ERR);
        else
            resp_integer(&c->out, 0);
        ks_meta_free(&sm);
        ks_meta_free(&dm);
        return;
    }
    resp_arg *member = &c->cmd.argv[3];
    const char *mp[1] = {member->p};
    if (src.klen == dst.klen && memcmp(src.key, dst.key, src.klen) == 0) {
        bool in = false;
        int rc = set_contains(&s->ks, c->db, &src, mp, &member->len, 1, &in);
        if (rc)
            reply_read_error(c, rc);
        else
            resp_integer(&c->out, in);
    } else {
        int moved = 0;
        bool in_dst = false; /* Redis tells sadd only when dst did not hold it */
        int rc = dm.type && notify_wanted(s, NOTIFY_SET)
                     ? set_contains(&s->ks, c->db, &dst, mp, &member->len, 1, &in_dst)
                     : 0;
        ks_begin(&s->ks);
        rc = rc ? rc : set_move(&s->ks, c->db, &src, &dst, member->p, member->len, &moved);
        if (moved) {
            /* Redis's order: the source's events, then dst made (new), then its sadd */
            if (!dm.type)
                notify_drop_new(s, c->db, dst.key, dst.klen);
            notify_arg(s, NOTIFY_SET, "srem", c->db, &c->cmd.argv[1]);
            if (sm.size == 1)
                notify_arg(s, NOTIFY_GENERIC, "del", c->db, &c->cmd.argv[1]);
            if (!dm.type)
                notify_arg(s, NOTIFY_NEW, "new", c->db, &c->cmd.argv[2]);
            if (!in_dst)
                notify_arg(s, NOTIFY_SET, "sadd", c->db, &c->cmd.argv[2]);
        }
        if (ks_finish(s, c, rc))
            resp_integer(&c->out, moved);
    }
    ks_meta_free(&sm);
    ks_meta_free(&dm);
}

/* SPOP key [count] */
void cmd_spop(server *s, client *c)
{
    long long count = 1;
    bool with_count = c->cmd.argc == 3;
    if (c->cmd.argc > 3) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    if (with_count && (!arg_ll(&c->cmd.argv[2], &count) || count < 0)) {
        /* Redis's getPositiveLongFromObjectOrReply: one message for both */
        resp_error(&c->out, "ERR value is out of range, must be positive");
        return;
    }
    ks_meta m;
    set_ref ref;
    if (!read_set(s, c, 1, false, &m, &ref))
        return;
    if (!m.type || count == 0) {
        if (with_count)
            resp_set(&c->out, 0, c->proto);
        else
            resp_null(&c->out, c->proto);
        ks_meta_free(&m);
        return;
    }
    set_list l = {0};
    ks_begin(&s->ks);
    int rc = set_pop(&s->ks, c->db, &ref, (uint64_t)count, &l);
    notify_arg(s, NOTIFY_SET, "spop", c->db, &c->cmd.argv[1]);
    if (!with_count) /* Redis replies the member, then deletes an emptied set */
        notify_reply_first(s);
    if (rc == 0 && l.n == m.size)
        notify_arg(s, NOTIFY_GENERIC, "del", c->db, &c->cmd.argv[1]);
    if (ks_finish(s, c, rc)) {
        if (with_count) {
            reply_members(c, 0, &l, true);
        } else if (l.n) {
            size_t len;
            const char *p = set_list_at(&l, 0, &len);
            resp_bulk(&c->out, p, len);
        } else {
            resp_null(&c->out, c->proto);
        }
    }
    set_list_free(&l);
    ks_meta_free(&m);
}

/* SRANDMEMBER key [count] */
void cmd_srandmember(server *s, client *c)
{
    long long count = 1;
    bool with_count = c->cmd.argc == 3;
    if (c->cmd.argc > 3) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    if (with_count && !arg_ll(&c->cmd.argv[2], &count)) {
        resp_error(&c->out, ERR_NOT_INT);
        return;
    }
    if (count == LLONG_MIN) {
        resp_error(&c->out, "ERR value is out of range, value must between -9223372036854775807 "
                            "and 9223372036854775807");
        return;
    }
    ks_meta m;
    set_ref ref;
    if (!read_set(s, c, 1, true, &m, &ref))
        return;
    set_list l = {0};
    int rc = set_random(&s->ks, c->db, &ref, count, &l);
    if (with_count) {
        reply_members(c, rc, &l, false);
    } else if (rc) {
        reply_read_error(c, rc);
    } else if (l.n) {
        size_t len;
        const char *p = set_list_at(&l, 0, &len);
        resp_bulk(&c->out, p, len);
    } else {
        resp_null(&c->out, c->proto);
    }
    set_list_free(&l);
    ks_meta_free(&m);
}

/* ---- SSCAN ---- */

typedef struct sscan_ctx {
    resp_out body;
    long long n;
    const scan_args *a;
    const ks_range *r;
} sscan_ctx;

static void sscan_emit(sscan_ctx *x, const char *p, size_t len)
{
    if (x->a->match && !glob_match(x->a->match->p, x->a->match->len, p, len, false))
        return;
    resp_bulk(&x->body, p, len);
    x->n++;
}

static void sscan_emit_key(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    sscan_ctx *x = ctx;
    const char *p;
    size_t len;
    set_range_member(x->r, k, kl, &p, &len);
    sscan_emit(x, p, len);
}

/* SSCAN key cursor [MATCH pattern] [COUNT count]. A set Redis holds as an intset comes
   whole in one call with cursor 0, in integer order, as Redis gives it; any other is
   scanned in engine order with SCAN's cursors. */
void cmd_sscan(server *s, client *c)
{
    uint64_t cursor;
    if (!parse_scan_cursor(&c->cmd.argv[2], &cursor)) {
        resp_error(&c->out, "ERR invalid cursor");
        return;
    }
    ks_meta m;
    set_ref ref;
    if (!read_set(s, c, 1, true, &m, &ref))
        return;
    scan_args a;
    if (m.type && !parse_scan_args(c, 2, false, &a)) {
        ks_meta_free(&m);
        return;
    }
    sscan_ctx x = {.a = &a};
    uint64_t next = 0;
    int rc = 0;
    if (m.type && strcmp(set_encoding(&m), "intset") == 0) {
        set_list l = {0};
        rc = set_members(&s->ks, c->db, &ref, set_list_emit, &l);
        rc = rc ? rc : set_list_intset_order(&l);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            size_t len;
            const char *p = set_list_at(&l, i, &len);
            sscan_emit(&x, p, len);
        }
        set_list_free(&l);
    } else if (m.type) {
        ks_range r;
        rc = set_range_open(&s->ks, c->db, &ref, &r);
        if (rc == 0) {
            x.r = &r;
            rc = scan_range(s, c, &r, a.cursor, a.count, sscan_emit_key, &x, &next);
            ks_range_close(&r);
        }
    }
    reply_scan(c, rc, next, &x.body, x.n);
    resp_out_free(&x.body);
    ks_meta_free(&m);
}

/*
 * t_zset_ops.c - ZUNION ZINTER ZDIFF, their STORE forms, and ZINTERCARD: sorted sets and
 * sets (each member scored 1) combined as Redis 7.0 combines them (WEIGHTS, AGGREGATE
 * SUM|MIN|MAX, a NaN product or sum read as 0). The result is held in memory, sorted as a
 * sorted set orders it, then replied or written as a new sorted set (the STORE forms
 * replace the destination and its TTL). Inputs are read through types/zset.c and
 * types/set.c; nothing here builds an engine key.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "member_map.h"
#include "zset_args.h"

#include "set.h" /* set inputs, each member with score 1 */

typedef enum { OP_UNION, OP_INTER, OP_DIFF } set_op;
typedef enum { AGG_SUM, AGG_MIN, AGG_MAX } aggregate;

/* One input key. */
typedef struct zsrc {
    const resp_arg *key;
    ks_meta m; /* type 0: absent, an empty input */
    double weight;
} zsrc;

typedef struct op_req {
    server *s;
    client *c;
    set_op op;
    bool card; /* ZINTERCARD */
    zsrc *src;
    int n;
    aggregate agg;
    bool withscores;
    long long limit; /* ZINTERCARD's LIMIT (0: none) */
} op_req;

static uint64_t src_size(const zsrc *x)
{
    return x->m.type ? x->m.size : 0;
}

typedef struct set_adapter {
    zset_emit_fn emit;
    void *ctx;
} set_adapter;

static int set_member_emit(void *ctx, const char *p, size_t len)
{
    set_adapter *a = ctx;
    return a->emit(a->ctx, p, len, 1.0);
}

/* Every member of an input with its score (a set's: 1), in the input's order. */
static int src_each(op_req *q, const zsrc *x, zset_emit_fn emit, void *ctx)
{
    if (x->m.type == KS_TYPE_ZSET) {
        zset_ref z = zset_ref_of(q->s, q->c, x->key, &x->m);
        int rc = zset_range_rank(&z, 0, x->m.size - 1, false, emit, ctx);
        return rc == ZSET_STOP ? 0 : rc;
    }
    if (x->m.type == KS_TYPE_SET) {
        set_ref sr = {.key = x->key->p, .klen = x->key->len, .m = &x->m};
        set_adapter a = {.emit = emit, .ctx = ctx};
        int rc = set_members(&q->s->ks, q->c->db, &sr, set_member_emit, &a);
        return rc == ZSET_STOP ? 0 : rc;
    }
    return 0;
}

/* A member's score in an input: 0, SHALE_ENOTFOUND or an error. */
static int src_score(op_req *q, const zsrc *x, const char *p, size_t n, double *score)
{
    if (x->m.type == KS_TYPE_ZSET) {
        zset_ref z = zset_ref_of(q->s, q->c, x->key, &x->m);
        return zset_score(&z, p, n, score);
    }
    if (x->m.type == KS_TYPE_SET) {
        set_ref sr = {.key = x->key->p, .klen = x->key->len, .m = &x->m};
        bool found = false;
        int rc = set_contains(&q->s->ks, q->c->db, &sr, &p, &n, 1, &found);
        *score = 1.0;
        return rc ? rc : found ? 0 : SHALE_ENOTFOUND;
    }
    return SHALE_ENOTFOUND;
}

static void aggregate_into(double *target, double v, aggregate agg)
{
    if (agg == AGG_SUM) {
        *target += v;
        if (isnan(*target)) /* inf + -inf */
            *target = 0;
    } else if (agg == AGG_MIN) {
        *target = v < *target ? v : *target;
    } else {
        *target = v > *target ? v : *target;
    }
}

/* ---- union ---- */

typedef struct union_ctx {
    member_map acc;
    double weight;
    aggregate agg;
} union_ctx;

static int union_emit(void *ctx, const char *p, size_t n, double score)
{
    union_ctx *u = ctx;
    double v = u->weight * score;
    if (isnan(v)) /* 0 * inf */
        v = 0;
    bool added;
    mm_entry *e = mm_upsert(&u->acc, p, n, &added);
    if (!e)
        return -ENOMEM;
    if (added)
        e->score = v;
    else
        aggregate_into(&e->score, v, u->agg);
    return 0;
}

static int do_union(op_req *q, member_list *out)
{
    union_ctx u = {.agg = q->agg};
    mm_init(&u.acc);
    int rc = 0;
    for (int i = 0; i < q->n && rc == 0; i++) {
        u.weight = q->src[i].weight;
        rc = src_each(q, &q->src[i], union_emit, &u);
    }
    for (size_t i = 0; rc == 0 && i < u.acc.cap; i++)
        if (u.acc.slots[i].member)
            rc = ml_push(out, u.acc.slots[i].member, u.acc.slots[i].len, u.acc.slots[i].score);
    mm_free(&u.acc);
    return rc;
}

/* ---- intersection ---- */

typedef struct inter_ctx {
    op_req *q;
    member_list *out;
    uint64_t count;
} inter_ctx;

static int inter_emit(void *ctx, const char *p, size_t n, double score)
{
    inter_ctx *x = ctx;
    op_req *q = x->q;
    double total = q->src[0].weight * score;
    if (isnan(total))
        total = 0;
    for (int j = 1; j < q->n; j++) {
        double v;
        int rc = src_score(q, &q->src[j], p, n, &v);
        if (rc == SHALE_ENOTFOUND)
            return 0;
        if (rc)
            return rc;
        aggregate_into(&total, v * q->src[j].weight, q->agg);
    }
    if (q->card) {
        x->count++;
        return q->limit && x->count >= (uint64_t)q->limit ? ZSET_STOP : 0;
    }
    return ml_push(x->out, p, n, total);
}

/* The smallest input is walked and the others probed (the inputs are sorted by size). */
static int do_inter(op_req *q, member_list *out, uint64_t *count)
{
    inter_ctx x = {.q = q, .out = out};
    int rc = src_size(&q->src[0]) ? src_each(q, &q->src[0], inter_emit, &x) : 0;
    *count = x.count;
    return rc;
}

/* ---- difference ---- */

typedef struct diff_ctx {
    op_req *q;
    member_list *out;
    member_map *others; /* the other inputs' members, when they were read whole */
} diff_ctx;

static int diff_emit(void *ctx, const char *p, size_t n, double score)
{
    diff_ctx *x = ctx;
    if (x->others) {
        if (mm_find(x->others, p, n))
            return 0;
    } else {
        for (int j = 1; j < x->q->n; j++) {
            double v;
            int rc = src_score(x->q, &x->q->src[j], p, n, &v);
            if (rc == 0)
                return 0;
            if (rc != SHALE_ENOTFOUND)
                return rc;
        }
    }
    return ml_push(x->out, p, n, score);
}

static int collect_emit(void *ctx, const char *p, size_t n, double score)
{
    bool added;
    return mm_upsert(ctx, p, n, &added) ? 0 : -ENOMEM;
}

/* Members of the first input in none of the others: probes of the others for each, or
   one read of the others when they are smaller than the probes would be. */
static int do_diff(op_req *q, member_list *out)
{
    uint64_t first = src_size(&q->src[0]), rest = 0;
    if (!first)
        return 0;
    for (int j = 1; j < q->n; j++)
        rest += src_size(&q->src[j]);
    member_map others;
    mm_init(&others);
    bool read_others = rest < first * (uint64_t)(q->n - 1);
    diff_ctx x = {.q = q, .out = out, .others = read_others ? &others : NULL};
    int rc = 0;
    for (int j = 1; read_others && j < q->n && rc == 0; j++)
        rc = src_each(q, &q->src[j], collect_emit, &others);
    rc = rc ? rc : src_each(q, &q->src[0], diff_emit, &x);
    mm_free(&others);
    return rc;
}

/* ---- arguments ---- */

/* Reads the inputs; false with WRONGTYPE (or a read error) replied. */
static bool read_sources(op_req *q, int first)
{
    for (int i = 0; i < q->n; i++) {
        zsrc *x = &q->src[i];
        x->key = &q->c->cmd.argv[first + i];
        x->weight = 1;
        if (!read_key(q->s, q->c, q->c->db, x->key, 0, true, &x->m))
            return false;
        if (x->m.type && x->m.type != KS_TYPE_ZSET && x->m.type != KS_TYPE_SET) {
            resp_error(&q->c->out, WRONGTYPE_ERR);
            return false;
        }
    }
    return true;
}

/* WEIGHTS, AGGREGATE, WITHSCORES and LIMIT from argv[j]; false with the error replied. */
static bool parse_options(op_req *q, int j, bool store)
{
    client *c = q->c;
    const resp_arg *argv = c->cmd.argv;
    while (j < c->cmd.argc) {
        int remaining = c->cmd.argc - j;
        bool plain = q->op != OP_DIFF && !q->card;
        if (plain && remaining >= q->n + 1 && arg_is(&argv[j], "weights")) {
            j++;
            for (int i = 0; i < q->n; i++, j++)
                if (!arg_score(&argv[j], &q->src[i].weight)) {
                    resp_error(&c->out, "ERR weight value is not a float");
                    return false;
                }
        } else if (plain && remaining >= 2 && arg_is(&argv[j], "aggregate")) {
            const resp_arg *a = &argv[j + 1];
            if (arg_is(a, "sum"))
                q->agg = AGG_SUM;
            else if (arg_is(a, "min"))
                q->agg = AGG_MIN;
            else if (arg_is(a, "max"))
                q->agg = AGG_MAX;
            else {
                resp_error(&c->out, "ERR syntax error");
                return false;
            }
            j += 2;
        } else if (!store && !q->card && arg_is(&argv[j], "withscores")) {
            q->withscores = true;
            j++;
        } else if (q->card && remaining >= 2 && arg_is(&argv[j], "limit")) {
            if (!arg_ll(&argv[j + 1], &q->limit) || q->limit < 0) {
                resp_error(&c->out, "ERR LIMIT can't be negative");
                return false;
            }
            j += 2;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

/* Inputs from the smallest (a stable order: equal sizes keep theirs, as Redis's qsort
   does here). */
static void sort_by_size(zsrc *src, int n)
{
    for (int i = 1; i < n; i++) {
        zsrc t = src[i];
        int j = i;
        for (; j > 0 && src_size(&src[j - 1]) > src_size(&t); j--)
            src[j] = src[j - 1];
        src[j] = t;
    }
}

/* ---- replies ---- */

static void store_result(op_req *q, const resp_arg *dst, member_list *res)
{
    server *s = q->s;
    client *c = q->c;
    ks_meta dm;
    if (!read_key(s, c, c->db, dst, 0, false, &dm))
        return;
    zset_writer w;
    ks_begin(&s->ks);
    zset_writer_open_replace(&w, &s->ks, c->db, dst->p, dst->len, &dm);
    w.limits = zset_limits_of(s);
    int rc = 0;
    for (size_t i = 0; i < res->n && rc == 0; i++) {
        size_t len;
        const char *p = ml_member(res, i, &len);
        rc = zset_writer_set(&w, p, len, res->items[i].score, false, 0);
    }
    rc = rc ? rc : zset_writer_finish(&w);
    zset_writer_free(&w);
    notify_reply_first(s); /* Redis replies, then tells (the store, or "del") */
    notify_stored(s, NOTIFY_ZSET,
                  q->op == OP_UNION   ? "zunionstore"
                  : q->op == OP_INTER ? "zinterstore"
                                      : "zdiffstore",
                  c->db, dst, res->n, dm.type != 0);
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, (long long)res->n);
    ks_meta_free(&dm);
}

static void reply_result(op_req *q, member_list *res)
{
    zreply r;
    zreply_init(&r, q->c, q->withscores);
    for (size_t i = 0; i < res->n; i++) {
        size_t len;
        const char *p = ml_member(res, i, &len);
        zreply_emit(&r, p, len, res->items[i].score);
    }
    zreply_send(q->c, &r, 0);
    zreply_free(&r);
}

/* numkeys at argv[numkeys_at]; dst: the STORE forms' destination (NULL: reply). */
static void zsetop_generic(server *s, client *c, int numkeys_at, const resp_arg *dst, set_op op,
                           bool card)
{
    long long n;
    if (!arg_ll(&c->cmd.argv[numkeys_at], &n)) {
        resp_error(&c->out, ZSET_ERR_INT);
        return;
    }
    if (n < 1) {
        char msg[128];
        snprintf(msg, sizeof msg, "ERR at least 1 input key is needed for '%s' command",
                 c->last_cmd ? c->last_cmd : "zunion");
        resp_error(&c->out, msg);
        return;
    }
    if (n > c->cmd.argc - (numkeys_at + 1)) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    op_req q = {.s = s, .c = c, .op = op, .card = card, .n = (int)n, .agg = AGG_SUM};
    q.src = calloc((size_t)n, sizeof *q.src);
    if (!q.src) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    member_list res = {0};
    if (read_sources(&q, numkeys_at + 1) &&
        parse_options(&q, numkeys_at + 1 + (int)n, dst != NULL)) {
        if (op != OP_DIFF)
            sort_by_size(q.src, q.n);
        uint64_t count = 0;
        int rc = op == OP_UNION   ? do_union(&q, &res)
                 : op == OP_INTER ? do_inter(&q, &res, &count)
                                  : do_diff(&q, &res);
        if (rc == ZSET_STOP)
            rc = 0;
        if (rc)
            reply_read_error(c, rc);
        else if (card)
            resp_integer(&c->out, (long long)count);
        else {
            ml_sort(&res);
            if (dst)
                store_result(&q, dst, &res);
            else
                reply_result(&q, &res);
        }
    }
    ml_free(&res);
    for (int i = 0; i < q.n; i++)
        ks_meta_free(&q.src[i].m);
    free(q.src);
}

void cmd_zunion(server *s, client *c)
{
    zsetop_generic(s, c, 1, NULL, OP_UNION, false);
}

void cmd_zinter(server *s, client *c)
{
    zsetop_generic(s, c, 1, NULL, OP_INTER, false);
}

void cmd_zdiff(server *s, client *c)
{
    zsetop_generic(s, c, 1, NULL, OP_DIFF, false);
}

void cmd_zintercard(server *s, client *c)
{
    zsetop_generic(s, c, 1, NULL, OP_INTER, true);
}

void cmd_zunionstore(server *s, client *c)
{
    zsetop_generic(s, c, 2, &c->cmd.argv[1], OP_UNION, false);
}

void cmd_zinterstore(server *s, client *c)
{
    zsetop_generic(s, c, 2, &c->cmd.argv[1], OP_INTER, false);
}

void cmd_zdiffstore(server *s, client *c)
{
    zsetop_generic(s, c, 2, &c->cmd.argv[1], OP_DIFF, false);
}

/*
 * t_zset.c - sorted-set commands on single members and ends: ZADD ZINCRBY ZREM ZCARD
 * ZSCORE ZMSCORE ZRANK ZREVRANK ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZSCAN. Ranges are in
 * t_zset_range.c, ZUNION/ZINTER/ZDIFF in t_zset_ops.c; how a sorted set lies on engine
 * keys is types/zset.c's business, never this file's.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "glob.h"
#include "member_map.h"
#include "zset_args.h"

/* ---- ZADD, ZINCRBY ---- */

/* Parses ZADD's options from argv[2]; *first is the first score's index. False when an
   error was replied. */
static bool zadd_options(client *c, int *flags, int *first)
{
    int i = 2;
    for (; i < c->cmd.argc; i++) {
        const resp_arg *o = &c->cmd.argv[i];
        int f = arg_is(o, "nx")     ? ZADD_NX
                : arg_is(o, "xx")   ? ZADD_XX
                : arg_is(o, "ch")   ? ZADD_CH
                : arg_is(o, "incr") ? ZADD_INCR
                : arg_is(o, "gt")   ? ZADD_GT
                : arg_is(o, "lt")   ? ZADD_LT
                                    : 0;
        if (!f)
            break;
        *flags |= f;
    }
    int elements = c->cmd.argc - i, fl = *flags;
    *first = i;
    if (elements % 2 || !elements)
        resp_error(&c->out, "ERR syntax error");
    else if ((fl & ZADD_NX) && (fl & ZADD_XX))
        resp_error(&c->out, "ERR XX and NX options at the same time are not compatible");
    else if (((fl & ZADD_NX) && (fl & (ZADD_GT | ZADD_LT))) || ((fl & ZADD_GT) && (fl & ZADD_LT)))
        resp_error(&c->out, "ERR GT, LT, and/or NX options at the same time are not compatible");
    else if ((fl & ZADD_INCR) && elements > 2)
        resp_error(&c->out, "ERR INCR option supports a single increment-element pair");
    else
        return true;
    return false;
}

typedef struct zadd_tally {
    long long added, updated, processed;
    double score; /* the last member's new score (INCR's reply) */
} zadd_tally;

/* One score-member pair, as Redis's zsetAdd: 0, or an error (nan: the NaN reply). */
static int zadd_one(zset_writer *w, int flags, const resp_arg *mem, double score, zadd_tally *t,
                    bool *nan)
{
    double cur;
    int rc = zset_writer_score(w, mem->p, mem->len, &cur);
    if (rc == SHALE_ENOTFOUND) {
        if (flags & ZADD_XX)
            return 0;
        rc = zset_writer_set(w, mem->p, mem->len, score, false, 0);
        t->added += rc == 0;
        t->processed += rc == 0;
        t->score = score;
        return rc;
    }
    if (rc || (flags & ZADD_NX))
        return rc;
    if (flags & ZADD_INCR) {
        score += cur;
        if (isnan(score)) {
            *nan = true;
            return 0;
        }
    }
    if (((flags & ZADD_LT) && score >= cur) || ((flags & ZADD_GT) && score <= cur))
        return 0;
    t->processed++;
    t->score = score;
    if (score == cur)
        return 0;
    t->updated++;
    return zset_writer_set(w, mem->p, mem->len, score, true, cur);
}

void zadd_members(server *s, client *c, int flags, const double *scores, const resp_arg *members,
                  int stride, int n)
{
    const resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_zset(s, c, key, false, &m))
        return;
    zadd_tally t = {0};
    bool nan = false, ok = true;
    if (m.type || !(flags & ZADD_XX)) {
        zset_writer w;
        ks_begin(&s->ks);
        zset_writer_open(&w, &s->ks, c->db, key->p, key->len, &m);
        w.limits = zset_limits_of(s);
        int rc = 0;
        for (int j = 0; j < n && rc == 0 && !nan; j++)
            rc = zadd_one(&w, flags, &members[j * stride], scores[j], &t, &nan);
        if (rc == 0 && !nan)
            rc = zset_writer_finish(&w);
        if (nan) {
            ks_abort(&s->ks);
            resp_error(&c->out, ZSET_ERR_NAN);
            ok = false;
        } else {
            notify_reply_first(s); /* Redis replies, then tells ("new" stays before) */
            if (t.added || t.updated)
                notify_arg(s, NOTIFY_ZSET, (flags & ZADD_INCR) ? "zincr" : "zadd", c->db, key);
            ok = ks_finish(s, c, rc);
        }
        zset_writer_free(&w);
    }
    if (ok && (flags & ZADD_INCR)) {
        if (t.processed)
            resp_double(&c->out, t.score, c->proto);
        else
            resp_null(&c->out, c->proto);
    } else if (ok) {
        resp_integer(&c->out, (flags & ZADD_CH) ? t.added + t.updated : t.added);
    }
    ks_meta_free(&m);
}

static void zadd_generic(server *s, client *c, int flags)
{
    int first;
    if (!zadd_options(c, &flags, &first))
        return;
    int n = (c->cmd.argc - first) / 2;
    double *scores = malloc((size_t)n * sizeof *scores);
    if (!scores) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    int j = 0;
    while (j < n && arg_score(&c->cmd.argv[first + 2 * j], &scores[j]))
        j++;
    if (j < n)
        resp_error(&c->out, ZSET_ERR_FLOAT);
    else
        zadd_members(s, c, flags, scores, &c->cmd.argv[first + 1], 2, n);
    free(scores);
}

void cmd_zadd(server *s, client *c)
{
    zadd_generic(s, c, 0);
}

void cmd_zincrby(server *s, client *c)
{
    zadd_generic(s, c, ZADD_INCR);
}

/* ---- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK ---- */

void cmd_zrem(server *s, client *c)
{
    const resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_zset(s, c, key, false, &m))
        return;
    long long removed = 0;
    if (m.type) {
        zset_writer w;
        ks_begin(&s->ks);
        zset_writer_open(&w, &s->ks, c->db, key->p, key->len, &m);
        int rc = 0;
        for (int i = 2; i < c->cmd.argc && rc == 0; i++) {
            const resp_arg *mem = &c->cmd.argv[i];
            double score;
            rc = zset_writer_score(&w, mem->p, mem->len, &score);
            if (rc == SHALE_ENOTFOUND) {
                rc = 0;
                continue;
            }
            rc = rc ? rc : zset_writer_remove(&w, mem->p, mem->len, score);
            removed += rc == 0;
        }
        rc = rc ? rc : zset_writer_finish(&w);
        zset_writer_free(&w);
        if (removed)
            notify_arg(s, NOTIFY_ZSET, "zrem", c->db, key);
        if (removed && (uint64_t)removed == m.size)
            notify_arg(s, NOTIFY_GENERIC, "del", c->db, key);
        if (!ks_finish(s, c, rc)) {
            ks_meta_free(&m);
            return;
        }
    }
    resp_integer(&c->out, removed);
    ks_meta_free(&m);
}

void cmd_zcard(server *s, client *c)
{
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    resp_integer(&c->out, m.type ? (long long)m.size : 0);
    ks_meta_free(&m);
}

void cmd_zscore(server *s, client *c)
{
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    zset_ref z = zset_ref_of(s, c, &c->cmd.argv[1], &m);
    double score;
    int rc = zset_score(&z, c->cmd.argv[2].p, c->cmd.argv[2].len, &score);
    if (rc == 0)
        resp_double(&c->out, score, c->proto);
    else if (rc == SHALE_ENOTFOUND)
        resp_null(&c->out, c->proto);
    else
        reply_read_error(c, rc);
    ks_meta_free(&m);
}

void cmd_zmscore(server *s, client *c)
{
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    zset_ref z = zset_ref_of(s, c, &c->cmd.argv[1], &m);
    size_t from = c->out.len;
    resp_array(&c->out, c->cmd.argc - 2);
    for (int i = 2; i < c->cmd.argc; i++) {
        double score;
        int rc = zset_score(&z, c->cmd.argv[i].p, c->cmd.argv[i].len, &score);
        if (rc == 0) {
            resp_double(&c->out, score, c->proto);
        } else if (rc == SHALE_ENOTFOUND) {
            resp_null(&c->out, c->proto);
        } else {
            c->out.len = from; /* an unreadable member is not an absent one */
            reply_read_error(c, rc);
            break;
        }
    }
    ks_meta_free(&m);
}

static void zrank_generic(server *s, client *c, bool rev)
{
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    zset_ref z = zset_ref_of(s, c, &c->cmd.argv[1], &m);
    uint64_t rank;
    double score;
    int rc = zset_rank(&z, c->cmd.argv[2].p, c->cmd.argv[2].len, rev, &rank, &score);
    if (rc == 0)
        resp_integer(&c->out, (long long)rank);
    else if (rc == SHALE_ENOTFOUND)
        resp_null(&c->out, c->proto);
    else
        reply_read_error(c, rc);
    ks_meta_free(&m);
}

void cmd_zrank(server *s, client *c)
{
    zrank_generic(s, c, false);
}

void cmd_zrevrank(server *s, client *c)
{
    zrank_generic(s, c, true);
}

/* ---- ZPOPMIN, ZPOPMAX, ZMPOP ---- */

typedef struct pop_reply {
    resp_out *out;
    bool nested; /* each member as a [member, score] pair */
    int proto;
} pop_reply;

static int pop_emit(void *ctx, const char *member, size_t len, double score)
{
    pop_reply *p = ctx;
    if (p->nested)
        resp_array(p->out, 2);
    resp_bulk(p->out, member, len);
    resp_double(p->out, score, p->proto);
    return p->out->err;
}

int zset_pop_reply(server *s, client *c, const resp_arg *keys, int nkeys, bool max, long long count,
                   bool emitkey, bool nested)
{
    ks_meta m = {0};
    const resp_arg *key = NULL;
    for (int i = 0; i < nkeys && !key; i++) {
        ks_meta_free(&m);
        if (!read_zset(s, c, &keys[i], false, &m))
            return -1;
        if (m.type)
            key = &keys[i];
    }
    if (!key)
        return 0;
    if (count == 0) { /* ZPOPMIN key 0 */
        resp_array(&c->out, 0);
        ks_meta_free(&m);
        return 1;
    }
    uint64_t want = count < 0 ? 1 : (uint64_t)count;
    long long n = (long long)(want < m.size ? want : m.size);
    size_t from = c->out.len;
    if (emitkey && nested) {
        resp_array(&c->out, 2);
        resp_bulk(&c->out, key->p, key->len);
        resp_array(&c->out, n);
    } else if (emitkey) {
        resp_array(&c->out, 2 * n + 1);
        resp_bulk(&c->out, key->p, key->len);
    } else {
        resp_array(&c->out, nested ? n : 2 * n);
    }
    size_t head = c->out.len; /* Redis tells the pop here, before the members */
    pop_reply p = {.out = &c->out, .nested = nested, .proto = c->proto};
    zset_writer w;
    uint64_t popped;
    ks_begin(&s->ks);
    zset_writer_open(&w, &s->ks, c->db, key->p, key->len, &m);
    int rc = zset_writer_pop(&w, max, (uint64_t)n, pop_emit, &p, &popped);
    if (rc == 0 && popped != (uint64_t)n)
        rc = SHALE_ECORRUPT; /* the metadata's size and the members disagree */
    rc = rc ? rc : zset_writer_finish(&w);
    zset_writer_free(&w);
    if (rc)
        c->out.len = from;
    notify_reply_at(s, c, head);
    notify_arg(s, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", c->db, key);
    notify_reply_first(s); /* and the "del" of an emptied set after the reply */
    if ((uint64_t)n == m.size)
        notify_arg(s, NOTIFY_GENERIC, "del", c->db, key);
    bool ok = ks_finish(s, c, rc);
    ks_meta_free(&m);
    return ok ? 1 : -1;
}

static void zpop_min_max(server *s, client *c, bool max)
{
    if (c->cmd.argc > 3) {
        resp_error(&c->out, "ERR syntax error");
        return;
    }
    long long count = -1;
    if (c->cmd.argc == 3 && (!arg_ll(&c->cmd.argv[2], &count) || count < 0)) {
        resp_error(&c->out, "ERR value is out of range, must be positive");
        return;
    }
    /* RESP3 nests the pairs when a count was given */
    if (zset_pop_reply(s, c, &c->cmd.argv[1], 1, max, count, false, c->proto > 2 && count != -1) ==
        0)
        resp_array(&c->out, 0);
}

void cmd_zpopmin(server *s, client *c)
{
    zpop_min_max(s, c, false);
}

void cmd_zpopmax(server *s, client *c)
{
    zpop_min_max(s, c, true);
}

bool zmpop_parse(client *c, int numkeys_at, zmpop_args *a)
{
    long long numkeys;
    if (!arg_ll(&c->cmd.argv[numkeys_at], &numkeys) || numkeys < 1) {
        resp_error(&c->out, "ERR numkeys should be greater than 0");
        return false;
    }
    /* MIN|MAX must follow the keys (compared, not summed: numkeys may be near 2^63) */
    if (numkeys >= c->cmd.argc - numkeys_at - 1) {
        resp_error(&c->out, "ERR syntax error");
        return false;
    }
    int where = numkeys_at + (int)numkeys + 1;
    const resp_arg *w = &c->cmd.argv[where];
    if (!arg_is(w, "min") && !arg_is(w, "max")) {
        resp_error(&c->out, "ERR syntax error");
        return false;
    }
    a->keys = &c->cmd.argv[numkeys_at + 1];
    a->nkeys = (int)numkeys;
    a->max = arg_is(w, "max");
    a->count = -1;
    for (int j = where + 1; j < c->cmd.argc; j++) {
        if (a->count == -1 && arg_is(&c->cmd.argv[j], "count") && j + 1 < c->cmd.argc) {
            j++;
            if (!arg_ll(&c->cmd.argv[j], &a->count) || a->count < 1) {
                resp_error(&c->out, "ERR count should be greater than 0");
                return false;
            }
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    if (a->count == -1)
        a->count = 1;
    return true;
}

void cmd_zmpop(server *s, client *c)
{
    zmpop_args a;
    if (zmpop_parse(c, 1, &a) &&
        zset_pop_reply(s, c, a.keys, a.nkeys, a.max, a.count, true, true) == 0)
        resp_null_array(&c->out, c->proto);
}

/* ---- ZRANDMEMBER ---- */

/* Commands run one at a time under the server's lock: one generator serves them all. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    if (!rng_state)
        rng_state = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ull;
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Sets this size or smaller are read whole once and sampled in memory: uniform, and
   cheaper than a seek per pick. */
#define RANDMEMBER_READ_ALL 512

static void reply_member(client *c, const char *p, size_t n, double score, bool withscores)
{
    if (withscores && c->proto > 2)
        resp_array(&c->out, 2);
    resp_bulk(&c->out, p, n);
    if (withscores)
        resp_double(&c->out, score, c->proto);
}

typedef struct pick_ctx {
    client *c;
    bool withscores;
    member_map *seen; /* distinct picks: those replied already (NULL: repeats allowed) */
    long long replied;
} pick_ctx;

static int pick_emit(void *ctx, const char *p, size_t n, double score)
{
    pick_ctx *x = ctx;
    if (x->seen) {
        bool added;
        if (!mm_upsert(x->seen, p, n, &added))
            return -ENOMEM;
        if (!added)
            return 0;
    }
    reply_member(x->c, p, n, score, x->withscores);
    x->replied++;
    return 0;
}

/* count picks with repeats (or distinct ones, seen != NULL) by random seeks. */
static int pick_by_seeks(const zset_ref *z, pick_ctx *x, long long count)
{
    int rc = 0;
    while (rc == 0 && x->replied < count)
        rc = zset_random(z, rng_next(), pick_emit, x);
    return rc;
}

/* Picks from the whole set in memory: count with repeats, or distinct ones. */
static void pick_from_list(client *c, member_list *l, long long count, bool distinct,
                           bool withscores)
{
    size_t n = l->n;
    if (!distinct) {
        for (long long i = 0; i < count; i++) {
            size_t at = (size_t)(rng_next() % n), len;
            const char *p = ml_member(l, at, &len);
            reply_member(c, p, len, l->items[at].score, withscores);
        }
        return;
    }
    /* distinct: a partial Fisher-Yates shuffle */
    for (long long i = 0; i < count; i++) {
        size_t j = (size_t)i + (size_t)(rng_next() % (n - (size_t)i)), len;
        ml_item t = l->items[i];
        l->items[i] = l->items[j];
        l->items[j] = t;
        const char *p = ml_member(l, (size_t)i, &len);
        reply_member(c, p, len, l->items[i].score, withscores);
    }
}

static void zrandmember_count(server *s, client *c, long long l, bool withscores)
{
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    zset_ref z = zset_ref_of(s, c, &c->cmd.argv[1], &m);
    uint64_t size = m.type ? m.size : 0;
    bool distinct = l > 0;
    unsigned long long count = l < 0 ? (unsigned long long)-l : (unsigned long long)l;
    if (!size || count == 0) {
        resp_array(&c->out, 0);
        ks_meta_free(&m);
        return;
    }
    if (distinct && count > size)
        count = size;
    size_t from = c->out.len;
    resp_array(&c->out, withscores && c->proto == 2 ? 2 * (long long)count : (long long)count);
    int rc = 0;
    if (distinct && count == size) {
        /* the whole set, from the highest score (Redis walks its sets from the tail) */
        zreply r;
        zreply_init(&r, c, withscores);
        rc = zset_range_rank(&z, 0, size - 1, true, zreply_emit, &r);
        if (rc == 0 && !r.body.err)
            resp_raw(&c->out, r.body.data, r.body.len);
        rc = rc ? rc : r.body.err;
        zreply_free(&r);
    } else if (size <= RANDMEMBER_READ_ALL || (distinct && count * 3 > size)) {
        member_list all = {0};
        rc = zset_range_rank(&z, 0, size - 1, false, ml_emit, &all);
        if (rc == 0 && all.n == size)
            pick_from_list(c, &all, (long long)count, distinct, withscores);
        else if (rc == 0)
            rc = SHALE_ECORRUPT;
        ml_free(&all);
    } else {
        member_map seen;
        mm_init(&seen);
        pick_ctx x = {.c = c, .withscores = withscores, .seen = distinct ? &seen : NULL};
        rc = pick_by_seeks(&z, &x, (long long)count);
        mm_free(&seen);
    }
    if (rc) {
        c->out.len = from;
        reply_read_error(c, rc);
    }
    ks_meta_free(&m);
}

void cmd_zrandmember(server *s, client *c)
{
    if (c->cmd.argc >= 3) {
        long long l;
        if (!arg_ll(&c->cmd.argv[2], &l)) {
            resp_error(&c->out, ZSET_ERR_INT);
            return;
        }
        if (l < -LLONG_MAX) {
            resp_error(&c->out, "ERR value is out of range, value must between "
                                "-9223372036854775807 and 9223372036854775807");
            return;
        }
        if (c->cmd.argc > 4 || (c->cmd.argc == 4 && !arg_is(&c->cmd.argv[3], "withscores"))) {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
        bool withscores = c->cmd.argc == 4;
        if (withscores && (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2)) {
            resp_error(&c->out, "ERR value is out of range");
            return;
        }
        zrandmember_count(s, c, l, withscores);
        return;
    }
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    if (!m.type) {
        resp_null(&c->out, c->proto);
    } else {
        zset_ref z = zset_ref_of(s, c, &c->cmd.argv[1], &m);
        member_list one = {0};
        int rc = zset_random(&z, rng_next(), ml_emit, &one);
        size_t len;
        if (rc || one.n != 1)
            reply_read_error(c, rc ? rc : SHALE_ECORRUPT);
        else
            resp_bulk(&c->out, ml_member(&one, 0, &len), one.items[0].len);
        ml_free(&one);
    }
    ks_meta_free(&m);
}

/* ---- ZSCAN ---- */

typedef struct zscan_ctx {
    resp_out body;
    long long n;
    const scan_args *a;
    size_t member_off;
} zscan_ctx;

static void zscan_emit(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    zscan_ctx *x = ctx;
    double score;
    if (kl < x->member_off || !zset_entry_score(v, vl, &score))
        return;
    k += x->member_off;
    kl -= x->member_off;
    if (x->a->match && !glob_match(x->a->match->p, x->a->match->len, k, kl, false))
        return;
    char buf[40];
    resp_bulk(&x->body, k, kl);
    resp_bulk(&x->body, buf, format_score_scan(score, buf, sizeof buf));
    x->n += 2;
}

/* A cursor is a decimal number that fits 64 bits (Redis checks it before it looks the
   key up, so even an absent key gets the error). */
static bool cursor_valid(const resp_arg *a)
{
    uint64_t v = 0;
    if (!a->len)
        return false;
    for (size_t i = 0; i < a->len; i++) {
        if (a->p[i] < '0' || a->p[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(a->p[i] - '0');
    }
    return true;
}

void cmd_zscan(server *s, client *c)
{
    if (!cursor_valid(&c->cmd.argv[2])) {
        resp_error(&c->out, "ERR invalid cursor");
        return;
    }
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    zscan_ctx x = {0};
    uint64_t next = 0;
    int rc = 0;
    if (m.type) {
        scan_args a;
        if (!parse_scan_args(c, 2, false, &a)) {
            ks_meta_free(&m);
            return;
        }
        x.a = &a;
        zset_ref z = zset_ref_of(s, c, &c->cmd.argv[1], &m);
        ks_range r;
        rc = zset_members_open(&z, &r, &x.member_off);
        if (rc == 0) {
            rc = scan_range(s, c, &r, a.cursor, a.count, zscan_emit, &x, &next);
            ks_range_close(&r);
        }
    }
    reply_scan(c, rc, next, &x.body, x.n);
    resp_out_free(&x.body);
    ks_meta_free(&m);
}

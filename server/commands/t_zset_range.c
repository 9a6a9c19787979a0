/*
 * t_zset_range.c - sorted-set commands over ranges: ZRANGE (BYSCORE BYLEX REV LIMIT
 * WITHSCORES) and its older forms ZREVRANGE Z[REV]RANGEBYSCORE Z[REV]RANGEBYLEX,
 * ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZREMRANGEBYRANK/SCORE/LEX. Argument order, checks and
 * errors follow Redis 7.0's zrangeGenericCommand; the walks are types/zset.c's.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "args.h"
#include "zset_args.h"

typedef enum { BY_AUTO, BY_RANK, BY_SCORE, BY_LEX } range_by;
typedef enum { DIR_AUTO, DIR_FORWARD, DIR_REVERSE } range_dir;

/* A parsed range request. */
typedef struct range_req {
    range_by by;
    bool rev, withscores;
    long long start, stop; /* BY_RANK */
    zset_score_range score;
    zset_lex_range lex;
    long long offset, limit; /* LIMIT (limit -1: none) */
} range_req;

/* Parses "<src> <min> <max> [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT offset count]" with
   src at argv[at]; store: ZRANGESTORE (no WITHSCORES). False when an error was replied. */
static bool parse_range(client *c, int at, bool store, range_by by, range_dir dir, range_req *q)
{
    memset(q, 0, sizeof *q);
    q->limit = -1;
    const resp_arg *argv = c->cmd.argv;
    for (int j = at + 3; j < c->cmd.argc; j++) {
        int left = c->cmd.argc - j - 1;
        if (!store && arg_is(&argv[j], "withscores")) {
            q->withscores = true;
        } else if (arg_is(&argv[j], "limit") && left >= 2) {
            if (!arg_ll(&argv[j + 1], &q->offset) || !arg_ll(&argv[j + 2], &q->limit)) {
                resp_error(&c->out, ZSET_ERR_INT);
                return false;
            }
            j += 2;
        } else if (dir == DIR_AUTO && arg_is(&argv[j], "rev")) {
            dir = DIR_REVERSE;
        } else if (by == BY_AUTO && arg_is(&argv[j], "bylex")) {
            by = BY_LEX;
        } else if (by == BY_AUTO && arg_is(&argv[j], "byscore")) {
            by = BY_SCORE;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    q->by = by == BY_AUTO ? BY_RANK : by;
    q->rev = dir == DIR_REVERSE;
    /* Redis tells a LIMIT by its count (LIMIT 5 -1 reads as none) */
    if (q->limit != -1 && q->by == BY_RANK) {
        resp_error(&c->out, "ERR syntax error, LIMIT is only supported in combination with "
                            "either BYSCORE or BYLEX");
        return false;
    }
    if (q->withscores && q->by == BY_LEX) {
        resp_error(&c->out, "ERR syntax error, WITHSCORES not supported in combination with "
                            "BYLEX");
        return false;
    }
    /* a reversed score or lex range is given as max, min */
    const resp_arg *min = &argv[at + 1], *max = &argv[at + 2];
    if (q->rev && q->by != BY_RANK) {
        min = &argv[at + 2];
        max = &argv[at + 1];
    }
    if (q->by == BY_RANK && (!arg_ll(min, &q->start) || !arg_ll(max, &q->stop))) {
        resp_error(&c->out, ZSET_ERR_INT);
        return false;
    }
    if (q->by == BY_SCORE && !parse_score_range(min, max, &q->score)) {
        resp_error(&c->out, ZSET_ERR_RANGE);
        return false;
    }
    if (q->by == BY_LEX && !parse_lex_range(min, max, &q->lex)) {
        resp_error(&c->out, ZSET_ERR_LEX);
        return false;
    }
    return true;
}

/* Ranks start..stop as Redis sanitizes them (negative from the end); false when the
   range is empty. */
static bool sanitize_ranks(long long size, long long *start, long long *stop)
{
    if (*start < 0)
        *start += size;
    if (*stop < 0)
        *stop += size;
    if (*start < 0)
        *start = 0;
    if (*start > *stop || *start >= size)
        return false;
    if (*stop >= size)
        *stop = size - 1;
    return true;
}

/* Runs the request's walk over z, handing members to emit. */
static int run_range(const zset_ref *z, const range_req *q, zset_emit_fn emit, void *ctx)
{
    if (!z->m->type)
        return 0;
    if (q->by == BY_RANK) {
        long long start = q->start, stop = q->stop;
        if (!sanitize_ranks((long long)z->m->size, &start, &stop))
            return 0;
        return zset_range_rank(z, (uint64_t)start, (uint64_t)stop, q->rev, emit, ctx);
    }
    /* a negative offset skips everything, as Redis's offset walk never stops */
    if (q->offset < 0)
        return 0;
    int64_t limit = q->limit < 0 ? -1 : q->limit;
    if (q->by == BY_SCORE)
        return zset_range_score(z, &q->score, q->rev, (uint64_t)q->offset, limit, emit, ctx);
    return zset_range_lex(z, &q->lex, q->rev, (uint64_t)q->offset, limit, emit, ctx);
}

/* ZRANGESTORE's destination: each member goes into the new set. */
static int store_emit(void *ctx, const char *member, size_t len, double score)
{
    return zset_writer_set(ctx, member, len, score, false, 0);
}

static void zrange_store(server *s, client *c, const range_req *q, const zset_ref *src)
{
    const resp_arg *dst = &c->cmd.argv[1];
    ks_meta dm;
    if (!read_key(s, c, c->db, dst, 0, false, &dm))
        return;
    zset_writer w;
    ks_begin(&s->ks);
    zset_writer_open_replace(&w, &s->ks, c->db, dst->p, dst->len, &dm);
    w.limits = zset_limits_of(s);
    int rc = run_range(src, q, store_emit, &w);
    rc = rc ? rc : zset_writer_finish(&w);
    uint64_t n = zset_writer_size(&w);
    zset_writer_free(&w);
    notify_reply_first(s); /* Redis replies, then tells (the store, or "del") */
    notify_stored(s, NOTIFY_ZSET, "zrangestore", c->db, dst, n, dm.type != 0);
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, (long long)n);
    ks_meta_free(&dm);
}

/* ZRANGE and its forms: the source key at argv[at]; store: ZRANGESTORE. */
static void zrange_generic(server *s, client *c, int at, bool store, range_by by, range_dir dir)
{
    range_req q;
    if (!parse_range(c, at, store, by, dir, &q))
        return;
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[at], true, &m))
        return;
    zset_ref z = zset_ref_of(s, c, &c->cmd.argv[at], &m);
    if (store) {
        zrange_store(s, c, &q, &z);
    } else {
        zreply r;
        zreply_init(&r, c, q.withscores);
        int rc = run_range(&z, &q, zreply_emit, &r);
        zreply_send(c, &r, rc);
        zreply_free(&r);
    }
    ks_meta_free(&m);
}

void cmd_zrange(server *s, client *c)
{
    zrange_generic(s, c, 1, false, BY_AUTO, DIR_AUTO);
}

void cmd_zrangestore(server *s, client *c)
{
    zrange_generic(s, c, 2, true, BY_AUTO, DIR_AUTO);
}

void cmd_zrevrange(server *s, client *c)
{
    zrange_generic(s, c, 1, false, BY_RANK, DIR_REVERSE);
}

void cmd_zrangebyscore(server *s, client *c)
{
    zrange_generic(s, c, 1, false, BY_SCORE, DIR_FORWARD);
}

void cmd_zrevrangebyscore(server *s, client *c)
{
    zrange_generic(s, c, 1, false, BY_SCORE, DIR_REVERSE);
}

void cmd_zrangebylex(server *s, client *c)
{
    zrange_generic(s, c, 1, false, BY_LEX, DIR_FORWARD);
}

void cmd_zrevrangebylex(server *s, client *c)
{
    zrange_generic(s, c, 1, false, BY_LEX, DIR_REVERSE);
}

/* ---- ZCOUNT, ZLEXCOUNT ---- */

static void reply_count(server *s, client *c, bool lex)
{
    zset_score_range sr;
    zset_lex_range lr;
    if (lex ? !parse_lex_range(&c->cmd.argv[2], &c->cmd.argv[3], &lr)
            : !parse_score_range(&c->cmd.argv[2], &c->cmd.argv[3], &sr)) {
        resp_error(&c->out, lex ? ZSET_ERR_LEX : ZSET_ERR_RANGE);
        return;
    }
    ks_meta m;
    if (!read_zset(s, c, &c->cmd.argv[1], true, &m))
        return;
    zset_ref z = zset_ref_of(s, c, &c->cmd.argv[1], &m);
    uint64_t n = 0;
    int rc = lex ? zset_count_lex(&z, &lr, &n) : zset_count_score(&z, &sr, &n);
    if (rc)
        reply_read_error(c, rc);
    else
        resp_integer(&c->out, (long long)n);
    ks_meta_free(&m);
}

void cmd_zcount(server *s, client *c)
{
    reply_count(s, c, false);
}

void cmd_zlexcount(server *s, client *c)
{
    reply_count(s, c, true);
}

/* ---- ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX ---- */

static void zremrange_generic(server *s, client *c, range_by by)
{
    const resp_arg *argv = c->cmd.argv;
    long long start = 0, stop = 0;
    zset_score_range sr;
    zset_lex_range lr;
    if (by == BY_RANK && (!arg_ll(&argv[2], &start) || !arg_ll(&argv[3], &stop))) {
        resp_error(&c->out, ZSET_ERR_INT);
        return;
    }
    if (by == BY_SCORE && !parse_score_range(&argv[2], &argv[3], &sr)) {
        resp_error(&c->out, ZSET_ERR_RANGE);
        return;
    }
    if (by == BY_LEX && !parse_lex_range(&argv[2], &argv[3], &lr)) {
        resp_error(&c->out, ZSET_ERR_LEX);
        return;
    }
    ks_meta m;
    if (!read_zset(s, c, &argv[1], false, &m))
        return;
    if (!m.type || (by == BY_RANK && !sanitize_ranks((long long)m.size, &start, &stop))) {
        resp_integer(&c->out, 0);
        ks_meta_free(&m);
        return;
    }
    zset_writer w;
    uint64_t removed = 0;
    ks_begin(&s->ks);
    zset_writer_open(&w, &s->ks, c->db, argv[1].p, argv[1].len, &m);
    int rc = by == BY_RANK ? zset_writer_remove_rank(&w, (uint64_t)start, (uint64_t)stop, &removed)
             : by == BY_SCORE ? zset_writer_remove_score(&w, &sr, &removed)
                              : zset_writer_remove_lex(&w, &lr, &removed);
    rc = rc ? rc : zset_writer_finish(&w);
    zset_writer_free(&w);
    if (removed) {
        notify_arg(s, NOTIFY_ZSET,
                   by == BY_RANK    ? "zremrangebyrank"
                   : by == BY_SCORE ? "zremrangebyscore"
                                    : "zremrangebylex",
                   c->db, &argv[1]);
        if (removed == m.size)
            notify_arg(s, NOTIFY_GENERIC, "del", c->db, &argv[1]);
    }
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, (long long)removed);
    ks_meta_free(&m);
}

void cmd_zremrangebyrank(server *s, client *c)
{
    zremrange_generic(s, c, BY_RANK);
}

void cmd_zremrangebyscore(server *s, client *c)
{
    zremrange_generic(s, c, BY_SCORE);
}

void cmd_zremrangebylex(server *s, client *c)
{
    zremrange_generic(s, c, BY_LEX);
}

/*
 * test_zset.c - sorted sets on engine keys (server/types/zset.c): the score encoding's
 * order (-inf, -0.0, subnormals, +inf), exactly two engine keys per member through adds,
 * score changes and removals, reads by score, rank and lex against a model kept in
 * memory, pops and front removals that move the live-start hints past what they took,
 * the random pick, and DUMP's read and RESTORE's write (order, scores, expiry, a new
 * version, Redis's encoding after a RESTORE of each payload encoding). Randomized parts
 * print their seed (SHALE_SEED replays one).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyspace.h"
#include "ks_fixture.h"
#include "testutil.h"
#include "zset.h"

typedef struct fixture {
    char *dir;
    shale_db *db;
    keyspace ks;
} fixture;

static void open_all(fixture *f)
{
    f->dir = tu_tempdir("zset");
    ks_fixture_open(f->dir, &f->ks, &f->db);
}

static void close_all(fixture *f)
{
    ks_fixture_close(&f->ks, f->db);
    tu_rmdir_free(f->dir);
}

/* ---- the model: (score, member) pairs in the set's order ---- */

typedef struct pair {
    double score;
    char mem[48];
} pair;

static int pair_cmp(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return strcmp(x->mem, y->mem);
}

typedef struct model {
    pair p[4096];
    int n;
} model;

static int model_find(const model *m, const char *mem)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->p[i].mem, mem) == 0)
            return i;
    return -1;
}

static void model_set(model *m, const char *mem, double score)
{
    int i = model_find(m, mem);
    if (i < 0) {
        i = m->n++;
        snprintf(m->p[i].mem, sizeof m->p[i].mem, "%s", mem);
    }
    m->p[i].score = score == 0 ? 0 : score;
    qsort(m->p, (size_t)m->n, sizeof m->p[0], pair_cmp);
}

static void model_del_at(model *m, int i)
{
    memmove(&m->p[i], &m->p[i + 1], (size_t)(m->n - i - 1) * sizeof m->p[0]);
    m->n--;
}

/* ---- the store side ---- */

static const char KEY[] = "z";

static void read_meta(fixture *f, ks_meta *m)
{
    assert_int_equal(ks_read(&f->ks, 0, KEY, 1, m), 0);
}

static zset_ref ref_of(fixture *f, const ks_meta *m)
{
    return (zset_ref){.ks = &f->ks, .dbi = 0, .key = KEY, .klen = 1, .m = m};
}

/* ZADD of one member in its own transaction. */
static void zadd(fixture *f, double score, const char *mem)
{
    ks_meta m;
    read_meta(f, &m);
    zset_writer w;
    ks_begin(&f->ks);
    zset_writer_open(&w, &f->ks, 0, KEY, 1, &m);
    double old;
    int rc = zset_writer_score(&w, mem, strlen(mem), &old);
    assert_true(rc == 0 || rc == SHALE_ENOTFOUND);
    assert_int_equal(zset_writer_set(&w, mem, strlen(mem), score, rc == 0, old), 0);
    assert_int_equal(zset_writer_finish(&w), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    zset_writer_free(&w);
    ks_meta_free(&m);
}

static void zrem(fixture *f, const char *mem)
{
    ks_meta m;
    read_meta(f, &m);
    zset_writer w;
    ks_begin(&f->ks);
    zset_writer_open(&w, &f->ks, 0, KEY, 1, &m);
    double old;
    assert_int_equal(zset_writer_score(&w, mem, strlen(mem), &old), 0);
    assert_int_equal(zset_writer_remove(&w, mem, strlen(mem), old), 0);
    assert_int_equal(zset_writer_finish(&w), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    zset_writer_free(&w);
    ks_meta_free(&m);
}

/* What a read emitted. */
typedef struct got {
    pair p[4096];
    int n;
} got;

static int collect(void *ctx, const char *mem, size_t len, double score)
{
    got *g = ctx;
    assert_true(len < sizeof g->p[0].mem);
    memcpy(g->p[g->n].mem, mem, len);
    g->p[g->n].mem[len] = '\0';
    g->p[g->n].score = score;
    g->n++;
    return 0;
}

static void assert_got(const got *g, const model *m, int from, int n, bool rev)
{
    assert_int_equal(g->n, n);
    for (int i = 0; i < n; i++) {
        const pair *want = &m->p[rev ? from - i : from + i];
        assert_string_equal(g->p[i].mem, want->mem);
        assert_true(g->p[i].score == want->score);
    }
}

/* Engine keys under the set's current version. */
static int engine_keys(fixture *f, const ks_meta *m)
{
    ks_range r;
    assert_int_equal(ks_range_open_members(&f->ks, 0, KEY, 1, m, &r), 0);
    int n = 0;
    for (; ks_iter_valid(r.it); ks_iter_next(r.it))
        n++;
    ks_range_close(&r);
    return n;
}

static int hint_cmp(const zset_hint *h, const pair *p)
{
    unsigned char k[8 + 48];
    uint64_t e = zset_score_encode(p->score);
    for (int i = 0; i < 8; i++)
        k[i] = (unsigned char)(e >> (56 - 8 * i));
    size_t n = strlen(p->mem);
    memcpy(k + 8, p->mem, n);
    int c = memcmp(h->b, k, h->n < 8 + n ? h->n : 8 + n);
    return c ? c : (h->n > 8 + n) - (h->n < 8 + n);
}

/* The stored set equals the model: size, exactly two engine keys a member, every
   score, and hints that bound the live entries. */
static void check_store(fixture *f, const model *md)
{
    ks_meta m;
    read_meta(f, &m);
    if (md->n == 0) {
        assert_int_equal(m.type, 0); /* an emptied set is no key */
        return;
    }
    assert_int_equal(m.type, KS_TYPE_ZSET);
    assert_int_equal(m.size, (uint64_t)md->n);
    assert_int_equal(engine_keys(f, &m), 2 * md->n);
    zset_ref z = ref_of(f, &m);
    got g = {0};
    assert_int_equal(zset_range_rank(&z, 0, (uint64_t)md->n - 1, false, collect, &g), 0);
    assert_got(&g, md, 0, md->n, false);
    for (int i = 0; i < md->n; i++) {
        double s;
        assert_int_equal(zset_score(&z, md->p[i].mem, strlen(md->p[i].mem), &s), 0);
        assert_true(s == md->p[i].score);
    }
    zset_hint lo, hi;
    zset_hints_parse(&m, &lo, &hi);
    assert_int_equal(lo.state, ZHINT_KEY);
    assert_int_equal(hi.state, ZHINT_KEY);
    assert_true(hint_cmp(&lo, &md->p[0]) <= 0);
    assert_true(hint_cmp(&hi, &md->p[md->n - 1]) >= 0);
    ks_meta_free(&m);
}

/* ---- tests ---- */

static void test_zset_score_encoding_order(void **state)
{
    const double sub = 4.9406564584124654e-324; /* the smallest subnormal */
    const double v[] = {-INFINITY, -DBL_MAX, -1e300, -2.5,    -1,      -DBL_MIN, -2 * sub,
                        -sub,      0,        sub,    2 * sub, DBL_MIN, 1e-300,   0.1,
                        1,         2.5,      1e300,  DBL_MAX, INFINITY};
    size_t n = sizeof v / sizeof v[0];
    for (size_t i = 0; i < n; i++) {
        assert_true(zset_score_decode(zset_score_encode(v[i])) == v[i]);
        if (i)
            assert_true(zset_score_encode(v[i - 1]) < zset_score_encode(v[i]));
    }
    /* -0.0 is stored as 0: same key, read back without its sign */
    assert_true(zset_score_encode(-0.0) == zset_score_encode(0.0));
    assert_false(signbit(zset_score_decode(zset_score_encode(-0.0))));
    assert_true(zset_score_encode(-sub) < zset_score_encode(-0.0));
    /* random doubles (every bit pattern but NaN) keep their order */
    uint64_t seed = tu_seed();
    for (int i = 0; i < 100000; i++) {
        uint64_t a = tu_rand(&seed), b = tu_rand(&seed);
        double x, y;
        memcpy(&x, &a, 8);
        memcpy(&y, &b, 8);
        if (isnan(x) || isnan(y))
            continue;
        uint64_t ex = zset_score_encode(x), ey = zset_score_encode(y);
        assert_int_equal(x < y, ex < ey);
        assert_int_equal(x == y, ex == ey);
        assert_true(zset_score_decode(ex) == x);
    }
}

static void test_zset_adds_updates_and_removals(void **state)
{
    fixture f;
    open_all(&f);
    static model md;
    md.n = 0;
    uint64_t seed = tu_seed();
    char mem[32];
    for (int i = 0; i < 600; i++) {
        snprintf(mem, sizeof mem, "m%03d", (int)tu_rand_below(&seed, 300));
        double score = (double)tu_rand_below(&seed, 50) - 25; /* ties, negatives */
        if (tu_rand_below(&seed, 10) == 0)
            score = tu_rand_below(&seed, 2) ? INFINITY : -INFINITY;
        if (tu_rand_below(&seed, 20) == 0)
            score = -0.0;
        int at = model_find(&md, mem);
        if (at >= 0 && tu_rand_below(&seed, 4) == 0) {
            zrem(&f, mem);
            model_del_at(&md, at);
        } else {
            zadd(&f, score, mem);
            model_set(&md, mem, score);
        }
    }
    check_store(&f, &md);
    /* removing every member deletes the key */
    while (md.n) {
        zrem(&f, md.p[md.n / 2].mem);
        model_del_at(&md, md.n / 2);
    }
    check_store(&f, &md);
    assert_int_equal(f.ks.count[0], 0);
    close_all(&f);
}

/* One ZADD of many members, some named twice: the writer's own view decides. */
static void test_zset_writer_sees_its_own_writes(void **state)
{
    fixture f;
    open_all(&f);
    ks_meta m;
    read_meta(&f, &m);
    zset_writer w;
    ks_begin(&f.ks);
    zset_writer_open(&w, &f.ks, 0, KEY, 1, &m);
    const char *mems[] = {"a", "b", "a", "c", "b"};
    for (int i = 0; i < 5; i++) {
        double old;
        int rc = zset_writer_score(&w, mems[i], 1, &old);
        assert_int_equal(rc, i < 2 || i == 3 ? SHALE_ENOTFOUND : 0);
        assert_int_equal(zset_writer_set(&w, mems[i], 1, i, rc == 0, old), 0);
    }
    double s;
    assert_int_equal(zset_writer_score(&w, "a", 1, &s), 0);
    assert_true(s == 2);
    assert_int_equal(zset_writer_remove(&w, "c", 1, 3), 0);
    assert_int_equal(zset_writer_score(&w, "c", 1, &s), SHALE_ENOTFOUND);
    assert_int_equal(zset_writer_size(&w), 2);
    assert_int_equal(zset_writer_finish(&w), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    zset_writer_free(&w);
    ks_meta_free(&m);
    static model md;
    md.n = 0;
    model_set(&md, "a", 2);
    model_set(&md, "b", 4);
    check_store(&f, &md);
    close_all(&f);
}

static void test_zset_ranges_by_score_rank_and_count(void **state)
{
    fixture f;
    open_all(&f);
    static model md;
    md.n = 0;
    uint64_t seed = tu_seed();
    char mem[32];
    for (int i = 0; i < 300; i++) {
        snprintf(mem, sizeof mem, "r%04d", i);
        double score = (double)tu_rand_below(&seed, 100) / 4 - 10;
        zadd(&f, score, mem);
        model_set(&md, mem, score);
    }
    zadd(&f, -INFINITY, "ninf");
    model_set(&md, "ninf", -INFINITY);
    zadd(&f, INFINITY, "pinf");
    model_set(&md, "pinf", INFINITY);
    zadd(&f, 3, ""); /* the empty member: its score key is the bare score */
    model_set(&md, "", 3);
    ks_meta m;
    read_meta(&f, &m);
    zset_ref z = ref_of(&f, &m);
    /* ranks, both directions */
    for (int i = 0; i < md.n; i++) {
        uint64_t rank;
        double s;
        assert_int_equal(zset_rank(&z, md.p[i].mem, strlen(md.p[i].mem), false, &rank, &s), 0);
        assert_int_equal(rank, (uint64_t)i);
        assert_int_equal(zset_rank(&z, md.p[i].mem, strlen(md.p[i].mem), true, &rank, &s), 0);
        assert_int_equal(rank, (uint64_t)(md.n - 1 - i));
    }
    uint64_t rank;
    double s;
    assert_int_equal(zset_rank(&z, "nope", 4, false, &rank, &s), SHALE_ENOTFOUND);
    /* rank ranges from either end */
    for (int t = 0; t < 200; t++) {
        uint64_t a = tu_rand_below(&seed, (uint64_t)md.n), b = tu_rand_below(&seed, (uint64_t)md.n);
        uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
        bool rev = tu_rand_below(&seed, 2);
        got g = {0};
        assert_int_equal(zset_range_rank(&z, lo, hi, rev, collect, &g), 0);
        assert_got(&g, &md, rev ? md.n - 1 - (int)lo : (int)lo, (int)(hi - lo + 1), rev);
    }
    /* score ranges: open and closed ends, offsets, limits, counts */
    for (int t = 0; t < 300; t++) {
        zset_score_range r = {.min = (double)tu_rand_below(&seed, 120) / 4 - 15,
                              .max = (double)tu_rand_below(&seed, 120) / 4 - 15,
                              .minex = tu_rand_below(&seed, 2),
                              .maxex = tu_rand_below(&seed, 2)};
        if (t % 10 == 0)
            r.min = -INFINITY;
        if (t % 15 == 0)
            r.max = INFINITY;
        int first = -1, n = 0;
        for (int i = 0; i < md.n; i++) {
            double v = md.p[i].score;
            bool in = (r.minex ? v > r.min : v >= r.min) && (r.maxex ? v < r.max : v <= r.max);
            if (in && first < 0)
                first = i;
            n += in;
        }
        uint64_t cnt;
        assert_int_equal(zset_count_score(&z, &r, &cnt), 0);
        assert_int_equal(cnt, (uint64_t)n);
        uint64_t offset = tu_rand_below(&seed, 4);
        int64_t limit = (int64_t)tu_rand_below(&seed, 20) - 1;
        int want = n > (int)offset ? n - (int)offset : 0;
        if (limit >= 0 && want > limit)
            want = (int)limit;
        bool rev = tu_rand_below(&seed, 2);
        got g = {0};
        assert_int_equal(zset_range_score(&z, &r, rev, offset, limit, collect, &g), 0);
        if (want)
            assert_got(&g, &md, rev ? first + n - 1 - (int)offset : first + (int)offset, want, rev);
        else
            assert_int_equal(g.n, 0);
    }
    ks_meta_free(&m);
    close_all(&f);
}

static bool lex_in(const zset_lex_bound *b, const char *mem, bool is_min)
{
    int c = b->inf ? -b->inf : strcmp(mem, b->p);
    return is_min ? (b->ex ? c > 0 : c >= 0) : (b->ex ? c < 0 : c <= 0);
}

static void test_zset_lex_ranges(void **state)
{
    fixture f;
    open_all(&f);
    static model md;
    md.n = 0;
    const char *words[] = {"", "a", "aa", "ab", "b", "ba", "c", "cc", "d", "e"};
    for (int i = 0; i < 10; i++) {
        zadd(&f, 0, words[i]);
        model_set(&md, words[i], 0);
    }
    ks_meta m;
    read_meta(&f, &m);
    zset_ref z = ref_of(&f, &m);
    const char *ends[] = {"", "a", "aa", "ab", "abc", "b", "c", "d", "e", "f"};
    for (int mi = -1; mi < 10; mi++)
        for (int xi = -1; xi < 11; xi++)
            for (int ex = 0; ex < 4; ex++) {
                zset_lex_range r = {.min = {.inf = mi < 0 ? -1 : 0,
                                            .p = mi < 0 ? NULL : ends[mi],
                                            .len = mi < 0 ? 0 : strlen(ends[mi]),
                                            .ex = mi < 0 || (ex & 1)},
                                    .max = {.inf = xi < 0     ? 1
                                                   : xi == 10 ? -1
                                                              : 0,
                                            .p = xi < 0 || xi == 10 ? NULL : ends[xi],
                                            .len = xi < 0 || xi == 10 ? 0 : strlen(ends[xi]),
                                            .ex = xi < 0 || xi == 10 || (ex & 2)}};
                int first = -1, n = 0;
                for (int i = 0; i < md.n; i++) {
                    bool in =
                        lex_in(&r.min, md.p[i].mem, true) && lex_in(&r.max, md.p[i].mem, false);
                    if (in && first < 0)
                        first = i;
                    n += in;
                }
                uint64_t cnt;
                assert_int_equal(zset_count_lex(&z, &r, &cnt), 0);
                assert_int_equal(cnt, (uint64_t)n);
                for (int rev = 0; rev < 2; rev++) {
                    got g = {0};
                    assert_int_equal(zset_range_lex(&z, &r, rev, 1, 3, collect, &g), 0);
                    int want = n > 1 ? (n - 1 < 3 ? n - 1 : 3) : 0;
                    if (want)
                        assert_got(&g, &md, rev ? first + n - 2 : first + 1, want, rev);
                    else
                        assert_int_equal(g.n, 0);
                }
            }
    ks_meta_free(&m);
    /* mixed scores: Redis's walk in (score, member) order from the first member at or
       above min, stopping at the first one past max */
    zadd(&f, 1, "a2"); /* order: "" a aa ab b ba c cc d e a2 */
    read_meta(&f, &m);
    z = ref_of(&f, &m);
    zset_lex_range r = {.min = {.p = "b", .len = 1}, .max = {.p = "c", .len = 1}};
    got g = {0};
    /* the last member, a2, is below min: Redis rules the range out at once */
    assert_int_equal(zset_range_lex(&z, &r, false, 0, -1, collect, &g), 0);
    assert_int_equal(g.n, 0);
    zset_lex_range r2 = {.min = {.p = "a1", .len = 2}, .max = {.inf = 1, .ex = true}};
    assert_int_equal(zset_range_lex(&z, &r2, false, 0, -1, collect, &g), 0);
    assert_int_equal(g.n, 9); /* from "aa" on, a2 included at the end */
    assert_string_equal(g.p[8].mem, "a2");
    g.n = 0;
    assert_int_equal(zset_range_lex(&z, &r2, true, 0, -1, collect, &g), 0);
    assert_int_equal(g.n, 9);
    assert_string_equal(g.p[0].mem, "a2");
    assert_string_equal(g.p[8].mem, "aa");
    ks_meta_free(&m);
    close_all(&f);
}

static int count_pops(void *ctx, const char *mem, size_t len, double score)
{
    return collect(ctx, mem, len, score);
}

/* A queue: ZADD at the back, ZPOPMIN at the front. The lo hint moves past every pop, so
   a read from the front seeks past the tombstones; the hi hint follows ZPOPMAX. */
static void test_zset_pops_move_the_hints(void **state)
{
    fixture f;
    open_all(&f);
    static model md;
    md.n = 0;
    char mem[48];
    int next = 0;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 30; i++, next++) {
            /* long members: the hints keep 32 bytes of them */
            snprintf(mem, sizeof mem, "job-%06d-with-a-long-member-name-past-32", next);
            zadd(&f, next, mem);
            model_set(&md, mem, next);
        }
        ks_meta m;
        read_meta(&f, &m);
        bool max = round % 5 == 4;
        zset_writer w;
        ks_begin(&f.ks);
        zset_writer_open(&w, &f.ks, 0, KEY, 1, &m);
        got g = {0};
        uint64_t popped;
        assert_int_equal(zset_writer_pop(&w, max, 25, count_pops, &g, &popped), 0);
        assert_int_equal(popped, 25);
        assert_int_equal(zset_writer_finish(&w), 0);
        assert_int_equal(ks_commit(&f.ks), 0);
        zset_writer_free(&w);
        assert_got(&g, &md, max ? md.n - 1 : 0, 25, max);
        for (int i = 0; i < 25; i++)
            model_del_at(&md, max ? md.n - 1 : 0);
        ks_meta_free(&m);
        read_meta(&f, &m);
        zset_hint lo, hi;
        zset_hints_parse(&m, &lo, &hi);
        /* the hint has moved past the popped members: a read from that end seeks to the
           last one popped at most */
        if (max)
            assert_true(hint_cmp(&hi, &g.p[23]) < 0 && hint_cmp(&hi, &g.p[24]) > 0);
        else
            assert_true(hint_cmp(&lo, &g.p[23]) > 0 && hint_cmp(&lo, &g.p[24]) <= 0);
        ks_meta_free(&m);
        check_store(&f, &md);
    }
    /* popping more than there is empties the set and deletes the key */
    ks_meta m;
    read_meta(&f, &m);
    zset_writer w;
    ks_begin(&f.ks);
    zset_writer_open(&w, &f.ks, 0, KEY, 1, &m);
    got g = {0};
    uint64_t popped;
    assert_int_equal(zset_writer_pop(&w, false, 100000, count_pops, &g, &popped), 0);
    assert_int_equal(popped, (uint64_t)md.n);
    assert_int_equal(zset_writer_finish(&w), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    zset_writer_free(&w);
    ks_meta_free(&m);
    md.n = 0;
    check_store(&f, &md);
    close_all(&f);
}

static void test_zset_range_removals(void **state)
{
    fixture f;
    open_all(&f);
    static model md;
    uint64_t seed = tu_seed();
    for (int round = 0; round < 30; round++) {
        char mem[32];
        for (int i = 0; i < 20; i++) {
            snprintf(mem, sizeof mem, "x%05d", (int)tu_rand_below(&seed, 100000));
            double score = (double)tu_rand_below(&seed, 40);
            zadd(&f, score, mem);
            model_set(&md, mem, score);
        }
        ks_meta m;
        read_meta(&f, &m);
        zset_writer w;
        ks_begin(&f.ks);
        zset_writer_open(&w, &f.ks, 0, KEY, 1, &m);
        uint64_t removed;
        int kind = round % 3;
        if (kind == 0) {
            uint64_t a = tu_rand_below(&seed, (uint64_t)md.n),
                     b = tu_rand_below(&seed, (uint64_t)md.n);
            if (round % 2)
                a = 0; /* from the front: the lo hint moves */
            uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
            assert_int_equal(zset_writer_remove_rank(&w, lo, hi, &removed), 0);
            assert_int_equal(removed, hi - lo + 1);
            for (uint64_t i = lo; i <= hi; i++)
                model_del_at(&md, (int)lo);
        } else if (kind == 1) {
            zset_score_range r = {.min = (double)tu_rand_below(&seed, 40),
                                  .max = (double)tu_rand_below(&seed, 40),
                                  .minex = round % 4 == 1};
            if (round % 2)
                r.min = -INFINITY;
            assert_int_equal(zset_writer_remove_score(&w, &r, &removed), 0);
            uint64_t want = 0;
            for (int i = 0; i < md.n;) {
                double v = md.p[i].score;
                if ((r.minex ? v > r.min : v >= r.min) && v <= r.max) {
                    model_del_at(&md, i);
                    want++;
                } else {
                    i++;
                }
            }
            assert_int_equal(removed, want);
        } else {
            /* one score everywhere is where lex ranges mean something: ZREMRANGEBYLEX
               on the members whose score is the lowest */
            zset_lex_range r = {.min = {.inf = -1, .ex = true}, .max = {.p = "x5", .len = 2}};
            assert_int_equal(zset_writer_remove_lex(&w, &r, &removed), 0);
            uint64_t want = 0;
            while (md.n && strcmp(md.p[0].mem, "x5") <= 0) {
                model_del_at(&md, 0);
                want++;
            }
            assert_int_equal(removed, want);
        }
        assert_int_equal(zset_writer_finish(&w), 0);
        assert_int_equal(ks_commit(&f.ks), 0);
        zset_writer_free(&w);
        ks_meta_free(&m);
        check_store(&f, &md);
    }
    close_all(&f);
}

static int pick_one(void *ctx, const char *mem, size_t len, double score)
{
    int *counts = ctx;
    assert_int_equal(len, 2);
    counts[mem[1] - '0']++;
    return 0;
}

/* A set smaller than the pick window is picked from exactly uniformly. */
static void test_zset_random_pick(void **state)
{
    fixture f;
    open_all(&f);
    char mem[3] = "p0";
    for (int i = 0; i < 10; i++) {
        mem[1] = (char)('0' + i);
        zadd(&f, i, mem);
    }
    ks_meta m;
    read_meta(&f, &m);
    zset_ref z = ref_of(&f, &m);
    int counts[10] = {0};
    uint64_t seed = tu_seed();
    for (int i = 0; i < 10000; i++)
        assert_int_equal(zset_random(&z, tu_rand(&seed), pick_one, counts), 0);
    double chi = 0;
    for (int i = 0; i < 10; i++)
        chi += (counts[i] - 1000.0) * (counts[i] - 1000.0) / 1000.0;
    assert_true(chi < 40); /* df 9: 1e-5 */
    ks_meta_free(&m);
    close_all(&f);
}

/* ---- DUMP and RESTORE ---- */

/* RESTORE's write of v over KEY (whatever it holds), with expiry exp. */
static void store_value(fixture *f, const rdb_value *v, uint64_t exp)
{
    ks_meta m;
    read_meta(f, &m);
    ks_begin(&f->ks);
    assert_int_equal(zset_store(&f->ks, 0, KEY, 1, &m, v, exp), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&m);
}

/* The encoding KEY has after storing members "m<i>" (i < n, the first len bytes long
   when len > 0) from a payload in encoding enc. */
static const char *restored_encoding(fixture *f, int enc, int n, size_t len)
{
    rdb_value v;
    rdb_value_init(&v, KS_TYPE_ZSET);
    v.enc = enc;
    for (int i = 0; i < n; i++) {
        char mem[128];
        memset(mem, 'x', sizeof mem);
        int l = snprintf(mem, sizeof mem, "m%d", i);
        mem[l] = 'x';
        assert_int_equal(rdb_value_add_scored(&v, mem, len ? len : (size_t)l, i), 0);
    }
    store_value(f, &v, 0);
    rdb_value_free(&v);
    ks_meta m;
    read_meta(f, &m);
    assert_int_equal(m.size, (uint64_t)n);
    assert_int_equal(engine_keys(f, &m), 2 * n);
    const char *e = zset_encoding(&m);
    ks_meta_free(&m);
    return e;
}

static void test_zset_load_and_store(void **state)
{
    fixture f;
    open_all(&f);
    static model md;
    md.n = 0;
    const char *mems[] = {"b", "a", "c", "d", "e"};
    double scores[] = {2, 2, -1, INFINITY, -INFINITY};
    for (int i = 0; i < 5; i++) {
        zadd(&f, scores[i], mems[i]);
        model_set(&md, mems[i], scores[i]);
    }
    ks_meta m;
    read_meta(&f, &m);
    rdb_value v;
    assert_int_equal(zset_load(&f.ks, 0, KEY, 1, &m, &v), 0);
    assert_int_equal(v.enc, RDB_ENC_COMPACT);
    assert_int_equal(v.n, 5); /* by score, then member */
    for (int i = 0; i < 5; i++) {
        size_t n;
        const char *p = rdb_value_item(&v, (size_t)i, &n);
        assert_int_equal(n, strlen(md.p[i].mem));
        assert_memory_equal(p, md.p[i].mem, n);
        assert_true(v.score[i] == md.p[i].score);
    }
    /* written back over itself under a new version, with an expiry */
    store_value(&f, &v, 4102444800000);
    rdb_value_free(&v);
    ks_meta now;
    read_meta(&f, &now);
    assert_true(now.version != m.version);
    assert_int_equal(now.expire_at_ms, 4102444800000);
    assert_string_equal(zset_encoding(&now), "listpack");
    check_store(&f, &md); /* two engine keys a member, scores, hints */
    ks_meta_free(&now);
    ks_meta_free(&m);

    /* over a string: the string goes, and its TTL with it */
    read_meta(&f, &m);
    ks_begin(&f.ks);
    assert_int_equal(ks_put_meta(&f.ks, 0, KEY, 1, &m, KS_TYPE_STRING, "s", 1, 99), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_string_equal(restored_encoding(&f, RDB_ENC_COMPACT, 3, 0), "listpack");
    read_meta(&f, &m);
    assert_int_equal(m.type, KS_TYPE_ZSET);
    assert_int_equal(m.expire_at_ms, 0);
    ks_meta_free(&m);

    /* Redis's RESTORE: a skiplist payload of a few short members becomes a listpack, a
       listpack stays one whatever its members' lengths, both turn past 128 members */
    assert_string_equal(restored_encoding(&f, RDB_ENC_BIG, 3, 0), "listpack");
    assert_string_equal(restored_encoding(&f, RDB_ENC_BIG, 3, 65), "skiplist");
    assert_string_equal(restored_encoding(&f, RDB_ENC_AUTO, 3, 65), "skiplist");
    assert_string_equal(restored_encoding(&f, RDB_ENC_BIG, 3, 64), "listpack");
    assert_string_equal(restored_encoding(&f, RDB_ENC_COMPACT, 3, 100), "listpack");
    assert_string_equal(restored_encoding(&f, RDB_ENC_COMPACT, 128, 0), "listpack");
    assert_string_equal(restored_encoding(&f, RDB_ENC_COMPACT, 129, 0), "skiplist");
    assert_string_equal(restored_encoding(&f, RDB_ENC_BIG, 129, 0), "skiplist");
    read_meta(&f, &m);
    assert_int_equal(zset_load(&f.ks, 0, KEY, 1, &m, &v), 0);
    assert_int_equal(v.enc, RDB_ENC_BIG); /* what DUMP writes */
    assert_int_equal(v.n, 129);
    rdb_value_free(&v);
    ks_meta_free(&m);
    close_all(&f);
}

/* OBJECT ENCODING's flag: skiplist once the set passes a listpack limit, for good. */
static void test_zset_encoding_follows_limits(void **state)
{
    fixture f;
    open_all(&f);
    const zset_limits lim = {.entries = 2, .value = 5};
    const char *adds[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        ks_meta m;
        read_meta(&f, &m);
        assert_string_equal(zset_encoding(&m), "listpack");
        zset_writer w;
        ks_begin(&f.ks);
        zset_writer_open(&w, &f.ks, 0, KEY, 1, &m);
        w.limits = lim;
        assert_int_equal(zset_writer_set(&w, adds[i], 1, i, false, 0), 0);
        assert_int_equal(zset_writer_finish(&w), 0);
        assert_int_equal(ks_commit(&f.ks), 0);
        zset_writer_free(&w);
        ks_meta_free(&m);
    }
    ks_meta m;
    read_meta(&f, &m);
    assert_string_equal(zset_encoding(&m), "skiplist"); /* a third member */
    ks_meta_free(&m);
    zrem(&f, "c");
    zrem(&f, "b");
    read_meta(&f, &m);
    assert_string_equal(zset_encoding(&m), "skiplist"); /* sticky */
    ks_meta_free(&m);
    zrem(&f, "a"); /* the key goes, and a new set starts as a listpack */
    ks_meta none;
    read_meta(&f, &none);
    zset_writer w;
    ks_begin(&f.ks);
    zset_writer_open(&w, &f.ks, 0, KEY, 1, &none);
    w.limits = lim;
    assert_int_equal(zset_writer_set(&w, "longer", 6, 1, false, 0), 0); /* past value */
    assert_int_equal(zset_writer_finish(&w), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    zset_writer_free(&w);
    read_meta(&f, &m);
    assert_string_equal(zset_encoding(&m), "skiplist");
    ks_meta_free(&m);
    close_all(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zset_score_encoding_order),
        cmocka_unit_test(test_zset_adds_updates_and_removals),
        cmocka_unit_test(test_zset_writer_sees_its_own_writes),
        cmocka_unit_test(test_zset_ranges_by_score_rank_and_count),
        cmocka_unit_test(test_zset_lex_ranges),
        cmocka_unit_test(test_zset_pops_move_the_hints),
        cmocka_unit_test(test_zset_range_removals),
        cmocka_unit_test(test_zset_random_pick),
        cmocka_unit_test(test_zset_load_and_store),
        cmocka_unit_test(test_zset_encoding_follows_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

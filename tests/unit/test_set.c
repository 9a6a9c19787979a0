/*
 * test_set.c - types/set.c: sets on engine keys. Counts stay exact (repeats in one add,
 * members already there, removals of absent ones), an emptied set deletes its key, the
 * intset/hashtable flag changes as Redis's encoding does (and never back), intersection,
 * union and difference agree with a model on random sets by every path (probes and
 * walks), random picks are uniform (exactly from a small set read whole; roughly by
 * seeks), SPOP removes what it returns, a STORE replaces any old value and its TTL, a
 * pick on a 1,000,000-member set costs a seek, not a scan (timed loosely), and DUMP's
 * read and RESTORE's write (members, expiry, Redis's encoding, no deleted count).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "keyspace.h"
#include "set.h"
#include "ks_fixture.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    shale_db *db;
    keyspace ks;
} fixture;

static void open_all(fixture *f)
{
    f->dir = tu_tempdir("set");
    ks_fixture_open(f->dir, &f->ks, &f->db);
}

static void close_all(fixture *f)
{
    ks_fixture_close(&f->ks, f->db);
    tu_rmdir_free(f->dir);
}

/* A key's metadata read into m (ks_meta_free it) and a set_ref on it. */
static set_ref ref_of(fixture *f, const char *key, ks_meta *m)
{
    assert_int_equal(ks_read(&f->ks, 0, key, strlen(key), m), 0);
    return (set_ref){.key = key, .klen = strlen(key), .m = m};
}

/* SADD of n C strings; returns how many were new. */
static uint64_t add(fixture *f, const char *key, const char *const *members, size_t n)
{
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(members[i]);
    ks_meta m;
    set_ref s = ref_of(f, key, &m);
    uint64_t added;
    ks_begin(&f->ks);
    assert_int_equal(set_add(&f->ks, 0, &s, members, lens, n, &added), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&m);
    free(lens);
    return added;
}

static uint64_t rem(fixture *f, const char *key, const char *const *members, size_t n)
{
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(members[i]);
    ks_meta m;
    set_ref s = ref_of(f, key, &m);
    uint64_t removed;
    ks_begin(&f->ks);
    assert_int_equal(set_remove(&f->ks, 0, &s, members, lens, n, &removed), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&m);
    free(lens);
    return removed;
}

/* Members "<prefix><i>" for i in [from, to), added in batches. */
static void add_range(fixture *f, const char *key, const char *prefix, int from, int to)
{
    enum { BATCH = 1000 };
    static char bufs[BATCH][32];
    const char *p[BATCH];
    for (int i = from; i < to;) {
        size_t n = 0;
        for (; n < BATCH && i < to; n++, i++) {
            snprintf(bufs[n], sizeof bufs[n], "%s%d", prefix, i);
            p[n] = bufs[n];
        }
        add(f, key, p, n);
    }
}

static uint64_t card(fixture *f, const char *key)
{
    ks_meta m;
    ref_of(f, key, &m);
    uint64_t n = m.type ? m.size : 0;
    ks_meta_free(&m);
    return n;
}

static const char *encoding(fixture *f, const char *key)
{
    ks_meta m;
    ref_of(f, key, &m);
    assert_int_equal(m.type, KS_TYPE_SET);
    const char *e = set_encoding(&m);
    ks_meta_free(&m);
    return e;
}

/* Every member, walked, as a set_list (free it). */
static set_list members_of(fixture *f, const char *key)
{
    ks_meta m;
    set_ref s = ref_of(f, key, &m);
    set_list l = {0};
    assert_int_equal(set_members(&f->ks, 0, &s, set_list_emit, &l), 0);
    ks_meta_free(&m);
    return l;
}

static bool list_has(const set_list *l, const char *p)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t len;
        const char *q = set_list_at(l, i, &len);
        if (len == strlen(p) && memcmp(q, p, len) == 0)
            return true;
    }
    return false;
}

static void test_set_counts_exact(void **state)
{
    fixture f;
    open_all(&f);
    const char *a[] = {"x", "y", "x", "z", "y", "x"};
    assert_int_equal(add(&f, "s", a, 6), 3); /* repeats in one SADD count once */
    assert_int_equal(card(&f, "s"), 3);
    const char *b[] = {"x", "w", "w", "y"};
    assert_int_equal(add(&f, "s", b, 4), 1); /* members already there count 0 */
    assert_int_equal(card(&f, "s"), 4);
    /* a big add into a small set walks the set; a small add into a big one probes */
    add_range(&f, "s", "m", 0, 100);
    assert_int_equal(card(&f, "s"), 104);
    const char *c[] = {"m5", "m5", "nothere", "x"};
    assert_int_equal(rem(&f, "s", c, 4), 2);
    assert_int_equal(card(&f, "s"), 102);
    set_list l = members_of(&f, "s");
    assert_int_equal(l.n, 102);
    assert_false(list_has(&l, "m5"));
    assert_true(list_has(&l, "m6") && list_has(&l, "w"));
    set_list_free(&l);
    /* membership, repeated and absent members, by both paths */
    ks_meta m;
    set_ref s = ref_of(&f, "s", &m);
    const char *q[] = {"w", "m5", "w", "m99", "zz"};
    size_t ql[] = {1, 2, 1, 3, 2};
    bool found[5];
    assert_int_equal(set_contains(&f.ks, 0, &s, q, ql, 5, found), 0);
    assert_true(found[0] && !found[1] && found[2] && found[3] && !found[4]);
    /* a member longer than an engine key holds: never there, and not added */
    size_t biglen = SHALE_MAX_KEY_SIZE + 1;
    char *big = calloc(1, biglen);
    const char *bp[] = {big};
    assert_int_equal(set_contains(&f.ks, 0, &s, bp, &biglen, 1, found), 0);
    assert_false(found[0]);
    uint64_t added;
    ks_begin(&f.ks);
    assert_int_equal(set_add(&f.ks, 0, &s, bp, &biglen, 1, &added), -EINVAL);
    ks_abort(&f.ks);
    free(big);
    ks_meta_free(&m);
    int64_t keys = f.ks.count[0];
    const char *all[] = {"w", "x", "y", "z"};
    assert_int_equal(rem(&f, "s", all, 4), 3); /* x was removed before */
    char name[8];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "m%d", i);
        const char *one[] = {name};
        rem(&f, "s", one, 1);
    }
    assert_int_equal(card(&f, "s"), 0); /* emptied: the key is gone */
    assert_int_equal(f.ks.count[0], keys - 1);
    close_all(&f);
}

static void test_set_encoding_sticky(void **state)
{
    fixture f;
    open_all(&f);
    const char *ints[] = {"1", "-5", "9223372036854775807"};
    add(&f, "i", ints, 3);
    assert_string_equal(encoding(&f, "i"), "intset");
    const char *odd[] = {"007"}; /* not an integer as Redis reads one */
    add(&f, "i", odd, 1);
    assert_string_equal(encoding(&f, "i"), "hashtable");
    rem(&f, "i", odd, 1);
    assert_string_equal(encoding(&f, "i"), "hashtable"); /* never back, as Redis */
    add_range(&f, "big", "", 0, SET_INTSET_MAX);
    assert_string_equal(encoding(&f, "big"), "intset");
    add_range(&f, "big", "", SET_INTSET_MAX, SET_INTSET_MAX + 1);
    assert_string_equal(encoding(&f, "big"), "hashtable");
    assert_true(set_member_is_int("-1", 2) && !set_member_is_int("+1", 2) &&
                !set_member_is_int("-0", 2) && !set_member_is_int("9223372036854775808", 19) &&
                !set_member_is_int("", 0));
    close_all(&f);
}

/* Sorts a list's members into C strings for comparison with a model. */
static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **sorted_strings(const set_list *l)
{
    char **v = calloc(l->n + 1, sizeof *v);
    for (size_t i = 0; i < l->n; i++) {
        size_t len;
        const char *p = set_list_at(l, i, &len);
        v[i] = strndup(p, len);
    }
    qsort(v, l->n, sizeof *v, strp_cmp);
    return v;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

enum { UNIVERSE = 400, NSETS = 3 };

/* Checks inter/union/diff of sets k0..k2 against bitmaps of their members. */
static void check_ops(fixture *f, bool model[NSETS][UNIVERSE], const char *names[NSETS])
{
    ks_meta m[NSETS];
    set_ref r[NSETS];
    for (int i = 0; i < NSETS; i++)
        r[i] = ref_of(f, names[i], &m[i]);
    for (int op = 0; op < 3; op++) {
        set_list l = {0};
        int rc = op == 0   ? set_inter(&f->ks, 0, r, NSETS, 0, set_list_emit, &l)
                 : op == 1 ? set_union(&f->ks, 0, r, NSETS, set_list_emit, &l)
                           : set_diff(&f->ks, 0, r, NSETS, set_list_emit, &l);
        assert_int_equal(rc, 0);
        size_t want = 0;
        for (int u = 0; u < UNIVERSE; u++) {
            bool in = op == 0   ? model[0][u] && model[1][u] && model[2][u]
                      : op == 1 ? model[0][u] || model[1][u] || model[2][u]
                                : model[0][u] && !model[1][u] && !model[2][u];
            char name[16];
            snprintf(name, sizeof name, "e%d", u);
            if (in != list_has(&l, name))
                fail_msg("op %d: member %s %s", op, name, in ? "missing" : "extra");
            want += in;
        }
        assert_int_equal(l.n, want); /* each once */
        char **v = sorted_strings(&l);
        for (size_t i = 1; i < l.n; i++)
            assert_true(strcmp(v[i - 1], v[i]) < 0);
        free_strings(v, l.n);
        set_list_free(&l);
    }
    /* a limit stops the intersection */
    long long n = 0;
    set_list l = {0};
    assert_int_equal(set_inter(&f->ks, 0, r, NSETS, 2, set_list_emit, &l), 0);
    n = (long long)l.n;
    assert_true(n <= 2);
    set_list_free(&l);
    for (int i = 0; i < NSETS; i++)
        ks_meta_free(&m[i]);
}

static void test_set_ops_match_model(void **state)
{
    uint64_t rs = tu_seed();
    fixture f;
    open_all(&f);
    const char *names[NSETS] = {"k0", "k1", "k2"};
    /* densities: a big first set against small others (diff probes), then a small first
       set against big others (diff walks) */
    int dens[2][NSETS] = {{90, 10, 10}, {5, 80, 90}};
    for (int round = 0; round < 2; round++) {
        bool model[NSETS][UNIVERSE] = {{0}};
        for (int i = 0; i < NSETS; i++) {
            ks_meta m;
            set_ref s = ref_of(&f, names[i], &m);
            ks_begin(&f.ks);
            assert_int_equal(ks_del_key(&f.ks, 0, s.key, s.klen, &m), 0);
            assert_int_equal(ks_commit(&f.ks), 0);
            ks_meta_free(&m);
            for (int u = 0; u < UNIVERSE; u++) {
                if ((int)tu_rand_below(&rs, 100) >= dens[round][i])
                    continue;
                char name[16];
                snprintf(name, sizeof name, "e%d", u);
                const char *one[] = {name};
                add(&f, names[i], one, 1);
                model[i][u] = true;
            }
        }
        check_ops(&f, model, names);
    }
    close_all(&f);
}

/* Pearson's chi-square of counts against a uniform expectation. */
static double chi_square(const long *counts, int n, long total)
{
    double e = (double)total / n, x = 0;
    for (int i = 0; i < n; i++)
        x += (counts[i] - e) * (counts[i] - e) / e;
    return x;
}

/* Counts how often each member "<i>" of [0, n) comes in picks of set key. */
static void tally(fixture *f, const char *key, long long count, int rounds, long *counts)
{
    ks_meta m;
    set_ref s = ref_of(f, key, &m);
    for (int r = 0; r < rounds; r++) {
        set_list l = {0};
        assert_int_equal(set_random(&f->ks, 0, &s, count, &l), 0);
        assert_int_equal(l.n, (size_t)(count < 0 ? -count : count));
        for (size_t i = 0; i < l.n; i++) {
            size_t len;
            const char *p = set_list_at(&l, i, &len);
            char num[24];
            snprintf(num, sizeof num, "%.*s", (int)len, p);
            counts[atoi(num)]++;
        }
        set_list_free(&l);
    }
    ks_meta_free(&m);
}

static void test_set_random_uniform(void **state)
{
    set_random_seed(tu_seed());
    fixture f;
    open_all(&f);
    /* 10 members, as Redis's own histogram test: df 9, 40 is p = 0.00001 */
    add_range(&f, "ten", "", 0, 10);
    long c10[10] = {0};
    tally(&f, "ten", -1000, 1, c10);
    assert_true(chi_square(c10, 10, 1000) < 40);
    memset(c10, 0, sizeof c10);
    tally(&f, "ten", 2, 500, c10);
    assert_true(chi_square(c10, 10, 1000) < 40);
    /* 2000 members, picked by seeks (20 a call: reading the set would cost more): each
       member's chance is the mean of SET_PICK_WALK hash gaps, within about +-25 % of
       1/2000, and the extremes of 2000 members fall near 0.2x and 2.6x of it in a
       simulation of 300 runs (a seek alone, one gap, gives some members almost none and
       others eight times their share); 300 picks each on average */
    enum { N = 2000, EACH = 300, PICKS = EACH * N };
    add_range(&f, "big", "", 0, N);
    long *cb = calloc(N, sizeof *cb);
    tally(&f, "big", -20, PICKS / 20, cb);
    long lo = PICKS, hi = 0;
    for (int i = 0; i < N; i++) {
        lo = cb[i] < lo ? cb[i] : lo;
        hi = cb[i] > hi ? cb[i] : hi;
    }
    print_message("%d members, %d picks: least %ld, most %ld, expected %d\n", N, PICKS, lo, hi,
                  EACH);
    assert_true(lo > EACH / 8 && hi < EACH * 4);
    /* distinct picks are distinct */
    ks_meta m;
    set_ref s = ref_of(&f, "big", &m);
    set_list l = {0};
    assert_int_equal(set_random(&f.ks, 0, &s, 30, &l), 0);
    char **v = sorted_strings(&l);
    assert_int_equal(l.n, 30);
    for (size_t i = 1; i < l.n; i++)
        assert_true(strcmp(v[i - 1], v[i]) != 0);
    free_strings(v, l.n);
    set_list_free(&l);
    ks_meta_free(&m);
    free(cb);
    close_all(&f);
}

static void test_set_pop_removes(void **state)
{
    set_random_seed(tu_seed());
    fixture f;
    open_all(&f);
    add_range(&f, "p", "", 0, 1000);
    ks_meta m;
    set_ref s = ref_of(&f, "p", &m);
    set_list popped = {0};
    ks_begin(&f.ks);
    assert_int_equal(set_pop(&f.ks, 0, &s, 10, &popped), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_int_equal(popped.n, 10);
    assert_int_equal(card(&f, "p"), 990);
    set_list left = members_of(&f, "p");
    assert_int_equal(left.n, 990);
    for (size_t i = 0; i < popped.n; i++) {
        size_t len;
        const char *p = set_list_at(&popped, i, &len);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        assert_false(list_has(&left, name));
    }
    set_list_free(&left);
    set_list_free(&popped);
    /* a count past the size pops everything and deletes the key */
    s = ref_of(&f, "p", &m);
    ks_begin(&f.ks);
    assert_int_equal(set_pop(&f.ks, 0, &s, 5000, &popped), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_int_equal(popped.n, 990);
    assert_int_equal(card(&f, "p"), 0);
    assert_int_equal(f.ks.count[0], 0);
    set_list_free(&popped);
    close_all(&f);
}

static void test_set_store_replaces(void **state)
{
    fixture f;
    open_all(&f);
    ks_meta old;
    assert_int_equal(ks_read(&f.ks, 0, "d", 1, &old), 0);
    ks_begin(&f.ks);
    assert_int_equal(
        ks_put_meta(&f.ks, 0, "d", 1, &old, KS_TYPE_STRING, "v", 1, ks_now_ms() + 100000), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&old);
    assert_int_equal(f.ks.expires[0], 1);
    const char *a[] = {"3", "1", "2"};
    add(&f, "a", a, 3);
    ks_meta m, dm;
    set_ref s = ref_of(&f, "a", &m), d = ref_of(&f, "d", &dm);
    set_writer w;
    uint64_t n;
    ks_begin(&f.ks);
    assert_int_equal(set_writer_begin(&w, &f.ks, 0, &d), 0);
    assert_int_equal(set_union(&f.ks, 0, &s, 1, set_writer_emit, &w), 0);
    assert_int_equal(set_writer_end(&w, 0, &n), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    ks_meta_free(&dm);
    assert_int_equal(n, 3);
    assert_int_equal(card(&f, "d"), 3);
    assert_string_equal(encoding(&f, "d"), "intset");
    assert_int_equal(f.ks.count[0], 2);
    assert_int_equal(f.ks.expires[0], 0); /* the old value's TTL went with it */
    ks_meta r;
    ref_of(&f, "d", &r);
    assert_int_equal(r.expire_at_ms, 0);
    ks_meta_free(&r);
    /* intset order: by value */
    set_list l = members_of(&f, "d");
    assert_int_equal(set_list_intset_order(&l), 0);
    size_t len;
    assert_memory_equal(set_list_at(&l, 0, &len), "1", 1);
    assert_memory_equal(set_list_at(&l, 2, &len), "3", 1);
    set_list_free(&l);
    close_all(&f);
}

/* A set whose deleted members outnumber the live ones SET_REWRITE_RATIO times (and small
   enough) is written anew under a new version: the same members, its count and flag
   kept, the deleted ones no longer between them; SPOP to the end pops every member once
   through such rewrites. */
static void test_set_rewrite_after_deletions(void **state)
{
    set_random_seed(tu_seed());
    fixture f;
    open_all(&f);
    add_range(&f, "r", "x", 0, 1000);
    ks_meta m;
    ref_of(&f, "r", &m);
    uint64_t v0 = m.version;
    ks_meta_free(&m);
    enum { KEEP = 1000 / (SET_REWRITE_RATIO + 1) };
    char name[16];
    for (int i = KEEP; i < 1000; i++) { /* one at a time: a rewrite comes at the end */
        snprintf(name, sizeof name, "x%d", i);
        const char *one[] = {name};
        assert_int_equal(rem(&f, "r", one, 1), 1);
        ref_of(&f, "r", &m);
        if (i + 1 < 1000)
            assert_int_equal(m.version, v0);
        ks_meta_free(&m);
    }
    ref_of(&f, "r", &m);
    assert_true(m.version != v0); /* rewritten */
    assert_int_equal(m.size, KEEP);
    assert_string_equal(set_encoding(&m), "hashtable");
    ks_meta_free(&m);
    set_list l = members_of(&f, "r");
    assert_int_equal(l.n, KEEP);
    for (int i = 0; i < KEEP; i++) {
        snprintf(name, sizeof name, "x%d", i);
        assert_true(list_has(&l, name));
    }
    set_list_free(&l);
    /* popped to the end, one at a time: every member once */
    add_range(&f, "r", "y", 0, 2000);
    uint64_t left = card(&f, "r");
    set_list all = {0};
    while (left) {
        set_ref s = ref_of(&f, "r", &m);
        ks_begin(&f.ks);
        assert_int_equal(set_pop(&f.ks, 0, &s, 1, &all), 0);
        assert_int_equal(ks_commit(&f.ks), 0);
        ks_meta_free(&m);
        assert_int_equal(card(&f, "r"), --left);
    }
    assert_int_equal(all.n, KEEP + 2000);
    char **v = sorted_strings(&all);
    for (size_t i = 1; i < all.n; i++)
        assert_true(strcmp(v[i - 1], v[i]) != 0);
    free_strings(v, all.n);
    set_list_free(&all);
    assert_int_equal(f.ks.count[0], 0);
    close_all(&f);
}

/* A set far larger than the old bound (4096 members, 4 deleted per live one) is
   rewritten once as many members are deleted as are left: before, a 100k-member set that
   SPOP emptied kept every deleted member between the live ones until it was down to
   4096, and a pop's walk passed 20 and more of them per step (SPOP at pipeline 16 fell
   from 130k/s to 4.5k/s as the set emptied). */
static void test_set_rewrite_big_set(void **state)
{
    fixture f;
    open_all(&f);
    enum { N = 20000, BATCH = 500 };
    add_range(&f, "big", "m", 0, N);
    ks_meta m;
    ref_of(&f, "big", &m);
    uint64_t v0 = m.version;
    ks_meta_free(&m);
    char names[BATCH][16];
    const char *batch[BATCH];
    for (int from = 0; from < N / 2; from += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(names[i], sizeof names[i], "m%d", from + i);
            batch[i] = names[i];
        }
        assert_int_equal(rem(&f, "big", batch, BATCH), BATCH);
    }
    ref_of(&f, "big", &m);
    assert_true(m.version != v0); /* written anew when half were gone */
    assert_int_equal(m.size, N / 2);
    ks_meta_free(&m);
    set_list l = members_of(&f, "big");
    assert_int_equal(l.n, N / 2);
    for (int i = N / 2; i < N; i += 997) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        assert_true(list_has(&l, name));
    }
    set_list_free(&l);
    close_all(&f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count_one(void *ctx, const char *p, size_t len)
{
    (*(long *)ctx)++;
    return 0;
}

/* The point: a pick on a big set is a seek and a short walk, not a scan. Timed
   against a scan of the same set, so a loaded machine or a sanitizer slows both: a pick
   must cost under 1/100 of the scan (it measures about 1/1000 and less), and under 5 ms
   in any case (about 50 us optimized on an idle machine). */
static void test_set_pick_on_million_is_a_seek(void **state)
{
    set_random_seed(tu_seed());
    fixture f;
    open_all(&f);
    enum { N = 1000000, OPS = 200 };
    add_range(&f, "m", "member:", 0, N);
    assert_int_equal(shale_flush(f.db), 0);
    assert_int_equal(card(&f, "m"), N);
    ks_meta sm;
    set_ref ss = ref_of(&f, "m", &sm);
    long walked = 0;
    double t0 = now_s();
    assert_int_equal(set_members(&f.ks, 0, &ss, count_one, &walked), 0);
    double scan = now_s() - t0;
    ks_meta_free(&sm);
    assert_int_equal(walked, N);
    t0 = now_s();
    for (int i = 0; i < OPS; i++) {
        ks_meta m;
        set_ref s = ref_of(&f, "m", &m);
        set_list l = {0};
        assert_int_equal(set_random(&f.ks, 0, &s, 1, &l), 0);
        assert_int_equal(l.n, 1);
        set_list_free(&l);
        ks_meta_free(&m);
    }
    double pick = (now_s() - t0) / OPS;
    t0 = now_s();
    for (int i = 0; i < OPS; i++) {
        ks_meta m;
        set_ref s = ref_of(&f, "m", &m);
        set_list l = {0};
        ks_begin(&f.ks);
        assert_int_equal(set_pop(&f.ks, 0, &s, 1, &l), 0);
        assert_int_equal(ks_commit(&f.ks), 0);
        assert_int_equal(l.n, 1);
        set_list_free(&l);
        ks_meta_free(&m);
    }
    double pop = (now_s() - t0) / OPS;
    print_message("1,000,000 members: a scan %.0f ms; SRANDMEMBER %.1f us, SPOP %.1f us each\n",
                  scan * 1e3, pick * 1e6, pop * 1e6);
    assert_true(pick < scan / 100 && pop < scan / 100);
    assert_true(pick < 5e-3 && pop < 5e-3);
    assert_int_equal(card(&f, "m"), N - OPS);
    close_all(&f);
}

/* RESTORE's write of the n C strings as set `key` (whatever it holds), expiry exp. */
static void store_strings(fixture *f, const char *key, const char *const *members, size_t n,
                          uint64_t exp)
{
    rdb_value v;
    rdb_value_init(&v, KS_TYPE_SET);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rdb_value_add(&v, members[i], strlen(members[i])), 0);
    ks_meta m;
    ref_of(f, key, &m);
    ks_begin(&f->ks);
    assert_int_equal(set_store(&f->ks, 0, key, strlen(key), &m, &v, exp), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&m);
    rdb_value_free(&v);
}

static void test_set_load_and_store(void **state)
{
    fixture f;
    open_all(&f);
    const char *a[] = {"3", "-1", "20"};
    add(&f, "a", a, 3);
    ks_meta m;
    ref_of(&f, "a", &m);
    rdb_value v;
    assert_int_equal(set_load(&f.ks, 0, "a", 1, &m, &v), 0);
    ks_meta_free(&m);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.enc, RDB_ENC_COMPACT);
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        const char *p = rdb_value_item(&v, i, &n);
        bool found = false;
        for (int j = 0; j < 3; j++)
            found = found || (strlen(a[j]) == n && memcmp(a[j], p, n) == 0);
        assert_true(found);
    }
    rdb_value_free(&v);

    /* over a set with other members, with an expiry: exactly the new members */
    const char *b[] = {"x", "y", "3", "4", "5"};
    add(&f, "b", b, 5);
    const char *gone[] = {"4", "5"};
    rem(&f, "b", gone, 2); /* a deleted count in its metadata */
    store_strings(&f, "b", a, 3, 4102444800000);
    assert_int_equal(card(&f, "b"), 3);
    assert_string_equal(encoding(&f, "b"), "intset"); /* Redis's RESTORE: by the members */
    set_list l = members_of(&f, "b");
    assert_int_equal(l.n, 3);
    assert_false(list_has(&l, "x"));
    set_list_free(&l);
    ref_of(&f, "b", &m);
    assert_int_equal(m.expire_at_ms, 4102444800000);
    assert_int_equal(m.extralen, 9);
    assert_int_equal(ks_be64(m.extra + 1), 0); /* nothing deleted from the new version */
    ks_meta_free(&m);

    /* a member that is no integer, or more than SET_INTSET_MAX: a hashtable, whose flag
       DUMP reads back */
    store_strings(&f, "c", b, 5, 0);
    assert_string_equal(encoding(&f, "c"), "hashtable");
    ref_of(&f, "c", &m);
    assert_int_equal(m.expire_at_ms, 0);
    assert_int_equal(set_load(&f.ks, 0, "c", 1, &m, &v), 0);
    assert_int_equal(v.enc, RDB_ENC_BIG);
    rdb_value_free(&v);
    ks_meta_free(&m);
    static char buf[SET_INTSET_MAX + 1][8];
    const char *ints[SET_INTSET_MAX + 1];
    for (int i = 0; i <= SET_INTSET_MAX; i++) {
        snprintf(buf[i], sizeof buf[i], "%d", i);
        ints[i] = buf[i];
    }
    store_strings(&f, "d", ints, SET_INTSET_MAX, 0);
    assert_string_equal(encoding(&f, "d"), "intset");
    store_strings(&f, "d", ints, SET_INTSET_MAX + 1, 0);
    assert_string_equal(encoding(&f, "d"), "hashtable");
    assert_int_equal(card(&f, "d"), SET_INTSET_MAX + 1);
    assert_int_equal(f.ks.count[0], 4);
    close_all(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_counts_exact),
        cmocka_unit_test(test_set_encoding_sticky),
        cmocka_unit_test(test_set_ops_match_model),
        cmocka_unit_test(test_set_random_uniform),
        cmocka_unit_test(test_set_pop_removes),
        cmocka_unit_test(test_set_store_replaces),
        cmocka_unit_test(test_set_rewrite_after_deletions),
        cmocka_unit_test(test_set_rewrite_big_set),
        cmocka_unit_test(test_set_pick_on_million_is_a_seek),
        cmocka_unit_test(test_set_load_and_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_skiplist.c - the skiplist's order against a sorted model: keys with long shared
 * prefixes (longer than the offset cap), keys that are prefixes of each other, zero
 * bytes, more key families than reference slots, many versions of one key; seeks to
 * keys present and absent both ways; one writer with concurrent readers.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "format.h"
#include "skiplist.h"
#include "testutil.h"

/* An internal key built in a caller's buffer. */
typedef struct tkey {
    char b[400];
    size_t len;
} tkey;

static void make_ikey(tkey *k, const char *user, size_t ulen, uint64_t seq)
{
    assert_true(ulen + TRAILER_SIZE <= sizeof k->b);
    memcpy(k->b, user, ulen);
    encode_fixed64(k->b + ulen, pack_trailer(seq, KIND_VALUE));
    k->len = ulen + TRAILER_SIZE;
}

static slice tkey_slice(const tkey *k)
{
    return slice_make(k->b, k->len);
}

static skip_node *insert(skiplist *sl, const tkey *k)
{
    skip_node *n;
    char *p = skiplist_alloc_entry(sl, k->len, &n);
    assert_non_null(p);
    memcpy(p, k->b, k->len);
    skiplist_insert_node(sl, n, p, (uint32_t)k->len);
    return n;
}

static slice node_key(const skip_node *n)
{
    return slice_make(n->ikey, n->ikey_len);
}

/*
 * A user key from one of several families, chosen to hit the comparison's corners:
 * a long shared prefix (past SKIPLIST_MAX_OFF), keys that are prefixes of each other and
 * differ by trailing zero bytes, short binary keys, server-like keys ('m' + id + text),
 * and many small families so that the reference slots run out.
 */
static size_t random_user_key(uint64_t *rnd, char *out)
{
    uint64_t f = tu_rand_below(rnd, 7);
    switch (f) {
    case 0: { /* 300 shared bytes, then a short tail */
        memset(out, 'p', 300);
        size_t tail = tu_rand_below(rnd, 4);
        for (size_t i = 0; i < tail; i++)
            out[300 + i] = (char)('a' + tu_rand_below(rnd, 3));
        return 300 + tail;
    }
    case 1: { /* "a" followed by 0-10 bytes from {0, 1, 'a'}: prefixes of each other */
        out[0] = 'a';
        size_t n = 1 + tu_rand_below(rnd, 11);
        for (size_t i = 1; i < n; i++) {
            uint64_t c = tu_rand_below(rnd, 3);
            out[i] = c == 0 ? 0 : c == 1 ? 1 : 'a';
        }
        return n;
    }
    case 2: { /* 0-3 random bytes, including the empty key */
        size_t n = tu_rand_below(rnd, 4);
        for (size_t i = 0; i < n; i++)
            out[i] = (char)tu_rand_below(rnd, 256);
        return n;
    }
    case 3: /* a server's metadata key */
        out[0] = 'm';
        memset(out + 1, 0, 4);
        return 5 + (size_t)snprintf(out + 5, 40, "key:%012llu",
                                    (unsigned long long)tu_rand_below(rnd, 1000));
    case 4: /* a key at the cap's edge: 250-260 shared bytes, then one differing byte */
    {
        size_t n = 250 + tu_rand_below(rnd, 11);
        memset(out, 'q', n);
        out[n] = (char)('a' + tu_rand_below(rnd, 3));
        return n + 1;
    }
    default: { /* one of 20 small families "famNN/" + 12 shared bytes + 2 bytes */
        int n = snprintf(out, 64, "fam%02d/xxxxxxxxxxxx%02d", (int)tu_rand_below(rnd, 20),
                         (int)tu_rand_below(rnd, 30));
        return (size_t)n;
    }
    }
}

static int cmp_tkey(const void *a, const void *b)
{
    return ikey_compare(tkey_slice(a), tkey_slice(b));
}

/* The first model key >= target (index; n when none). */
static size_t model_lower_bound(const tkey *model, size_t n, slice target)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ikey_compare(tkey_slice(&model[mid]), target) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void test_skiplist_matches_sorted_model(void **state)
{
    uint64_t rnd = tu_seed();
    arena *a = arena_new(1 << 16);
    skiplist sl;
    assert_int_equal(skiplist_init(&sl, a), 0);
    enum { N = 6000 };
    tkey *model = malloc(N * sizeof *model);
    skip_node **nodes = malloc(N * sizeof *nodes);
    size_t n = 0, hinted = 0;
    char user[400];
    for (uint64_t seq = 1; n < N; seq++) {
        size_t ulen = random_user_key(&rnd, user);
        make_ikey(&model[n], user, ulen, seq); /* seq is unique: no duplicate ikeys */
        if (n && tu_rand_below(&rnd, 2)) {
            /* a hint that is mostly wrong: any earlier node; it must be checked */
            skip_node *hint = nodes[tu_rand_below(&rnd, n)];
            char *p = skiplist_alloc_entry(&sl, model[n].len, &nodes[n]);
            assert_non_null(p);
            memcpy(p, model[n].b, model[n].len);
            skiplist_insert_before(&sl, nodes[n], p, (uint32_t)model[n].len, hint);
            hinted++;
        } else {
            nodes[n] = insert(&sl, &model[n]);
        }
        n++;
    }
    assert_true(hinted > N / 3);
    assert_true(sl.nrefs == SKIPLIST_MAX_REFS); /* more families than slots */
    qsort(model, n, sizeof *model, cmp_tkey);

    size_t i = 0;
    for (skip_node *x = skiplist_first(&sl); x; x = skip_node_next(x), i++) {
        assert_true(i < n);
        assert_int_equal(ikey_compare(node_key(x), tkey_slice(&model[i])), 0);
    }
    assert_int_equal(i, n);
    assert_int_equal(ikey_compare(node_key(skiplist_last(&sl)), tkey_slice(&model[n - 1])), 0);

    /* seeks to keys present, and to absent ones (other families, other sequences) */
    for (int t = 0; t < 20000; t++) {
        tkey target;
        if (t % 2 == 0) {
            target = model[tu_rand_below(&rnd, n)];
            if (t % 4 == 0) /* same user key, another snapshot */
                encode_fixed64(target.b + target.len - TRAILER_SIZE,
                               pack_trailer(tu_rand_below(&rnd, N + 2), KIND_FOR_SEEK));
        } else {
            size_t ulen = random_user_key(&rnd, user);
            if (t % 3 == 0 && ulen)
                ulen--; /* a prefix of some key */
            make_ikey(&target, user, ulen, tu_rand_below(&rnd, N + 2));
        }
        slice ts = tkey_slice(&target);
        size_t lb = model_lower_bound(model, n, ts);
        skip_node *ge = skiplist_seek(&sl, ts);
        if (lb == n)
            assert_null(ge);
        else
            assert_int_equal(ikey_compare(node_key(ge), tkey_slice(&model[lb])), 0);
        skip_node *lt = skiplist_seek_lt(&sl, ts);
        if (lb == 0)
            assert_null(lt);
        else
            assert_int_equal(ikey_compare(node_key(lt), tkey_slice(&model[lb - 1])), 0);
    }
    free(model);
    free(nodes);
    arena_free(a);
}

/* Keys that are prefixes of each other, or differ only by trailing zero bytes (which
   zero-padded windows cannot tell apart), and versions of one key: exact order. */
static void test_skiplist_prefix_keys_exact_order(void **state)
{
    arena *a = arena_new(1 << 16);
    skiplist sl;
    assert_int_equal(skiplist_init(&sl, a), 0);
    static const struct {
        const char *user;
        size_t len;
        uint64_t seq;
    } want[] = {
        {"", 0, 3},
        {"a", 1, 9},
        {"a", 1, 4},
        {"a", 1, 1},
        {"a\0", 2, 2},
        {"a\0\0", 3, 7},
        {"a\0\0\0\0\0\0\0\0", 9, 5},
        {"a\0\0\0\0\0\0\0\0\0", 10, 6},
        {"a\0\1", 3, 8},
        {"a\1", 2, 10},
        {"ab", 2, 11},
        {"b", 1, 12},
    };
    const size_t n = sizeof want / sizeof want[0];
    const size_t order[] = {11, 1, 6, 0, 7, 3, 10, 2, 5, 9, 4, 8}; /* insertion order */
    tkey k;
    for (size_t i = 0; i < n; i++) {
        size_t w = order[i];
        make_ikey(&k, want[w].user, want[w].len, want[w].seq);
        insert(&sl, &k);
    }
    size_t i = 0;
    for (skip_node *x = skiplist_first(&sl); x; x = skip_node_next(x), i++) {
        make_ikey(&k, want[i].user, want[i].len, want[i].seq);
        assert_int_equal(ikey_compare(node_key(x), tkey_slice(&k)), 0);
        assert_ptr_equal(skiplist_seek(&sl, tkey_slice(&k)), x);
    }
    assert_int_equal(i, n);
    arena_free(a);
}

typedef struct reader_arg {
    skiplist *sl;
    atomic_int *stop;
    uint64_t seed;
    int errors;
    long seeks;
} reader_arg;

static size_t server_key(char *out, uint64_t i)
{
    out[0] = i % 5 == 0 ? 'x' : 'm';
    memset(out + 1, 0, 4);
    return 5 + (size_t)snprintf(out + 5, 40, "key:%012llu", (unsigned long long)i);
}

/* Seeks while the writer inserts: the node found is >= the target, the one before it
   (seek_lt) is < it, and a short walk from there is in order. */
static void *reader(void *p)
{
    reader_arg *r = p;
    char user[64];
    tkey t;
    while (!atomic_load(r->stop)) {
        size_t ulen = server_key(user, tu_rand_below(&r->seed, 20000));
        make_ikey(&t, user, ulen, UINT64_MAX >> 8);
        slice ts = tkey_slice(&t);
        skip_node *ge = skiplist_seek(r->sl, ts);
        if (ge && ikey_compare(node_key(ge), ts) < 0)
            r->errors++;
        skip_node *lt = skiplist_seek_lt(r->sl, ts);
        if (lt && ikey_compare(node_key(lt), ts) >= 0)
            r->errors++;
        skip_node *prev = ge;
        for (int i = 0; ge && i < 20; i++) {
            skip_node *nx = skip_node_next(prev);
            if (!nx)
                break;
            if (ikey_compare(node_key(prev), node_key(nx)) >= 0)
                r->errors++;
            prev = nx;
        }
        r->seeks++;
    }
    return NULL;
}

static void test_skiplist_one_writer_concurrent_readers(void **state)
{
    arena *a = arena_new(1 << 20);
    skiplist sl;
    assert_int_equal(skiplist_init(&sl, a), 0);
    atomic_int stop = 0;
    reader_arg r[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        r[i] = (reader_arg){&sl, &stop, tu_seed() + (uint64_t)i + 1, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &r[i]), 0);
    }
    char user[64];
    tkey k;
    enum { KEYS = 20000 };
    skip_node **newest = calloc(KEYS, sizeof *newest);
    for (uint64_t i = 0; i < 100000; i++) { /* 5 versions of each key, the later ones
                                               linked before the newest without descent */
        uint64_t key = i * 7919 % KEYS;
        size_t ulen = server_key(user, key);
        make_ikey(&k, user, ulen, i + 1);
        if (!newest[key]) {
            newest[key] = insert(&sl, &k);
            continue;
        }
        skip_node *n;
        char *p = skiplist_alloc_entry(&sl, k.len, &n);
        assert_non_null(p);
        memcpy(p, k.b, k.len);
        skiplist_insert_before(&sl, n, p, (uint32_t)k.len, newest[key]);
        newest[key] = n;
    }
    free(newest);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].errors, 0);
    }
    arena_free(a);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skiplist_matches_sorted_model),
        cmocka_unit_test(test_skiplist_prefix_keys_exact_order),
        cmocka_unit_test(test_skiplist_one_writer_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

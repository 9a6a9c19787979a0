/*
 * test_memtable.c - arena, skiplist and memtable: versions by sequence, kinds, iteration
 * both ways, and one writer with concurrent readers.
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
#include "bloom.h"
#include "format.h"
#include "memtable.h"
#include "testutil.h"

static void test_memtable_arena_alignment_and_usage(void **state)
{
    arena *a = arena_new(4096);
    size_t total = 0;
    for (int i = 1; i < 2000; i++) {
        char *p = arena_alloc(a, (size_t)(i % 37 + 1));
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        memset(p, 1, (size_t)(i % 37 + 1));
        total += (size_t)((i % 37 + 1 + 7) & ~7);
    }
    char *big = arena_alloc(a, 100000);
    assert_non_null(big);
    memset(big, 2, 100000);
    assert_true(arena_memory_usage(a) >= total + 100000);
    arena_free(a);
    arena_free(NULL);
}

/* Huge-block arenas map their blocks: allocations stay aligned and usable across block
   boundaries, big ones get their own block, and mapped tables come zeroed and aligned. */
static void test_memtable_arena_huge_blocks(void **state)
{
    arena *a = arena_new(ARENA_HUGE_BLOCK);
    size_t total = 0;
    for (int i = 0; i < 40000; i++) { /* about 5 blocks */
        size_t n = (size_t)(i % 251 + 1);
        char *p = arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        memset(p, 3, n);
        total += (n + 7) & ~(size_t)7;
    }
    char *big = arena_alloc(a, ARENA_HUGE_BLOCK); /* more than a block's quarter */
    assert_non_null(big);
    memset(big, 4, ARENA_HUGE_BLOCK);
    assert_true(arena_memory_usage(a) >= total + ARENA_HUGE_BLOCK);
    arena_free(a);

    size_t sizes[] = {100, ARENA_HUGE_BLOCK, 2 * ARENA_HUGE_BLOCK + 8};
    for (int i = 0; i < 3; i++) {
        unsigned char *t = arena_map_zeroed(sizes[i]);
        assert_non_null(t);
        if (sizes[i] >= ARENA_HUGE_BLOCK)
            assert_int_equal((uintptr_t)t % ARENA_HUGE_BLOCK, 0);
        for (size_t j = 0; j < sizes[i]; j += 4093)
            assert_int_equal(t[j], 0);
        assert_int_equal(t[sizes[i] - 1], 0);
        memset(t, 5, sizes[i]);
        arena_unmap(t, sizes[i]);
    }
    arena_unmap(NULL, 100);
}

/* A freed huge-block arena's blocks serve the next arena (no new mapping to fault in),
   hold no promise of zeroes, and a memtable built on them works. */
static void test_memtable_arena_blocks_recycled(void **state)
{
    arena *a = arena_new(ARENA_HUGE_BLOCK);
    for (int i = 0; i < 160; i++) /* 4 a block: 40 blocks, more than the pool keeps */
        assert_non_null(arena_alloc(a, ARENA_HUGE_BLOCK / 4 - 64));
    arena_free(a);
    assert_int_equal(arena_pool_blocks(), 32);
    arena *b = arena_new(ARENA_HUGE_BLOCK);
    char *p = arena_alloc(b, 64);
    assert_non_null(p);
    assert_int_equal(arena_pool_blocks(), 31); /* taken from the pool, not mapped */
    memset(p, 0x5a, 64);
    arena_free(b);
    assert_int_equal(arena_pool_blocks(), 32);

    for (int round = 0; round < 3; round++) { /* memtables on recycled, dirty blocks */
        memtable *m;
        assert_int_equal(memtable_new(&m), 0);
        char k[32], v[32];
        for (int i = 0; i < 30000; i++) {
            snprintf(k, sizeof k, "key%06d", i * 7 % 30000);
            snprintf(v, sizeof v, "v%d-%d", round, i);
            assert_int_equal(
                memtable_add(m, (uint64_t)i + 1, KIND_VALUE, slice_from_str(k), slice_from_str(v)),
                0);
        }
        int kind;
        slice got;
        assert_true(memtable_get(m, slice_from_str("key000007"), UINT64_MAX >> 8, &kind, &got));
        snprintf(v, sizeof v, "v%d-1", round);
        assert_true(slice_equal(got, slice_from_str(v)));
        iter *it = memtable_iter_new(m);
        int n = 0;
        for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
            n++;
        assert_int_equal(n, 30000);
        iter_free(it);
        memtable_unref(m);
    }
}

static void put(memtable *m, const char *k, uint64_t seq, int kind, const char *v)
{
    assert_int_equal(memtable_add(m, seq, kind, slice_from_str(k), slice_from_str(v ? v : "")), 0);
}

static void test_memtable_versions_and_kinds(void **state)
{
    memtable *m;
    assert_int_equal(memtable_new(&m), 0);
    put(m, "b", 1, KIND_VALUE, "b1");
    put(m, "b", 5, KIND_VALUE, "b5");
    put(m, "b", 9, KIND_DELETE, NULL);
    put(m, "a", 2, KIND_VALUE, "a2");
    put(m, "c", 3, KIND_VALUE, "c3");
    int kind;
    slice v;
    assert_true(memtable_get(m, slice_from_str("b"), 100, &kind, &v));
    assert_int_equal(kind, KIND_DELETE);
    assert_true(memtable_get(m, slice_from_str("b"), 8, &kind, &v));
    assert_int_equal(kind, KIND_VALUE);
    assert_true(slice_equal(v, slice_from_str("b5")));
    assert_true(memtable_get(m, slice_from_str("b"), 4, &kind, &v));
    assert_true(slice_equal(v, slice_from_str("b1")));
    assert_false(memtable_get(m, slice_from_str("b"), 0, &kind, &v));
    assert_false(memtable_get(m, slice_from_str("bb"), 100, &kind, &v));
    assert_false(memtable_get(m, slice_from_str("a"), 1, &kind, &v));
    assert_int_equal(memtable_num_entries(m), 5);
    assert_int_equal(memtable_num_deletes(m), 1);

    /* internal order: a@2, b@9, b@5, b@1, c@3 */
    const char *order[] = {"a2", "b9", "b5", "b1", "c3"};
    iter *it = memtable_iter_new(m);
    memtable_unref(m); /* the iterator keeps it alive */
    int i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), i++) {
        slice k = iter_key(it);
        char got[8];
        snprintf(got, sizeof got, "%.*s%d", (int)(k.len - 8), k.data, (int)ikey_seq(k));
        assert_string_equal(got, order[i]);
    }
    assert_int_equal(i, 5);
    for (iter_seek_to_last(it), i = 4; iter_valid(it); iter_prev(it), i--) {
        slice k = iter_key(it);
        char got[8];
        snprintf(got, sizeof got, "%.*s%d", (int)(k.len - 8), k.data, (int)ikey_seq(k));
        assert_string_equal(got, order[i]);
    }
    assert_int_equal(i, -1);
    buf t = {0};
    ikey_append(&t, slice_from_str("b"), 6, KIND_FOR_SEEK);
    iter_seek(it, buf_slice(&t));
    assert_int_equal(ikey_seq(iter_key(it)), 5);
    iter_seek_for_prev(it, buf_slice(&t));
    assert_int_equal(ikey_seq(iter_key(it)), 9);
    t.len = 0;
    ikey_append(&t, slice_from_str("0"), 6, KIND_FOR_SEEK);
    iter_seek_for_prev(it, buf_slice(&t));
    assert_false(iter_valid(it));
    buf_free(&t);
    iter_free(it);
}

typedef struct rd {
    memtable *m;
    atomic_int *stop;
    int errors;
} rd;

static void *reader(void *p)
{
    rd *r = p;
    uint64_t s = (uint64_t)(uintptr_t)p;
    while (!atomic_load(r->stop)) {
        char k[32];
        int i = (int)tu_rand_below(&s, 200000);
        snprintf(k, sizeof k, "key%08d", i);
        int kind;
        slice v;
        if (memtable_get(r->m, slice_from_str(k), UINT64_MAX >> 8, &kind, &v)) {
            char want[32];
            snprintf(want, sizeof want, "v%d", i);
            if (!slice_equal(v, slice_from_str(want)))
                r->errors++;
        }
        iter *it = memtable_iter_new(r->m);
        buf pb = {0};
        int n = 0;
        for (iter_seek_to_first(it); iter_valid(it) && n < 100; iter_next(it), n++) {
            slice cur = iter_key(it);
            if (pb.len && ikey_compare(buf_slice(&pb), cur) >= 0)
                r->errors++;
            buf_set(&pb, cur.data, cur.len);
        }
        buf_free(&pb);
        iter_free(it);
    }
    return NULL;
}

/* Many versions of a few hot keys among many cold ones (overwrites link next to the
   newest version without a descent): the list must stay in internal-key order, every
   seek must land right, every snapshot must read its own version. */
static void test_memtable_hot_key_versions_stay_ordered(void **state)
{
    memtable *m;
    assert_int_equal(memtable_new(&m), 0);
    uint64_t rnd = tu_seed();
    uint64_t seq = 0;
    char k[32], v[32];
    for (int i = 0; i < 20000; i++) {
        bool hot = tu_rand_below(&rnd, 3) == 0;
        snprintf(k, sizeof k, hot ? "hot%02d" : "cold%06d",
                 (int)tu_rand_below(&rnd, hot ? 8 : 100000));
        snprintf(v, sizeof v, "%llu", (unsigned long long)++seq);
        assert_int_equal(memtable_add(m, seq, KIND_VALUE, slice_from_str(k), slice_from_str(v)), 0);
    }
    iter *it = memtable_iter_new(m);
    buf prev = {0};
    uint64_t n = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), n++) {
        slice key = iter_key(it);
        if (n)
            assert_true(ikey_compare(buf_slice(&prev), key) < 0);
        buf_set(&prev, key.data, key.len);
        /* the value is the entry's own sequence; a read at that snapshot finds it */
        int kind;
        slice val;
        assert_true(memtable_get(m, ikey_user_key(key), ikey_seq(key), &kind, &val));
        char num[32];
        snprintf(num, sizeof num, "%.*s", (int)val.len, val.data);
        assert_int_equal(strtoull(num, NULL, 10), ikey_seq(key));
        /* and a seek to it lands on it */
        iter *s2 = memtable_iter_new(m);
        iter_seek(s2, key);
        assert_true(iter_valid(s2) && ikey_compare(iter_key(s2), key) == 0);
        iter_free(s2);
    }
    assert_int_equal(n, 20000);
    buf_free(&prev);
    iter_free(it);
    memtable_unref(m);
}

static void test_memtable_one_writer_many_readers(void **state)
{
    memtable *m;
    assert_int_equal(memtable_new(&m), 0);
    atomic_int stop = 0;
    rd r[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (rd){m, &stop, 0};
        pthread_create(&th[i], NULL, reader, &r[i]);
    }
    for (int i = 0; i < 200000; i++) {
        char k[32], v[32];
        int key = (int)((uint64_t)i * 7919 % 200000);
        snprintf(k, sizeof k, "key%08d", key);
        snprintf(v, sizeof v, "v%d", key);
        put(m, k, (uint64_t)i + 1, KIND_VALUE, v);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].errors, 0);
    }
    memtable_unref(m);
}

/* A reader hashes a key once (bloom_hash) for the filters and every memtable: the
   memtable's bucket hash must be that same value. */
static void test_memtable_get_hashed_uses_bloom_hash(void **state)
{
    memtable *m;
    assert_int_equal(memtable_new(&m), 0);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "key%05d", i);
        assert_int_equal(
            memtable_add(m, (uint64_t)i + 1, KIND_VALUE, slice_from_str(k), slice_from_str("v")),
            0);
    }
    int kind, wrong = 0;
    slice v;
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "key%05d", i);
        uint64_t h = bloom_hash(slice_from_str(k));
        memtable_prefetch(m, h);
        assert_true(
            memtable_get_hashed(m, slice_from_str(k), h, UINT64_MAX >> 8, &kind, &v, NULL));
        assert_true(slice_equal(v, slice_from_str("v")));
        wrong += memtable_get_hashed(m, slice_from_str(k), h + 1, UINT64_MAX >> 8, &kind, &v, NULL);
    }
    assert_int_equal(wrong, 0); /* another hash looks in another bucket */
    memtable_unref(m);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memtable_arena_alignment_and_usage),
        cmocka_unit_test(test_memtable_arena_huge_blocks),
        cmocka_unit_test(test_memtable_arena_blocks_recycled),
        cmocka_unit_test(test_memtable_versions_and_kinds),
        cmocka_unit_test(test_memtable_hot_key_versions_stay_ordered),
        cmocka_unit_test(test_memtable_one_writer_many_readers),
        cmocka_unit_test(test_memtable_get_hashed_uses_bloom_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

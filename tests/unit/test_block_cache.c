/* test_block_cache.c - CLOCK eviction, charges, pinned handles, erase, stats, threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "block_cache.h"

static int freed;
static void count_free(void *v)
{
    (void)v;
    __atomic_fetch_add(&freed, 1, __ATOMIC_RELAXED);
}

static void test_block_cache_clock_and_pins(void **state)
{
    block_cache *c;
    assert_int_equal(block_cache_new(3, 0, &c), 0);
    freed = 0;
    for (uint64_t i = 1; i <= 3; i++)
        block_cache_release(c, block_cache_insert(c, i, 0, (void *)(uintptr_t)i, 1, count_free));
    /* a hit on 1 sets its visited bit: the clock hand takes an unvisited entry first */
    cache_handle *h = block_cache_lookup(c, 1, 0);
    assert_non_null(h);
    assert_int_equal((uintptr_t)block_cache_value(h), 1);
    block_cache_release(c, h);
    block_cache_release(c, block_cache_insert(c, 4, 0, (void *)4, 1, count_free));
    assert_int_equal(freed, 1);
    h = block_cache_lookup(c, 1, 0);
    assert_non_null(h);
    block_cache_release(c, h);
    cache_handle *h2 = block_cache_lookup(c, 2, 0), *h3 = block_cache_lookup(c, 3, 0);
    assert_true((h2 == NULL) != (h3 == NULL)); /* exactly one of the unvisited two went */
    cache_handle *pin = h2 ? h2 : h3;
    uintptr_t pinned = (uintptr_t)block_cache_value(pin);
    /* a pinned entry survives eviction until released */
    block_cache_release(c, block_cache_insert(c, 5, 0, (void *)5, 1, count_free));
    block_cache_release(c, block_cache_insert(c, 6, 0, (void *)6, 1, count_free));
    assert_int_equal((uintptr_t)block_cache_value(pin), pinned);
    block_cache_erase(c, pinned, 0);
    int before = freed;
    block_cache_release(c, pin);
    assert_int_equal(freed, before + 1);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    assert_true(st.hits >= 3);
    assert_true(st.misses >= 1);
    assert_true(st.usage <= 3);
    /* replacing a key frees the old value */
    before = freed;
    block_cache_release(c, block_cache_insert(c, 6, 0, (void *)66, 1, count_free));
    assert_int_equal(freed, before + 1);
    block_cache_set_capacity(c, 1);
    block_cache_get_stats(c, &st);
    assert_true(st.usage <= 1);
    block_cache_free(c);
}

/* An entry hit between two passes of the hand outlives entries never hit, however many
   blocks stream through (scan resistance of the visited bit). */
static void test_block_cache_clock_keeps_hot_entry(void **state)
{
    block_cache *c;
    assert_int_equal(block_cache_new(8, 0, &c), 0);
    block_cache_release(c, block_cache_insert(c, 1000, 0, NULL, 1, NULL));
    for (uint64_t i = 0; i < 500; i++) {
        cache_handle *h = block_cache_lookup(c, 1000, 0);
        assert_non_null(h);
        block_cache_release(c, h);
        block_cache_release(c, block_cache_insert(c, i, 0, NULL, 1, NULL));
    }
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    assert_true(st.usage <= 8);
    assert_int_equal(st.evictions, 500 + 1 - 8);
    block_cache_free(c);
}

/* Referenced entries are never evicted; once released over capacity, the cache trims
   back at the release. A zero capacity keeps nothing past its last handle. */
static void test_block_cache_over_capacity_trims_on_release(void **state)
{
    block_cache *c;
    assert_int_equal(block_cache_new(4, 0, &c), 0);
    freed = 0;
    cache_handle *hs[10];
    for (uint64_t i = 0; i < 10; i++)
        hs[i] = block_cache_insert(c, i, 1, (void *)(uintptr_t)i, 1, count_free);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    assert_int_equal(st.usage, 10); /* all pinned */
    assert_int_equal(freed, 0);
    for (uint64_t i = 0; i < 10; i++) {
        assert_int_equal((uintptr_t)block_cache_value(hs[i]), i);
        block_cache_release(c, hs[i]);
    }
    block_cache_get_stats(c, &st);
    assert_true(st.usage <= 4);
    assert_int_equal(freed, 10 - (int)st.usage);
    block_cache_free(c);

    assert_int_equal(block_cache_new(0, 2, &c), 0);
    cache_handle *h = block_cache_insert(c, 7, 7, NULL, 100, NULL);
    assert_non_null(h);
    block_cache_release(c, h);
    assert_null(block_cache_lookup(c, 7, 7));
    block_cache_free(c);
}

/* Many keys: the slot table grows, and erase's backward shift keeps every other key
   findable (checked against the set of keys that must still be there). */
static void test_block_cache_grow_and_erase(void **state)
{
    block_cache *c;
    assert_int_equal(block_cache_new(100000, 1, &c), 0);
    for (uint64_t i = 0; i < 5000; i++)
        block_cache_release(
            c, block_cache_insert(c, i / 7, i % 7, (void *)(uintptr_t)(i + 1), 1, NULL));
    for (uint64_t i = 0; i < 5000; i += 3)
        block_cache_erase(c, i / 7, i % 7);
    for (uint64_t i = 0; i < 5000; i++) {
        cache_handle *h = block_cache_lookup(c, i / 7, i % 7);
        if (i % 3 == 0) {
            assert_null(h);
        } else {
            assert_non_null(h);
            assert_int_equal((uintptr_t)block_cache_value(h), i + 1);
            block_cache_release(c, h);
        }
    }
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    assert_int_equal(st.usage, 5000 - 1667);
    block_cache_free(c);
}

static block_cache *shared;
static void *worker(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg * 2654435761u;
    for (int i = 0; i < 100000; i++) {
        s = s * 6364136223846793005ULL + 1;
        uint64_t k = (s >> 33) % 500;
        cache_handle *h = block_cache_lookup(shared, k, 7);
        if (!h)
            h = block_cache_insert(shared, k, 7, (void *)(uintptr_t)(k + 1), 1, NULL);
        if ((uintptr_t)block_cache_value(h) != k + 1)
            return (void *)1;
        block_cache_release(shared, h);
    }
    return NULL;
}

static void test_block_cache_threads(void **state)
{
    assert_int_equal(block_cache_new(100, 3, &shared), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    block_cache_free(shared);
}

/* Lookups, inserts, replacements, erases and releases from several threads on a small
   cache: every handle sees its own key's value, and every value is freed exactly once. */
static atomic_int boxes_made, boxes_freed;
static void box_free(void *v)
{
    atomic_fetch_add(&boxes_freed, 1);
    free(v);
}

static void *churn(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 100000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t k = (s >> 33) % 300, op = (s >> 20) % 16;
        if (op == 0) {
            block_cache_erase(shared, k, 9);
            continue;
        }
        cache_handle *h = op == 1 ? NULL : block_cache_lookup(shared, k, 9);
        if (!h) {
            uint64_t *box = malloc(sizeof *box);
            if (!box)
                return (void *)1;
            *box = k;
            atomic_fetch_add(&boxes_made, 1);
            h = block_cache_insert(shared, k, 9, box, 1 + k % 3, box_free);
        }
        if (*(uint64_t *)block_cache_value(h) != k)
            return (void *)1;
        block_cache_release(shared, h);
    }
    return NULL;
}

static void test_block_cache_threads_erase(void **state)
{
    assert_int_equal(block_cache_new(64, 2, &shared), 0);
    atomic_store(&boxes_made, 0);
    atomic_store(&boxes_freed, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    block_cache_stats st;
    block_cache_get_stats(shared, &st);
    assert_true(st.usage <= 64 + 4); /* rounding: 4 shards of 16 */
    block_cache_free(shared);
    assert_int_equal(atomic_load(&boxes_made), atomic_load(&boxes_freed));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_cache_clock_and_pins),
        cmocka_unit_test(test_block_cache_clock_keeps_hot_entry),
        cmocka_unit_test(test_block_cache_over_capacity_trims_on_release),
        cmocka_unit_test(test_block_cache_grow_and_erase),
        cmocka_unit_test(test_block_cache_threads_erase),
        cmocka_unit_test(test_block_cache_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

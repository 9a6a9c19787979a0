/* test_block_cache.c - LRU order, charges, pinned handles, erase, stats, threads. */
#include <pthread.h>
#include <setjmp.h>
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

static void test_block_cache_lru_and_pins(void **state)
{
    block_cache *c;
    assert_int_equal(block_cache_new(3, 0, &c), 0);
    freed = 0;
    for (uint64_t i = 1; i <= 3; i++)
        block_cache_release(c, block_cache_insert(c, i, 0, (void *)(uintptr_t)i, 1, count_free));
    /* touch 1 so that 2 is the oldest */
    cache_handle *h = block_cache_lookup(c, 1, 0);
    assert_non_null(h);
    assert_int_equal((uintptr_t)block_cache_value(h), 1);
    block_cache_release(c, h);
    block_cache_release(c, block_cache_insert(c, 4, 0, (void *)4, 1, count_free));
    assert_null(block_cache_lookup(c, 2, 0));
    assert_int_equal(freed, 1);
    /* a pinned entry survives eviction until released */
    cache_handle *pin = block_cache_lookup(c, 3, 0);
    block_cache_release(c, block_cache_insert(c, 5, 0, (void *)5, 1, count_free));
    block_cache_release(c, block_cache_insert(c, 6, 0, (void *)6, 1, count_free));
    assert_int_equal((uintptr_t)block_cache_value(pin), 3);
    block_cache_erase(c, 3, 0);
    int before = freed;
    block_cache_release(c, pin);
    assert_int_equal(freed, before + 1);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    assert_true(st.hits >= 2);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_cache_lru_and_pins),
        cmocka_unit_test(test_block_cache_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_access.c - the in-memory LRU/LFU table: entries against a model through inserts,
   growth and deletions (backward-shift deletion keeps every other entry findable), the
   memory budget dropping the least recently used, the LFU counter's growth and decay, and
   what RESTORE sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "access.h"
#include "testutil.h"

#define T0 1000000u /* the table's start, in ms */

static size_t key_of(char *buf, int i)
{
    return (size_t)snprintf(buf, 32, "key:%d", i);
}

static uint64_t idle_of(access_table *t, uint32_t phys, int i, uint64_t now)
{
    char k[32];
    size_t n = key_of(k, i);
    uint64_t idle;
    unsigned lfu;
    access_get(t, phys, k, n, now, 1, &idle, &lfu);
    return idle;
}

static void test_access_model_through_growth_and_deletes(void **state)
{
    uint64_t seed = tu_seed(), rnd = seed;
    access_table t;
    assert_int_equal(access_init(&t, T0), 0);
    enum { N = 20000 };
    static bool present[2][N];
    memset(present, 0, sizeof present);
    char k[32];
    for (int round = 0; round < 4 * N; round++) {
        int i = (int)tu_rand_below(&rnd, N);
        uint32_t phys = (uint32_t)tu_rand_below(&rnd, 2);
        size_t n = key_of(k, i);
        if (tu_rand_below(&rnd, 3) == 0) {
            access_forget(&t, phys, k, n);
            present[phys][i] = false;
        } else {
            access_touch(&t, phys, k, n, T0 + 5000, 10, 1);
            present[phys][i] = true;
        }
    }
    size_t used = 0;
    for (uint32_t phys = 0; phys < 2; phys++)
        for (int i = 0; i < N; i++) {
            uint64_t idle = idle_of(&t, phys, i, T0 + 65000);
            if (idle != (present[phys][i] ? 60u : 65u))
                fail_msg("key %d in %u: idle %llu, model says %s (seed %llu)", i, phys,
                         (unsigned long long)idle, present[phys][i] ? "touched" : "absent",
                         (unsigned long long)seed);
            used += present[phys][i];
        }
    assert_int_equal(t.used, used);
    const access_entry *sample[16];
    assert_int_equal(access_sample(&t, sample, 16), 16);
    access_free(&t);
}

static void test_access_trim_keeps_recent_entries(void **state)
{
    access_table t;
    assert_int_equal(access_init(&t, T0), 0);
    char k[32];
    for (int i = 0; i < 20000; i++)
        access_touch(&t, 1, k, key_of(k, i), T0 + (i < 10000 ? 1000 : 100000), 10, 1);
    size_t before = t.bytes, budget = before / 2;
    access_trim(&t, budget);
    assert_true(t.bytes <= budget);
    int old_kept = 0, new_kept = 0;
    for (int i = 0; i < 20000; i++) {
        bool kept = idle_of(&t, 1, i, T0 + 200000) != 200;
        if (kept && i < 10000)
            old_kept++;
        else if (kept)
            new_kept++;
    }
    /* sampling 8 and dropping the oldest: what stays is nearly all recent */
    if (new_kept == 0 || old_kept * 20 > new_kept)
        fail_msg("kept %d old and %d recent entries", old_kept, new_kept);
    assert_int_equal((size_t)(old_kept + new_kept), t.used);
    access_free(&t);
}

static void test_access_lfu_grows_logarithmically_and_decays(void **state)
{
    access_table t;
    assert_int_equal(access_init(&t, T0), 0);
    uint64_t idle;
    unsigned lfu;
    access_get(&t, 0, "x", 1, T0, 1, &idle, &lfu);
    assert_int_equal(lfu, LFU_INIT_VAL); /* unknown keys count as new ones */
    for (int i = 0; i < 1000; i++)
        access_touch(&t, 0, "hot", 3, T0, 10, 1);
    access_touch(&t, 0, "cold", 4, T0, 10, 1);
    unsigned hot, cold;
    access_get(&t, 0, "hot", 3, T0, 1, &idle, &hot);
    access_get(&t, 0, "cold", 4, T0, 1, &idle, &cold);
    /* Redis's table for factor 10: about 18 after 1000 hits; +1 at most after one */
    assert_true(hot >= 12 && hot <= 24);
    assert_true(cold <= LFU_INIT_VAL + 1);
    unsigned later;
    access_get(&t, 0, "hot", 3, T0 + 5 * 60000, 1, &idle, &later); /* decay 1/min */
    assert_int_equal(later, hot - 5);
    access_get(&t, 0, "hot", 3, T0 + 5 * 60000, 0, &idle, &later); /* no decay */
    assert_int_equal(later, hot);
    access_free(&t);
}

/* RESTORE ... IDLETIME / FREQ: an idle time longer than the table has existed, and a
   counter, as given; a later touch makes the key recent again. */
static void test_access_set_idle_and_counter(void **state)
{
    (void)state;
    access_table t;
    assert_int_equal(access_init(&t, T0), 0);
    char k[32];
    size_t n = key_of(k, 7);
    uint64_t now = T0 + 5000, idle;
    unsigned lfu;
    access_set(&t, 0, k, n, now, 1000, 100);
    access_get(&t, 0, k, n, now, 1, &idle, &lfu);
    assert_int_equal(idle, 1000);
    assert_int_equal(lfu, 100);
    access_get(&t, 0, k, n, now + 3000, 1, &idle, &lfu);
    assert_int_equal(idle, 1003);
    access_set(&t, 0, k, n, now, 0, LFU_INIT_VAL); /* as a new key */
    access_get(&t, 0, k, n, now, 1, &idle, &lfu);
    assert_int_equal(idle, 0);
    assert_int_equal(lfu, LFU_INIT_VAL);
    access_set(&t, 0, k, n, now, 1000, 0);
    access_touch(&t, 0, k, n, now + 1000, 10, 1);
    assert_int_equal(idle_of(&t, 0, 7, now + 1000), 0);
    /* an untouched key still reads as idle since the table was made */
    assert_int_equal(idle_of(&t, 0, 8, T0 + 9000), 9);
    access_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_model_through_growth_and_deletes),
        cmocka_unit_test(test_access_trim_keeps_recent_entries),
        cmocka_unit_test(test_access_lfu_grows_logarithmically_and_decays),
        cmocka_unit_test(test_access_set_idle_and_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_tracking.c - the table of tracked keys (server/tracking/tr_keys.c): each id once
 * per key and the item count, a key taken out with its ids, growth past the first buckets
 * keeping every key, random picks emptying the table, a clear; and the byte order of
 * prefixes (tr_str_cmp) as Redis's radix tree lists them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tr_internal.h"

static void add(tr_keys *t, const char *key, uint64_t id)
{
    assert_int_equal(tr_keys_add(t, key, strlen(key), id), 0);
}

static void test_ids_once_per_key(void **state)
{
    (void)state;
    tr_keys t;
    assert_int_equal(tr_keys_init(&t), 0);
    add(&t, "a", 1);
    add(&t, "a", 1);
    add(&t, "a", 2);
    add(&t, "b", 1);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.items, 3);
    tr_key *k = tr_keys_take(&t, "a", 1);
    assert_non_null(k);
    assert_int_equal(k->nids, 2);
    assert_int_equal(k->ids[0], 1);
    assert_int_equal(k->ids[1], 2);
    tr_key_free(k);
    assert_null(tr_keys_take(&t, "a", 1));
    assert_int_equal(t.n, 1);
    assert_int_equal(t.items, 1);
    tr_keys_free(&t);
}

static void test_growth_keeps_keys(void **state)
{
    (void)state;
    tr_keys t;
    assert_int_equal(tr_keys_init(&t), 0);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        add(&t, key, (uint64_t)i % 7 + 1);
    }
    assert_int_equal(t.n, 1000);
    assert_true(t.nbuckets >= 1000);
    for (int i = 0; i < 1000; i += 3) {
        snprintf(key, sizeof key, "key:%d", i);
        tr_key *k = tr_keys_take(&t, key, strlen(key));
        assert_non_null(k);
        assert_int_equal(k->ids[0], (uint64_t)i % 7 + 1);
        tr_key_free(k);
    }
    assert_int_equal(t.n, 1000 - 334);
    tr_keys_free(&t);
}

static void test_random_empties(void **state)
{
    (void)state;
    tr_keys t;
    assert_int_equal(tr_keys_init(&t), 0);
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "k%d", i);
        add(&t, key, 1);
        add(&t, key, 2);
    }
    size_t taken = 0;
    tr_key *k;
    while ((k = tr_keys_take_random(&t)) != NULL) {
        assert_int_equal(k->nids, 2);
        tr_key_free(k);
        taken++;
    }
    assert_int_equal(taken, 300);
    assert_int_equal(t.n, 0);
    assert_int_equal(t.items, 0);
    add(&t, "again", 3);
    tr_keys_clear(&t);
    assert_int_equal(t.n, 0);
    assert_null(tr_keys_take(&t, "again", 5));
    tr_keys_free(&t);
}

static void test_prefix_order(void **state)
{
    (void)state;
    assert_true(tr_str_cmp("", 0, "a", 1) < 0);
    assert_true(tr_str_cmp("a", 1, "a:", 2) < 0);
    assert_true(tr_str_cmp("b", 1, "a:", 2) > 0);
    assert_int_equal(tr_str_cmp("ab", 2, "ab", 2), 0);
    assert_true(tr_str_cmp("\xff", 1, "a", 1) > 0); /* bytes, unsigned */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_once_per_key),
        cmocka_unit_test(test_growth_keeps_keys),
        cmocka_unit_test(test_random_empties),
        cmocka_unit_test(test_prefix_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_cursor.c - SCAN cursors (server/commands/cursor.c, #15.26): positions between keys, cursors
 * that carry short positions whatever else happens, long positions kept in the table,
 * and a cursor whose entry is gone resuming before its position (never after it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"
#include "testutil.h"

static void expect_position(const char *last, const char *next, const char *want)
{
    size_t n = cursor_position(last, strlen(last), next, strlen(next));
    if (n != strlen(want) || memcmp(next, want, n) != 0)
        fail_msg("between '%s' and '%s': '%.*s', want '%s'", last, next, (int)n, next, want);
}

static void test_cursor_position_is_shortest_after_last(void **state)
{
    expect_position("k0019", "k0020", "k002");
    expect_position("a", "b", "b");
    expect_position("ab", "abc", "abc");          /* last is a prefix of next */
    expect_position("", "a", "a");
    expect_position("user:1", "user:2xyz", "user:2");
}

static void test_cursor_short_positions_need_no_table(void **state)
{
    uint64_t seed = tu_seed(), rnd = seed;
    cursor_table t = {0}, other = {0};
    for (int i = 0; i < 100000; i++) {
        char pos[CURSOR_INLINE], buf[CURSOR_INLINE];
        size_t len = 1 + tu_rand_below(&rnd, CURSOR_INLINE);
        for (size_t j = 0; j < len; j++)
            pos[j] = (char)tu_rand_below(&rnd, 256);
        uint64_t c = cursor_encode(&t, pos, len);
        assert_true(c != 0 && c < (1ull << 63));
        const char *got;
        /* decoded by another table: a restarted server, or any number of other scans */
        size_t n = cursor_decode(&other, c, buf, &got);
        if (n != len || memcmp(got, pos, len) != 0)
            fail_msg("position of %zu bytes came back as %zu (seed %llu)", len, n,
                     (unsigned long long)seed);
    }
    assert_null(t.slot); /* nothing remembered */
    assert_int_equal(other.lost, 0);
}

static void test_cursor_long_positions_in_the_table(void **state)
{
    cursor_table t = {0};
    char pos[64], buf[CURSOR_INLINE];
    uint64_t first = 0;
    for (unsigned i = 0; i < CURSOR_SLOTS + 10; i++) {
        int n = snprintf(pos, sizeof pos, "user:session:%010u", i);
        uint64_t c = cursor_encode(&t, pos, (size_t)n);
        assert_true(c != 0 && c < (1ull << 63));
        if (i == 0)
            first = c;
        const char *got;
        size_t len = cursor_decode(&t, c, buf, &got);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(got, pos, len);
    }
    /* CURSOR_SLOTS newer long positions later, the first is gone: it resumes at its first
       two bytes, before its position (keys come again, none is missed) */
    const char *got;
    assert_int_equal(cursor_decode(&t, first, buf, &got), 2);
    assert_memory_equal(got, "us", 2);
    assert_int_equal(t.lost, 1);
    /* the entries still held come back whole */
    int n = snprintf(pos, sizeof pos, "user:session:%010u", 20u);
    uint64_t c = cursor_encode(&t, pos, (size_t)n);
    assert_int_equal(cursor_decode(&t, c, buf, &got), (size_t)n);
    /* a cursor of another table (another boot) never names an entry of this one */
    cursor_table other = {0};
    cursor_encode(&other, pos, (size_t)n);
    assert_int_equal(cursor_decode(&other, c, buf, &got), 2);
    cursor_table_free(&other);
    cursor_table_free(&t);
}

static void test_cursor_table_bytes_bounded(void **state)
{
    cursor_table t = {0};
    size_t big = 4u << 20;
    char *pos = malloc(big), buf[CURSOR_INLINE];
    memset(pos, 'x', big);
    uint64_t c = 0;
    for (int i = 0; i < 40; i++) {
        pos[big - 1] = (char)('a' + i % 26);
        c = cursor_encode(&t, pos, big);
        assert_true(c != 0);
        assert_true(t.bytes <= CURSOR_TABLE_BYTES + big);
    }
    const char *got;
    assert_int_equal(cursor_decode(&t, c, buf, &got), big); /* the newest always stays */
    cursor_table_free(&t);
    free(pos);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_position_is_shortest_after_last),
        cmocka_unit_test(test_cursor_short_positions_need_no_table),
        cmocka_unit_test(test_cursor_long_positions_in_the_table),
        cmocka_unit_test(test_cursor_table_bytes_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

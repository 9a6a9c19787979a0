/* test_lcs.c - LCS: Redis's documented example, and on random strings a subsequence of
   both, of the length a plain dynamic program finds, whose ranges are its matched runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lcs.h"
#include "testutil.h"

static void test_lcs_documented_example(void **state)
{
    const char *a = "ohmytext", *b = "mynewtext";
    lcs_result r;
    assert_int_equal(lcs_compute(a, strlen(a), b, strlen(b), 1, 1, &r), 0);
    assert_int_equal(r.len, 6);
    assert_memory_equal(r.str, "mytext", 6);
    assert_int_equal(r.nranges, 2); /* from the ends backwards, as Redis lists them */
    assert_int_equal(r.ranges[0].a_start, 4);
    assert_int_equal(r.ranges[0].a_end, 7);
    assert_int_equal(r.ranges[0].b_start, 5);
    assert_int_equal(r.ranges[0].b_end, 8);
    assert_int_equal(r.ranges[1].a_start, 2);
    assert_int_equal(r.ranges[1].a_end, 3);
    assert_int_equal(r.ranges[1].b_start, 0);
    assert_int_equal(r.ranges[1].b_end, 1);
    lcs_result_free(&r);
    assert_int_equal(lcs_compute("", 0, b, strlen(b), 1, 1, &r), 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.nranges, 0);
    lcs_result_free(&r);
    assert_int_equal(lcs_table_bytes(3, 4), 4 * 5 * 4);
    assert_true(lcs_table_bytes(UINT32_MAX, 1) == UINT64_MAX);
}

/* the LCS length by the textbook recurrence, two rows at a time */
static unsigned plain_lcs(const char *a, size_t n, const char *b, size_t m)
{
    unsigned *prev = calloc(m + 1, sizeof *prev), *cur = calloc(m + 1, sizeof *cur);
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++)
            cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1
                                          : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        unsigned *t = prev;
        prev = cur;
        cur = t;
    }
    unsigned v = prev[m];
    free(prev);
    free(cur);
    return v;
}

static void test_lcs_random_strings(void **state)
{
    uint64_t rnd = tu_seed();
    char a[200], b[200];
    for (int round = 0; round < 300; round++) {
        size_t n = tu_rand(&rnd) % 120, m = tu_rand(&rnd) % 120;
        int alphabet = 2 + (int)(tu_rand(&rnd) % 6);
        for (size_t i = 0; i < n; i++)
            a[i] = (char)('a' + tu_rand(&rnd) % (uint64_t)alphabet);
        for (size_t i = 0; i < m; i++)
            b[i] = (char)('a' + tu_rand(&rnd) % (uint64_t)alphabet);
        lcs_result r;
        assert_int_equal(lcs_compute(a, n, b, m, 1, 1, &r), 0);
        assert_int_equal(r.len, plain_lcs(a, n, b, m));
        /* the runs, last first, spell the subsequence and match in both strings */
        size_t k = r.len;
        for (uint32_t i = 0; i < r.nranges; i++) {
            const lcs_range *g = &r.ranges[i];
            size_t len = g->a_end - g->a_start + 1;
            assert_int_equal(g->b_end - g->b_start + 1, len);
            assert_memory_equal(a + g->a_start, b + g->b_start, len);
            assert_true(k >= len);
            k -= len;
            assert_memory_equal(r.str + k, a + g->a_start, len);
            if (i > 0) /* runs go backwards and do not touch */
                assert_true(g->a_end < r.ranges[i - 1].a_start &&
                            g->b_end < r.ranges[i - 1].b_start);
        }
        assert_int_equal(k, 0);
        lcs_result_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lcs_documented_example),
        cmocka_unit_test(test_lcs_random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

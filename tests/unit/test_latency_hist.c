/* test_latency_hist.c - the latency histogram's percentiles against sorted samples, and
   its Prometheus bucket counts against exact counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "latency_hist.h"
#include "testutil.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_latency_hist_empty_and_exact_small_values(void **state)
{
    latency_hist *h = calloc(1, sizeof *h);
    assert_true(latency_hist_percentile(h, 50) == 0);
    for (uint64_t v = 0; v < 64; v++)
        latency_hist_add(h, v);
    assert_true(latency_hist_percentile(h, 0) == 0);
    assert_true(latency_hist_percentile(h, 100) == 63); /* exact below 64 ns */
    assert_int_equal(latency_hist_count_le(h, 9), 10);
    assert_int_equal(h->count, 64);
    latency_hist_add(h, UINT64_MAX); /* far past the range: the last bin */
    assert_int_equal(h->count, 65);
    free(h);
}

static void test_latency_hist_percentiles_within_bin_width(void **state)
{
    uint64_t seed = tu_seed(), rnd = seed;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof *v);
    latency_hist *h = calloc(1, sizeof *h);
    for (int i = 0; i < N; i++) {
        /* log-uniform from 100 ns to about 100 ms, as command latencies spread */
        double x = exp(log(100.0) + (double)tu_rand_below(&rnd, 1000000) / 1e6 * log(1e6));
        v[i] = (uint64_t)x;
        latency_hist_add(h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    const double ps[] = {1, 50, 90, 99, 99.9, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        uint64_t rank = (uint64_t)(ps[i] / 100.0 * N + 0.5);
        double truth = (double)v[(rank ? rank : 1) - 1];
        double got = latency_hist_percentile(h, ps[i]);
        if (fabs(got - truth) > truth / 32.0 + 1)
            fail_msg("p%g: %.0f ns, samples say %.0f (seed %llu)", ps[i], got, truth,
                     (unsigned long long)seed);
    }
    /* bucket counts: never above the truth, and exact at powers of two */
    for (uint64_t le = 1024; le < (1ull << 28); le *= 2) {
        uint64_t truth = 0;
        while (truth < N && v[truth] <= le - 1)
            truth++;
        assert_int_equal(latency_hist_count_le(h, le - 1), truth);
        uint64_t mid = le + le / 3, below = 0;
        while (below < N && v[below] <= mid)
            below++;
        assert_true(latency_hist_count_le(h, mid) <= below);
    }
    free(v);
    free(h);
}

/* LATENCY HISTOGRAM's steps: Redis's labels, cumulative counts, only where they grow,
   ending at the step that holds every sample. */
static void test_latency_hist_cdf_as_redis(void **state)
{
    latency_hist *h = calloc(1, sizeof *h);
    latency_cdf_step st[LATENCY_CDF_STEPS];
    assert_int_equal(latency_hist_cdf(h, st), 0);
    latency_hist_add(h, 500); /* below 1024 ns: the first step */
    latency_hist_add(h, 1000);
    latency_hist_add(h, 10000);  /* 10 us: the 16 us step */
    latency_hist_add(h, 100000); /* 100 us: the 131072 ns step, Redis's "132" */
    int n = latency_hist_cdf(h, st);
    assert_int_equal(n, 3);
    assert_int_equal(st[0].usec, 1);
    assert_int_equal(st[0].count, 2);
    assert_int_equal(st[1].usec, 16);
    assert_int_equal(st[1].count, 3);
    assert_int_equal(st[2].usec, 132);
    assert_int_equal(st[2].count, 4);
    latency_hist_add(h, 5000000000ull); /* 5 s: past Redis's clamp, in the last step */
    n = latency_hist_cdf(h, st);
    assert_int_equal(st[n - 1].count, 5);
    assert_int_equal(st[n - 1].usec, ((1ull << 30) + (1ull << 23) - 1) / 1000);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_hist_empty_and_exact_small_values),
        cmocka_unit_test(test_latency_hist_percentiles_within_bin_width),
        cmocka_unit_test(test_latency_hist_cdf_as_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

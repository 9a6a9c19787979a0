/* test_sample.c - shale_sample_point: random keys near uniform over the tables' keys even
   when the keys have different shapes (the case where interpolating between the first
   and last keys fails), bounds respected, -ENOENT without tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shale.h"
#include "testutil.h"

static void put(shale_db *db, const char *k)
{
    assert_int_equal(shale_put(db, k, strlen(k), "v", 1, 0), 0);
}

/* Draws n random keys through sample points; counts those starting with prefix. */
static int draw(shale_db *db, const char *lo, const char *hi, int n, const char *prefix,
                uint64_t *rnd)
{
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.lower_bound = lo;
    ro.lower_bound_len = lo ? strlen(lo) : 0;
    ro.upper_bound = hi;
    ro.upper_bound_len = hi ? strlen(hi) : 0;
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    int hits = 0;
    for (int i = 0; i < n; i++) {
        char point[64];
        size_t len;
        assert_int_equal(shale_sample_point(db, lo, lo ? strlen(lo) : 0, hi, hi ? strlen(hi) : 0,
                                            tu_rand(rnd), point, sizeof point, &len),
                         0);
        shale_iter_seek(it, point, len);
        if (!shale_iter_valid(it))
            shale_iter_seek_to_first(it);
        assert_true(shale_iter_valid(it));
        size_t kl;
        const char *k = shale_iter_key(it, &kl);
        if (lo)
            assert_true(memcmp(k, lo, strlen(lo)) >= 0);
        hits += kl >= strlen(prefix) && memcmp(k, prefix, strlen(prefix)) == 0;
    }
    shale_iter_free(it);
    return hits;
}

static void test_sample_uniform_across_key_shapes(void **state)
{
    char *dir = tu_tempdir("sample");
    shale_options o;
    tu_small_options(&o);
    o.table_size = 64 << 10; /* many tables: the sampling's unit */
    o.memtable_size = 64 << 10;
    shale_db *db = tu_open(dir, &o);
    char point[64];
    size_t len;
    assert_int_equal(shale_sample_point(db, NULL, 0, NULL, 0, 1, point, sizeof point, &len),
                     -ENOENT);
    char k[64];
    for (int i = 0; i < 20000; i++) { /* short keys, then long ones after a wide gap */
        snprintf(k, sizeof k, "a:%05d", i);
        put(db, k);
        snprintf(k, sizeof k, "zzzzzzzzzzzz:%05d", i);
        put(db, k);
    }
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t seed = tu_seed(), rnd = seed;
    int a = draw(db, NULL, NULL, 4000, "a:", &rnd);
    if (a < 1600 || a > 2400)
        fail_msg("%d of 4000 samples were a: keys, half expected (seed %llu)", a,
                 (unsigned long long)seed);
    /* within bounds: only the long keys */
    int z = draw(db, "zzzz", NULL, 500, "zzzz", &rnd);
    assert_int_equal(z, 500);
    /* past every key: no table holds the range */
    assert_int_equal(
        shale_sample_point(db, "zzzzzzzzzzzzz", 13, NULL, 0, 7, point, sizeof point, &len),
        -ENOENT);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_uniform_across_key_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sample.c - shale_sample_point: random keys near uniform over the tables' keys even
   when the keys have different shapes (the case where interpolating between the first
   and last keys fails), bounds respected, -ENOENT without tables; shale_sample_key: only
   live keys, near uniform over them after most keys of one shape were deleted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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


static void test_sample_key_only_live_keys(void **state)
{
    char *dir = tu_tempdir("sample");
    shale_options o;
    tu_small_options(&o);
    o.table_size = 64 << 10;
    o.memtable_size = 64 << 10;
    shale_db *db = tu_open(dir, &o);
    void *key;
    size_t klen;
    assert_int_equal(shale_sample_key(db, NULL, 0, NULL, 0, 1, &key, &klen), -ENOENT);
    char k[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "a:%05d", i);
        put(db, k);
        snprintf(k, sizeof k, "zzzzzzzzzzzz:%05d", i);
        put(db, k);
    }
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    /* Nine a: keys in ten deleted: their values stay in the bottom tables under
       tombstones in newer ones, as after evictions. */
    for (int i = 0; i < 20000; i++)
        if (i % 10) {
            snprintf(k, sizeof k, "a:%05d", i);
            assert_int_equal(shale_delete(db, k, strlen(k)), 0);
        }
    assert_int_equal(shale_flush(db), 0);
    uint64_t seed = tu_seed(), rnd = seed;
    int a = 0, found = 0;
    for (int i = 0; i < 4000; i++) {
        int rc = shale_sample_key(db, NULL, 0, NULL, 0, tu_rand(&rnd), &key, &klen);
        if (rc == -ENOENT)
            continue; /* every draw met deleted keys: callers fall back */
        assert_int_equal(rc, 0);
        found++;
        void *v;
        size_t vl;
        assert_int_equal(shale_get(db, key, klen, &v, &vl), 0); /* live */
        shale_free(v);
        a += klen == 7 && memcmp(key, "a:", 2) == 0;
        if (klen == 7 && memcmp(key, "a:", 2) == 0)
            assert_int_equal(atoi((char *)key + 2) % 10, 0);
        shale_free(key);
    }
    /* 2 000 live a: keys of 22 000: about 9 % if every key weighed the same; a key weighs
       what its entry takes in its table, and the long z keys share their prefixes within
       blocks, so a: keys come out at about 13 % (three runs: 12.9-13.4 %). */
    if (found < 3900 || a < found * 5 / 100 || a > found * 20 / 100)
        fail_msg("%d of %d sampled keys were a: keys, 9-13 %% expected (seed %llu)", a,
                 found, (unsigned long long)seed);
    /* within bounds */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(shale_sample_key(db, "zzzz", 4, NULL, 0, tu_rand(&rnd), &key, &klen), 0);
        assert_true(klen > 4 && memcmp(key, "zzzz", 4) == 0);
        shale_free(key);
        int rc = shale_sample_key(db, "a:", 2, "a;", 2, tu_rand(&rnd), &key, &klen);
        if (rc == 0) {
            assert_true(klen == 7 && memcmp(key, "a:", 2) == 0);
            shale_free(key);
        } else {
            assert_int_equal(rc, -ENOENT);
        }
    }
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_uniform_across_key_shapes),
        cmocka_unit_test(test_sample_key_only_live_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

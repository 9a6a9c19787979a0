/*
 * test_block.c - blocks (prefix-compressed keys, restart points) and bloom filters:
 * round trips, seek and seek_for_prev at every position, corrupt restart arrays, false
 * positive rate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "format.h"
#include "shale.h"
#include "testutil.h"

static void key_of(char *k, int i)
{
    sprintf(k, "k%05d%s", i * 2, i % 3 ? "-long-suffix" : "");
}

static void check_block(int restart_interval, int n)
{
    block_builder bb;
    block_builder_init(&bb, restart_interval);
    char k[64], v[64];
    for (int i = 0; i < n; i++) {
        key_of(k, i);
        sprintf(v, "v%d", i);
        assert_int_equal(block_builder_add(&bb, slice_from_str(k), slice_from_str(v)), 0);
    }
    slice raw = block_builder_finish(&bb);
    char *copy = malloc(raw.len);
    memcpy(copy, raw.data, raw.len);
    block *b;
    assert_int_equal(block_new(copy, raw.len, true, &b), 0);
    iter *it = block_iter_new(b, slice_compare, NULL, NULL);
    int i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), i++) {
        key_of(k, i);
        assert_true(slice_equal(iter_key(it), slice_from_str(k)));
    }
    assert_int_equal(i, n);
    i = n - 1;
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it), i--) {
        key_of(k, i);
        assert_true(slice_equal(iter_key(it), slice_from_str(k)));
    }
    assert_int_equal(i, -1);
    for (i = 0; i < n; i++) {
        key_of(k, i);
        iter_seek(it, slice_from_str(k));
        assert_true(iter_valid(it));
        assert_true(slice_equal(iter_key(it), slice_from_str(k)));
        /* a key between i-1 and i: "k%05d" of 2i-1 sorts before key i */
        char mid[64];
        sprintf(mid, "k%05d", i * 2 - 1 < 0 ? 0 : i * 2 - 1);
        iter_seek_for_prev(it, slice_from_str(mid));
        if (i == 0) {
            /* "k00000" is a prefix of key 0 (which is longer only when i % 3) */
        } else {
            assert_true(iter_valid(it));
            key_of(k, i - 1);
            assert_true(slice_equal(iter_key(it), slice_from_str(k)));
        }
        buf kb = {0};
        slice value;
        key_of(k, i);
        assert_int_equal(block_find(b, slice_compare, slice_from_str(k), &kb, &value), 1);
        sprintf(v, "v%d", i);
        assert_true(slice_equal(value, slice_from_str(v)));
        buf_free(&kb);
    }
    iter_seek(it, slice_from_str("z"));
    assert_false(iter_valid(it));
    iter_seek_for_prev(it, slice_from_str("z"));
    assert_true(iter_valid(it));
    assert_int_equal(iter_status(it), 0);
    iter_free(it);
    block_free(b);
    block_builder_destroy(&bb);
}

static void test_block_round_trip_and_seeks(void **state)
{
    check_block(1, 1);
    check_block(1, 100);
    check_block(16, 1);
    check_block(16, 17);
    check_block(16, 1000);
}

static void test_block_corrupt_restart_array(void **state)
{
    block *b;
    char bad[8] = {0};
    encode_fixed32(bad + 4, 1000); /* more restarts than fit */
    char *p = malloc(8);
    memcpy(p, bad, 8);
    assert_int_equal(block_new(p, 8, true, &b), SHALE_ECORRUPT);
    assert_int_equal(block_new("ab", 2, false, &b), SHALE_ECORRUPT);
    /* a restart offset pointing past the entries: seek reports corruption */
    block_builder bb;
    block_builder_init(&bb, 1);
    block_builder_add(&bb, slice_from_str("a"), slice_from_str("1"));
    block_builder_add(&bb, slice_from_str("b"), slice_from_str("2"));
    block_builder_add(&bb, slice_from_str("c"), slice_from_str("3"));
    slice raw = block_builder_finish(&bb);
    char *copy = malloc(raw.len);
    memcpy(copy, raw.data, raw.len);
    encode_fixed32(copy + raw.len - 8, 5000);
    assert_int_equal(block_new(copy, raw.len, true, &b), 0);
    iter *it = block_iter_new(b, slice_compare, NULL, NULL);
    iter_seek(it, slice_from_str("c"));
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), SHALE_ECORRUPT);
    iter_free(it);
    block_free(b);
    block_builder_destroy(&bb);
}

static void test_block_bloom_filter_rates(void **state)
{
    enum { N = 100000 };
    uint64_t *h = malloc(N * sizeof *h);
    char k[32];
    for (int i = 0; i < N; i++) {
        sprintf(k, "key%d", i);
        h[i] = bloom_hash(slice_from_str(k));
    }
    buf f = {0};
    assert_int_equal(bloom_build(h, N, 10, &f), 0);
    for (int i = 0; i < N; i++)
        assert_true(bloom_may_contain(buf_slice(&f), h[i]));
    int fp = 0;
    for (int i = 0; i < N; i++) {
        sprintf(k, "other%d", i);
        fp += bloom_may_contain(buf_slice(&f), bloom_hash(slice_from_str(k)));
    }
    double rate = (double)fp / N;
    printf("bloom false positive rate at 10 bits/key: %.4f\n", rate);
    assert_true(rate < 0.02);
    /* a malformed filter never filters */
    assert_true(bloom_may_contain(slice_make("", 0), 123));
    buf_free(&f);
    free(h);
}

/* Internal keys "pfx:<common>-<i>..." with two versions each; some keys tie in the 8
   bytes after the shared prefix and differ only later, some are prefixes of others. */
static void ikey_of(buf *out, int i, int variant, uint64_t seq)
{
    char k[64];
    int tie = i % 5 == 0; /* three keys whose 8 bytes after the shared prefix are equal */
    snprintf(k, sizeof k, "m\x01\x02key:%06d%s%s", tie ? i - 1 : i, tie ? "zzzzzzzzz" : "",
             tie          ? (const char *[]){"", "q", "r"}[variant]
             : i % 7 == 0 ? ""
                          : "q");
    out->len = 0;
    ikey_append(out, slice_from_str(k), seq, KIND_VALUE);
}

/* block_prefix_index_find answers exactly as block_find for targets inside, between,
   before and after the keys, at every sequence. */
static void test_block_prefix_index_matches_block_find(void **state)
{
    block_builder bb;
    block_builder_init(&bb, 1); /* as index blocks */
    buf k = {0}, prev = {0};
    int n = 0;
    for (int i = 1; i < 3000; i++) {
        for (int variant = 0; variant < (i % 5 == 0 ? 3 : 1); variant++)
            for (uint64_t seq = 9; seq >= 5; seq -= 4) {
                ikey_of(&k, i, variant, seq);
                if (prev.len && ikey_compare(buf_slice(&prev), buf_slice(&k)) >= 0)
                    continue; /* a tie key sorting before its neighbour: keep the order */
                char v[16];
                snprintf(v, sizeof v, "v%d", n++);
                assert_int_equal(block_builder_add(&bb, buf_slice(&k), slice_from_str(v)), 0);
                buf_set(&prev, k.data, k.len);
            }
    }
    slice data = block_builder_finish(&bb);
    char *copy = malloc(data.len);
    memcpy(copy, data.data, data.len);
    block *b;
    assert_int_equal(block_new(copy, data.len, true, &b), 0);
    block_prefix_index x;
    assert_int_equal(block_prefix_index_build(b, ikey_user_key, &x), 0);
    assert_non_null(x.windows);
    assert_int_equal(x.n, (uint32_t)n);
    assert_true(x.lcp >= 7); /* "m\1\2key:0" */
    buf scratch = {0}, t = {0};
    const char *extra[] = {"",           "a",          "q",           "zzzzzzzzz",
                           "zzzzzzzzzq", "zzzzzzzzzr", "zzzzzzzzzqq", "\xff"};
    for (int i = 0; i < 3002; i++) {
        for (int e = 0; e < 8; e++) {
            for (uint64_t seq = 11; seq >= 3; seq -= 2) {
                char kb[64];
                snprintf(kb, sizeof kb, "m\x01\x02key:%06d%s", i, extra[e]);
                t.len = 0;
                ikey_append(&t, slice_from_str(kb), seq, KIND_FOR_SEEK);
                slice v1, v2, k2;
                int r1 = block_find(b, ikey_compare, buf_slice(&t), &scratch, &v1);
                int r2 = block_prefix_index_find(b, &x, ikey_compare, buf_slice(&t),
                                                 ikey_user_key(buf_slice(&t)), &k2, &v2);
                assert_int_equal(r1, r2);
                if (r1 == 1) {
                    assert_true(slice_equal(v1, v2));
                    assert_true(slice_equal(buf_slice(&scratch), k2));
                }
            }
        }
    }
    const char *outside[] = {"", "a", "m", "m\x01", "m\x01\x02kex", "m\x01\x02kez", "n"};
    for (int i = 0; i < 7; i++) {
        t.len = 0;
        ikey_append(&t, slice_from_str(outside[i]), 7, KIND_FOR_SEEK);
        slice v1, v2, k2;
        int r1 = block_find(b, ikey_compare, buf_slice(&t), &scratch, &v1);
        int r2 = block_prefix_index_find(b, &x, ikey_compare, buf_slice(&t),
                                         ikey_user_key(buf_slice(&t)), &k2, &v2);
        assert_int_equal(r1, r2);
        if (r1 == 1)
            assert_true(slice_equal(v1, v2));
    }
    assert_int_equal(block_prefix_index_memory(&x), (size_t)n * 8);
    block_prefix_index_free(&x);
    block_free(b);

    /* entries between restart points: no aid, and no error */
    block_builder_reset(&bb);
    bb.restart_interval = 16;
    for (int i = 1; i < 100; i++) {
        ikey_of(&k, i * 11, 0, 5);
        assert_int_equal(block_builder_add(&bb, buf_slice(&k), slice_from_str("v")), 0);
    }
    data = block_builder_finish(&bb);
    assert_int_equal(block_new(data.data, data.len, false, &b), 0);
    assert_int_equal(block_prefix_index_build(b, ikey_user_key, &x), 0);
    assert_null(x.windows);
    block_free(b);
    block_builder_destroy(&bb);
    buf_free(&k);
    buf_free(&prev);
    buf_free(&scratch);
    buf_free(&t);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_round_trip_and_seeks),
        cmocka_unit_test(test_block_corrupt_restart_array),
        cmocka_unit_test(test_block_bloom_filter_rates),
        cmocka_unit_test(test_block_prefix_index_matches_block_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

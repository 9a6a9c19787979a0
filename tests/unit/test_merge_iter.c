/*
 * test_merge_iter.c - the merging iterator against a sorted model: forward, backward,
 * direction switches at random points, seek and seek_for_prev, error propagation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format.h"
#include "memtable.h"
#include "merge_iter.h"
#include "shale.h"
#include "testutil.h"

/* Internal keys k%05d@seq; child c holds the keys with key % (c+2) == 0, with seq = c+1,
   so equal user keys from different children are distinct internal keys. */
enum { CHILDREN = 5, KEYS = 400 };

static int model_keys(char model[][32], uint64_t *seqs)
{
    int n = 0;
    for (int k = 0; k < KEYS; k++) {
        /* within a user key, higher seq first */
        for (int c = CHILDREN - 1; c >= 0; c--)
            if (k % (c + 2) == 0) {
                sprintf(model[n], "k%05d", k);
                seqs[n++] = (uint64_t)c + 1;
            }
    }
    return n;
}

static iter *make_merged(void)
{
    iter *kids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        memtable *m;
        assert_int_equal(memtable_new(&m), 0);
        char k[32];
        for (int i = 0; i < KEYS; i++)
            if (i % (c + 2) == 0) {
                sprintf(k, "k%05d", i);
                memtable_add(m, (uint64_t)c + 1, KIND_VALUE, slice_from_str(k), slice_from_str(k));
            }
        kids[c] = memtable_iter_new(m);
        memtable_unref(m);
    }
    return merge_iter_new(kids, CHILDREN, ikey_compare);
}

static void expect_at(iter *it, char model[][32], uint64_t *seqs, int i)
{
    assert_true(iter_valid(it));
    slice k = iter_key(it);
    assert_true(slice_equal(ikey_user_key(k), slice_from_str(model[i])));
    assert_int_equal(ikey_seq(k), seqs[i]);
}

static void test_merge_iter_matches_model(void **state)
{
    static char model[KEYS * CHILDREN][32];
    uint64_t seqs[KEYS * CHILDREN];
    int n = model_keys(model, seqs);
    iter *it = make_merged();
    int i = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
        expect_at(it, model, seqs, i++);
    assert_int_equal(i, n);
    i = n - 1;
    for (iter_seek_to_last(it); iter_valid(it); iter_prev(it))
        expect_at(it, model, seqs, i--);
    assert_int_equal(i, -1);
    uint64_t rs = tu_seed();
    for (int round = 0; round < 300; round++) {
        int pos = (int)tu_rand_below(&rs, (uint64_t)n);
        buf t = {0};
        ikey_append(&t, slice_from_str(model[pos]), seqs[pos], KIND_VALUE);
        if (round % 2)
            iter_seek(it, buf_slice(&t));
        else
            iter_seek_for_prev(it, buf_slice(&t));
        buf_free(&t);
        expect_at(it, model, seqs, pos);
        for (int s = 0; s < 30; s++) {
            if (tu_rand_below(&rs, 2)) {
                iter_next(it);
                pos++;
            } else {
                iter_prev(it);
                pos--;
            }
            if (pos < 0 || pos >= n) {
                assert_false(iter_valid(it));
                break;
            }
            expect_at(it, model, seqs, pos);
        }
    }
    assert_int_equal(iter_status(it), 0);
    iter_free(it);
}

static void test_merge_iter_reports_child_error(void **state)
{
    iter *kids[2];
    memtable *m;
    assert_int_equal(memtable_new(&m), 0);
    memtable_add(m, 1, KIND_VALUE, slice_from_str("a"), slice_from_str("1"));
    kids[0] = memtable_iter_new(m);
    memtable_unref(m);
    kids[1] = iter_new_empty(SHALE_ECORRUPT);
    iter *it = merge_iter_new(kids, 2, ikey_compare);
    iter_seek_to_first(it);
    assert_true(iter_valid(it));
    assert_int_equal(iter_status(it), SHALE_ECORRUPT);
    iter_free(it);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_iter_matches_model),
        cmocka_unit_test(test_merge_iter_reports_child_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_write_batch.c - batch encoding, decoding and its corruption checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "format.h"
#include "shale.h"
#include "write_batch.h"

typedef struct seen {
    int n;
    uint64_t seqs[8];
    int kinds[8];
    char keys[8][16];
    char values[8][32];
} seen;

static int record(void *arg, uint64_t seq, int kind, slice key, slice value)
{
    seen *s = arg;
    s->seqs[s->n] = seq;
    s->kinds[s->n] = kind;
    memcpy(s->keys[s->n], key.data, key.len);
    s->keys[s->n][key.len] = 0;
    memcpy(s->values[s->n], value.data, value.len);
    s->values[s->n][value.len] = 0;
    s->n++;
    return 0;
}

static void test_write_batch_round_trip(void **state)
{
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, "a", 1, "1", 1, 0), 0);
    assert_int_equal(shale_batch_delete(b, "b", 1), 0);
    assert_int_equal(shale_batch_put(b, "c", 1, "3", 1, 1234), 0);
    batch_set_seq(b, 100);
    seen s = {0};
    assert_int_equal(batch_rep_iterate(batch_rep(b), record, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seqs[0], 100);
    assert_int_equal(s.seqs[2], 102);
    assert_int_equal(s.kinds[0], KIND_VALUE);
    assert_int_equal(s.kinds[1], KIND_DELETE);
    assert_int_equal(s.kinds[2], KIND_EXPIRING);
    assert_string_equal(s.keys[1], "b");
    assert_int_equal(decode_fixed64(s.values[2]), 1234);

    shale_batch *b2;
    assert_int_equal(shale_batch_new(&b2), 0);
    assert_int_equal(batch_append(b2, b), 0);
    assert_int_equal(batch_append(b2, b), 0);
    assert_int_equal(shale_batch_count(b2), 6);
    seen s2 = {0};
    assert_int_equal(batch_rep_iterate(batch_rep(b2), record, &s2), 0);
    assert_int_equal(s2.n, 6);
    shale_batch_free(b2);
    shale_batch_free(b);
    shale_batch_free(NULL);
}

static void test_write_batch_rejects_bad_input(void **state)
{
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, "", 0, "1", 1, 0), -EINVAL);
    assert_int_equal(shale_batch_delete(b, "", 0), -EINVAL);
    assert_int_equal(shale_batch_put(b, "key", 3, "value", 5, 0), 0);
    slice rep = batch_rep(b);
    seen s = {0};
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < rep.len; cut++) {
        s.n = 0;
        assert_int_equal(batch_rep_iterate(slice_make(rep.data, cut), record, &s), SHALE_ECORRUPT);
    }
    /* a wrong count is corruption */
    char copy[64];
    memcpy(copy, rep.data, rep.len);
    encode_fixed32(copy + 8, 2);
    s.n = 0;
    assert_int_equal(batch_rep_iterate(slice_make(copy, rep.len), record, &s), SHALE_ECORRUPT);
    /* an unknown kind is corruption */
    memcpy(copy, rep.data, rep.len);
    copy[BATCH_HEADER_SIZE] = 9;
    s.n = 0;
    assert_int_equal(batch_rep_iterate(slice_make(copy, rep.len), record, &s), SHALE_ECORRUPT);
    shale_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_batch_round_trip),
        cmocka_unit_test(test_write_batch_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_write_batch.c - batch encoding, decoding and its corruption checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <lz4.h>

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

/* A range deletion is one entry (kind 4, the end as its value) in the batch's order; a
   record whose range does not run upwards is corruption, and compression leaves it. */
static void test_write_batch_range_delete(void **state)
{
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, "a", 1, "1", 1, 0), 0);
    assert_int_equal(shale_batch_delete_range(b, "b", 1, "d", 1), 0);
    assert_int_equal(shale_batch_delete_range(b, "q", 1, "q", 1), 0); /* empty: no entry */
    assert_int_equal(shale_batch_put(b, "c", 1, "3", 1, 0), 0);
    assert_int_equal(shale_batch_count(b), 3);
    batch_set_seq(b, 10);
    seen s = {0};
    assert_int_equal(batch_rep_iterate(batch_rep(b), record, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.kinds[1], KIND_RANGE_DELETE);
    assert_int_equal(s.seqs[1], 11);
    assert_string_equal(s.keys[1], "b");
    assert_string_equal(s.values[1], "d");
    buf out = {0};
    assert_int_equal(batch_rep_compress(batch_rep(b), 1, NULL, &out), 0);
    buf_free(&out);
    /* end at or below begin in a record: corruption */
    slice rep = batch_rep(b);
    char copy[64];
    memcpy(copy, rep.data, rep.len);
    char *p = memchr(copy + BATCH_HEADER_SIZE, KIND_RANGE_DELETE, rep.len - BATCH_HEADER_SIZE);
    assert_non_null(p);
    p[5] = 'a'; /* kind, 1, 'b', 1, 'd' -> end 'a' */
    s.n = 0;
    assert_int_equal(batch_rep_iterate(slice_make(copy, rep.len), record, &s), SHALE_ECORRUPT);
    p[5] = 'b'; /* end == begin */
    s.n = 0;
    assert_int_equal(batch_rep_iterate(slice_make(copy, rep.len), record, &s), SHALE_ECORRUPT);
    p[0] |= (char)BATCH_KIND_LZ4; /* a range is never compressed */
    p[5] = 'd';
    s.n = 0;
    assert_int_equal(batch_rep_iterate(slice_make(copy, rep.len), record, &s), SHALE_ECORRUPT);
    shale_batch_free(b);
}

typedef struct lz4_seen {
    int n;
    int compressed;
    char values[4][3000];
    size_t lens[4];
    int kinds[4];
} lz4_seen;

static int collect_lz4(void *arg, const batch_entry *e)
{
    lz4_seen *s = arg;
    if (s->n < 4) {
        memcpy(s->values[s->n], e->value.data, e->value.len);
        s->lens[s->n] = e->value.len;
        s->kinds[s->n] = e->kind;
    }
    s->compressed += e->stored_len != 0;
    s->n++;
    return 0;
}

/* Values at least the threshold are stored compressed (where lz4 pays) and decode back
   as written, expiry included; damage inside a compressed value is corruption. */
static void test_write_batch_compressed_values(void **state)
{
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    char text[2000], noise[2000];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof text; i++) {
        text[i] = "abcdefgh"[i % 8];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise[i] = (char)(x >> 24);
    }
    assert_int_equal(shale_batch_put(b, "a", 1, text, sizeof text, 0), 0);
    assert_int_equal(shale_batch_put(b, "b", 1, text, sizeof text, 12345), 0);
    assert_int_equal(shale_batch_put(b, "c", 1, noise, sizeof noise, 0), 0); /* incompressible */
    assert_int_equal(shale_batch_put(b, "d", 1, text, 100, 0), 0);           /* small */
    buf out = {0};
    assert_int_equal(batch_rep_compress(batch_rep(b), 512, NULL, &out), 2);
    assert_true(out.len < batch_rep(b).len / 2);
    lz4_seen s = {0};
    assert_int_equal(batch_rep_iterate_entries(buf_slice(&out), collect_lz4, &s), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.compressed, 2);
    assert_int_equal(s.lens[0], sizeof text);
    assert_memory_equal(s.values[0], text, sizeof text);
    assert_int_equal(s.kinds[1], KIND_EXPIRING);
    assert_int_equal(s.lens[1], 8 + sizeof text);
    assert_int_equal(expiring_value_expiry(slice_make(s.values[1], s.lens[1])), 12345);
    assert_memory_equal(s.values[1] + 8, text, sizeof text);
    assert_memory_equal(s.values[2], noise, sizeof noise);
    assert_int_equal(s.lens[3], 100);
    /* nothing to compress: out stays empty */
    assert_int_equal(batch_rep_compress(batch_rep(b), 0, NULL, &out), 0);
    assert_int_equal(out.len, 0);
    /* damage: truncate inside the first compressed value */
    assert_int_equal(batch_rep_compress(batch_rep(b), 512, NULL, &out), 2);
    lz4_seen s2 = {0};
    assert_int_equal(batch_rep_iterate_entries(slice_make(out.data, 40), collect_lz4, &s2),
                     SHALE_ECORRUPT);
    buf_free(&out);
    shale_batch_free(b);
}

/* One lz4 stream reused for every batch (the writer's): each compressed value must decode
   alone, with no reference to the values compressed before it. The same value twice in a
   row is what a stream that kept its history would encode as a reference to the previous
   one; 3000 values also take the stream's offsets past several resets. */
static void test_write_batch_compress_reuses_stream(void **state)
{
    (void)state;
    LZ4_stream_t *lz4 = LZ4_createStream();
    assert_non_null(lz4);
    char v[1024];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    buf out = {0};
    for (int i = 0; i < 3000; i++) {
        if (i % 2 == 0) /* a new value: 50 random printable bytes repeated, as db_bench's */
            for (size_t j = 0; j < sizeof v; j++) {
                if (j % 100 < 50) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    v[j] = (char)(' ' + x % 95);
                } else {
                    v[j] = v[j - 50];
                }
            }
        shale_batch *b;
        assert_int_equal(shale_batch_new(&b), 0);
        assert_int_equal(shale_batch_put(b, "k", 1, v, sizeof v, 0), 0);
        assert_int_equal(batch_rep_compress(batch_rep(b), 512, lz4, &out), 1);
        lz4_seen s = {0};
        assert_int_equal(batch_rep_iterate_entries(buf_slice(&out), collect_lz4, &s), 0);
        assert_int_equal(s.compressed, 1);
        assert_int_equal(s.lens[0], sizeof v);
        assert_memory_equal(s.values[0], v, sizeof v);
        shale_batch_free(b);
    }
    buf_free(&out);
    LZ4_freeStream(lz4);
}

/* The lz4 bytes are written after room for the longest worth-while stored length; a
   value that compresses so well that its stored length takes fewer varint bytes moves
   them back, and the entries after it still decode. */
static void test_write_batch_compress_short_header(void **state)
{
    (void)state;
    char zeros[2000] = {0}; /* 2000 -> a few dozen lz4 bytes: 1-byte varint, not 2 */
    char text[600];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[(i * 7) % 36];
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, "z", 1, zeros, sizeof zeros, 777), 0);
    assert_int_equal(shale_batch_put(b, "t", 1, text, sizeof text, 0), 0);
    assert_int_equal(shale_batch_delete(b, "d", 1), 0);
    buf out = {0};
    int n = batch_rep_compress(batch_rep(b), 512, NULL, &out);
    assert_true(n >= 1);
    lz4_seen s = {0};
    assert_int_equal(batch_rep_iterate_entries(buf_slice(&out), collect_lz4, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.lens[0], 8 + sizeof zeros);
    assert_int_equal(expiring_value_expiry(slice_make(s.values[0], s.lens[0])), 777);
    assert_memory_equal(s.values[0] + 8, zeros, sizeof zeros);
    assert_int_equal(s.lens[1], sizeof text);
    assert_memory_equal(s.values[1], text, sizeof text);
    assert_int_equal(s.kinds[2], KIND_DELETE);
    buf_free(&out);
    shale_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_batch_round_trip),
        cmocka_unit_test(test_write_batch_rejects_bad_input),
        cmocka_unit_test(test_write_batch_range_delete),
        cmocka_unit_test(test_write_batch_compressed_values),
        cmocka_unit_test(test_write_batch_compress_reuses_stream),
        cmocka_unit_test(test_write_batch_compress_short_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_table.c - sorted tables: build and read back with and without compression and
 * filters, point lookups across versions, iteration both ways, properties, and damage:
 * a flipped byte anywhere gives SHALE_ECORRUPT or the right answer, never a wrong one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "block_cache.h"
#include "file.h"
#include "format.h"
#include "shale.h"
#include "table_builder.h"
#include "table_reader.h"
#include "testutil.h"

static void ukey(char *out, int i)
{
    sprintf(out, "user%07d", i);
}

static void val(char *out, int i, int v)
{
    sprintf(out, "value-%d-%d-%.*s", i, v, i % 40, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop");
}

/* n keys, each with versions seq 3 (newest, a value) and seq 1 (older value); every 10th
   key's newest is a tombstone; every 7th has an expiring value. */
static void build(const char *path, int n, shale_compression comp, int bloom, uint64_t *size)
{
    shale_options o;
    shale_options_default(&o);
    o.compression = comp;
    o.bloom_bits_per_key = bloom;
    o.block_size = 1024;
    int fd;
    assert_int_equal(file_open_write(path, true, &fd), 0);
    table_builder *tb;
    assert_int_equal(table_builder_new(&o, fd, &tb), 0);
    char k[32], v[128];
    buf ik = {0};
    for (int i = 0; i < n; i++) {
        ukey(k, i);
        for (int ver = 3; ver >= 1; ver -= 2) {
            ik.len = 0;
            int kind = ver == 3 && i % 10 == 0  ? KIND_DELETE
                       : ver == 3 && i % 7 == 0 ? KIND_EXPIRING
                                                : KIND_VALUE;
            ikey_append(&ik, slice_from_str(k), (uint64_t)ver, kind);
            char vb[160];
            size_t vl = 0;
            if (kind == KIND_EXPIRING) {
                encode_fixed64(vb, 5000 + (uint64_t)i);
                val(vb + 8, i, ver);
                vl = 8 + strlen(vb + 8);
            } else if (kind == KIND_VALUE) {
                val(v, i, ver);
                memcpy(vb, v, strlen(v));
                vl = strlen(v);
            }
            assert_int_equal(table_builder_add(tb, buf_slice(&ik), slice_make(vb, vl)), 0);
        }
    }
    assert_int_equal(table_builder_finish(tb), 0);
    const table_props *p = table_builder_props(tb);
    assert_int_equal(p->num_entries, (uint64_t)n * 2);
    assert_int_equal(p->num_deletes, (uint64_t)(n + 9) / 10);
    /* every key's newest is live but for the tombstones */
    assert_int_equal(p->num_live_keys, (uint64_t)n - (uint64_t)(n + 9) / 10);
    assert_int_equal(p->max_expire_at_ms, UINT64_MAX); /* plain values present */
    *size = table_builder_file_size(tb);
    table_builder_free(tb);
    file_close(fd);
    buf_free(&ik);
}

static table *open_table(const char *path, uint64_t size, block_cache *c, int *err)
{
    int fd;
    assert_int_equal(file_open_read(path, &fd), 0);
    table *t = NULL;
    *err = table_open(fd, 1, size, c, &t);
    return t;
}

typedef struct hit {
    int found;
    char key[64];
    size_t klen;
    char value[200];
    size_t vlen;
} hit;

static void on_hit(void *arg, slice k, slice v)
{
    hit *h = arg;
    h->found = 1;
    memcpy(h->key, k.data, k.len);
    h->klen = k.len;
    memcpy(h->value, v.data, v.len);
    h->vlen = v.len;
}

/* Looks up key i at seq; returns 0 and fills h, or an error. */
static int lookup(table *t, int i, uint64_t seq, hit *h)
{
    char k[32];
    ukey(k, i);
    buf ik = {0};
    ikey_append(&ik, slice_from_str(k), seq, KIND_FOR_SEEK);
    memset(h, 0, sizeof *h);
    int rc = table_get(t, buf_slice(&ik), true, on_hit, h);
    buf_free(&ik);
    if (rc == 0 && h->found && (h->klen < 8 || memcmp(h->key, k, strlen(k)) != 0))
        h->found = 0; /* another key: absent */
    return rc;
}

static void test_table_round_trip(void **state)
{
    char *dir = tu_tempdir("table");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/000001.sst", dir);
    int sizes[] = {1, 10, 1000, 20000};
    for (int c = 0; c < 2; c++) {
        for (int bloom = 0; bloom <= 10; bloom += 10) {
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                int n = sizes[si];
                uint64_t size;
                build(path, n, c ? SHALE_COMPRESSION_LZ4 : SHALE_COMPRESSION_NONE, bloom, &size);
                block_cache *cache;
                assert_int_equal(block_cache_new(1 << 20, 2, &cache), 0);
                int err;
                table *t = open_table(path, size, cache, &err);
                assert_int_equal(err, 0);
                char v[128];
                for (int i = 0; i < n; i += (n > 1000 ? 13 : 1)) {
                    hit h;
                    assert_int_equal(lookup(t, i, 10, &h), 0);
                    assert_true(h.found);
                    int kind = ikey_kind(slice_make(h.key, h.klen));
                    if (i % 10 == 0) {
                        assert_int_equal(kind, KIND_DELETE);
                    } else if (i % 7 == 0) {
                        assert_int_equal(kind, KIND_EXPIRING);
                        assert_int_equal(decode_fixed64(h.value), 5000 + (uint64_t)i);
                    } else {
                        val(v, i, 3);
                        assert_int_equal(h.vlen, strlen(v));
                        assert_memory_equal(h.value, v, h.vlen);
                    }
                    /* the older version at seq 2 */
                    assert_int_equal(lookup(t, i, 2, &h), 0);
                    assert_true(h.found);
                    val(v, i, 1);
                    assert_memory_equal(h.value, v, strlen(v));
                    /* before either version: nothing for this key */
                    assert_int_equal(lookup(t, i, 0, &h), 0);
                    assert_false(h.found);
                }
                hit h;
                assert_int_equal(lookup(t, n + 5, 10, &h), 0);
                assert_false(h.found);
                /* iterate forward and backward */
                iter *it = table_iter_new(t, true);
                int count = 0;
                for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
                    count++;
                assert_int_equal(count, 2 * n);
                count = 0;
                for (iter_seek_to_last(it); iter_valid(it); iter_prev(it))
                    count++;
                assert_int_equal(count, 2 * n);
                assert_int_equal(iter_status(it), 0);
                /* seek_for_prev to a missing key lands on the last entry of the key before */
                char k[32];
                ukey(k, n / 2);
                buf ik = {0};
                ikey_append(&ik, slice_from_str(k), 0, KIND_DELETE);
                iter_seek_for_prev(it, buf_slice(&ik));
                assert_true(iter_valid(it));
                assert_int_equal(ikey_seq(iter_key(it)), 1);
                buf_free(&ik);
                iter_free(it);
                const table_props *p = table_get_props(t);
                assert_int_equal(p->num_entries, (uint64_t)2 * n);
                assert_int_equal(p->min_seq, 1);
                assert_int_equal(p->max_seq, 3);
                table_close(t);
                block_cache_free(cache);
            }
        }
    }
    tu_rmdir_free(dir);
}

static void test_table_flipped_byte_never_gives_wrong_value(void **state)
{
    char *dir = tu_tempdir("table");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/000001.sst", dir);
    const int n = 400;
    uint64_t size;
    build(path, n, SHALE_COMPRESSION_LZ4, 10, &size);
    uint64_t seed = tu_seed();
    int detected = 0;
    for (int round = 0; round < 200; round++) {
        uint64_t off = round < 64 ? size - 1 - (uint64_t)round : tu_rand_below(&seed, size);
        assert_int_equal(tu_flip_byte(path, off), 0);
        int err;
        table *t = open_table(path, size, NULL, &err);
        if (!t) {
            assert_true(err == SHALE_ECORRUPT || err == SHALE_EVERSION);
            detected++;
        } else {
            char v[128];
            for (int i = 1; i < n; i++) {
                if (i % 10 == 0 || i % 7 == 0)
                    continue;
                hit h;
                int rc = lookup(t, i, 10, &h);
                if (rc == SHALE_ECORRUPT) {
                    detected++;
                    continue;
                }
                assert_int_equal(rc, 0);
                if (!h.found)
                    continue; /* a damaged bloom filter may hide a key; never show a wrong one */
                val(v, i, 3);
                assert_int_equal(h.vlen, strlen(v));
                assert_memory_equal(h.value, v, h.vlen);
            }
            table_close(t);
        }
        assert_int_equal(tu_flip_byte(path, off), 0);
    }
    assert_true(detected > 0);
    /* a truncated table does not open */
    assert_int_equal(tu_truncate(path, size - 10), 0);
    int err;
    assert_null(open_table(path, size - 10, NULL, &err));
    assert_int_equal(err, SHALE_ECORRUPT);
    tu_rmdir_free(dir);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_round_trip),
        cmocka_unit_test(test_table_flipped_byte_never_gives_wrong_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_batch_decode.c - shale_batch_rep_iterate: a tapped record read back entry by entry
 * (puts with and without expiry, a large value the log compresses, deletes, a range
 * delete), in order with their sequences; a damaged record is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shale.h"
#include "testutil.h"

typedef struct taped {
    char *rep;
    size_t len;
} taped;

static void keep(void *ctx, const void *rep, size_t len)
{
    taped *t = ctx;
    free(t->rep);
    t->rep = malloc(len);
    memcpy(t->rep, rep, len);
    t->len = len;
}

typedef struct seen {
    int n;
    uint64_t seq[8];
    int kind[8];
    char key[8][16];
    size_t vlen[8];
    char v0[16];
    uint64_t exp[8];
} seen;

static int note(void *arg, uint64_t seq, shale_entry_kind kind, const void *key, size_t klen,
                const void *val, size_t vlen, uint64_t expire_at_ms)
{
    seen *s = arg;
    if (s->n == 8 || klen >= 16)
        return -1;
    s->seq[s->n] = seq;
    s->kind[s->n] = kind;
    memcpy(s->key[s->n], key, klen);
    s->vlen[s->n] = vlen;
    if (s->n == 0)
        memcpy(s->v0, val, vlen < 16 ? vlen : 15);
    s->exp[s->n] = expire_at_ms;
    s->n++;
    return 0;
}

static void test_batch_decode_reads_every_kind(void **state)
{
    (void)state;
    char *dir = tu_tempdir("batch_decode");
    taped t = {0};
    shale_options o;
    shale_options_default(&o);
    o.commit_tap = keep;
    o.commit_tap_ctx = &t;
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    size_t big_len = 100000;
    char *big = calloc(1, big_len); /* zeros: the log compresses it */
    assert_int_equal(shale_batch_put(b, "a", 1, "one", 3, 0), 0);
    assert_int_equal(shale_batch_put(b, "b", 1, "two", 3, 4102444800000ull), 0);
    assert_int_equal(shale_batch_put(b, "c", 1, big, big_len, 0), 0);
    assert_int_equal(shale_batch_delete(b, "d", 1), 0);
    assert_int_equal(shale_batch_delete_range(b, "e", 1, "g", 1), 0);
    assert_int_equal(shale_write(db, b), 0);
    uint64_t last = shale_last_seq(db);
    seen s = {0};
    assert_int_equal(shale_batch_rep_iterate(t.rep, t.len, note, &s), 0);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.seq[0], last - 4);
    assert_int_equal(s.seq[4], last);
    assert_int_equal(s.kind[0], SHALE_ENTRY_PUT);
    assert_string_equal(s.key[0], "a");
    assert_string_equal(s.v0, "one");
    assert_int_equal(s.exp[0], 0);
    assert_int_equal(s.exp[1], 4102444800000ull);
    assert_int_equal(s.vlen[1], 3);
    assert_int_equal(s.vlen[2], big_len);
    assert_int_equal(s.kind[3], SHALE_ENTRY_DELETE);
    assert_int_equal(s.kind[4], SHALE_ENTRY_RANGE_DELETE);
    assert_string_equal(s.key[4], "e");
    /* a damaged record: its count says more entries than it holds */
    t.rep[8] = 9;
    seen s2 = {0};
    assert_int_equal(shale_batch_rep_iterate(t.rep, t.len, note, &s2), SHALE_ECORRUPT);
    assert_int_equal(shale_batch_rep_iterate(NULL, 0, note, &s2), -EINVAL);
    free(big);
    free(t.rep);
    shale_batch_free(b);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_decode_reads_every_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_model.c - a randomized model test of the whole engine: puts, deletes, range
 * deletes, batches, snapshots and iteration in both directions, checked against an
 * in-memory model, with close/reopen, flush and compaction in between. The seed is printed;
 * SHALE_SEED=N replays a run. SHALE_MODEL_OPS scales the length.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shale.h"
#include "testutil.h"

#define NKEYS 600
#define MAXSNAP 4

typedef struct model {
    char *val[NKEYS]; /* NULL: absent */
} model;

static void model_copy(model *dst, const model *src)
{
    for (int i = 0; i < NKEYS; i++)
        dst->val[i] = src->val[i] ? strdup(src->val[i]) : NULL;
}

static void model_free(model *m)
{
    for (int i = 0; i < NKEYS; i++) {
        free(m->val[i]);
        m->val[i] = NULL;
    }
}

static void model_set(model *m, int k, const char *v)
{
    free(m->val[k]);
    m->val[k] = v ? strdup(v) : NULL;
}

static int key_name(char *out, int k)
{
    /* variable-length keys with shared prefixes exercise prefix compression */
    return sprintf(out, "k%03d%.*s", k, k % 7, "xxxxxxx");
}

static void random_value(uint64_t *rs, char *out, int gen)
{
    int len = (int)tu_rand_below(rs, 200);
    int n = sprintf(out, "g%d:", gen);
    for (int i = 0; i < len; i++)
        out[n + i] = (char)('a' + tu_rand_below(rs, 26));
    out[n + len] = '\0';
}

/*
 * A random range deletion [begin, end) into b (or the db when b is NULL) and the model:
 * bounds are keys or their bare "kNNN" prefixes (which sort just before them), so the
 * range holds the keys lo..hi-1; mostly short, sometimes wide.
 */
static void range_delete(shale_db *db, shale_batch *b, model *m, uint64_t *rs)
{
    int lo = (int)tu_rand_below(rs, NKEYS);
    int span =
        1 + (int)(tu_rand_below(rs, 10) == 0 ? tu_rand_below(rs, 300) : tu_rand_below(rs, 30));
    int hi = lo + span > NKEYS ? NKEYS : lo + span;
    char kb[32], ke[32];
    int lb = tu_rand_below(rs, 2) ? key_name(kb, lo) : sprintf(kb, "k%03d", lo);
    int le = hi == NKEYS            ? sprintf(ke, "l")
             : tu_rand_below(rs, 2) ? key_name(ke, hi)
                                    : sprintf(ke, "k%03d", hi);
    if (b)
        assert_int_equal(shale_batch_delete_range(b, kb, (size_t)lb, ke, (size_t)le), 0);
    else
        assert_int_equal(shale_delete_range(db, kb, (size_t)lb, ke, (size_t)le), 0);
    for (int k = lo; k < hi; k++)
        model_set(m, k, NULL);
}

/* Key index of an iterator position (keys are "kNNN..."). */
static int key_index(const char *k, size_t n)
{
    assert_true(n >= 4 && k[0] == 'k');
    return (k[1] - '0') * 100 + (k[2] - '0') * 10 + (k[3] - '0');
}

static void check_get(shale_db *db, const model *m, const shale_snapshot *snap, int k)
{
    char key[16];
    int kl = key_name(key, k);
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.snapshot = snap;
    void *v = NULL;
    size_t n = 0;
    int rc = shale_get_ex(db, &ro, key, (size_t)kl, &v, &n, NULL);
    if (!m->val[k]) {
        if (rc != SHALE_ENOTFOUND)
            fail_msg("key %s should be absent (snapshot %p): rc %d", key, (void *)snap, rc);
    } else {
        if (rc != 0)
            fail_msg("key %s: %s", key, shale_strerror(rc));
        assert_int_equal(n, strlen(m->val[k]));
        assert_memory_equal(v, m->val[k], n);
    }
    shale_free(v);
}

/* Walks forward or backward from a random start and compares with the model. */
static void check_iter(shale_db *db, const model *m, const shale_snapshot *snap, uint64_t *rs)
{
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.snapshot = snap;
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    int start = (int)tu_rand_below(rs, NKEYS);
    char key[16];
    int kl = key_name(key, start);
    int mode = (int)tu_rand_below(rs, 4);
    int expect_k;
    if (mode == 0) {
        shale_iter_seek_to_first(it);
        expect_k = 0;
    } else if (mode == 1) {
        shale_iter_seek_to_last(it);
        expect_k = NKEYS - 1;
    } else if (mode == 2) {
        shale_iter_seek(it, key, (size_t)kl);
        expect_k = start;
    } else {
        shale_iter_seek_for_prev(it, key, (size_t)kl);
        expect_k = start;
    }
    bool backward = mode == 1 || mode == 3;
    /* find the model's first visible key in that direction */
    while (expect_k >= 0 && expect_k < NKEYS && !m->val[expect_k])
        expect_k += backward ? -1 : 1;
    int steps = (int)tu_rand_below(rs, 60) + 1;
    for (int s = 0; s < steps; s++) {
        bool in_range = expect_k >= 0 && expect_k < NKEYS;
        if (!in_range) {
            assert_false(shale_iter_valid(it));
            break;
        }
        assert_true(shale_iter_valid(it));
        size_t n, vn;
        const char *k = shale_iter_key(it, &n);
        const char *v = shale_iter_value(it, &vn);
        assert_int_equal(key_index(k, n), expect_k);
        assert_int_equal(vn, strlen(m->val[expect_k]));
        assert_memory_equal(v, m->val[expect_k], vn);
        /* sometimes turn around */
        if (tu_rand_below(rs, 8) == 0)
            backward = !backward;
        if (backward) {
            shale_iter_prev(it);
            do
                expect_k--;
            while (expect_k >= 0 && !m->val[expect_k]);
        } else {
            shale_iter_next(it);
            do
                expect_k++;
            while (expect_k < NKEYS && !m->val[expect_k]);
        }
    }
    assert_int_equal(shale_iter_status(it), 0);
    shale_iter_free(it);
}

static void run_model(shale_compaction_style style, uint64_t seed, int ops)
{
    char *dir = tu_tempdir("model");
    shale_options o;
    shale_options_default(&o);
    o.memtable_size = 64 * 1024;
    o.table_size = 64 * 1024;
    o.base_level_size = 256 * 1024;
    o.block_size = 512;
    o.block_cache_size = 256 * 1024;
    o.compaction_style = style;
    o.fifo_max_size = UINT64_MAX / 4; /* fifo must not drop data in a model test */
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    uint64_t rs = seed;
    model m = {{0}};
    model snapm[MAXSNAP];
    const shale_snapshot *snaps[MAXSNAP] = {0};
    memset(snapm, 0, sizeof snapm);
    char key[16], val[256];
    int gen = 0;
    for (int op = 0; op < ops; op++) {
        int r = (int)tu_rand_below(&rs, 1000);
        int k = (int)tu_rand_below(&rs, NKEYS);
        int kl = key_name(key, k);
        if (r < 500) {
            random_value(&rs, val, ++gen);
            assert_int_equal(shale_put(db, key, (size_t)kl, val, strlen(val), 0), 0);
            model_set(&m, k, val);
        } else if (r < 620) {
            assert_int_equal(shale_delete(db, key, (size_t)kl), 0);
            model_set(&m, k, NULL);
        } else if (r < 650) {
            range_delete(db, NULL, &m, &rs);
        } else if (r < 700) {
            shale_batch *b;
            assert_int_equal(shale_batch_new(&b), 0);
            int n = (int)tu_rand_below(&rs, 20) + 1;
            model next;
            model_copy(&next, &m);
            for (int i = 0; i < n; i++) {
                int bk = (int)tu_rand_below(&rs, NKEYS);
                int bkl = key_name(key, bk);
                if (tu_rand_below(&rs, 10) == 0) {
                    range_delete(db, b, &next, &rs); /* ordered with the batch's others */
                } else if (tu_rand_below(&rs, 4) == 0) {
                    assert_int_equal(shale_batch_delete(b, key, (size_t)bkl), 0);
                    model_set(&next, bk, NULL);
                } else {
                    random_value(&rs, val, ++gen);
                    assert_int_equal(shale_batch_put(b, key, (size_t)bkl, val, strlen(val), 0), 0);
                    model_set(&next, bk, val);
                }
            }
            assert_int_equal(shale_write(db, b), 0);
            shale_batch_free(b);
            model_free(&m);
            m = next;
        } else if (r < 850) {
            check_get(db, &m, NULL, k);
        } else if (r < 880) {
            int s = (int)tu_rand_below(&rs, MAXSNAP);
            if (snaps[s]) {
                check_get(db, &snapm[s], snaps[s], k);
                if (tu_rand_below(&rs, 3) == 0) {
                    shale_snapshot_release(db, snaps[s]);
                    snaps[s] = NULL;
                    model_free(&snapm[s]);
                }
            } else {
                assert_int_equal(shale_snapshot_new(db, &snaps[s]), 0);
                model_copy(&snapm[s], &m);
            }
        } else if (r < 960) {
            int s = (int)tu_rand_below(&rs, MAXSNAP + 1);
            if (s < MAXSNAP && snaps[s])
                check_iter(db, &snapm[s], snaps[s], &rs);
            else
                check_iter(db, &m, NULL, &rs);
        } else if (r < 975) {
            assert_int_equal(shale_flush(db), 0);
        } else if (r < 985) {
            int a = (int)tu_rand_below(&rs, NKEYS), b = (int)tu_rand_below(&rs, NKEYS);
            char ka[16], kb[16];
            int la = key_name(ka, a < b ? a : b), lb = key_name(kb, a < b ? b : a);
            assert_int_equal(shale_compact_range(db, ka, (size_t)la, kb, (size_t)lb), 0);
        } else if (r < 992) {
            /* close and reopen: snapshots do not survive */
            for (int s = 0; s < MAXSNAP; s++) {
                if (snaps[s])
                    shale_snapshot_release(db, snaps[s]);
                snaps[s] = NULL;
                model_free(&snapm[s]);
            }
            assert_int_equal(shale_close(db), 0);
            assert_int_equal(shale_open(dir, &o, &db), 0);
        } else {
            /* a full sweep of the live state */
            for (int i = 0; i < NKEYS; i++)
                check_get(db, &m, NULL, i);
        }
    }
    for (int i = 0; i < NKEYS; i++)
        check_get(db, &m, NULL, i);
    for (int s = 0; s < MAXSNAP; s++) {
        if (snaps[s]) {
            for (int i = 0; i < NKEYS; i++)
                check_get(db, &snapm[s], snaps[s], i);
            shale_snapshot_release(db, snaps[s]);
        }
        model_free(&snapm[s]);
    }
    assert_int_equal(shale_close(db), 0);
    assert_int_equal(shale_open(dir, &o, &db), 0);
    for (int i = 0; i < NKEYS; i++)
        check_get(db, &m, NULL, i);
    assert_int_equal(shale_close(db), 0);
    model_free(&m);
    tu_rmdir_free(dir);
}

static int model_ops(void)
{
    const char *s = getenv("SHALE_MODEL_OPS");
    return s ? atoi(s) : 20000;
}

static void test_model_leveled(void **state)
{
    run_model(SHALE_COMPACTION_LEVELED, tu_seed(), model_ops());
}

static void test_model_tiered(void **state)
{
    run_model(SHALE_COMPACTION_TIERED, tu_seed() + 1, model_ops() / 2);
}

static void test_model_fifo_without_cap(void **state)
{
    run_model(SHALE_COMPACTION_FIFO, tu_seed() + 2, model_ops() / 4);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_leveled),
        cmocka_unit_test(test_model_tiered),
        cmocka_unit_test(test_model_fifo_without_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

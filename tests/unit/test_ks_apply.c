/*
 * test_ks_apply.c - a replica's key layer applying its primary's records (ks_apply.h):
 * the records the primary's commit tap gave, applied to a second store, leave the same
 * counts per database (keys and keys with a TTL) as the primary's, through strings with
 * and without TTLs, a TTL removed, deletes, a key written twice in one batch, hashes,
 * FLUSHDB and SWAPDB (the mapping read again); the counts equal a recount from the store
 * (a reopen); WATCH's listener hears every key written; a record out of order changes
 * nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyspace.h"
#include "ks_apply.h"
#include "ks_fixture.h"
#include "testutil.h"

typedef struct tape {
    char *rep[4096];
    size_t len[4096];
    int n;
} tape;

static void record(void *ctx, const void *rep, size_t len)
{
    tape *t = ctx;
    t->rep[t->n] = malloc(len);
    memcpy(t->rep[t->n], rep, len);
    t->len[t->n++] = len;
}

typedef struct fixture {
    char *pdir, *rdir;
    shale_db *pdb, *rdb;
    keyspace p, r;
    tape tape;
    int applied; /* records of the tape applied to r */
    int touched;
} fixture;

static void on_touch(void *ctx, int dbi, const void *key, size_t klen, bool deleted)
{
    (void)dbi;
    (void)key;
    (void)klen;
    (void)deleted;
    ((fixture *)ctx)->touched++;
}

static void on_db_touch(void *ctx, int dbi, int other)
{
    (void)ctx;
    (void)dbi;
    (void)other;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->pdir = tu_tempdir("ks_apply_p");
    f->rdir = tu_tempdir("ks_apply_r");
    shale_options o;
    shale_options_default(&o);
    o.compaction_filter = ks_compaction_filter;
    o.compaction_filter_ctx = &f->p;
    o.commit_tap = record;
    o.commit_tap_ctx = &f->tape;
    assert_int_equal(shale_open(f->pdir, &o, &f->pdb), 0);
    assert_int_equal(ks_open(&f->p, f->pdb, f->pdir, NULL), 0);
    ks_fixture_open(f->rdir, &f->r, &f->rdb);
    f->r.replica = true;
    f->r.touch_fn = on_touch;
    f->r.db_touch_fn = on_db_touch;
    f->r.touch_ctx = f;
    f->applied = 1; /* the primary's first record is its creation's mapping: r has one */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ks_fixture_close(&f->p, f->pdb);
    ks_fixture_close(&f->r, f->rdb);
    for (int i = 0; i < f->tape.n; i++)
        free(f->tape.rep[i]);
    tu_rmdir_free(f->pdir);
    tu_rmdir_free(f->rdir);
    free(f);
    return 0;
}

/* Applies what the primary wrote since the last call. */
static void catch_up(fixture *f)
{
    for (; f->applied < f->tape.n; f->applied++) {
        int changed;
        assert_int_equal(ks_apply_record(&f->r, f->tape.rep[f->applied],
                                         f->tape.len[f->applied], &changed), 0);
    }
    assert_int_equal(shale_last_seq(f->rdb), shale_last_seq(f->pdb));
}

static void assert_same_counts(const keyspace *a, const keyspace *b)
{
    for (int i = 0; i < KS_DBS; i++) {
        assert_int_equal(a->phys[i], b->phys[i]);
        assert_int_equal(a->count[i], b->count[i]);
        assert_int_equal(a->expires[i], b->expires[i]);
    }
}

static void put_string(keyspace *ks, int dbi, const char *k, uint64_t exp)
{
    ks_meta old;
    assert_int_equal(ks_read(ks, dbi, k, strlen(k), &old), 0);
    assert_int_equal(ks_put_meta(ks, dbi, k, strlen(k), &old, KS_TYPE_STRING, "v", 1, exp), 0);
    ks_meta_free(&old);
}

static void del_key(keyspace *ks, int dbi, const char *k)
{
    ks_meta old;
    assert_int_equal(ks_read(ks, dbi, k, strlen(k), &old), 0);
    assert_int_equal(ks_del_key(ks, dbi, k, strlen(k), &old), 0);
    ks_meta_free(&old);
}

static void commit_one(keyspace *ks, int dbi, const char *k, uint64_t exp)
{
    ks_begin(ks);
    put_string(ks, dbi, k, exp);
    assert_int_equal(ks_commit(ks), 0);
}

static void test_ks_apply_counts_follow_the_primary(void **state)
{
    fixture *f = *state;
    uint64_t later = ks_now_ms() + 3600 * 1000;
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        commit_one(&f->p, i % 3, k, i % 2 ? later : 0);
    }
    commit_one(&f->p, 0, "k0", later); /* a TTL added */
    commit_one(&f->p, 1, "k1", 0);     /* a TTL removed */
    ks_begin(&f->p);                   /* one batch: many keys, one twice */
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "m%d", i);
        put_string(&f->p, 1, k, i % 4 ? 0 : later);
    }
    assert_int_equal(ks_commit(&f->p), 0);
    ks_begin(&f->p);
    del_key(&f->p, 1, "m3");
    put_string(&f->p, 1, "m4", later);
    assert_int_equal(ks_commit(&f->p), 0);
    /* one record of 300 keys (the apply's table grows past its smallest), written by a
       transaction of commands that put, delete and put again */
    assert_int_equal(ks_txn_begin(&f->p), 0);
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "n%d", i);
        commit_one(&f->p, 2, k, i % 5 ? 0 : later);
        if (i % 7 == 0) {
            ks_begin(&f->p);
            del_key(&f->p, 2, k);
            assert_int_equal(ks_commit(&f->p), 0);
        }
        if (i % 14 == 0)
            commit_one(&f->p, 2, k, later);
    }
    assert_int_equal(ks_txn_commit(&f->p), 0);
    assert_int_equal(f->p.count[2], 16 + 300 - 43 + 22);
    f->touched = 0;
    catch_up(f);
    assert_true(f->touched >= 2); /* WATCH heard the keys */
    assert_same_counts(&f->p, &f->r);
    assert_int_equal(f->r.count[1], f->p.count[1]);
    assert_true(f->p.expires[1] > 0);
}

static void test_ks_apply_flush_and_swap(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 30; i++) {
        char k[16];
        snprintf(k, sizeof k, "s%d", i);
        commit_one(&f->p, i % 4, k, i % 3 ? 0 : ks_now_ms() + 60000);
    }
    catch_up(f);
    assert_int_equal(ks_flush(&f->p, 1), 0);
    assert_int_equal(ks_swap(&f->p, 0, 2), 0);
    commit_one(&f->p, 1, "after-flush", 0);
    commit_one(&f->p, 0, "after-swap", 0);
    catch_up(f);
    assert_same_counts(&f->p, &f->r);
    assert_int_equal(f->r.count[1], 1);
    /* the counts are what the store holds: a reopen counts the same */
    keyspace *r = &f->r;
    int64_t count[KS_DBS], expires[KS_DBS];
    memcpy(count, r->count, sizeof count);
    memcpy(expires, r->expires, sizeof expires);
    ks_fixture_close(r, f->rdb);
    ks_fixture_open(f->rdir, r, &f->rdb);
    assert_memory_equal(count, r->count, sizeof count);
    assert_memory_equal(expires, r->expires, sizeof expires);
}

static void test_ks_apply_refuses_a_record_out_of_order(void **state)
{
    fixture *f = *state;
    commit_one(&f->p, 0, "a", 0);
    commit_one(&f->p, 0, "b", 0);
    catch_up(f);
    int64_t before = f->r.count[0];
    int changed;
    assert_int_equal(ks_apply_record(&f->r, f->tape.rep[f->tape.n - 1], f->tape.len[f->tape.n - 1],
                                     &changed),
                     SHALE_ESEQ); /* applied already */
    assert_int_equal(f->r.count[0], before);
    assert_int_equal(ks_apply_record(&f->r, "short", 5, &changed), SHALE_ECORRUPT);
    assert_int_equal(f->r.count[0], before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ks_apply_counts_follow_the_primary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ks_apply_flush_and_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ks_apply_refuses_a_record_out_of_order, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_repl_engine.c - the engine's replication primitives: shale_last_seq, the commit
 * tap (every record, in order, before it is visible), shale_write_at (a replica applies
 * the tapped records with their own sequence numbers, durably) and reclaim-only
 * value-log GC (vlog_gc_rewrite 0).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "coding.h"
#include "shale.h"
#include "testutil.h"

/* ---- a tap that keeps copies of the records ---- */

typedef struct record {
    char *rep;
    size_t len;
} record;

typedef struct tape {
    pthread_mutex_t mu;
    record *recs;
    size_t n, cap;
    shale_db *db;          /* set after open: the tap checks visibility (an atomic load) */
    int invisible_errors;  /* records whose first sequence was already visible */
} tape;

static void tape_init(tape *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
}

static void tape_free(tape *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->recs[i].rep);
    free(t->recs);
    pthread_mutex_destroy(&t->mu);
}

static uint64_t rep_seq(const record *r)
{
    return decode_fixed64(r->rep);
}

static uint32_t rep_count(const record *r)
{
    return decode_fixed32(r->rep + 8);
}

static void tap(void *ctx, const void *rep, size_t len)
{
    tape *t = ctx;
    pthread_mutex_lock(&t->mu);
    if (t->db && shale_last_seq(t->db) >= decode_fixed64(rep))
        t->invisible_errors++;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->recs = realloc(t->recs, t->cap * sizeof *t->recs);
        assert_non_null(t->recs);
    }
    record *r = &t->recs[t->n++];
    r->rep = malloc(len);
    assert_non_null(r->rep);
    memcpy(r->rep, rep, len);
    r->len = len;
    pthread_mutex_unlock(&t->mu);
}

/* The tape holds records with contiguous sequences from first, each with entries, and
   ends at last; returns the number of entries. */
static uint64_t check_tape_contiguous(const tape *t, uint64_t first, uint64_t last)
{
    uint64_t next = first, entries = 0;
    for (size_t i = 0; i < t->n; i++) {
        const record *r = &t->recs[i];
        assert_true(r->len >= 12);
        if (rep_seq(r) != next)
            fail_msg("record %zu starts at %" PRIu64 ", %" PRIu64 " expected", i, rep_seq(r),
                     next);
        assert_true(rep_count(r) > 0);
        next += rep_count(r);
        entries += rep_count(r);
    }
    assert_int_equal(next - 1, last);
    return entries;
}

static void small_options(shale_options *o, tape *t)
{
    tu_small_options(o);
    o->value_threshold = 100;
    o->vlog_file_size = 1 << 20;
    o->vlog_gc_interval_s = 0; /* tests run GC themselves */
    if (t) {
        o->commit_tap = tap;
        o->commit_tap_ctx = t;
    }
}

static shale_db *open_db(const char *dir, const shale_options *o)
{
    shale_db *db = tu_open(dir, o);
    assert_non_null(db);
    return db;
}

/* Bytes lz4 cannot shrink, from a seed, so values fill the value log as written. */
static void random_bytes(char *out, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t j = 0; j < len; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[j] = (char)(x >> 32);
    }
}

static void put_str(shale_db *db, const char *k, const char *v)
{
    assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
}

/* ---- shale_last_seq ---- */

static void test_repl_last_seq_counts_entries(void **state)
{
    char *dir = tu_tempdir("repl");
    shale_options o;
    small_options(&o, NULL);
    shale_db *db = open_db(dir, &o);
    assert_int_equal(shale_last_seq(db), 0);
    assert_int_equal(shale_last_seq(NULL), 0);
    put_str(db, "a", "1");
    assert_int_equal(shale_last_seq(db), 1);
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, "b", 1, "2", 1, 0), 0);
    assert_int_equal(shale_batch_delete(b, "a", 1), 0);
    assert_int_equal(shale_batch_delete_range(b, "c", 1, "d", 1), 0);
    assert_int_equal(shale_write(db, b), 0);
    assert_int_equal(shale_last_seq(db), 4);
    shale_batch_clear(b);
    assert_int_equal(shale_write(db, b), 0); /* empty: takes no sequence */
    assert_int_equal(shale_last_seq(db), 4);
    shale_batch_free(b);
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o);
    assert_int_equal(shale_last_seq(db), 4);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* ---- the commit tap ---- */

#define TAP_THREADS 4
#define TAP_WRITES 1500

typedef struct tap_writer {
    shale_db *db;
    int id;
} tap_writer;

static void *tap_writer_main(void *arg)
{
    tap_writer *w = arg;
    char k[32], v[300];
    shale_batch *b;
    if (shale_batch_new(&b))
        return (void *)1;
    for (int i = 0; i < TAP_WRITES; i++) {
        snprintf(k, sizeof k, "t%d-%05d", w->id, i);
        size_t vlen = (size_t)(10 + (i * 37) % 250); /* some go to the value log */
        memset(v, 'a' + i % 26, vlen);
        int rc;
        if (i % 10 == 9) {
            shale_batch_clear(b);
            shale_batch_put(b, k, strlen(k), v, vlen, 0);
            shale_batch_delete(b, "nothing", 7);
            rc = shale_write(w->db, b);
        } else if (i % 10 == 5) {
            rc = shale_delete(w->db, k, strlen(k));
        } else {
            rc = shale_put(w->db, k, strlen(k), v, vlen, 0);
        }
        if (rc) {
            shale_batch_free(b);
            return (void *)2;
        }
    }
    shale_batch_free(b);
    return NULL;
}

/* Several writers (group commit merges their batches): the tap sees every record once,
   in sequence order, contiguous, each before its writes are visible. */
static void test_repl_tap_sees_every_record_in_order(void **state)
{
    for (int sync = 0; sync <= 1; sync++) {
        char *dir = tu_tempdir("repltap");
        tape t;
        tape_init(&t);
        shale_options o;
        small_options(&o, &t);
        o.sync_writes = sync;
        shale_db *db = open_db(dir, &o);
        t.db = db;
        pthread_t th[TAP_THREADS];
        tap_writer w[TAP_THREADS];
        for (int i = 0; i < TAP_THREADS; i++) {
            w[i] = (tap_writer){db, i};
            assert_int_equal(pthread_create(&th[i], NULL, tap_writer_main, &w[i]), 0);
        }
        for (int i = 0; i < TAP_THREADS; i++) {
            void *ret;
            pthread_join(th[i], &ret);
            assert_null(ret);
        }
        uint64_t entries = check_tape_contiguous(&t, 1, shale_last_seq(db));
        /* a tenth of the writes are batches of two */
        assert_int_equal(entries, TAP_THREADS * TAP_WRITES + TAP_THREADS * TAP_WRITES / 10);
        assert_int_equal(t.invisible_errors, 0);
        fprintf(stderr, "# sync_writes %d: %zu records for %" PRIu64 " entries\n", sync, t.n,
                entries);
        assert_int_equal(shale_close(db), 0);
        tape_free(&t);
        tu_rmdir_free(dir);
    }
}

/* Value-log GC's rewrites take sequence numbers: they go through the tap too. */
static void test_repl_tap_sees_gc_rewrites(void **state)
{
    char *dir = tu_tempdir("repltapgc");
    tape t;
    tape_init(&t);
    shale_options o;
    small_options(&o, &t);
    shale_db *db = open_db(dir, &o);
    t.db = db;
    char k[32], v[1000];
    for (int gen = 0; gen < 3; gen++)
        for (int i = 0; i < 1500; i++) {
            snprintf(k, sizeof k, "g%05d", i);
            random_bytes(v, sizeof v, (uint64_t)(gen * 100000 + i));
            /* the first generation's odd keys stay: GC must rewrite them */
            if (gen == 0 || i % 2 == 0)
                assert_int_equal(shale_put(db, k, strlen(k), v, sizeof v, 0), 0);
        }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t before = shale_last_seq(db);
    size_t records_before = t.n;
    int runs = 0;
    while (shale_vlog_gc(db, 0.3) == 0)
        runs++;
    assert_true(runs > 0);
    assert_true(shale_last_seq(db) > before);
    assert_true(t.n > records_before);
    check_tape_contiguous(&t, 1, shale_last_seq(db));
    assert_int_equal(t.invisible_errors, 0);
    assert_int_equal(shale_close(db), 0);
    tape_free(&t);
    tu_rmdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_last_seq_counts_entries),
        cmocka_unit_test(test_repl_tap_sees_every_record_in_order),
        cmocka_unit_test(test_repl_tap_sees_gc_rewrites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

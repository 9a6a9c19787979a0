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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "coding.h"
#include "file.h"
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
            tu_random_bytes(v, sizeof v, (uint64_t)(gen * 100000 + i));
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

/* ---- shale_write_at: a replica fed the tape ---- */

/* The source's workload: puts small and large (value log), batches, deletes, range
   deletes, values that expire (some already past), and value-log GC's rewrites. */
static void source_workload(shale_db *db)
{
    char k[32], v[1200];
    uint64_t now = tu_now_ms();
    for (int gen = 0; gen < 3; gen++)
        for (int i = 0; i < 1200; i++) {
            snprintf(k, sizeof k, "k%05d", i);
            size_t vlen = (size_t)(20 + (i * 131 + gen * 17) % 1100);
            tu_random_bytes(v, vlen, (uint64_t)(gen * 100000 + i));
            uint64_t exp = i % 11 == 0 ? now + 3600 * 1000 : i % 13 == 0 ? now - 1000 : 0;
            if (gen == 0 || i % 3 != 0)
                assert_int_equal(shale_put(db, k, strlen(k), v, vlen, exp), 0);
            if (gen == 1 && i % 50 == 7)
                assert_int_equal(shale_delete(db, k, strlen(k)), 0);
        }
    assert_int_equal(shale_delete_range(db, "k00100", 6, "k00200", 6), 0);
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "b%03d", i);
        assert_int_equal(shale_batch_put(b, k, strlen(k), k, strlen(k), 0), 0);
    }
    assert_int_equal(shale_batch_delete_range(b, "b010", 4, "b020", 4), 0);
    assert_int_equal(shale_batch_put(b, "b015", 4, "after", 5, 0), 0);
    assert_int_equal(shale_write(db, b), 0);
    shale_batch_free(b);
    /* GC rewrites the live values of the first generation's segments */
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    int runs = 0;
    while (shale_vlog_gc(db, 0.3) == 0)
        runs++;
    assert_true(runs > 0);
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "k%05d", i * 4);
        assert_int_equal(shale_put(db, k, strlen(k), "late", 4, 0), 0);
    }
}

/* Opens a source store in a new directory (*dir) with its tap on t (initialised here)
   and runs the workload on it. */
static shale_db *open_source(char **dir, tape *t)
{
    *dir = tu_tempdir("replsrc");
    tape_init(t);
    shale_options o;
    small_options(&o, t);
    shale_db *src = open_db(*dir, &o);
    source_workload(src);
    check_tape_contiguous(t, 1, shale_last_seq(src));
    return src;
}

/* Applies records [from, to) of the tape. */
static void apply_tape(shale_db *db, const tape *t, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        int rc = shale_write_at(db, t->recs[i].rep, t->recs[i].len);
        if (rc)
            fail_msg("record %zu (seq %" PRIu64 "): %s", i, rep_seq(&t->recs[i]),
                     shale_strerror(rc));
    }
}

/* The same live keys, values and expiries (an entry past its expiry may be gone on one
   side and not yet on the other: each store's compactions drop them on their own). */
static void expect_same_content(shale_db *a, shale_db *b)
{
    shale_read_options ro;
    shale_read_options_default(&ro);
    shale_iter *ia, *ib;
    assert_int_equal(shale_iter_new(a, &ro, &ia), 0);
    assert_int_equal(shale_iter_new(b, &ro, &ib), 0);
    shale_iter_seek_to_first(ia);
    shale_iter_seek_to_first(ib);
    uint64_t n = 0;
    for (; shale_iter_valid(ia); shale_iter_next(ia), shale_iter_next(ib), n++) {
        size_t kal, kbl, val, vbl;
        const void *ka = shale_iter_key(ia, &kal);
        if (!shale_iter_valid(ib))
            fail_msg("the replica ends before %.*s", (int)kal, (const char *)ka);
        const void *kb = shale_iter_key(ib, &kbl);
        if (kal != kbl || memcmp(ka, kb, kal))
            fail_msg("key %.*s on one side, %.*s on the other", (int)kal, (const char *)ka,
                     (int)kbl, (const char *)kb);
        const void *va = shale_iter_value(ia, &val);
        const void *vb = shale_iter_value(ib, &vbl);
        assert_non_null(va);
        assert_non_null(vb);
        assert_int_equal(val, vbl);
        assert_memory_equal(va, vb, val);
        assert_int_equal(shale_iter_expire_at(ia), shale_iter_expire_at(ib));
    }
    assert_false(shale_iter_valid(ib));
    assert_int_equal(shale_iter_status(ia), 0);
    assert_int_equal(shale_iter_status(ib), 0);
    assert_true(n > 0);
    shale_iter_free(ia);
    shale_iter_free(ib);
}

static void replica_options(shale_options *o)
{
    small_options(o, NULL);
    o->vlog_gc_rewrite = 0; /* nothing takes sequences on a replica but applied records */
}

/* A replica fed every tapped record ends with the source's content and last sequence,
   and keeps both across a reopen. */
static void test_repl_write_at_replica_matches_source(void **state)
{
    char *sdir, *rdir = tu_tempdir("replica");
    tape t;
    shale_db *src = open_source(&sdir, &t);
    shale_options ro;
    replica_options(&ro);
    shale_db *rep = open_db(rdir, &ro);
    apply_tape(rep, &t, 0, t.n);
    assert_int_equal(shale_last_seq(rep), shale_last_seq(src));
    expect_same_content(src, rep);
    /* the replica's own GC reclaims what the applied overwrites and rewrites left dead,
       and takes no sequence */
    assert_int_equal(shale_compact_range(rep, NULL, 0, NULL, 0), 0);
    int runs = 0;
    while (shale_vlog_gc(rep, 0.3) == 0)
        runs++;
    assert_true(runs > 0);
    assert_int_equal(shale_last_seq(rep), shale_last_seq(src));
    expect_same_content(src, rep);
    assert_int_equal(shale_close(rep), 0);
    rep = open_db(rdir, &ro);
    assert_int_equal(shale_last_seq(rep), shale_last_seq(src));
    expect_same_content(src, rep);
    assert_int_equal(shale_close(rep), 0);
    assert_int_equal(shale_close(src), 0);
    tape_free(&t);
    tu_rmdir_free(sdir);
    tu_rmdir_free(rdir);
}

/* A copy of t whose records from every seventh on start `gap` sequences later than the
   one before them ends (a stream the replica joined with holes). */
static void tape_with_gaps(const tape *t, tape *out, uint64_t gap)
{
    tape_init(out);
    uint64_t shift = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (i % 7 == 3)
            shift += gap;
        tap(out, t->recs[i].rep, t->recs[i].len);
        encode_fixed64(out->recs[i].rep, rep_seq(&t->recs[i]) + shift);
    }
}

static uint64_t rep_last(const record *r)
{
    return rep_seq(r) + rep_count(r) - 1;
}

/* Sequences a write_at skips stay skipped: after a crash the last sequence is the last
   record's (recovery tells the skips from lost records), and records go on from there. */
static void test_repl_write_at_gaps_survive_reopen(void **state)
{
    char *sdir, *rdir = tu_tempdir("replica");
    tape t, g;
    shale_db *src = open_source(&sdir, &t);
    shale_options ro;
    replica_options(&ro);
    tape_with_gaps(&t, &g, 1000);
    shale_db *rep = open_db(rdir, &ro);
    size_t half = g.n / 2;
    apply_tape(rep, &g, 0, half);
    assert_int_equal(shale_last_seq(rep), rep_last(&g.recs[half - 1]));
    /* a crash, not a close: the reopen replays the gapped records from the log */
    char *img = tu_crash_image(rdir);
    assert_non_null(img);
    assert_int_equal(shale_close(rep), 0);
    tu_rmdir_free(rdir);
    rdir = img;
    rep = open_db(rdir, &ro);
    assert_int_equal(shale_last_seq(rep), rep_last(&g.recs[half - 1]));
    apply_tape(rep, &g, half, g.n);
    assert_int_equal(shale_last_seq(rep), rep_last(&g.recs[g.n - 1]));
    expect_same_content(src, rep);
    assert_int_equal(shale_close(rep), 0);
    rep = open_db(rdir, &ro);
    assert_int_equal(shale_last_seq(rep), rep_last(&g.recs[g.n - 1]));
    expect_same_content(src, rep);
    assert_int_equal(shale_close(rep), 0);
    assert_int_equal(shale_close(src), 0);
    tape_free(&t);
    tape_free(&g);
    tu_rmdir_free(sdir);
    tu_rmdir_free(rdir);
}

static int write_at_str(shale_db *db, uint64_t seq, const char *k, const char *v)
{
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, k, strlen(k), v, strlen(v), 0), 0);
    /* the batch's rep as the tap would give it */
    tape t;
    tape_init(&t);
    shale_options o;
    small_options(&o, &t);
    char *dir = tu_tempdir("replone");
    shale_db *src = open_db(dir, &o);
    assert_int_equal(shale_write(src, b), 0);
    assert_int_equal(shale_close(src), 0);
    encode_fixed64(t.recs[0].rep, seq);
    int rc = shale_write_at(db, t.recs[0].rep, t.recs[0].len);
    tape_free(&t);
    tu_rmdir_free(dir);
    shale_batch_free(b);
    return rc;
}

/* An old or equal first sequence is refused (SHALE_ESEQ) and changes nothing; so is a
   record whose sequences a normal write took; malformed records are -EINVAL. */
static void test_repl_write_at_refuses_old_seq(void **state)
{
    char *dir = tu_tempdir("replica");
    shale_options o;
    replica_options(&o);
    shale_db *db = open_db(dir, &o);
    assert_int_equal(write_at_str(db, 10, "a", "1"), 0);
    assert_int_equal(shale_last_seq(db), 10);
    assert_int_equal(write_at_str(db, 10, "a", "2"), SHALE_ESEQ);
    assert_int_equal(write_at_str(db, 3, "a", "3"), SHALE_ESEQ);
    assert_int_equal(shale_last_seq(db), 10);
    void *got;
    size_t len;
    assert_int_equal(shale_get(db, "a", 1, &got, &len), 0);
    assert_memory_equal(got, "1", 1);
    shale_free(got);
    assert_int_equal(write_at_str(db, 11, "b", "1"), 0);
    /* a normal write takes 12: a record that starts there collides */
    put_str(db, "c", "1");
    assert_int_equal(shale_last_seq(db), 12);
    assert_int_equal(write_at_str(db, 12, "d", "1"), SHALE_ESEQ);
    assert_int_equal(write_at_str(db, 13, "d", "1"), 0);
    /* malformed */
    char rep[64] = {0};
    assert_int_equal(shale_write_at(db, rep, 11), -EINVAL);  /* short header */
    encode_fixed64(rep, 100);
    assert_int_equal(shale_write_at(db, rep, 12), -EINVAL);  /* count 0 */
    encode_fixed32(rep + 8, 2);
    rep[12] = 1, rep[13] = 1, rep[14] = 'x', rep[15] = 1, rep[16] = 'y';
    assert_int_equal(shale_write_at(db, rep, 17), -EINVAL);  /* count says 2, holds 1 */
    encode_fixed32(rep + 8, 1);
    assert_int_equal(shale_write_at(db, rep, 17), 0);
    encode_fixed64(rep, 200);
    rep[12] = (char)0x81; /* compressed: the tap never gives one */
    assert_int_equal(shale_write_at(db, rep, 17), -EINVAL);
    assert_int_equal(shale_write_at(NULL, rep, 17), -EINVAL);
    assert_int_equal(shale_write_at(db, NULL, 17), -EINVAL);
    assert_int_equal(shale_last_seq(db), 100);
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o);
    assert_int_equal(shale_last_seq(db), 100);
    assert_int_equal(shale_get(db, "x", 1, &got, &len), 0);
    assert_memory_equal(got, "y", 1);
    shale_free(got);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* A child applies the gapped tape and dies without closing; the power-loss model then
   does what a power cut would. The reopened replica must hold exactly a prefix of the
   records: its last sequence ends a record (or a skip before one), and its content is
   what applying that prefix to an empty store gives. With sync_writes every record
   acknowledged must be there. */
static void powerloss_round(const tape *g, int sync, enum file_powerloss_mode mode,
                            uint64_t seed)
{
    char *rdir = tu_tempdir("replpl");
    const size_t shm_len = 4u << 20;
    void *shm = mmap(NULL, shm_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    shale_options o;
    replica_options(&o);
    o.sync_writes = sync;
    o.sync_interval_ms = 5; /* without sync writes: the background sync runs now and then */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        file_powerloss_track(shm, shm_len);
        shale_db *db = NULL;
        if (shale_open(rdir, &o, &db))
            _exit(1);
        for (size_t i = 0; i < g->n; i++)
            if (shale_write_at(db, g->recs[i].rep, g->recs[i].len))
                _exit(2);
        _exit(0); /* the power goes: no close */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    file_powerloss_stats st;
    file_powerloss_apply(shm, shm_len, rdir, mode, seed, &st);
    munmap(shm, shm_len);
    shale_db *db = open_db(rdir, &o);
    uint64_t last = shale_last_seq(db);
    size_t k = 0; /* records wholly at or below last */
    while (k < g->n && rep_last(&g->recs[k]) <= last)
        k++;
    bool at_boundary = (k == 0 ? last == 0 || last == rep_seq(&g->recs[0]) - 1
                               : last == rep_last(&g->recs[k - 1])) ||
                       (k < g->n && last == rep_seq(&g->recs[k]) - 1);
    if (!at_boundary)
        fail_msg("last sequence %" PRIu64 " is inside record %zu", last, k);
    if (sync)
        assert_int_equal(k, g->n);
    fprintf(stderr, "# power cut (sync %d, mode %d, seed %" PRIu64 "): %zu of %zu records, "
            "%d files cut\n", sync, (int)mode, seed, k, g->n, st.files_cut);
    /* the prefix, applied to an empty store, gives the same content */
    char *edir = tu_tempdir("replexp");
    shale_options eo;
    replica_options(&eo);
    shale_db *exp = open_db(edir, &eo);
    apply_tape(exp, g, 0, k);
    if (k > 0)
        expect_same_content(exp, db);
    assert_int_equal(shale_close(exp), 0);
    /* the stream goes on from there */
    apply_tape(db, g, k, g->n);
    assert_int_equal(shale_last_seq(db), rep_last(&g->recs[g->n - 1]));
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(edir);
    tu_rmdir_free(rdir);
}

static void test_repl_write_at_power_cut_keeps_a_prefix(void **state)
{
    char *sdir;
    tape t, g;
    shale_db *src = open_source(&sdir, &t);
    assert_int_equal(shale_close(src), 0);
    tape_with_gaps(&t, &g, 50);
    powerloss_round(&g, 1, FILE_POWERLOSS_WORST, 1);
    uint64_t seed = tu_seed();
    for (uint64_t i = 0; i < 3; i++)
        powerloss_round(&g, 0, i == 2 ? FILE_POWERLOSS_WORST : FILE_POWERLOSS_REORDER, seed + i);
    tape_free(&t);
    tape_free(&g);
    tu_rmdir_free(sdir);
}

/* ---- reclaim-only value-log GC ---- */

static uint64_t prop(shale_db *db, const char *name)
{
    uint64_t v = 0;
    assert_int_equal(shale_property_int(db, name, &v), 0);
    return v;
}

/* Keys prefix+i for i = first, first + step, ... below n, 1000-byte values of gen. */
static void put_big(shale_db *db, const char *prefix, int first, int n, int step, int gen)
{
    char k[32], v[1000];
    for (int i = first; i < n; i += step) {
        snprintf(k, sizeof k, "%s%05d", prefix, i);
        tu_random_bytes(v, sizeof v, (uint64_t)(gen * 1000003 + i) ^ (uint64_t)prefix[0]);
        assert_int_equal(shale_put(db, k, strlen(k), v, sizeof v, 0), 0);
    }
}

static void expect_big(shale_db *db, const char *prefix, int first, int n, int step, int gen)
{
    char k[32], v[1000];
    for (int i = first; i < n; i += step) {
        snprintf(k, sizeof k, "%s%05d", prefix, i);
        tu_random_bytes(v, sizeof v, (uint64_t)(gen * 1000003 + i) ^ (uint64_t)prefix[0]);
        void *got = NULL;
        size_t len;
        assert_int_equal(shale_get(db, k, strlen(k), &got, &len), 0);
        assert_int_equal(len, sizeof v);
        assert_memory_equal(got, v, len);
        shale_free(got);
    }
}

/* With vlog_gc_rewrite 0, GC deletes the segments that hold nothing live (their keys
   overwritten and compacted), leaves a segment with live values alone, and never writes:
   the last sequence does not move. Turned back on, GC rewrites the half-live segments. */
static void test_repl_reclaim_only_gc(void **state)
{
    char *dir = tu_tempdir("replgc");
    shale_options o;
    small_options(&o, NULL);
    o.vlog_gc_rewrite = 0;
    shale_db *db = open_db(dir, &o);
    put_big(db, "a", 0, 2500, 1, 1); /* segments of a-keys only */
    assert_int_equal(shale_flush(db), 0);
    put_big(db, "b", 0, 2500, 1, 1); /* segments of b-keys only */
    assert_int_equal(shale_flush(db), 0);
    put_big(db, "a", 0, 2500, 1, 2); /* every a-key: its old segments hold nothing live */
    put_big(db, "b", 0, 2500, 2, 2); /* half the b-keys: theirs stay half live */
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t last = shale_last_seq(db), segs = prop(db, "shale.vlog-segments");
    int runs = 0, rc;
    while ((rc = shale_vlog_gc(db, 0.3)) == 0)
        runs++;
    assert_int_equal(rc, SHALE_ENOREWRITE);
    fprintf(stderr, "# reclaim only: %d runs, %" PRIu64 " -> %" PRIu64 " segments\n", runs,
            segs, prop(db, "shale.vlog-segments"));
    assert_true(runs >= 2); /* the a-keys' first generation filled more than two */
    assert_int_equal(shale_last_seq(db), last);
    assert_int_equal(prop(db, "shale.vlog-gc-rewritten-bytes"), 0);
    assert_int_equal(prop(db, "shale.vlog-gc-deleted-segments"), (uint64_t)runs);
    assert_int_equal(prop(db, "shale.vlog-segments"), segs - (uint64_t)runs);
    expect_big(db, "a", 0, 2500, 1, 2);
    expect_big(db, "b", 0, 2500, 2, 2);
    expect_big(db, "b", 1, 2500, 2, 1); /* still in the half-live segments */
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o);
    assert_int_equal(shale_last_seq(db), last);
    expect_big(db, "a", 0, 2500, 1, 2);
    /* rewriting again: the half-live b segments are worth it, and rewrites take seqs */
    assert_int_equal(shale_set_option(db, "vlog_gc_rewrite", "maybe"), -EINVAL);
    assert_int_equal(shale_set_option(db, "vlog_gc_rewrite", "1"), 0);
    assert_int_equal(shale_vlog_gc(db, 0.3), 0);
    assert_true(shale_last_seq(db) > last);
    expect_big(db, "b", 0, 2500, 2, 2);
    expect_big(db, "b", 1, 2500, 2, 1);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_last_seq_counts_entries),
        cmocka_unit_test(test_repl_tap_sees_every_record_in_order),
        cmocka_unit_test(test_repl_tap_sees_gc_rewrites),
        cmocka_unit_test(test_repl_write_at_replica_matches_source),
        cmocka_unit_test(test_repl_write_at_gaps_survive_reopen),
        cmocka_unit_test(test_repl_write_at_refuses_old_seq),
        cmocka_unit_test(test_repl_write_at_power_cut_keeps_a_prefix),
        cmocka_unit_test(test_repl_reclaim_only_gc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

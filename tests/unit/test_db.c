/*
 * test_db.c - the public API end to end: writes, reads, batches, snapshots, iterators,
 * recovery, flush and compaction, expiry, stalls, corruption, concurrency, properties.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "shale.h"
#include "sync_point.h"
#include "testutil.h"

/* Asserts key reads as v (NULL: absent). */
static void expect(shale_db *db, const char *k, const char *v)
{
    void *got = NULL;
    size_t len = 0;
    int rc = shale_get(db, k, strlen(k), &got, &len);
    if (!v) {
        if (rc != SHALE_ENOTFOUND)
            fprintf(stderr, "key %s: expected absent, got rc %d\n", k, rc);
        assert_int_equal(rc, SHALE_ENOTFOUND);
        assert_null(got);
        return;
    }
    if (rc)
        fprintf(stderr, "key %s: %s\n", k, shale_strerror(rc));
    assert_int_equal(rc, 0);
    assert_int_equal(len, strlen(v));
    assert_memory_equal(got, v, len);
    shale_free(got);
}

static void key_of(char *out, size_t n, int i)
{
    snprintf(out, n, "key%08d", i);
}

static void value_of(char *out, size_t n, int i, int gen)
{
    snprintf(out, n, "value-%d-%d-%0*d", i, gen, 40 + (i % 60), i);
}

static void test_db_put_get_delete(void **state)
{
    char *dir = tu_tempdir("db");
    shale_db *db = tu_open_ok(dir, NULL);
    tu_put_str(db, "a", "1");
    tu_put_str(db, "b", "2");
    expect(db, "a", "1");
    expect(db, "b", "2");
    expect(db, "c", NULL);
    tu_put_str(db, "a", "3");
    expect(db, "a", "3");
    assert_int_equal(shale_delete(db, "a", 1), 0);
    expect(db, "a", NULL);
    assert_int_equal(shale_delete(db, "zz", 2), 0);
    /* empty values are values */
    assert_int_equal(shale_put(db, "e", 1, "", 0, 0), 0);
    expect(db, "e", "");
    /* bad arguments */
    assert_int_equal(shale_put(db, "", 0, "x", 1, 0), -EINVAL);
    assert_int_equal(shale_get(db, "", 0, NULL, NULL), -EINVAL);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_db_reopen_recovers_wal(void **state)
{
    char *dir = tu_tempdir("db");
    shale_db *db = tu_open_ok(dir, NULL);
    char k[32], v[128];
    for (int i = 0; i < 1000; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        tu_put_str(db, k, v);
    }
    shale_delete(db, "key00000007", 11);
    assert_int_equal(shale_close(db), 0);
    for (int round = 0; round < 2; round++) {
        db = tu_open_ok(dir, NULL);
        for (int i = 0; i < 1000; i++) {
            key_of(k, sizeof k, i);
            value_of(v, sizeof v, i, 0);
            expect(db, k, i == 7 ? NULL : v);
        }
        assert_int_equal(shale_close(db), 0);
    }
    tu_rmdir_free(dir);
}

static void test_db_flush_compact_and_read(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    tu_small_options(&o);
    shale_db *db = tu_open_ok(dir, &o);
    char k[32], v[128];
    const int n = 20000;
    for (int gen = 0; gen < 3; gen++)
        for (int i = 0; i < n; i++) {
            key_of(k, sizeof k, (i * 7919) % n);
            value_of(v, sizeof v, (i * 7919) % n, gen);
            tu_put_str(db, k, v);
        }
    for (int i = 0; i < n; i += 3) {
        key_of(k, sizeof k, i);
        assert_int_equal(shale_delete(db, k, strlen(k)), 0);
    }
    assert_int_equal(shale_flush(db), 0);
    for (int i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 2);
        expect(db, k, i % 3 == 0 ? NULL : v);
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t files0 = 1;
    assert_int_equal(shale_property_int(db, "shale.num-files-at-level0", &files0), 0);
    assert_int_equal(files0, 0);
    uint64_t dropped;
    assert_int_equal(shale_property_int(db, "shale.dropped-tombstones", &dropped), 0);
    assert_true(dropped > 0);
    for (int i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 2);
        expect(db, k, i % 3 == 0 ? NULL : v);
    }
    assert_int_equal(shale_close(db), 0);
    db = tu_open_ok(dir, &o);
    for (int i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 2);
        expect(db, k, i % 3 == 0 ? NULL : v);
    }
    char *stats = NULL;
    assert_int_equal(shale_property(db, "shale.stats", &stats), 0);
    assert_non_null(strstr(stats, "Level"));
    shale_free(stats);
    assert_int_equal(shale_property(db, "shale.no-such-thing", &stats), -ENOENT);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_db_batch_is_atomic_and_ordered(void **state)
{
    char *dir = tu_tempdir("db");
    shale_db *db = tu_open_ok(dir, NULL);
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, "x", 1, "1", 1, 0), 0);
    assert_int_equal(shale_batch_put(b, "y", 1, "2", 1, 0), 0);
    assert_int_equal(shale_batch_delete(b, "x", 1), 0);
    assert_int_equal(shale_batch_put(b, "z", 1, "3", 1, 0), 0);
    assert_int_equal(shale_batch_count(b), 4);
    assert_int_equal(shale_write(db, b), 0);
    expect(db, "x", NULL);
    expect(db, "y", "2");
    expect(db, "z", "3");
    shale_batch_clear(b);
    assert_int_equal(shale_batch_count(b), 0);
    assert_int_equal(shale_write(db, b), 0);
    shale_batch_free(b);
    assert_int_equal(shale_close(db), 0);
    db = tu_open_ok(dir, NULL);
    expect(db, "x", NULL);
    expect(db, "y", "2");
    expect(db, "z", "3");
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_db_snapshot_sees_the_past(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    tu_small_options(&o);
    shale_db *db = tu_open_ok(dir, &o);
    tu_put_str(db, "k", "old");
    tu_put_str(db, "gone", "here");
    const shale_snapshot *snap;
    assert_int_equal(shale_snapshot_new(db, &snap), 0);
    tu_put_str(db, "k", "new");
    shale_delete(db, "gone", 4);
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.snapshot = snap;
    for (int pass = 0; pass < 2; pass++) {
        void *v;
        size_t n;
        assert_int_equal(shale_get_ex(db, &ro, "k", 1, &v, &n, NULL), 0);
        assert_memory_equal(v, "old", 3);
        shale_free(v);
        assert_int_equal(shale_get_ex(db, &ro, "gone", 4, &v, &n, NULL), 0);
        shale_free(v);
        expect(db, "k", "new");
        expect(db, "gone", NULL);
        /* the snapshot must survive flush and full compaction */
        assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    }
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    shale_iter_seek_to_first(it);
    assert_true(shale_iter_valid(it));
    size_t kl, vl;
    const char *key = shale_iter_key(it, &kl);
    assert_memory_equal(key, "gone", 4);
    shale_iter_next(it);
    const char *val = shale_iter_value(it, &vl);
    assert_memory_equal(val, "old", 3);
    shale_iter_free(it);
    shale_snapshot_release(db, snap);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* Collects the iterator's keys forward or backward into one string "a,b,c". */
static void collect(shale_iter *it, bool backward, char *out, size_t cap)
{
    out[0] = '\0';
    for (; shale_iter_valid(it); backward ? shale_iter_prev(it) : shale_iter_next(it)) {
        size_t n;
        const char *k = shale_iter_key(it, &n);
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%.*s", len ? "," : "", (int)n, k);
    }
    assert_int_equal(shale_iter_status(it), 0);
}

/* An iterator with bounds reads only the tables whose keys can meet them: four L0 tables
   and a level table of disjoint ranges, a range inside one of them, and the block cache
   sees that one table's blocks only (each table's seek used to read a block of its own),
   with the right keys both ways; an empty range between tables reads no block at all. */
static void test_db_bounded_iterator_skips_other_tables(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.l0_compaction_trigger = 100; /* the tables stay in L0 */
    o.l0_slowdown_trigger = 200;
    o.l0_stop_trigger = 300;
    shale_db *db = tu_open_ok(dir, &o);
    char k[32];
    for (int t = 0; t < 5; t++) {
        for (int i = 0; i < 100; i++) {
            snprintf(k, sizeof k, "t%d-%03d", t, i);
            tu_put_str(db, k, "value");
        }
        assert_int_equal(shale_flush(db), 0);
        if (t == 0) /* the first table goes down a level */
            assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    }
    assert_int_equal(tu_prop(db, "shale.num-files-at-level0"), 4);
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.lower_bound = "t2-010";
    ro.lower_bound_len = 6;
    ro.upper_bound = "t2-013";
    ro.upper_bound_len = 6;
    uint64_t before =
        tu_prop(db, "shale.block-cache-hits") + tu_prop(db, "shale.block-cache-misses");
    shale_iter *it;
    char got[256];
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    shale_iter_seek_to_first(it);
    collect(it, false, got, sizeof got);
    assert_string_equal(got, "t2-010,t2-011,t2-012");
    shale_iter_seek_to_last(it);
    collect(it, true, got, sizeof got);
    assert_string_equal(got, "t2-012,t2-011,t2-010");
    shale_iter_free(it);
    uint64_t blocks =
        tu_prop(db, "shale.block-cache-hits") + tu_prop(db, "shale.block-cache-misses") - before;
    assert_in_range(blocks, 1, 2); /* one table's data block (and its index's, maybe) */
    ro.lower_bound = "t2-100";
    ro.upper_bound = "t2-200"; /* between two tables */
    before = tu_prop(db, "shale.block-cache-hits") + tu_prop(db, "shale.block-cache-misses");
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    shale_iter_seek_to_first(it);
    assert_false(shale_iter_valid(it));
    shale_iter_seek_to_last(it);
    assert_false(shale_iter_valid(it));
    assert_int_equal(shale_iter_status(it), 0);
    shale_iter_free(it);
    assert_int_equal(
        tu_prop(db, "shale.block-cache-hits") + tu_prop(db, "shale.block-cache-misses"), before);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* Bounded iterators against a model, over tables in L0 and in levels with many files
   each (so a range meets some tables and not others): every bound pair, both ways. */
static void test_db_bounded_iterators_match_a_model(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    tu_small_options(&o);
    o.table_size = 64 * 1024; /* the smallest: values of 300 bytes fill several per level */
    o.compression = SHALE_COMPRESSION_NONE;
    shale_db *db = tu_open_ok(dir, &o);
    uint64_t rng = tu_seed();
    enum { N = 600 };
    int model[N]; /* value version per key, 0: absent */
    memset(model, 0, sizeof model);
    char k[16], v[320];
    for (int round = 1; round <= 12; round++) {
        for (int i = 0; i < 150; i++) { /* each round in a band: tables of other ranges */
            int key = (round * 47 + (int)tu_rand_below(&rng, 120)) % N;
            snprintf(k, sizeof k, "k%04d", key);
            if (tu_rand_below(&rng, 4) == 0) {
                assert_int_equal(shale_delete(db, k, strlen(k)), 0);
                model[key] = 0;
            } else {
                int n = snprintf(v, sizeof v, "v%d-", round);
                for (; n < 300; n++)
                    v[n] = (char)('a' + tu_rand_below(&rng, 26));
                v[n] = '\0';
                tu_put_str(db, k, v);
                model[key] = round;
            }
        }
        assert_int_equal(shale_flush(db), 0);
        if (round == 4 || round == 8)
            assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    }
    uint64_t files = 0;
    char name[64];
    for (int l = 0; l < 7; l++) {
        snprintf(name, sizeof name, "shale.num-files-at-level%d", l);
        files += tu_prop(db, name);
    }
    if (files < 4 || tu_prop(db, "shale.num-files-at-level0") < 1)
        fail_msg("%" PRIu64 " tables, %" PRIu64 " in L0", files,
                 tu_prop(db, "shale.num-files-at-level0"));
    for (int q = 0; q < 300; q++) {
        int lo = (int)tu_rand_below(&rng, N + 10), hi = lo + (int)tu_rand_below(&rng, 80);
        char lk[16], hk[16];
        snprintf(lk, sizeof lk, "k%04d", lo);
        snprintf(hk, sizeof hk, "k%04d", hi);
        shale_read_options ro;
        shale_read_options_default(&ro);
        ro.lower_bound = lk;
        ro.lower_bound_len = strlen(lk);
        ro.upper_bound = hk;
        ro.upper_bound_len = strlen(hk);
        static char want[8192], back[8192], got[8192];
        want[0] = back[0] = '\0';
        for (int i = lo; i < hi && i < N; i++)
            if (model[i]) {
                size_t n = strlen(want);
                snprintf(want + n, sizeof want - n, "%sk%04d", n ? "," : "", i);
            }
        for (int i = (hi < N ? hi : N) - 1; i >= lo; i--)
            if (model[i]) {
                size_t n = strlen(back);
                snprintf(back + n, sizeof back - n, "%sk%04d", n ? "," : "", i);
            }
        shale_iter *it;
        assert_int_equal(shale_iter_new(db, &ro, &it), 0);
        shale_iter_seek_to_first(it);
        collect(it, false, got, sizeof got);
        assert_string_equal(got, want);
        shale_iter_seek_to_last(it);
        collect(it, true, got, sizeof got);
        assert_string_equal(got, back);
        shale_iter_free(it);
    }
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_db_iterator_both_ways_with_bounds(void **state)
{
    char *dir = tu_tempdir("db");
    shale_db *db = tu_open_ok(dir, NULL);
    const char *keys[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++)
        tu_put_str(db, keys[i], "v");
    shale_delete(db, "c", 1);
    assert_int_equal(shale_flush(db), 0);
    tu_put_str(db, "b", "v2");
    shale_delete(db, "e", 1);
    tu_put_str(db, "g", "v");
    char got[256];
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    shale_iter_seek_to_first(it);
    collect(it, false, got, sizeof got);
    assert_string_equal(got, "a,b,d,f,g");
    shale_iter_seek_to_last(it);
    collect(it, true, got, sizeof got);
    assert_string_equal(got, "g,f,d,b,a");
    shale_iter_seek(it, "c", 1);
    assert_true(shale_iter_valid(it));
    size_t n;
    assert_memory_equal(shale_iter_key(it, &n), "d", 1);
    shale_iter_prev(it);
    assert_memory_equal(shale_iter_key(it, &n), "b", 1);
    assert_memory_equal(shale_iter_value(it, &n), "v2", 2);
    shale_iter_next(it);
    assert_memory_equal(shale_iter_key(it, &n), "d", 1);
    shale_iter_seek_for_prev(it, "e", 1);
    assert_memory_equal(shale_iter_key(it, &n), "d", 1);
    shale_iter_seek_for_prev(it, "0", 1);
    assert_false(shale_iter_valid(it));
    shale_iter_free(it);

    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.lower_bound = "b";
    ro.lower_bound_len = 1;
    ro.upper_bound = "f";
    ro.upper_bound_len = 1;
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    shale_iter_seek_to_first(it);
    collect(it, false, got, sizeof got);
    assert_string_equal(got, "b,d");
    shale_iter_seek_to_last(it);
    collect(it, true, got, sizeof got);
    assert_string_equal(got, "d,b");
    shale_iter_seek(it, "a", 1);
    collect(it, false, got, sizeof got);
    assert_string_equal(got, "b,d");
    shale_iter_seek_for_prev(it, "z", 1);
    collect(it, true, got, sizeof got);
    assert_string_equal(got, "d,b");
    shale_iter_free(it);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_db_expiry_hides_and_compaction_drops(void **state)
{
    char *dir = tu_tempdir("db");
    shale_db *db = tu_open_ok(dir, NULL);
    uint64_t past = tu_now_ms() - 1000, soon = tu_now_ms() + 300, later = tu_now_ms() + 3600 * 1000;
    assert_int_equal(shale_put(db, "dead", 4, "x", 1, past), 0);
    assert_int_equal(shale_put(db, "soon", 4, "y", 1, soon), 0);
    assert_int_equal(shale_put(db, "live", 4, "z", 1, later), 0);
    tu_put_str(db, "old", "base");
    assert_int_equal(shale_flush(db), 0);
    /* an expiring overwrite must hide the older plain value once expired */
    assert_int_equal(shale_put(db, "old", 3, "temp", 4, soon), 0);
    expect(db, "dead", NULL);
    expect(db, "soon", "y");
    expect(db, "old", "temp");
    uint64_t exp = 0;
    void *v;
    size_t n;
    assert_int_equal(shale_get_ex(db, NULL, "live", 4, &v, &n, &exp), 0);
    assert_int_equal(exp, later);
    shale_free(v);
    usleep(400 * 1000);
    expect(db, "soon", NULL);
    expect(db, "old", NULL);
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    char got[128];
    shale_iter_seek_to_first(it);
    collect(it, false, got, sizeof got);
    assert_string_equal(got, "live");
    shale_iter_seek_to_first(it);
    assert_int_equal(shale_iter_expire_at(it), later);
    shale_iter_free(it);
    /* include_expired shows them again, with their expiry, until compaction drops them */
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.include_expired = 1;
    assert_int_equal(shale_get_ex(db, &ro, "soon", 4, &v, &n, &exp), 0);
    assert_int_equal(exp, soon);
    assert_memory_equal(v, "y", 1);
    shale_free(v);
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    shale_iter_seek_to_first(it);
    collect(it, false, got, sizeof got);
    assert_string_equal(got, "dead,live,old,soon");
    shale_iter_free(it);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t dropped = 0;
    assert_int_equal(shale_property_int(db, "shale.dropped-expired", &dropped), 0);
    assert_true(dropped >= 3);
    expect(db, "old", NULL);
    expect(db, "live", "z");
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* Writes key_of(i) for i from 0 until a write fails; the failing code into *rc. Returns
   how many were written. */
static int put_until_error(shale_db *db, int limit, int *rc)
{
    char k[32], v[128];
    int i;
    *rc = 0;
    for (i = 0; i < limit; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        *rc = shale_put(db, k, strlen(k), v, strlen(v), 0);
        if (*rc)
            break;
    }
    return i;
}

/* Retries a put for up to 5 s (the flush thread retries failed flushes every second). */
static int put_retrying(shale_db *db, const char *k, const char *v)
{
    int rc = -1;
    for (int tries = 0; tries < 100 && rc != 0; tries++) {
        rc = shale_put(db, k, strlen(k), v, strlen(v), 0);
        if (rc)
            usleep(50 * 1000);
    }
    return rc;
}

static void expect_first(shale_db *db, int n)
{
    char k[32], v[128];
    for (int j = 0; j < n; j += 97) {
        key_of(k, sizeof k, j);
        value_of(v, sizeof v, j, 0);
        expect(db, k, v);
    }
}

/* Closes, reopens and finds the first `written` keys and "after"; frees dir. */
static void reopen_and_check(shale_db *db, char *dir, const shale_options *o, int written)
{
    assert_int_equal(shale_close(db), 0);
    db = tu_open_ok(dir, o);
    expect_first(db, written);
    expect(db, "after", "ok");
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_db_stall_times_out_then_recovers(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    tu_small_options(&o);
    o.memtable_size = 64 * 1024;
    o.write_stall_timeout_ms = 200;
    shale_db *db = tu_open_ok(dir, &o);
    /* Flushes crawl (16 KiB/s against 64 KiB memtables): the memtables fill up. */
    assert_int_equal(shale_set_option(db, "compaction_rate_limit", "16384"), 0);
    int rc;
    int written = put_until_error(db, 100000, &rc);
    assert_int_equal(rc, SHALE_ESTALL);
    uint64_t timeouts = 0, stalls = 0;
    assert_int_equal(shale_property_int(db, "shale.stall-timeouts", &timeouts), 0);
    assert_int_equal(shale_property_int(db, "shale.stall-count-memtable", &stalls), 0);
    assert_true(timeouts >= 1);
    assert_true(stalls >= 1);
    expect_first(db, 1); /* reads go on */
    assert_int_equal(shale_set_option(db, "compaction_rate_limit", "0"), 0);
    assert_int_equal(put_retrying(db, "after", "ok"), 0);
    reopen_and_check(db, dir, &o, written);
}

/* A full disk under the flushes: once the memtables are full, writes fail with the
   flush's error at once (no stall), reads go on, and writes work again once space
   returns, with nothing acknowledged lost. */
static void test_db_failing_flush_fails_writes_then_recovers(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    tu_small_options(&o);
    o.memtable_size = 64 * 1024;
    o.write_stall_timeout_ms = 60000; /* an error must come long before this */
    o.sync_interval_ms = 0; /* no background WAL sync to trip over the fault */
    shale_db *db = tu_open_ok(dir, &o);
    file_fault_arm(FILE_OP_SYNC, 1, ENOSPC, false, true); /* every flush fails */
    int rc;
    uint64_t t0 = tu_now_ms();
    int written = put_until_error(db, 100000, &rc);
    assert_int_equal(rc, -ENOSPC);
    assert_true(tu_now_ms() - t0 < 30000);
    assert_int_equal(shale_background_error(db), 0); /* the log is fine: no resume needed */
    expect_first(db, written);
    file_fault_clear();
    assert_int_equal(put_retrying(db, "after", "ok"), 0);
    reopen_and_check(db, dir, &o, written);
}

static void test_db_wal_write_failure_is_sticky(void **state)
{
    char *dir = tu_tempdir("db");
    shale_db *db = tu_open_ok(dir, NULL);
    tu_put_str(db, "before", "1");
    file_fault_arm(FILE_OP_WRITE, 1, EIO, false, false);
    assert_int_equal(shale_put(db, "lost", 4, "2", 1, 0), -EIO);
    file_fault_clear();
    assert_int_equal(shale_put(db, "after", 5, "3", 1, 0), SHALE_EFAILED);
    expect(db, "before", "1");
    shale_close(db);
    db = tu_open_ok(dir, NULL);
    expect(db, "before", "1");
    expect(db, "after", NULL);
    tu_put_str(db, "after", "3");
    expect(db, "after", "3");
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_db_second_open_is_busy(void **state)
{
    char *dir = tu_tempdir("db");
    shale_db *db = tu_open_ok(dir, NULL);
    shale_db *db2 = NULL;
    assert_int_equal(shale_open(dir, NULL, &db2), SHALE_EBUSY);
    assert_null(db2);
    shale_close(db);
    shale_options o;
    shale_options_default(&o);
    o.create_if_missing = 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/nope", dir);
    assert_int_equal(shale_open(path, &o, &db2), -ENOENT);
    o.create_if_missing = 1;
    o.error_if_exists = 1;
    assert_int_equal(shale_open(dir, &o, &db2), -EEXIST);
    o.error_if_exists = 0;
    o.l0_stop_trigger = 1;
    assert_int_equal(shale_open(dir, &o, &db2), -EINVAL);
    tu_rmdir_free(dir);
}

/* Finds a file of the given extension in dir; returns 1 when found. */
static int find_file(const char *dir, const char *ext, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name), el = strlen(ext);
        if (l > el && strcmp(e->d_name + l - el, ext) == 0) {
            snprintf(out, n, "%s/%s", dir, e->d_name);
            found = 1;
            break;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static void test_db_corrupt_table_never_returns_wrong_value(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.compression = SHALE_COMPRESSION_NONE;
    shale_db *db = tu_open_ok(dir, &o);
    char k[32], v[128];
    const int n = 3000;
    for (int i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        tu_put_str(db, k, v);
    }
    assert_int_equal(shale_flush(db), 0);
    shale_close(db);
    char sst[PATH_MAX];
    assert_true(find_file(dir, ".sst", sst, sizeof sst));
    int64_t size = tu_file_size(sst);
    assert_true(size > 20000);
    assert_int_equal(tu_flip_byte(sst, (uint64_t)size / 3), 0);
    db = tu_open_ok(dir, &o);
    int corrupt = 0;
    for (int i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        void *got;
        size_t len;
        int rc = shale_get(db, k, strlen(k), &got, &len);
        if (rc == SHALE_ECORRUPT) {
            corrupt++;
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(got, v, len);
        shale_free(got);
    }
    assert_true(corrupt > 0);
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    int seen = 0;
    for (shale_iter_seek_to_first(it); shale_iter_valid(it); shale_iter_next(it))
        seen++;
    assert_int_equal(shale_iter_status(it), SHALE_ECORRUPT);
    assert_true(seen < n);
    shale_iter_free(it);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* What a crash of the process would leave (testutil). */
static char *crash_image(const char *dir)
{
    char *img = tu_crash_image(dir);
    if (!img)
        fail_msg("could not copy %s while background work ran", dir);
    return img;
}

static void test_db_corrupt_wal_and_manifest_fail_open(void **state)
{
    /* A crash image: the records are only in the log (a clean close would flush them,
       and a log's flushed prefix is never read again). */
    char *live = tu_tempdir("db");
    shale_db *db = tu_open_ok(live, NULL);
    char k[32], v[128];
    for (int i = 0; i < 200; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        tu_put_str(db, k, v);
    }
    assert_int_equal(shale_sync(db), 0);
    char *dir = crash_image(live);
    shale_close(db);
    tu_rmdir_free(live);
    char wal[PATH_MAX], copy[PATH_MAX];
    assert_true(find_file(dir, ".log", wal, sizeof wal));
    snprintf(copy, sizeof copy, "%s.orig", wal);
    assert_int_equal(tu_copy_file(wal, copy), 0);
    /* a byte in the middle of the log's 200 records (about 30 KB, then preallocated
       zeros), with whole records after it */
    assert_int_equal(tu_flip_byte(wal, 10000), 0);
    shale_db *db2 = NULL;
    assert_int_equal(shale_open(dir, NULL, &db2), SHALE_ECORRUPT);
    assert_int_equal(rename(copy, wal), 0);
    db = tu_open_ok(dir, NULL);
    value_of(v, sizeof v, 199, 0);
    expect(db, "key00000199", v);
    shale_close(db);
    /* now the manifest */
    char man[PATH_MAX] = "";
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "MANIFEST-", 9) == 0)
            snprintf(man, sizeof man, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(man[0]);
    assert_int_equal(tu_flip_byte(man, 20), 0);
    assert_int_equal(shale_open(dir, NULL, &db2), SHALE_ECORRUPT);
    tu_rmdir_free(dir);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Issue 15, item 6: without sync writes, writeback may make a newer log durable and not
   the older log's tail. Recovery must then stop at the hole: what it brings back is a
   prefix of the writes (keys 0..m-1), never a later key without an earlier one. Two logs
   are kept unflushed (every flush fails on its sync), a crash image is cut by 500 bytes
   at the end of the older log, and the image is opened. */
static void test_db_recovery_stops_at_gap_between_logs(void **state)
{
    char *live = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.memtable_size = 256 * 1024;
    o.num_memtables = 32;
    o.vlog_file_size = 1 << 20; /* the log rolls at 1 MiB */
    o.value_threshold = 64 * 1024; /* no value pointers: a flush's only sync is its table's */
    o.sync_interval_ms = 0;
    o.vlog_gc_interval_s = 0;
    shale_db *db = tu_open_ok(live, &o);
    file_fault_arm(FILE_OP_SYNC, 1, ENOSPC, false, true); /* every flush fails */
    const int n = 7000; /* about 1.6 MB of records: a second log */
    char k[32], v[512];
    for (int i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        size_t l = strlen(v);
        memset(v + l, 'x', 120);
        v[l + 120] = '\0';
        tu_put_str(db, k, v);
    }
    char *dir = crash_image(live);
    file_fault_clear();
    shale_close(db);
    tu_rmdir_free(live);

    char *logs[64];
    int nlogs = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) && nlogs < 64) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".log") == 0)
            logs[nlogs++] = strdup(e->d_name);
    }
    closedir(d);
    assert_true(nlogs >= 2);
    qsort(logs, (size_t)nlogs, sizeof logs[0], cmp_str);
    char older[PATH_MAX];
    snprintf(older, sizeof older, "%s/%s", dir, logs[0]);
    int64_t size = tu_file_size(older);
    assert_true(size > 500);
    assert_int_equal(tu_truncate(older, (uint64_t)size - 500), 0);
    for (int i = 0; i < nlogs; i++)
        free(logs[i]);

    db = tu_open_ok(dir, &o);
    int first_missing = -1;
    for (int i = 0; i < n; i++) {
        key_of(k, sizeof k, i);
        void *got = NULL;
        size_t len;
        int rc = shale_get(db, k, strlen(k), &got, &len);
        shale_free(got);
        assert_true(rc == 0 || rc == SHALE_ENOTFOUND);
        if (rc == SHALE_ENOTFOUND && first_missing < 0)
            first_missing = i;
        if (rc == 0 && first_missing >= 0)
            fail_msg("key %d is present but key %d is missing: recovery replayed the newer "
                     "log past the older log's lost tail", i, first_missing);
    }
    assert_true(first_missing > 0); /* the cut took the older log's last records */
    /* the store goes on from the prefix, and the next open agrees */
    tu_put_str(db, "after", "gap");
    assert_int_equal(shale_close(db), 0);
    db = tu_open_ok(dir, &o);
    expect(db, "after", "gap");
    key_of(k, sizeof k, first_missing);
    expect(db, k, NULL);
    key_of(k, sizeof k, first_missing - 1);
    tu_expect_found(db, k);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* Issue 15, item 6: recovery stops at a gap in the log's sequence numbers, so a write
   that failed before reaching the log must not use up its numbers: after shale_resume the
   next writes take them, and a crash image finds every acknowledged write. */
static void test_db_failed_write_leaves_no_sequence_gap(void **state)
{
    char *live = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.sync_interval_ms = 0;
    shale_db *db = tu_open_ok(live, &o);
    tu_put_str(db, "before", "1");
    file_fault_arm(FILE_OP_WRITE, 1, EIO, false, false);
    assert_int_equal(shale_put(db, "lost", 4, "2", 1, 0), -EIO);
    file_fault_clear();
    assert_int_equal(shale_resume(db), 0);
    tu_put_str(db, "after", "3");
    tu_put_str(db, "later", "4");
    char *dir = crash_image(live); /* the records are only in the log */
    shale_close(db);
    tu_rmdir_free(live);
    db = tu_open_ok(dir, &o);
    expect(db, "before", "1");
    expect(db, "lost", NULL);
    expect(db, "after", "3");
    expect(db, "later", "4");
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* Found by the power-loss harness (--vary, a store without value pointers): a flush's
   manifest edit is synced, but without sync writes the log bytes before the position it
   records may not be; after a power cut the log can end before that position. Its
   records up to there are in the table, so the open must replay nothing from it, not
   report corruption. */
static void test_db_recovery_log_shorter_than_flushed_position(void **state)
{
    char *live = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.sync_interval_ms = 0;
    o.value_threshold = 64 * 1024; /* no pointers: the flush syncs no log */
    shale_db *db = tu_open_ok(live, &o);
    char k[32], v[128];
    for (int i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        tu_put_str(db, k, v);
    }
    assert_int_equal(shale_flush(db), 0); /* the log goes on after the flushed records */
    char *dir = crash_image(live);
    shale_close(db);
    tu_rmdir_free(live);
    char wal[PATH_MAX];
    assert_true(find_file(dir, ".log", wal, sizeof wal));
    assert_int_equal(tu_truncate(wal, 1000), 0); /* the unsynced log mostly lost */
    db = tu_open_ok(dir, &o);
    for (int i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        expect(db, k, v);
    }
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* Issue 15, item 7: a new log or table is durable only once its directory is synced.
   A child writes with sync writes through log rolls and flushes under the power-loss
   model, then dies; the worst power cut undoes every create, rename and unlink no
   directory sync covered and every unsynced byte. Every acknowledged write must remain
   (without the directory syncs the new log, or a table the manifest lists, vanished). */
static void test_db_power_cut_keeps_new_logs_and_tables(void **state)
{
    char *dir = tu_tempdir("db");
    const size_t shm_len = 4u << 20;
    void *shm = mmap(NULL, shm_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    volatile int *acked = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true((void *)acked != MAP_FAILED);
    *acked = 0;
    shale_options o;
    shale_options_default(&o);
    o.memtable_size = 128 * 1024;
    o.vlog_file_size = 1 << 20; /* several logs */
    o.value_threshold = 256;
    o.sync_writes = 1;
    o.vlog_gc_interval_s = 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        file_powerloss_track(shm, shm_len);
        shale_db *db = NULL;
        if (shale_open(dir, &o, &db))
            _exit(1);
        char k[32], v[1024];
        for (int i = 0; i < 3000; i++) {
            key_of(k, sizeof k, i);
            memset(v, 'a' + i % 26, 600);
            snprintf(v, sizeof v, "%d:", i);
            v[strlen(v)] = '#';
            v[600] = '\0';
            if (shale_put(db, k, strlen(k), v, 600, 0))
                _exit(2);
            *acked = i + 1;
        }
        /* A value that does not fit in the log's segment: with the memtable just flushed
           (empty), the log rolls with no flush after it, so only the log's own directory
           sync makes the new log durable before these writes are acknowledged. */
        if (shale_flush(db))
            _exit(3);
        static char big[900 * 1024];
        memset(big, 'b', sizeof big);
        if (shale_put(db, "big", 3, big, sizeof big, 0) || shale_put(db, "last", 4, "1", 1, 0))
            _exit(4);
        *acked = -*acked; /* all acknowledged */
        _exit(0); /* the power goes: no close */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    file_powerloss_stats st;
    file_powerloss_apply(shm, shm_len, dir, FILE_POWERLOSS_WORST, 1, &st);
    shale_db *db = tu_open_ok(dir, &o);
    assert_true(*acked < 0);
    *acked = -*acked;
    void *got = NULL;
    size_t len;
    int rc = shale_get(db, "last", 4, &got, &len);
    if (rc != 0)
        fail_msg("the write after the log roll: %s after a power cut (%d directory ops "
                 "undone)", shale_strerror(rc), st.ops_undone);
    shale_free(got);
    assert_int_equal(shale_get(db, "big", 3, &got, &len), 0);
    assert_int_equal(len, 900 * 1024);
    shale_free(got);
    char k[32];
    for (int i = 0; i < *acked; i++) {
        key_of(k, sizeof k, i);
        got = NULL;
        rc = shale_get(db, k, strlen(k), &got, &len);
        if (rc != 0)
            fail_msg("acknowledged key %d of %d: %s after a power cut (%d directory ops "
                     "undone)", i, *acked, shale_strerror(rc), st.ops_undone);
        assert_int_equal(len, 600);
        assert_int_equal(strtol(got, NULL, 10), i);
        shale_free(got);
    }
    assert_int_equal(shale_close(db), 0);
    munmap(shm, shm_len);
    munmap((void *)acked, sizeof(int));
    tu_rmdir_free(dir);
}

static void test_db_manual_wal_flush(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.manual_wal_flush = 1;
    o.sync_interval_ms = 0; /* no background sync may write the buffered record early */
    o.memtable_size = 256 * 1024; /* several log switches below */
    /* no compaction, so that a copy made after the flushes settle is a consistent image */
    o.l0_compaction_trigger = 1000;
    o.l0_slowdown_trigger = 1000;
    o.l0_stop_trigger = 1000;
    shale_db *db = tu_open_ok(dir, &o);
    tu_put_str(db, "k1", "v1");
    assert_int_equal(shale_flush_wal(db), 0);
    tu_put_str(db, "k2", "v2"); /* buffered only */
    expect(db, "k2", "v2");
    char *img1 = crash_image(dir);
    assert_int_equal(shale_sync(db), 0);
    char *img2 = crash_image(dir);
    char k[32], v[128];
    for (int i = 0; i < 5000; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        tu_put_str(db, k, v);
    }
    /* the older memtables' flushes finish (they delete their logs as they go), then the
       last log's buffered records are flushed and the store is copied as it stands */
    uint64_t imm = 1;
    for (int i = 0; i < 500 && imm; i++) {
        assert_int_equal(shale_property_int(db, "shale.num-immutable-memtables", &imm), 0);
        if (imm)
            usleep(10 * 1000);
    }
    assert_int_equal(imm, 0);
    assert_int_equal(shale_flush_wal(db), 0);
    char *img3 = crash_image(dir);
    shale_close(db);

    shale_db *c = tu_open_ok(img1, NULL);
    expect(c, "k1", "v1");
    expect(c, "k2", NULL);
    shale_close(c);
    c = tu_open_ok(img2, NULL);
    expect(c, "k2", "v2");
    shale_close(c);
    c = tu_open_ok(img3, NULL); /* every write flushed before the image, across log switches */
    for (int i = 0; i < 5000; i += 7) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        expect(c, k, v);
    }
    shale_close(c);
    tu_rmdir_free(img1);
    tu_rmdir_free(img2);
    tu_rmdir_free(img3);
    tu_rmdir_free(dir);
}

typedef struct thread_arg {
    shale_db *db;
    int id;
    int n;
    int errors;
} thread_arg;

static void *writer_main(void *p)
{
    thread_arg *a = p;
    char k[32], v[128];
    for (int i = 0; i < a->n; i++) {
        int key = a->id * a->n + i;
        key_of(k, sizeof k, key);
        value_of(v, sizeof v, key, 0);
        if (shale_put(a->db, k, strlen(k), v, strlen(v), 0))
            a->errors++;
    }
    return NULL;
}

static void *reader_main(void *p)
{
    thread_arg *a = p;
    char k[32], v[128];
    uint64_t rs = (uint64_t)a->id * 7919 + 1;
    for (int i = 0; i < a->n; i++) {
        int key = (int)tu_rand_below(&rs, (uint64_t)a->n * 4);
        key_of(k, sizeof k, key);
        value_of(v, sizeof v, key, 0);
        void *got;
        size_t len;
        int rc = shale_get(a->db, k, strlen(k), &got, &len);
        if (rc == 0) {
            if (len != strlen(v) || memcmp(got, v, len) != 0)
                a->errors++;
            shale_free(got);
        } else if (rc != SHALE_ENOTFOUND) {
            a->errors++;
        }
        if (i % 500 == 0) {
            shale_iter *it;
            if (shale_iter_new(a->db, NULL, &it) == 0) {
                int c = 0;
                for (shale_iter_seek(it, k, strlen(k)); shale_iter_valid(it) && c < 50;
                     shale_iter_next(it), c++) {
                    size_t kl, vl;
                    const char *ik = shale_iter_key(it, &kl);
                    const char *iv = shale_iter_value(it, &vl);
                    int idx = atoi(ik + 3);
                    value_of(v, sizeof v, idx, 0);
                    if (vl != strlen(v) || memcmp(iv, v, vl) != 0)
                        a->errors++;
                }
                if (shale_iter_status(it))
                    a->errors++;
                shale_iter_free(it);
            }
        }
    }
    return NULL;
}

static void test_db_many_threads_write_and_read(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    tu_small_options(&o);
    o.num_compactors = 2;
    shale_db *db = tu_open_ok(dir, &o);
    enum { W = 4, R = 4, N = 5000 };
    pthread_t th[W + R];
    thread_arg args[W + R];
    for (int i = 0; i < W + R; i++) {
        args[i] = (thread_arg){db, i < W ? i : i - W, N, 0};
        pthread_create(&th[i], NULL, i < W ? writer_main : reader_main, &args[i]);
    }
    for (int i = 0; i < W + R; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    char k[32], v[128];
    for (int i = 0; i < W * N; i++) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        expect(db, k, v);
    }
    shale_close(db);
    db = tu_open_ok(dir, &o);
    for (int i = 0; i < W * N; i += 7) {
        key_of(k, sizeof k, i);
        value_of(v, sizeof v, i, 0);
        expect(db, k, v);
    }
    shale_close(db);
    tu_rmdir_free(dir);
}

static void test_db_sync_writes_share_fsyncs(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.sync_writes = 1;
    shale_db *db = tu_open_ok(dir, &o);
    enum { W = 8, N = 100 };
    pthread_t th[W];
    thread_arg args[W];
    for (int i = 0; i < W; i++) {
        args[i] = (thread_arg){db, i, N, 0};
        pthread_create(&th[i], NULL, writer_main, &args[i]);
    }
    for (int i = 0; i < W; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    uint64_t syncs = 0, writes = 0;
    shale_property_int(db, "shale.wal-syncs", &syncs);
    shale_property_int(db, "shale.num-writes", &writes);
    assert_int_equal(writes, W * N);
    assert_true(syncs > 0);
    assert_true(syncs < writes); /* group commit: followers ride on a leader's fsync */
    assert_int_equal(shale_set_option(db, "sync_writes", "no"), 0);
    assert_int_equal(shale_set_option(db, "sync_writes", "maybe"), -EINVAL);
    assert_int_equal(shale_set_option(db, "memtable_size", "1m"), 0);
    assert_int_equal(shale_set_option(db, "l0_stop_trigger", "2"), -EINVAL);
    assert_int_equal(shale_set_option(db, "l0_slowdown_trigger", "30"), 0);
    assert_int_equal(shale_set_option(db, "compaction_rate_limit", "10m"), 0);
    assert_int_equal(shale_set_option(db, "no_such_option", "1"), -ENOENT);
    shale_close(db);
    tu_rmdir_free(dir);
}

static void test_db_explicit_sync_commits_earlier_writes(void **state)
{
    char *dir = tu_tempdir("db");
    shale_options o;
    shale_options_default(&o);
    o.sync_interval_ms = 0;
    shale_db *db = tu_open_ok(dir, &o);
    uint64_t before = 0, after = 0;
    tu_put_str(db, "a", "1");
    tu_put_str(db, "b", "2");
    shale_property_int(db, "shale.wal-syncs", &before);
    assert_int_equal(shale_sync(db), 0);
    shale_property_int(db, "shale.wal-syncs", &after);
    assert_int_equal(after, before + 1);
    assert_int_equal(shale_sync(db), 0); /* nothing new: no second fdatasync */
    shale_property_int(db, "shale.wal-syncs", &before);
    assert_int_equal(before, after);
    file_fault_arm(FILE_OP_SYNC, 1, EIO, false, false);
    tu_put_str(db, "c", "3");
    assert_int_equal(shale_sync(db), -EIO);
    file_fault_clear();
    assert_int_equal(shale_put(db, "d", 1, "4", 1, 0), SHALE_EFAILED);
    expect(db, "a", "1");
    shale_close(db);
    tu_rmdir_free(dir);
}

static void test_db_tiered_and_fifo_styles(void **state)
{
    for (int style = SHALE_COMPACTION_TIERED; style <= SHALE_COMPACTION_FIFO; style++) {
        char *dir = tu_tempdir("db");
        shale_options o;
        tu_small_options(&o);
        o.compaction_style = (shale_compaction_style)style;
        o.memtable_size = 64 * 1024;
        o.fifo_max_size = 1 << 20;
        shale_db *db = tu_open_ok(dir, &o);
        char k[32], v[128];
        const int n = 30000;
        for (int i = 0; i < n; i++) {
            key_of(k, sizeof k, i % 5000);
            value_of(v, sizeof v, i % 5000, i / 5000);
            tu_put_str(db, k, v);
        }
        assert_int_equal(shale_flush(db), 0);
        usleep(200 * 1000);
        uint64_t files = 0, bytes = 0;
        shale_property_int(db, "shale.num-files-at-level0", &files);
        shale_property_int(db, "shale.total-table-bytes", &bytes);
        if (style == SHALE_COMPACTION_TIERED) {
            for (int i = 0; i < 5000; i++) {
                key_of(k, sizeof k, i);
                value_of(v, sizeof v, i, (n - 1) / 5000);
                expect(db, k, v);
            }
            assert_true(files <= (uint64_t)o.l0_stop_trigger);
            assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
            /* one sorted run, in the last level, cut into tables of table_size */
            shale_property_int(db, "shale.num-files-at-level0", &files);
            assert_int_equal(files, 0);
            char name[64];
            snprintf(name, sizeof name, "shale.num-files-at-level%d", o.num_levels - 1);
            shale_property_int(db, name, &files);
            assert_true(files >= 1);
            key_of(k, sizeof k, 4999);
            value_of(v, sizeof v, 4999, (n - 1) / 5000);
            expect(db, k, v);
        } else {
            /* fifo keeps at most the cap (plus one table in flight) */
            assert_true(bytes <= o.fifo_max_size + 2 * o.memtable_size);
            key_of(k, sizeof k, 4999);
            value_of(v, sizeof v, 4999, (n - 1) / 5000);
            expect(db, k, v);
        }
        shale_close(db);
        tu_rmdir_free(dir);
    }
}

/* Clears the sync points a test set, even when it fails. */
static int clear_sync_points(void **state)
{
    sync_point_clear_all();
    return 0;
}

typedef struct race {
    shale_db *db;
    int fired;
} race;

/* Between the two steps of a read's view: k is overwritten, flushed, and a full
   compaction drops the version the read started with. */
static void overwrite_flush_compact(const char *name, void *arg)
{
    race *r = arg;
    if (r->fired++)
        return;
    tu_put_str(r->db, "k", "new");
    assert_int_equal(shale_flush(r->db), 0);
    assert_int_equal(shale_compact_range(r->db, NULL, 0, NULL, 0), 0);
}

/* #15.8: a point read took its sequence before its super-version, so a flush and a
   compaction in between could drop the only version the sequence could see: k read as
   absent though it existed before and after. */
static void test_db_get_sees_key_through_flush_and_compaction(void **state)
{
    char *dir = tu_tempdir("getrace");
    shale_options o;
    tu_small_options(&o);
    shale_db *db = tu_open_ok(dir, &o);
    tu_put_str(db, "k", "old");
    assert_int_equal(shale_flush(db), 0);
    race r = {.db = db};
    assert_int_equal(sync_point_set("shale_get_ex:view", overwrite_flush_compact, &r), 0);
    void *v = NULL;
    size_t len = 0;
    int rc = shale_get(db, "k", 1, &v, &len);
    sync_point_set("shale_get_ex:view", NULL, NULL);
    assert_int_equal(r.fired, 1);
    if (rc)
        fail_msg("k read in the middle of an overwrite, flush and compaction: %s",
                 shale_strerror(rc));
    assert_true((len == 3 && memcmp(v, "old", 3) == 0) || (len == 3 && memcmp(v, "new", 3) == 0));
    shale_free(v);
    expect(db, "k", "new");
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* #15.11: the write path kept the compressed copy of the largest batch ever written (one
   512 MiB put: 512 MiB held until close). After a large batch it lets it go. */
static void test_db_large_batch_scratch_is_released(void **state)
{
    char *dir = tu_tempdir("scratch");
    shale_options o;
    tu_small_options(&o); /* lz4, values of 512 bytes and more go to the value log */
    shale_db *db = tu_open_ok(dir, &o);
    size_t big = 16u << 20;
    char *v = malloc(big);
    assert_non_null(v);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)("scratch "[i % 8] + (i / 4096) % 7);
    uint64_t scratch = 0;
    for (int round = 0; round < 2; round++) {
        v[0] = (char)('0' + round);
        assert_int_equal(shale_put(db, "big", 3, v, big, 0), 0);
        assert_int_equal(shale_property_int(db, "shale.write-scratch-bytes", &scratch), 0);
        fprintf(stderr, "# after a %zu MiB put the write path keeps %" PRIu64 " bytes\n", big >> 20,
                scratch);
        assert_true(scratch <= (2u << 20));
        char small[1000];
        memset(small, 's', sizeof small);
        for (int i = 0; i < 100; i++) {
            char k[16];
            snprintf(k, sizeof k, "s%03d", i);
            assert_int_equal(shale_put(db, k, strlen(k), small, sizeof small, 0), 0);
        }
        assert_int_equal(shale_property_int(db, "shale.write-scratch-bytes", &scratch), 0);
        assert_true(scratch <= (2u << 20));
        void *got = NULL;
        size_t len = 0;
        assert_int_equal(shale_get(db, "big", 3, &got, &len), 0);
        assert_int_equal(len, big);
        assert_memory_equal(got, v, big);
        shale_free(got);
    }
    free(v);
    assert_int_equal(shale_close(db), 0);
    db = tu_open_ok(dir, &o);
    void *got = NULL;
    size_t len = 0;
    assert_int_equal(shale_get(db, "big", 3, &got, &len), 0);
    assert_int_equal(len, big);
    shale_free(got);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_put_get_delete),
        cmocka_unit_test(test_db_reopen_recovers_wal),
        cmocka_unit_test(test_db_flush_compact_and_read),
        cmocka_unit_test(test_db_batch_is_atomic_and_ordered),
        cmocka_unit_test(test_db_snapshot_sees_the_past),
        cmocka_unit_test(test_db_iterator_both_ways_with_bounds),
        cmocka_unit_test(test_db_bounded_iterator_skips_other_tables),
        cmocka_unit_test(test_db_bounded_iterators_match_a_model),
        cmocka_unit_test(test_db_expiry_hides_and_compaction_drops),
        cmocka_unit_test(test_db_manual_wal_flush),
        cmocka_unit_test(test_db_stall_times_out_then_recovers),
        cmocka_unit_test(test_db_failing_flush_fails_writes_then_recovers),
        cmocka_unit_test(test_db_wal_write_failure_is_sticky),
        cmocka_unit_test(test_db_second_open_is_busy),
        cmocka_unit_test(test_db_corrupt_table_never_returns_wrong_value),
        cmocka_unit_test(test_db_corrupt_wal_and_manifest_fail_open),
        cmocka_unit_test(test_db_recovery_stops_at_gap_between_logs),
        cmocka_unit_test(test_db_failed_write_leaves_no_sequence_gap),
        cmocka_unit_test(test_db_recovery_log_shorter_than_flushed_position),
        cmocka_unit_test(test_db_power_cut_keeps_new_logs_and_tables),
        cmocka_unit_test(test_db_many_threads_write_and_read),
        cmocka_unit_test(test_db_sync_writes_share_fsyncs),
        cmocka_unit_test(test_db_explicit_sync_commits_earlier_writes),
        cmocka_unit_test(test_db_tiered_and_fifo_styles),
        cmocka_unit_test_teardown(test_db_get_sees_key_through_flush_and_compaction,
                                  clear_sync_points),
        cmocka_unit_test(test_db_large_batch_scratch_is_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

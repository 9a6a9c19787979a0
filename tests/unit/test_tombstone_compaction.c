/*
 * test_tombstone_compaction.c - the tombstone density trigger (issue 17): a range
 * written, then mostly deleted, is compacted away without any further write (leveled
 * and tiered), and a seek over it stops stepping over its tombstones; with the trigger
 * off the tombstones stay; a snapshot that needs them holds them without compacting
 * again and again; an iterator that steps over many hidden entries marks the tables
 * under them (read-triggered); a store written before issue 17 opens and is cleaned.
 */
#include <errno.h>
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

#include "shale.h"
#include "testutil.h"

#define N 20000    /* keys written */
#define DEAD 18000 /* of which the first are deleted */

/* Small tables and levels; a memtable holds all the deletes (one L0 table of them). */
static void opts(shale_options *o)
{
    tu_small_options(o);
    o->memtable_size = 4 << 20;
    o->value_threshold = 0;
    o->vlog_gc_interval_s = 0;
}

/* The same with the range in L1 alone, the bottom. */
static void opts_one_level(shale_options *o)
{
    opts(o);
    o->base_level_size = 64 << 20;
}

static void key(char *k, size_t cap, int i)
{
    snprintf(k, cap, "q%08d", i);
}

/* Writes the range and moves it to the bottom, then deletes its first DEAD keys and
   flushes: one L0 table of tombstones, fewer L0 tables than the L0 trigger. */
static void write_then_delete(shale_db *db)
{
    char k[32], v[64];
    for (int i = 0; i < N; i++) {
        key(k, sizeof k, i);
        snprintf(v, sizeof v, "item-%d", i);
        assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    assert_int_equal(tu_prop(db, "shale.table-tombstones"), 0);
    for (int i = 0; i < DEAD; i++) {
        key(k, sizeof k, i);
        assert_int_equal(shale_delete(db, k, strlen(k)), 0);
    }
    assert_int_equal(shale_flush(db), 0);
}

/* Waits up to ms for the tables to hold no tombstone; returns whether they do not. */
static bool wait_tombstones_gone(shale_db *db, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        if (tu_prop(db, "shale.table-tombstones") == 0 &&
            tu_prop(db, "shale.running-compactions") == 0)
            return true;
        usleep(50 * 1000);
    }
    return tu_prop(db, "shale.table-tombstones") == 0;
}

/* Seeks to the range's start: lands on the first live key; returns the hidden table
   entries the seek stepped over. */
static uint64_t seek_head(shale_db *db)
{
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    uint64_t before = tu_prop(db, "shale.iter-skipped-entries");
    shale_iter_seek(it, "q", 1);
    assert_true(shale_iter_valid(it));
    size_t len;
    const char *k = shale_iter_key(it, &len);
    char want[32];
    key(want, sizeof want, DEAD);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(k, want, len);
    uint64_t skipped = tu_prop(db, "shale.iter-skipped-entries") - before;
    shale_iter_free(it);
    return skipped;
}

static void check_live(shale_db *db)
{
    char k[32];
    for (int i = 0; i < N; i += 97) {
        key(k, sizeof k, i);
        int rc = shale_get(db, k, strlen(k), NULL, NULL);
        assert_int_equal(rc, i < DEAD ? SHALE_ENOTFOUND : 0);
    }
}

static void run_trigger(shale_compaction_style style)
{
    char *dir = tu_tempdir("tomb");
    shale_options o;
    opts(&o);
    o.compaction_style = style;
    o.iter_skip_compaction_trigger = 0; /* the density alone */
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    write_then_delete(db);
    /* no further write: the compaction thread finds the dense table on its own */
    assert_true(wait_tombstones_gone(db, 10000));
    assert_true(tu_prop(db, "shale.tombstone-compactions") >= 1);
    assert_int_equal(seek_head(db), 0);
    check_live(db);
    shale_close(db);
    tu_rmdir_free(dir);
}

static void test_tombstone_compaction_leveled_without_writes(void **state)
{
    run_trigger(SHALE_COMPACTION_LEVELED);
}

static void test_tombstone_compaction_tiered_without_writes(void **state)
{
    run_trigger(SHALE_COMPACTION_TIERED);
}

/* The control: with both triggers off the tombstones stay, and every seek from the
   range's start steps over them and the values they delete. */
static void test_tombstone_compaction_off_keeps_tombstones(void **state)
{
    char *dir = tu_tempdir("tomb");
    shale_options o;
    opts_one_level(&o);
    o.tombstone_compaction_ratio = 0;
    o.iter_skip_compaction_trigger = 0;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    write_then_delete(db);
    usleep(1500 * 1000); /* the compaction thread wakes at least once a second */
    assert_int_equal(tu_prop(db, "shale.table-tombstones"), DEAD);
    assert_int_equal(tu_prop(db, "shale.tombstone-compactions"), 0);
    assert_true(seek_head(db) >= 2 * DEAD);
    /* the trigger set at run time does the work */
    assert_int_equal(shale_set_option(db, "tombstone_compaction_ratio", "101"), -EINVAL);
    assert_int_equal(shale_set_option(db, "tombstone_compaction_ratio", "50"), 0);
    assert_true(wait_tombstones_gone(db, 10000));
    assert_int_equal(seek_head(db), 0);
    check_live(db);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* A snapshot taken before the deletes sees the values: the tombstones reach the bottom
   and stay there (no compaction loop over an output as dense as its input) until the
   snapshot goes, and then they go without any write. */
static void test_tombstone_compaction_waits_for_snapshot(void **state)
{
    char *dir = tu_tempdir("tomb");
    shale_options o;
    opts(&o);
    o.iter_skip_compaction_trigger = 0;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    char k[32], v[64];
    for (int i = 0; i < N; i++) {
        key(k, sizeof k, i);
        snprintf(v, sizeof v, "item-%d", i);
        assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    const shale_snapshot *snap;
    assert_int_equal(shale_snapshot_new(db, &snap), 0);
    for (int i = 0; i < DEAD; i++) {
        key(k, sizeof k, i);
        assert_int_equal(shale_delete(db, k, strlen(k)), 0);
    }
    assert_int_equal(shale_flush(db), 0);
    usleep(2500 * 1000);
    uint64_t jobs = tu_prop(db, "shale.tombstone-compactions");
    assert_true(jobs >= 1); /* down to the bottom, and nothing after */
    usleep(1500 * 1000);
    assert_int_equal(tu_prop(db, "shale.tombstone-compactions"), jobs);
    assert_int_equal(tu_prop(db, "shale.table-tombstones"), DEAD);
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.snapshot = snap;
    key(k, sizeof k, 5);
    void *got;
    size_t len;
    assert_int_equal(shale_get_ex(db, &ro, k, strlen(k), &got, &len, NULL), 0);
    assert_memory_equal(got, "item-5", len);
    shale_free(got);
    shale_snapshot_release(db, snap);
    assert_true(wait_tombstones_gone(db, 10000));
    assert_int_equal(seek_head(db), 0);
    check_live(db);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* With the density trigger off, a seek that steps over many hidden entries marks the
   tables under them, and they are compacted: the next seek steps over nothing. */
static void test_tombstone_compaction_read_triggered(void **state)
{
    char *dir = tu_tempdir("tomb");
    shale_options o;
    opts(&o);
    o.tombstone_compaction_ratio = 0;
    o.iter_skip_compaction_trigger = 1000;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    write_then_delete(db);
    usleep(1500 * 1000);
    assert_int_equal(tu_prop(db, "shale.table-tombstones"), DEAD); /* nothing picked it */
    assert_true(seek_head(db) >= 2 * DEAD);
    assert_int_equal(tu_prop(db, "shale.iter-skip-hints"), 1);
    /* each compaction takes the tombstones a level down, to the next reader's notice,
       until they meet the values they delete */
    int rounds = 0;
    while (!wait_tombstones_gone(db, 1000) && rounds++ < 20)
        seek_head(db);
    assert_int_equal(tu_prop(db, "shale.table-tombstones"), 0);
    assert_int_equal(seek_head(db), 0);
    check_live(db);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* The directory beside this source: tests/fixtures/store-v1, a store the build before
   issue 17 wrote (2000 keys q00000.. at L1, an L0 table deleting the first 1800). */
static void fixture_path(char *out, size_t cap)
{
    const char *src = __FILE__; /* tests/unit/test_tombstone_compaction.c */
    const char *slash = strstr(src, "unit/test_tombstone_compaction.c");
    assert_non_null(slash);
    snprintf(out, cap, "%.*sfixtures/store-v1", (int)(slash - src), src);
}

static void test_tombstone_compaction_store_before_issue17(void **state)
{
    char from[PATH_MAX], path[PATH_MAX + 64];
    fixture_path(from, sizeof from);
    char *dir = tu_tempdir("tomb-v1");
    const char *files[] = {"CURRENT", "MANIFEST-000003", "000006.sst", "000008.sst"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char src[PATH_MAX + 64];
        snprintf(src, sizeof src, "%s/%s", from, files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (tu_copy_file(src, path))
            fail_msg("cannot copy %s (run from the source tree)", src);
    }
    shale_options o;
    shale_options_default(&o);
    o.vlog_gc_interval_s = 0;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    char k[32];
    for (int i = 0; i < 2000; i += 7) {
        snprintf(k, sizeof k, "q%05d", i);
        void *got;
        size_t len;
        int rc = shale_get(db, k, strlen(k), &got, &len);
        assert_int_equal(rc, i < 1800 ? SHALE_ENOTFOUND : 0);
        if (rc == 0) {
            char want[32];
            snprintf(want, sizeof want, "item-%d", i);
            assert_int_equal(len, strlen(want));
            assert_memory_equal(got, want, len);
            shale_free(got);
        }
    }
    /* the old table's recorded tombstone count drives the trigger */
    assert_true(wait_tombstones_gone(db, 10000));
    assert_true(tu_prop(db, "shale.tombstone-compactions") >= 1);
    assert_int_equal(tu_prop(db, "shale.table-entries"), 200);
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    shale_iter_seek_to_first(it);
    assert_true(shale_iter_valid(it));
    size_t len;
    const char *first = shale_iter_key(it, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(first, "q01800", 6);
    shale_iter_free(it);
    /* the new table's manifest record (tag 9, with its live keys) reads back */
    shale_close(db);
    db = tu_open(dir, &o);
    assert_non_null(db);
    assert_int_equal(tu_prop(db, "shale.table-entries"), 200);
    assert_int_equal(shale_get(db, "q01999", 6, NULL, NULL), 0);
    assert_int_equal(shale_get(db, "q01799", 6, NULL, NULL), SHALE_ENOTFOUND);
    shale_close(db);
    tu_rmdir_free(dir);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tombstone_compaction_leveled_without_writes),
        cmocka_unit_test(test_tombstone_compaction_tiered_without_writes),
        cmocka_unit_test(test_tombstone_compaction_off_keeps_tombstones),
        cmocka_unit_test(test_tombstone_compaction_waits_for_snapshot),
        cmocka_unit_test(test_tombstone_compaction_read_triggered),
        cmocka_unit_test(test_tombstone_compaction_store_before_issue17),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

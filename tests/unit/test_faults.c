/*
 * test_faults.c - a fault at every point of a standard workload (issue 7): for each kind
 * of file call (open, read, write, torn write, sync, rename, unlink) and each n over the
 * workload's calls of that kind (sampled evenly), the n-th call fails with EIO (ENOSPC
 * for writes). The workload writes with sync writes, flushes, compacts, reads and closes;
 * whatever fails must fail with an error, never a wrong value; when a put fails the
 * fault clears and shale_resume must let the same handle go on (or say a reopen is
 * needed, after a failed sync); a reopen must find every acknowledged write and take
 * new ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "shale.h"
#include "testutil.h"

#define KEYS 300
#define SAMPLES 24 /* fault points per kind of call */

static void value_of(char *out, size_t n, int i)
{
    snprintf(out, n, "value-%05d-", i);
    size_t len = strlen(out);
    /* some values long enough for the value log */
    size_t want = i % 3 == 0 ? 700 : 40;
    for (size_t j = len; j < want && j + 1 < n; j++)
        out[j] = (char)('a' + (i + (int)j) % 26);
    out[want < n ? want : n - 1] = '\0';
}

static void options(shale_options *o)
{
    tu_small_options(o);
    o->memtable_size = 64 * 1024;
    o->sync_writes = 1;
    o->value_threshold = 256;
    o->vlog_file_size = 1 << 20;
    o->vlog_gc_interval_s = 0;
}

static int resumed, resume_refused; /* per sweep */

/* After a failed put: shale_resume, then the put again (retried while flushes catch up).
   False when the store wants a reopen (a failed sync) or the put still fails. */
static bool resume_and_put(shale_db *db, const char *key, const char *val)
{
    int rc = shale_resume(db);
    if (rc == SHALE_EFAILED) {
        resume_refused++;
        return false;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(shale_background_error(db), 0);
    for (int tries = 0; tries < 100; tries++) {
        rc = shale_put(db, key, strlen(key), val, strlen(val), 0);
        if (rc == 0) {
            resumed++;
            return true;
        }
        usleep(50 * 1000); /* a failed flush is retried after a second */
    }
    fail_msg("a put still fails after the fault cleared and resume: %s", shale_strerror(rc));
    return false;
}

/* Runs the workload; returns how many writes were acknowledged (keys 0..n-1). */
static int workload(const char *dir, bool *failed)
{
    shale_options o;
    options(&o);
    shale_db *db = NULL;
    int acked = 0;
    *failed = false;
    if (shale_open(dir, &o, &db) != 0) {
        *failed = true;
        return 0;
    }
    char key[32], val[1024];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        value_of(val, sizeof val, i);
        if (shale_put(db, key, strlen(key), val, strlen(val), 0) != 0) {
            *failed = true;
            /* The fault clears (space returns): the same handle takes writes again. */
            file_fault_clear();
            if (!resume_and_put(db, key, val))
                break;
        }
        acked = i + 1;
        if (i % 100 == 99 && shale_flush(db) != 0)
            *failed = true;
    }
    if (shale_compact_range(db, NULL, 0, NULL, 0) != 0)
        *failed = true;
    /* reads go on serving: an error or the right value, never a wrong one */
    for (int i = 0; i < acked; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        value_of(val, sizeof val, i);
        void *v = NULL;
        size_t vlen;
        int rc = shale_get(db, key, strlen(key), &v, &vlen);
        if (rc == 0 && (vlen != strlen(val) || memcmp(v, val, vlen) != 0))
            fail_msg("key %d read back a wrong value under a fault", i);
        if (rc != 0 && rc != SHALE_ECORRUPT && rc > -4096 && rc != -EIO)
            fail_msg("key %d: unexpected error %s", i, shale_strerror(rc));
        shale_free(v);
    }
    if (shale_close(db) != 0)
        *failed = true;
    return acked;
}

static void check_after(const char *dir, int acked, const char *what)
{
    shale_options o;
    options(&o);
    shale_db *db = NULL;
    int rc = shale_open(dir, &o, &db);
    if (rc)
        fail_msg("%s: reopen after the fault cleared failed: %s", what, shale_strerror(rc));
    char key[32], val[1024];
    for (int i = 0; i < acked; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        value_of(val, sizeof val, i);
        void *v = NULL;
        size_t vlen;
        rc = shale_get(db, key, strlen(key), &v, &vlen);
        if (rc != 0 || vlen != strlen(val) || memcmp(v, val, vlen) != 0)
            fail_msg("%s: acknowledged key %d %s", what, i,
                     rc ? shale_strerror(rc) : "reads back wrong");
        shale_free(v);
    }
    assert_int_equal(shale_put(db, "after", 5, "works", 5, 0), 0);
    assert_int_equal(shale_close(db), 0);
}

static void sweep(enum file_op op, const char *name, int err, bool partial)
{
    /* a clean run counts the workload's calls of this kind */
    char *dir = tu_tempdir("faults");
    uint64_t before = file_op_count(op);
    bool failed;
    assert_int_equal(workload(dir, &failed), KEYS);
    assert_false(failed);
    uint64_t calls = file_op_count(op) - before;
    tu_rmdir_free(dir);
    int hits = 0;
    resumed = resume_refused = 0;
    for (int s = 0; s < SAMPLES && calls > 0; s++) {
        uint64_t n = 1 + (calls - 1) * (uint64_t)s / (SAMPLES - 1);
        dir = tu_tempdir("faults");
        file_fault_arm(op, n, err, partial, false);
        int acked = workload(dir, &failed);
        file_fault_clear();
        hits += failed;
        char what[96];
        snprintf(what, sizeof what, "%s fault at call %" PRIu64 " of %" PRIu64, name, n, calls);
        check_after(dir, acked, what);
        tu_rmdir_free(dir);
    }
    fprintf(stderr,
            "# %s: %" PRIu64 " calls in the workload, %d fault points, %d reported an error; "
            "%d went on after shale_resume, %d needed a reopen\n",
            name, calls, SAMPLES, hits, resumed, resume_refused);
}

static void test_open_faults(void **state) { sweep(FILE_OP_OPEN, "open", EIO, false); }
static void test_read_faults(void **state) { sweep(FILE_OP_READ, "read", EIO, false); }
static void test_write_faults(void **state) { sweep(FILE_OP_WRITE, "write", ENOSPC, false); }
static void test_torn_write_faults(void **state) { sweep(FILE_OP_WRITE, "torn write", EIO, true); }
static void test_sync_faults(void **state) { sweep(FILE_OP_SYNC, "sync", EIO, false); }
static void test_rename_faults(void **state) { sweep(FILE_OP_RENAME, "rename", EIO, false); }
static void test_unlink_faults(void **state) { sweep(FILE_OP_UNLINK, "unlink", EIO, false); }
/* Directory syncs only (they are few, so the sweep hits each of them): the one after
   CURRENT's rename and those that make new logs and tables durable (issue 15, items 5, 7). */
static void test_dir_sync_faults(void **state) { sweep(FILE_OP_SYNC_DIR, "dir sync", EIO, false); }

static void put_keys(shale_db *db, int from, int to)
{
    char key[32], val[1024];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        value_of(val, sizeof val, i);
        assert_int_equal(shale_put(db, key, strlen(key), val, strlen(val), 0), 0);
    }
}

/* Async writes wait in the log's buffer (manual_wal_flush): a full disk fails the write
   of the buffer; resume must write those acknowledged records again, after cutting what
   the torn write left, and a crash afterwards must find every one of them. */
static void test_resume_rewrites_buffered_records(void **state)
{
    char *dir = tu_tempdir("faults");
    shale_options o;
    options(&o);
    o.sync_writes = 0;
    o.manual_wal_flush = 1;
    o.sync_interval_ms = 0;
    shale_db *db = tu_open(dir, &o);
    put_keys(db, 0, 50);
    file_fault_arm(FILE_OP_WRITE, 1, ENOSPC, true, true); /* the disk is full */
    assert_int_equal(shale_flush_wal(db), -ENOSPC);
    assert_int_equal(shale_background_error(db), -ENOSPC);
    assert_int_equal(shale_put(db, "k", 1, "v", 1, 0), SHALE_EFAILED);
    void *v = NULL;
    size_t vlen;
    assert_int_equal(shale_get(db, "key00003", 8, &v, &vlen), 0); /* reads go on */
    shale_free(v);
    assert_int_equal(shale_resume(db), -ENOSPC); /* still full */
    assert_int_equal(shale_put(db, "k", 1, "v", 1, 0), SHALE_EFAILED);
    file_fault_clear(); /* space returns */
    assert_int_equal(shale_resume(db), 0);
    put_keys(db, 50, 100);
    assert_int_equal(shale_flush_wal(db), 0);
    char *crash = tu_crash_image(dir); /* as if killed now */
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
    check_after(crash, 100, "buffered records after resume");
    tu_rmdir_free(crash);
}

/* Issue 15, item 5: an open writes a new manifest and renames CURRENT to name it; when
   the directory sync after that rename fails, CURRENT may already name the new manifest,
   so it must stay (and so must the old one, which a power cut could bring back). The
   open fails, and the next open must find every key. */
static void test_faults_failed_dir_sync_at_reopen_keeps_store_openable(void **state)
{
    char *dir = tu_tempdir("faults");
    shale_options o;
    options(&o);
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    put_keys(db, 0, 100);
    assert_int_equal(shale_close(db), 0);
    file_fault_arm(FILE_OP_SYNC_DIR, 1, EIO, false, false);
    db = NULL;
    assert_int_equal(shale_open(dir, &o, &db), -EIO);
    assert_null(db);
    file_fault_clear();
    check_after(dir, 100, "reopen after a failed directory sync");
    /* and the store stays openable after that */
    check_after(dir, 100, "second reopen after a failed directory sync");
    tu_rmdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_faults),  cmocka_unit_test(test_read_faults),
        cmocka_unit_test(test_write_faults), cmocka_unit_test(test_torn_write_faults),
        cmocka_unit_test(test_sync_faults),  cmocka_unit_test(test_rename_faults),
        cmocka_unit_test(test_unlink_faults), cmocka_unit_test(test_dir_sync_faults),
        cmocka_unit_test(test_faults_failed_dir_sync_at_reopen_keeps_store_openable),
        cmocka_unit_test(test_resume_rewrites_buffered_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

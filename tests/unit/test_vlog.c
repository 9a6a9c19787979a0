/*
 * test_vlog.c - the value log: large values reached through pointers after flush,
 * reopen and compaction, checksums on read, space accounting (discards, expiry), and
 * value-log GC (see the gc tests below).
 */
#include <dirent.h>
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shale.h"
#include "sync_point.h"
#include "testutil.h"
#include "vlog.h"

static void vlog_options(shale_options *o)
{
    tu_small_options(o);
    o->value_threshold = 100;
    o->vlog_file_size = 1 << 20;
    o->vlog_gc_interval_s = 0; /* tests run GC themselves */
}

static shale_db *open_db(const char *dir, const shale_options *o)
{
    shale_db *db = tu_open(dir, o);
    assert_non_null(db);
    return db;
}

static uint64_t prop(shale_db *db, const char *name)
{
    uint64_t v = 0;
    assert_int_equal(shale_property_int(db, name, &v), 0);
    return v;
}

/* Key i's value in generation gen: 20..1999 bytes (most above the threshold). */
static size_t make_value(int i, int gen, char *out)
{
    size_t len = 20 + (size_t)((i * 7919 + gen * 104729) % 1980);
    tu_random_bytes(out, len, (uint64_t)i * 1000 + (uint64_t)gen);
    int n = snprintf(out, len, "%d:%d:", i, gen);
    out[n] = '#';
    return len;
}

static void put_gen(shale_db *db, int n, int gen)
{
    char key[32], val[2048];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key%06d", i);
        size_t len = make_value(i, gen, val);
        assert_int_equal(shale_put(db, key, strlen(key), val, len, 0), 0);
    }
}

static void check_gen(shale_db *db, int n, int gen)
{
    char key[32], val[2048];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key%06d", i);
        size_t len = make_value(i, gen, val);
        void *got = NULL;
        size_t glen = 0;
        int rc = shale_get(db, key, strlen(key), &got, &glen);
        if (rc)
            fprintf(stderr, "%s: %s\n", key, shale_strerror(rc));
        assert_int_equal(rc, 0);
        assert_int_equal(glen, len);
        assert_memory_equal(got, val, len);
        free(got);
    }
    /* The iterator reads the same values through the pointers. */
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    int i = 0;
    for (shale_iter_seek_to_first(it); shale_iter_valid(it); shale_iter_next(it), i++) {
        size_t len = make_value(i, gen, val), vlen;
        const void *v = shale_iter_value(it, &vlen);
        assert_non_null(v);
        assert_int_equal(vlen, len);
        assert_memory_equal(v, val, len);
    }
    assert_int_equal(shale_iter_status(it), 0);
    assert_int_equal(i, n);
    shale_iter_free(it);
}

static void test_values_through_pointers(void **state)
{
    char *dir = tu_tempdir("vlog");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    put_gen(db, 3000, 1);
    assert_int_equal(shale_flush(db), 0);
    assert_true(prop(db, "shale.vlog-segments") >= 2); /* 3000 x ~1 KiB over 1 MiB segments */
    uint64_t live1 = prop(db, "shale.vlog-live-bytes");
    assert_true(live1 > 2000 * 900);
    check_gen(db, 3000, 1);
    assert_int_equal(shale_close(db), 0);

    db = open_db(dir, &o);
    check_gen(db, 3000, 1);
    assert_int_equal(prop(db, "shale.vlog-live-bytes"), live1); /* counters persisted */
    /* Overwrite everything; a full compaction drops the old pointers: their bytes are
       discarded and live bytes are the new generation's only. */
    put_gen(db, 3000, 2);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    check_gen(db, 3000, 2);
    uint64_t live2 = prop(db, "shale.vlog-live-bytes");
    assert_true(live2 < live1 + live1 / 4);
    assert_true(live2 > live1 - live1 / 4);
    assert_int_equal(shale_close(db), 0);

    db = open_db(dir, &o);
    assert_int_equal(prop(db, "shale.vlog-live-bytes"), live2);
    check_gen(db, 3000, 2);
    char *report = NULL;
    assert_int_equal(shale_property(db, "shale.vlog-segments", &report), 0);
    assert_non_null(strstr(report, "discard_ratio"));
    free(report);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* The log file whose bytes contain needle, and the offset (first match). */
static int find_in_logs(const char *dir, const char *needle, size_t nlen, char *path,
                        uint64_t *off)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ".log") != 0)
            continue;
        snprintf(path, PATH_MAX, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *b = malloc((size_t)size + 1);
        size_t got = fread(b, 1, (size_t)size, f);
        fclose(f);
        char *p = memmem(b, got, needle, nlen);
        if (p) {
            *off = (uint64_t)(p - b);
            found = 1;
        }
        free(b);
    }
    closedir(d);
    return found;
}

static void test_corrupt_value_is_reported(void **state)
{
    char *dir = tu_tempdir("vlogcorrupt");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    char big[600];
    tu_random_bytes(big, sizeof big, 42);
    memcpy(big, "MARKER-of-the-value", 19);
    assert_int_equal(shale_put(db, "k", 1, big, sizeof big, 0), 0);
    assert_int_equal(shale_put(db, "small", 5, "tiny", 4, 0), 0);
    assert_int_equal(shale_close(db), 0);

    char path[PATH_MAX];
    uint64_t off = 0;
    assert_true(find_in_logs(dir, "MARKER-of-the-value", 19, path, &off));
    assert_int_equal(tu_flip_byte(path, off + 300), 0);

    db = open_db(dir, &o);
    void *v = NULL;
    size_t vlen;
    assert_int_equal(shale_get(db, "k", 1, &v, &vlen), SHALE_ECORRUPT);
    assert_null(v);
    assert_int_equal(shale_get(db, "small", 5, &v, &vlen), 0); /* the rest reads on */
    free(v);
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    shale_iter_seek(it, "k", 1);
    assert_true(shale_iter_valid(it));
    assert_null(shale_iter_value(it, &vlen));
    assert_int_equal(shale_iter_status(it), SHALE_ECORRUPT);
    shale_iter_free(it);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_expired_values_are_discardable(void **state)
{
    char *dir = tu_tempdir("vlogttl");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    char val[1000];
    tu_random_bytes(val, sizeof val, 7);
    uint64_t exp = tu_now_ms() + 400;
    for (int i = 0; i < 500; i++) {
        char key[16];
        snprintf(key, sizeof key, "t%04d", i);
        assert_int_equal(shale_put(db, key, strlen(key), val, sizeof val, exp), 0);
    }
    assert_int_equal(shale_put(db, "keep", 4, val, sizeof val, 0), 0);
    assert_int_equal(shale_flush(db), 0);
    assert_true(prop(db, "shale.vlog-live-bytes") >= 501 * 1000);
    usleep(500 * 1000);
    /* No compaction ran, yet the expired values count as garbage. */
    assert_int_equal(prop(db, "shale.vlog-live-bytes"), 1000);
    void *v = NULL;
    size_t vlen;
    assert_int_equal(shale_get(db, "t0001", 5, &v, &vlen), SHALE_ENOTFOUND);
    assert_int_equal(shale_get(db, "keep", 4, &v, &vlen), 0);
    free(v);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static int gc_until_done(shale_db *db, double ratio);

/* Text-like value i (500..3500 bytes), which lz4 shrinks a lot; returns its length. */
static size_t text_value(int i, char *out)
{
    size_t len = 500 + (size_t)(i % 7) * 500;
    for (size_t j = 0; j < len; j++)
        out[j] = "the quick brown fox jumps over the lazy dog "[(j + (size_t)i) % 44];
    return len;
}

/* Asserts key "cNNNNN" reads as text_value(i). */
static void expect_text(shale_db *db, int i, uint64_t *expire_at)
{
    char key[32], val[4000];
    snprintf(key, sizeof key, "c%05d", i);
    size_t len = text_value(i, val);
    void *v = NULL;
    size_t vlen;
    assert_int_equal(shale_get_ex(db, NULL, key, strlen(key), &v, &vlen, expire_at), 0);
    assert_int_equal(vlen, len);
    assert_memory_equal(v, val, len);
    free(v);
}

static void test_compressed_values(void **state)
{
    char *dir = tu_tempdir("vloglz4");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    char val[4000], key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "c%05d", i);
        size_t len = text_value(i, val);
        assert_int_equal(shale_put(db, key, strlen(key), val, len, i % 3 ? 0 : tu_now_ms() + 3600000), 0);
    }
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o);
    uint64_t raw = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t exp = 0;
        raw += text_value(i, val);
        expect_text(db, i, &exp);
        assert_true((i % 3 == 0) == (exp != 0));
    }
    uint64_t bytes = prop(db, "shale.vlog-bytes");
    fprintf(stderr, "# %.2f MiB of values take %.2f MiB of value log\n", raw / 1048576.0,
            bytes / 1048576.0);
    assert_true(bytes < raw / 4);
    /* GC carries compressed values over intact */
    for (int i = 0; i < 2000; i += 2) {
        snprintf(key, sizeof key, "c%05d", i);
        assert_int_equal(shale_delete(db, key, strlen(key)), 0);
    }
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    gc_until_done(db, 0.3);
    for (int i = 1; i < 2000; i += 2)
        expect_text(db, i, NULL);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* ---- GC ---- */

static uint64_t dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t total = 0;
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && strcmp(e->d_name, "LOG") != 0) {
            int64_t n = tu_file_size(path);
            if (n > 0)
                total += (uint64_t)n;
        }
    }
    closedir(d);
    return total;
}

static uint64_t live_bytes_of(int n, int gen)
{
    char val[2048];
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += make_value(i, gen, val) + 9; /* value + key */
    return total;
}

static int gc_until_done(shale_db *db, double ratio)
{
    int runs = 0, rc;
    while ((rc = shale_vlog_gc(db, ratio)) == 0)
        runs++;
    assert_int_equal(rc, SHALE_ENOREWRITE);
    return runs;
}

static void test_gc_space_after_three_overwrites(void **state)
{
    char *dir = tu_tempdir("vloggc");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    for (int gen = 1; gen <= 4; gen++)
        put_gen(db, 3000, gen);
    assert_int_equal(shale_flush(db), 0);
    uint64_t before = dir_bytes(dir), live = live_bytes_of(3000, 4);
    assert_true(before > 3 * live);
    /* The compaction gives GC its discard figures; then GC until nothing is worth it. */
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    int runs = gc_until_done(db, 0.5);
    assert_true(runs >= 6);
    check_gen(db, 3000, 4);
    assert_int_equal(shale_flush(db), 0);
    uint64_t after = dir_bytes(dir);
    fprintf(stderr, "# %d GC runs: %.2f MiB -> %.2f MiB, live %.2f MiB (%.2fx)\n", runs,
            before / 1048576.0, after / 1048576.0, live / 1048576.0, (double)after / live);
    assert_true(after <= live + live / 2);
    assert_true(prop(db, "shale.vlog-gc-deleted-segments") >= (uint64_t)runs);
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o);
    check_gen(db, 3000, 4);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_gc_all_live_is_no_rewrite(void **state)
{
    char *dir = tu_tempdir("vloglive");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    put_gen(db, 3000, 1);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    assert_int_equal(shale_vlog_gc(db, 0.5), SHALE_ENOREWRITE);
    assert_int_equal(shale_vlog_gc(db, 0.0), -EINVAL);
    assert_int_equal(shale_vlog_gc(db, 1.0), -EINVAL);
    assert_int_equal(prop(db, "shale.vlog-gc-runs"), 0);
    check_gen(db, 3000, 1);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_gc_reclaims_expired_values(void **state)
{
    char *dir = tu_tempdir("vloggcttl");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    char val[1000];
    tu_random_bytes(val, sizeof val, 8);
    uint64_t exp = tu_now_ms() + 300;
    for (int i = 0; i < 4000; i++) {
        char key[16];
        snprintf(key, sizeof key, "t%05d", i);
        assert_int_equal(shale_put(db, key, strlen(key), val, sizeof val, exp), 0);
    }
    put_gen(db, 200, 1); /* a few that stay */
    assert_int_equal(shale_flush(db), 0);
    uint64_t before = prop(db, "shale.vlog-bytes");
    usleep(400 * 1000);
    /* No compaction: the expiry alone makes the segments garbage. */
    int runs = gc_until_done(db, 0.5);
    assert_true(runs >= 2);
    uint64_t after = prop(db, "shale.vlog-bytes");
    fprintf(stderr, "# expired: value log %.2f MiB -> %.2f MiB after %d GC runs\n",
            before / 1048576.0, after / 1048576.0, runs);
    assert_true(after < before / 2);
    check_gen(db, 200, 1);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void test_gc_waits_for_snapshots(void **state)
{
    char *dir = tu_tempdir("vloggcsnap");
    shale_options o;
    vlog_options(&o);
    shale_db *db = open_db(dir, &o);
    put_gen(db, 3000, 1);
    assert_int_equal(shale_flush(db), 0);
    const shale_snapshot *snap;
    assert_int_equal(shale_snapshot_new(db, &snap), 0);
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0); /* made before GC, read after */
    put_gen(db, 3000, 2);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t segs = prop(db, "shale.vlog-segments");
    /* gen 1's segments: the snapshot keeps their pointers, so nothing is garbage yet */
    assert_int_equal(shale_vlog_gc(db, 0.5), SHALE_ENOREWRITE);
    shale_snapshot_release(db, snap);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    int runs = gc_until_done(db, 0.5);
    assert_true(runs >= 2);
    /* The iterator still reads generation 1 through segments GC has emptied. */
    char val[2048];
    int i = 0;
    for (shale_iter_seek_to_first(it); shale_iter_valid(it); shale_iter_next(it), i++) {
        size_t len = make_value(i, 1, val), vlen;
        const void *v = shale_iter_value(it, &vlen);
        assert_non_null(v);
        assert_int_equal(vlen, len);
        assert_memory_equal(v, val, len);
    }
    assert_int_equal(i, 3000);
    shale_iter_free(it);
    check_gen(db, 3000, 2);
    assert_true(prop(db, "shale.vlog-segments") < segs);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* ---- values GC reclaimed after their expiry ---- */

/* Undoes a test's clock step and sync points even when it fails. */
static int reset_hooks(void **state)
{
    sync_point_shift_clock_ms(0);
    sync_point_clear_all();
    return 0;
}

/* A 4 KB value with expiry exp in a segment of its own (the store is reopened: the next
   log is another segment), so that GC can reclaim the segment once exp has passed. */
static shale_db *put_expiring_alone(const char *dir, const shale_options *o, uint64_t exp)
{
    shale_db *db = open_db(dir, o);
    char val[4096];
    tu_random_bytes(val, sizeof val, 11);
    assert_int_equal(shale_put(db, "k", 1, val, sizeof val, exp), 0);
    assert_int_equal(shale_put(db, "small", 5, "tiny", 4, 0), 0);
    assert_int_equal(shale_close(db), 0);
    return open_db(dir, o);
}

/* Reads k every way a caller can; each must say "expired", none "corrupt". */
static void expect_reclaimed(shale_db *db)
{
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.include_expired = 1;
    void *v = NULL;
    size_t vlen = 7;
    uint64_t exp = 7;
    int rc = shale_get_ex(db, &ro, "k", 1, &v, &vlen, &exp);
    if (rc != SHALE_ENOTFOUND)
        fail_msg("include_expired get of a value GC reclaimed: %s (%d)", shale_strerror(rc), rc);
    assert_null(v);
    assert_int_equal(vlen, 0);
    assert_int_equal(shale_get(db, "k", 1, &v, &vlen), SHALE_ENOTFOUND);
    for (int inc = 0; inc <= 1; inc++) {
        ro.include_expired = inc;
        shale_iter *it;
        assert_int_equal(shale_iter_new(db, &ro, &it), 0);
        int n = 0;
        for (shale_iter_seek_to_first(it); shale_iter_valid(it); shale_iter_next(it), n++) {
            size_t kl;
            const char *key = shale_iter_key(it, &kl);
            assert_non_null(shale_iter_value(it, &vlen));
            assert_false(kl == 1 && key[0] == 'k');
        }
        assert_int_equal(shale_iter_status(it), 0);
        assert_int_equal(n, 1); /* "small" */
        shale_iter_free(it);
    }
    assert_int_equal(shale_get(db, "small", 5, &v, &vlen), 0);
    free(v);
}

/* #15.4: the reviewer's scenario. GC drops a segment whose values have all expired while
   a table still holds the pointer; a read that includes expired entries (the server's
   every read) must see the key as expired, not report corruption. */
static void test_vlog_gc_reclaimed_expired_reads_as_expired(void **state)
{
    char *dir = tu_tempdir("vloggcexp");
    shale_options o;
    vlog_options(&o);
    shale_db *db = put_expiring_alone(dir, &o, tu_now_ms() + 800);
    usleep(2000 * 1000);
    assert_int_equal(shale_vlog_gc(db, 0.5), 0);
    assert_int_equal(prop(db, "shale.vlog-gc-deleted-segments"), 1);
    expect_reclaimed(db);
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o); /* the manifest no longer lists the segment */
    expect_reclaimed(db);
    /* and a compaction drops the expired pointer as usual */
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    expect_reclaimed(db);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* #15.4: the wall clock steps back after GC reclaimed an expired value: the entry is
   live again by the clock, but its value is gone; it stays expired. */
static void test_vlog_gc_reclaimed_expired_clock_step_back(void **state)
{
    char *dir = tu_tempdir("vloggcstep");
    shale_options o;
    vlog_options(&o);
    shale_db *db = put_expiring_alone(dir, &o, tu_now_ms() + 60 * 1000);
    sync_point_shift_clock_ms(120 * 1000); /* the clock runs two minutes ahead... */
    assert_int_equal(shale_vlog_gc(db, 0.5), 0);
    assert_int_equal(prop(db, "shale.vlog-gc-deleted-segments"), 1);
    sync_point_shift_clock_ms(0); /* ...and is put right: k has not expired by it */
    expect_reclaimed(db);
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o);
    expect_reclaimed(db);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* A pointer without an expiry into a segment the store no longer has is still damage. */
static void test_vlog_missing_segment_without_expiry_is_corrupt(void **state)
{
    char *dir = tu_tempdir("vlogmissing");
    shale_options o;
    vlog_options(&o);
    shale_db *db = put_expiring_alone(dir, &o, 0);
    assert_int_equal(shale_close(db), 0);
    /* the segment's file vanishes behind the store's back */
    char path[PATH_MAX];
    uint64_t off;
    char val[4096];
    tu_random_bytes(val, sizeof val, 11);
    assert_true(find_in_logs(dir, val, 64, path, &off));
    assert_int_equal(unlink(path), 0);
    db = open_db(dir, &o);
    void *v = NULL;
    size_t vlen;
    assert_int_equal(shale_get(db, "k", 1, &v, &vlen), SHALE_ECORRUPT);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* ---- GC with concurrent writers and readers, checked against a model ---- */

#define MODEL_KEYS 2000
typedef struct model {
    shale_db *db;
    _Atomic int version[MODEL_KEYS]; /* the last acknowledged version of each key */
    _Atomic int stop;
    _Atomic int errors;
    int seed;
} model;

/* Value of key i at version ver: "i:ver:" then filler (200..1400 bytes). */
static size_t model_value(int i, int ver, char *out)
{
    size_t len = 200 + (size_t)((i * 31 + ver * 17) % 1200);
    tu_random_bytes(out, len, (uint64_t)i * 100000 + (uint64_t)ver);
    snprintf(out, len, "%d:%d:", i, ver);
    return len;
}

static void *model_writer(void *arg)
{
    model *m = arg;
    uint64_t rs = (uint64_t)m->seed * 7 + 1;
    char key[16], val[2048];
    while (!atomic_load(&m->stop)) {
        int i = (int)tu_rand_below(&rs, MODEL_KEYS);
        /* one writer per key parity keeps versions increasing per key */
        int ver = atomic_load(&m->version[i]) + 1;
        snprintf(key, sizeof key, "m%05d", i);
        size_t len = model_value(i, ver, val);
        if (shale_put(m->db, key, strlen(key), val, len, 0) != 0) {
            atomic_fetch_add(&m->errors, 1);
            break;
        }
        atomic_store(&m->version[i], ver);
    }
    return NULL;
}

static void *model_reader(void *arg)
{
    model *m = arg;
    uint64_t rs = 99;
    char key[16], val[2048];
    while (!atomic_load(&m->stop)) {
        int i = (int)tu_rand_below(&rs, MODEL_KEYS);
        int known = atomic_load(&m->version[i]);
        snprintf(key, sizeof key, "m%05d", i);
        void *v = NULL;
        size_t vlen = 0;
        int rc = shale_get(m->db, key, strlen(key), &v, &vlen);
        if (rc == SHALE_ENOTFOUND && known == 0)
            continue;
        int ki = -1, ver = -1;
        if (rc == 0)
            sscanf(v, "%d:%d:", &ki, &ver);
        if (rc != 0 || ki != i || ver < known || vlen != model_value(i, ver, val) ||
            memcmp(v, val, vlen) != 0) {
            fprintf(stderr, "reader: key %d rc %d version %d (known %d)\n", i, rc, ver, known);
            atomic_fetch_add(&m->errors, 1);
        }
        free(v);
    }
    return NULL;
}

static void test_gc_with_concurrent_writers_and_readers(void **state)
{
    char *dir = tu_tempdir("vloggcmodel");
    shale_options o;
    vlog_options(&o);
    model *m = calloc(1, sizeof *m);
    m->db = open_db(dir, &o);
    m->seed = (int)tu_seed();
    pthread_t w, r1, r2;
    pthread_create(&w, NULL, model_writer, m);
    pthread_create(&r1, NULL, model_reader, m);
    pthread_create(&r2, NULL, model_reader, m);
    int runs = 0;
    uint64_t until = tu_now_ms() + 3000;
    while (tu_now_ms() < until) {
        assert_int_equal(shale_compact_range(m->db, NULL, 0, NULL, 0), 0);
        /* The writer makes garbage as fast as GC reclaims it: a few runs per round. */
        int rc = 0;
        for (int k = 0; k < 4 && rc == 0 && tu_now_ms() < until; k++)
            if ((rc = shale_vlog_gc(m->db, 0.3)) == 0)
                runs++;
        assert_true(rc == 0 || rc == SHALE_ENOREWRITE);
    }
    atomic_store(&m->stop, 1);
    pthread_join(w, NULL);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    fprintf(stderr, "# %d GC runs beside the writer and two readers\n", runs);
    assert_int_equal(atomic_load(&m->errors), 0);
    assert_true(runs > 0);
    /* After a reopen every key holds its last acknowledged version. */
    assert_int_equal(shale_close(m->db), 0);
    m->db = open_db(dir, &o);
    char key[16], val[2048];
    for (int i = 0; i < MODEL_KEYS; i++) {
        int ver = atomic_load(&m->version[i]);
        snprintf(key, sizeof key, "m%05d", i);
        void *v = NULL;
        size_t vlen;
        int rc = shale_get(m->db, key, strlen(key), &v, &vlen);
        if (ver == 0) {
            assert_int_equal(rc, SHALE_ENOTFOUND);
            continue;
        }
        assert_int_equal(rc, 0);
        size_t len = model_value(i, ver, val);
        assert_int_equal(vlen, len);
        assert_memory_equal(v, val, len);
        free(v);
    }
    assert_int_equal(shale_close(m->db), 0);
    free(m);
    tu_rmdir_free(dir);
}

/* ---- the GC thread and close ---- */

/* What each side of a close has reached; flags change under mu and wake cv. */
typedef struct close_race {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gc_seen;  /* GC's first submit has been caught */
    int parked;   /* GC waits there now */
    int go;       /* close is at its WAL teardown: GC may write */
    int stopping; /* close is stopping the background threads */
    int appended; /* GC's record is in the file, not yet in the log's size */
    int wal_done; /* close has cut and synced the log */
} close_race;

static close_race race_state = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void race_set(int *flag)
{
    pthread_mutex_lock(&race_state.mu);
    *flag = 1;
    pthread_cond_broadcast(&race_state.cv);
    pthread_mutex_unlock(&race_state.mu);
}

/* Waits until *a (or *b) is set, at most secs seconds; returns whether one was. */
static int race_wait(int *a, int *b, int secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += secs;
    pthread_mutex_lock(&race_state.mu);
    while (!*a && !(b && *b))
        if (pthread_cond_timedwait(&race_state.cv, &race_state.mu, &ts))
            break;
    int ok = *a || (b && *b);
    pthread_mutex_unlock(&race_state.mu);
    return ok;
}

/* GC thread, first batch of rewrites: wait for close to reach the log (or to stop GC). */
static void race_gc_submit(const char *name, void *arg)
{
    pthread_mutex_lock(&race_state.mu);
    int first = !race_state.gc_seen;
    race_state.gc_seen = 1;
    race_state.parked = first;
    pthread_cond_broadcast(&race_state.cv);
    pthread_mutex_unlock(&race_state.mu);
    if (!first)
        return;
    race_wait(&race_state.go, &race_state.stopping, 30);
    pthread_mutex_lock(&race_state.mu);
    race_state.parked = 0;
    pthread_mutex_unlock(&race_state.mu);
}

/* Close, before cutting the log: if GC is still waiting to write, let it write first and
   come back once its record is in the file. */
static void race_close_wal(const char *name, void *arg)
{
    pthread_mutex_lock(&race_state.mu);
    int parked = race_state.parked;
    pthread_mutex_unlock(&race_state.mu);
    if (!parked)
        return;
    race_set(&race_state.go);
    race_wait(&race_state.appended, NULL, 10);
}

/* Any log append after close let GC go: GC's. It holds until close has cut the log. */
static void race_appended(const char *name, void *arg)
{
    pthread_mutex_lock(&race_state.mu);
    int mine = race_state.go && !race_state.appended;
    pthread_mutex_unlock(&race_state.mu);
    if (!mine)
        return;
    race_set(&race_state.appended);
    race_wait(&race_state.wal_done, NULL, 10);
}

static void race_wal_done(const char *name, void *arg)
{
    race_set(&race_state.wal_done);
}

static void race_stopping(const char *name, void *arg)
{
    race_set(&race_state.stopping);
}

/* #15.9: close cut and synced the log while the GC thread, which writes through it, was
   still running. Here GC's batch of rewrites lands in the log just as close cuts it at
   the size it had read before: the record is cut off, GC then drops the segment it
   believes rewritten, and after a reopen its live values are gone. Close must stop GC
   (every background thread) before it touches the log. */
static void test_vlog_gc_thread_stops_before_close_cuts_the_log(void **state)
{
    char *dir = tu_tempdir("vloggcclose");
    shale_options o;
    vlog_options(&o);
    o.vlog_gc_discard_ratio = 0.3;
    shale_db *db = open_db(dir, &o);
    char key[32], val[1000];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "junk%03d", i);
        tu_random_bytes(val, sizeof val, (uint64_t)i + 1000);
        assert_int_equal(shale_put(db, key, strlen(key), val, sizeof val, 0), 0);
    }
    for (int i = 0; i < 10; i++) { /* few enough for one batch of rewrites */
        snprintf(key, sizeof key, "live%02d", i);
        tu_random_bytes(val, sizeof val, (uint64_t)i);
        assert_int_equal(shale_put(db, key, strlen(key), val, sizeof val, 0), 0);
    }
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o); /* that log is now a segment GC may take */
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "junk%03d", i);
        assert_int_equal(shale_delete(db, key, strlen(key)), 0);
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0); /* discards counted */

    memset(&race_state.gc_seen, 0, sizeof race_state - offsetof(close_race, gc_seen));
    assert_int_equal(sync_point_set("vlog_gc:submit", race_gc_submit, NULL), 0);
    assert_int_equal(sync_point_set("shale_close:wal", race_close_wal, NULL), 0);
    assert_int_equal(sync_point_set("wal:appended", race_appended, NULL), 0);
    assert_int_equal(sync_point_set("shale_close:wal_done", race_wal_done, NULL), 0);
    assert_int_equal(sync_point_set("db:stop_background", race_stopping, NULL), 0);
    assert_int_equal(shale_set_option(db, "vlog_gc_interval_s", "1"), 0);
    assert_true(race_wait(&race_state.parked, NULL, 30)); /* the GC thread is at work */
    assert_int_equal(shale_close(db), 0);
    sync_point_clear_all();

    db = open_db(dir, &o);
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "live%02d", i);
        tu_random_bytes(val, sizeof val, (uint64_t)i);
        void *v = NULL;
        size_t vlen;
        int rc = shale_get(db, key, strlen(key), &v, &vlen);
        if (rc)
            fail_msg("%s after GC ran into close: %s", key, shale_strerror(rc));
        assert_int_equal(vlen, sizeof val);
        assert_memory_equal(v, val, sizeof val);
        free(v);
    }
    gc_until_done(db, 0.3); /* and GC finishes the job later */
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* ---- open files ---- */

/* How many descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
            n++;
    closedir(d);
    return n;
}

#define FD_SEGMENTS 40

/* Reads back the value of every segment; returns 0 or the first error. */
static int read_fd_keys(shale_db *db)
{
    for (int i = 0; i < FD_SEGMENTS; i++) {
        char key[16], val[1000];
        snprintf(key, sizeof key, "seg%02d", i);
        tu_random_bytes(val, sizeof val, (uint64_t)i + 500);
        void *v = NULL;
        size_t vlen;
        int rc = shale_get(db, key, strlen(key), &v, &vlen);
        if (rc == 0 && (vlen != sizeof val || memcmp(v, val, vlen) != 0))
            rc = SHALE_ECORRUPT;
        free(v);
        if (rc)
            return rc;
    }
    return 0;
}

/* #15.11: every value-log segment kept a descriptor of its own, outside max_open_files:
   a store with many segments ran out of descriptors, and EMFILE came back as read errors.
   Segments now share the table cache's bound. */
static void test_vlog_segment_fds_within_max_open_files(void **state)
{
    char *dir = tu_tempdir("vlogfds");
    shale_options o;
    vlog_options(&o);
    o.max_open_files = 16;                  /* the least allowed */
    for (int i = 0; i < FD_SEGMENTS; i++) { /* each open starts a log: one segment a value */
        shale_db *db = open_db(dir, &o);
        char key[16], val[1000];
        snprintf(key, sizeof key, "seg%02d", i);
        tu_random_bytes(val, sizeof val, (uint64_t)i + 500);
        assert_int_equal(shale_put(db, key, strlen(key), val, sizeof val, 0), 0);
        assert_int_equal(shale_close(db), 0);
    }
    int before = open_fds();
    shale_db *db = open_db(dir, &o);
    assert_true(prop(db, "shale.vlog-segments") >= FD_SEGMENTS);
    assert_int_equal(read_fd_keys(db), 0);
    assert_int_equal(read_fd_keys(db), 0);
    int during = open_fds();
    fprintf(stderr, "# %d segments read with max_open_files %d: %d descriptors open (%d before)\n",
            FD_SEGMENTS, o.max_open_files, during, before);
    /* tables and segments within max_open_files; the lock, LOG, the log and the manifest */
    assert_true(during - before <= o.max_open_files + 6);
    assert_int_equal(shale_close(db), 0);

    /* With descriptors limited to what that bound needs, every read succeeds. */
    pid_t pid = fork();
    if (pid == 0) {
        /* new descriptors take the lowest free numbers: this leaves at least
           max_open_files + 8 of them, whatever high numbers the process holds */
        rlim_t limit = (rlim_t)(before + o.max_open_files + 8);
        struct rlimit rl = {limit, limit};
        if (setrlimit(RLIMIT_NOFILE, &rl))
            _exit(3);
        shale_db *cdb = NULL;
        if (shale_open(dir, &o, &cdb))
            _exit(4);
        int rc = read_fd_keys(cdb);
        if (rc)
            fprintf(stderr, "# a read under the descriptor limit: %s\n", shale_strerror(rc));
        shale_close(cdb);
        _exit(rc ? 5 : 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tu_rmdir_free(dir);
}

/* ---- a crash at each GC step ---- */

static void test_gc_crash_at_every_step(void **state)
{
    shale_options o;
    vlog_options(&o);
    for (int step = 1; step <= 5; step++) {
        char *dir = tu_tempdir("vloggccrash");
        shale_db *db = open_db(dir, &o);
        put_gen(db, 3000, 1);
        /* even keys get generation 2: every segment of generation 1 is half garbage,
           half values GC must carry over */
        char key[32], val[2048];
        for (int i = 0; i < 3000; i += 2) {
            snprintf(key, sizeof key, "key%06d", i);
            size_t len = make_value(i, 2, val);
            assert_int_equal(shale_put(db, key, strlen(key), val, len, 0), 0);
        }
        assert_int_equal(shale_flush(db), 0);
        assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
        assert_int_equal(shale_close(db), 0);

        pid_t pid = fork();
        if (pid == 0) {
            shale_db *cdb = NULL;
            if (shale_open(dir, &o, &cdb))
                _exit(1);
            vlog_gc_crash_at(step);
            for (int i = 0; i < 100; i++)
                if (shale_vlog_gc(cdb, 0.3))
                    break;
            _exit(2); /* the crash point was never reached */
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != VLOG_GC_CRASH_EXIT)
            fail_msg("step %d: the child exited with %d", step, WEXITSTATUS(status));

        db = open_db(dir, &o);
        for (int i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "key%06d", i);
            size_t len = make_value(i, i % 2 == 0 ? 2 : 1, val);
            void *v = NULL;
            size_t vlen;
            assert_int_equal(shale_get(db, key, strlen(key), &v, &vlen), 0);
            assert_int_equal(vlen, len);
            assert_memory_equal(v, val, len);
            free(v);
        }
        /* and GC finishes the job after the restart */
        gc_until_done(db, 0.3);
        assert_int_equal(shale_close(db), 0);
        tu_rmdir_free(dir);
    }
}

/* ---- the log's space after a flush (issue 16) ---- */

typedef struct log_usage {
    int files;
    uint64_t bytes;  /* st_size summed */
    uint64_t blocks; /* st_blocks summed, in bytes: what the logs hold on disk */
    uint64_t newest; /* the highest log number */
} log_usage;

static log_usage logs_in(const char *dir)
{
    log_usage u = {0};
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ".log") != 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue; /* deleted meanwhile */
        u.files++;
        u.bytes += (uint64_t)st.st_size;
        u.blocks += (uint64_t)st.st_blocks * 512u;
        uint64_t n = strtoull(e->d_name, NULL, 10);
        if (n > u.newest)
            u.newest = n;
    }
    closedir(d);
    return u;
}

/* The flush thread deletes a flushed log just after shale_flush's wait ends: give it a
   moment (up to 5 s) to get there. */
static log_usage logs_after_flush(const char *dir, int want_files)
{
    log_usage u = logs_in(dir);
    for (int i = 0; i < 500 && u.files > want_files; i++) {
        usleep(10000);
        u = logs_in(dir);
    }
    return u;
}

static void small_key(char *key, size_t cap, int i)
{
    snprintf(key, cap, "small%06d", i);
}

/* Key i's small value (100 bytes, below the default threshold of 512). */
static void small_value(char *val, int i, int gen)
{
    tu_random_bytes(val, 100, (uint64_t)i * 7 + (uint64_t)gen);
    snprintf(val, 100, "%d:%d:", i, gen);
}

static void put_small(shale_db *db, int n, int gen)
{
    char key[32], val[100];
    for (int i = 0; i < n; i++) {
        small_key(key, sizeof key, i);
        small_value(val, i, gen);
        assert_int_equal(shale_put(db, key, strlen(key), val, sizeof val, 0), 0);
    }
}

static int check_small(shale_db *db, int n, int gen)
{
    char key[32], val[100];
    for (int i = 0; i < n; i++) {
        small_key(key, sizeof key, i);
        small_value(val, i, gen);
        void *got = NULL;
        size_t glen = 0;
        int rc = shale_get(db, key, strlen(key), &got, &glen);
        if (rc == 0 && (glen != sizeof val || memcmp(got, val, glen) != 0))
            rc = SHALE_ECORRUPT;
        free(got);
        if (rc) {
            fprintf(stderr, "# %s: %s\n", key, shale_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Key i's value of generation gen for i < n, read with shale_get only (other keys may
   share the store). */
static void get_gen(shale_db *db, int n, int gen)
{
    char key[32], val[2048];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key%06d", i);
        size_t len = make_value(i, gen, val);
        void *got = NULL;
        size_t glen = 0;
        assert_int_equal(shale_get(db, key, strlen(key), &got, &glen), 0);
        assert_int_equal(glen, len);
        assert_memory_equal(got, val, len);
        free(got);
    }
}

/* #16: the log doubled as the value log and rolled only at vlog_file_size, so the records
   of small values, all flushed, stayed on disk (147 MB after a million 100-byte writes).
   A log that no flush can point into now rolls at every memtable switch and is deleted
   once its memtable is flushed. */
static void test_flushed_log_of_small_values_is_deleted(void **state)
{
    char *dir = tu_tempdir("vlogsmall");
    shale_options o;
    tu_small_options(&o); /* default value_threshold (512) and vlog_file_size (256 MiB) */
    o.vlog_gc_interval_s = 0;
    uint64_t reserve = o.memtable_size + o.memtable_size / 8; /* one fresh log */
    shale_db *db = open_db(dir, &o);
    put_small(db, 8000, 1); /* ~1.2 MB of records: several memtables */
    uint64_t written = prop(db, "shale.wal-bytes");
    assert_true(written > 3 * o.memtable_size);
    assert_int_equal(shale_flush(db), 0);
    log_usage after = logs_after_flush(dir, 1);
    fprintf(stderr, "# %" PRIu64 " bytes of log records written; after the flush %d log(s) hold %" PRIu64 " bytes on disk\n",
            written, after.files, after.blocks);
    /* only the new, empty log is left: its preallocation is all it holds */
    assert_int_equal(after.files, 1);
    assert_true(after.blocks <= reserve + 4096);
    assert_true(after.blocks < written / 2);
    assert_int_equal(prop(db, "shale.vlog-segments"), 0);
    assert_int_equal(check_small(db, 8000, 1), 0);
    assert_int_equal(shale_close(db), 0);
    /* close cuts the new log to what it holds: nothing */
    assert_int_equal(logs_in(dir).bytes, 0);
    db = open_db(dir, &o);
    assert_int_equal(check_small(db, 8000, 1), 0);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

/* A log that holds values tables point to stays (a value-log segment) and they stay
   readable, also when small values shared its memtables; logs of small values only around
   it still go. */
static void test_log_with_pointers_is_kept(void **state)
{
    char *dir = tu_tempdir("vlogmixed");
    shale_options o;
    tu_small_options(&o);
    o.vlog_gc_interval_s = 0;
    shale_db *db = open_db(dir, &o);
    put_small(db, 6000, 1);      /* logs of small values only: deleted once flushed */
    put_gen(db, 600, 1);         /* mostly large values: a segment */
    put_small(db, 3000, 2);      /* small values after them, in the same log at first */
    assert_int_equal(shale_flush(db), 0);
    uint64_t segments = prop(db, "shale.vlog-segments");
    assert_true(segments >= 1);
    log_usage u = logs_after_flush(dir, (int)segments + 1);
    assert_true(u.files <= (int)segments + 1); /* the segments and perhaps a new log */
    get_gen(db, 600, 1);
    assert_int_equal(check_small(db, 3000, 2), 0);
    uint64_t written = prop(db, "shale.wal-bytes");
    assert_int_equal(shale_close(db), 0);
    /* Cut to their records at close, the logs left do not hold those of the first 6000
       small values (about 147 bytes each), but for the last memtable of them, which
       shared its log with the large values. */
    u = logs_in(dir);
    fprintf(stderr, "# %" PRIu64 " segment(s); %" PRIu64 " bytes of records written, %" PRIu64 " kept\n",
            segments, written, u.bytes);
    assert_true(u.bytes + 4000 * 140 <= written);

    db = open_db(dir, &o);
    assert_int_equal(prop(db, "shale.vlog-segments"), segments);
    get_gen(db, 600, 1);
    assert_int_equal(check_small(db, 3000, 2), 0);
    char key[32], val[100];
    small_key(key, sizeof key, 5000); /* written once, in generation 1 */
    small_value(val, 5000, 1);
    void *got = NULL;
    size_t glen = 0;
    assert_int_equal(shale_get(db, key, strlen(key), &got, &glen), 0);
    assert_int_equal(glen, sizeof val);
    assert_memory_equal(got, val, glen);
    free(got);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

static void lower_threshold(const char *name, void *arg)
{
    shale_set_option(arg, "value_threshold", "100");
}

/* The roll decision is taken at the memtable switch, the pointers at the flush: a
   threshold lowered in between makes the flush point into a log that rolled as if it held
   none. It must be kept as a segment, and its values read back after a reopen. */
static void test_threshold_lowered_before_flush_keeps_log(void **state)
{
    char *dir = tu_tempdir("vloglowered");
    shale_options o;
    tu_small_options(&o);
    o.vlog_gc_interval_s = 0;
    o.value_threshold = 4096; /* the values below stay in tables... */
    shale_db *db = open_db(dir, &o);
    assert_int_equal(sync_point_set("flush:start", lower_threshold, db), 0);
    put_gen(db, 1500, 1); /* ...until the first flush starts */
    assert_int_equal(shale_flush(db), 0);
    sync_point_clear_all();
    assert_true(prop(db, "shale.vlog-segments") >= 1);
    check_gen(db, 1500, 1);
    assert_int_equal(shale_close(db), 0);
    db = open_db(dir, &o);
    assert_true(prop(db, "shale.vlog-segments") >= 1);
    check_gen(db, 1500, 1);
    assert_int_equal(shale_close(db), 0);
    tu_rmdir_free(dir);
}

#define LOG_CRASH_EXIT 78

static void crash_here(const char *name, void *arg)
{
    _exit(LOG_CRASH_EXIT);
}

/* A kill after the flush's table is installed but before its log is deleted, and one
   before the table is written: either way every write comes back, and the open removes
   the log that is no longer needed. */
static void test_crash_between_flush_and_log_delete(void **state)
{
    const char *points[] = {"flush:start", "flush:delete_log"};
    for (int p = 0; p < 2; p++) {
        char *dir = tu_tempdir("vlogcrash");
        shale_options o;
        tu_small_options(&o);
        o.vlog_gc_interval_s = 0;
        o.memtable_size = 4u << 20; /* no switch before the flush below */
        pid_t pid = fork();
        if (pid == 0) {
            shale_db *cdb = NULL;
            if (shale_open(dir, &o, &cdb))
                _exit(1);
            put_small(cdb, 4000, 1);
            put_gen(cdb, 10, 1); /* a few pointers too: a segment among the logs */
            if (shale_flush(cdb) || shale_close(cdb) || shale_open(dir, &o, &cdb))
                _exit(2);
            /* a new log, of small values only */
            put_small(cdb, 2000, 3);
            sync_point_set(points[p], crash_here, NULL);
            shale_flush(cdb);
            _exit(3); /* the crash point was never reached */
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != LOG_CRASH_EXIT)
            fail_msg("%s: the child exited with %d", points[p], WEXITSTATUS(status));
        log_usage crashed = logs_in(dir);
        shale_db *db = open_db(dir, &o);
        assert_int_equal(check_small(db, 2000, 3), 0);
        char key[32], val[100];
        for (int i = 2000; i < 4000; i++) { /* generation 1 where 3 did not overwrite */
            small_key(key, sizeof key, i);
            small_value(val, i, 1);
            void *got = NULL;
            size_t glen = 0;
            assert_int_equal(shale_get(db, key, strlen(key), &got, &glen), 0);
            assert_int_equal(glen, sizeof val);
            assert_memory_equal(got, val, glen);
            free(got);
        }
        get_gen(db, 10, 1);
        uint64_t segments = prop(db, "shale.vlog-segments");
        assert_int_equal(segments, 1);
        log_usage reopened = logs_in(dir);
        fprintf(stderr, "# crash at %s: %d logs after the crash, %d after the open\n", points[p],
                crashed.files, reopened.files);
        /* the segment and the open's new log only */
        assert_int_equal(reopened.files, (int)segments + 1);
        assert_int_equal(shale_close(db), 0);
        tu_rmdir_free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_through_pointers),
        cmocka_unit_test(test_corrupt_value_is_reported),
        cmocka_unit_test(test_expired_values_are_discardable),
        cmocka_unit_test(test_compressed_values),
        cmocka_unit_test(test_gc_space_after_three_overwrites),
        cmocka_unit_test(test_gc_all_live_is_no_rewrite),
        cmocka_unit_test(test_gc_reclaims_expired_values),
        cmocka_unit_test(test_gc_waits_for_snapshots),
        cmocka_unit_test_teardown(test_vlog_gc_reclaimed_expired_reads_as_expired, reset_hooks),
        cmocka_unit_test_teardown(test_vlog_gc_reclaimed_expired_clock_step_back, reset_hooks),
        cmocka_unit_test(test_vlog_missing_segment_without_expiry_is_corrupt),
        cmocka_unit_test(test_gc_with_concurrent_writers_and_readers),
        cmocka_unit_test(test_gc_crash_at_every_step),
        cmocka_unit_test_teardown(test_vlog_gc_thread_stops_before_close_cuts_the_log, reset_hooks),
        cmocka_unit_test(test_vlog_segment_fds_within_max_open_files),
        cmocka_unit_test(test_flushed_log_of_small_values_is_deleted),
        cmocka_unit_test(test_log_with_pointers_is_kept),
        cmocka_unit_test_teardown(test_threshold_lowered_before_flush_keeps_log, reset_hooks),
        cmocka_unit_test(test_crash_between_flush_and_log_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}


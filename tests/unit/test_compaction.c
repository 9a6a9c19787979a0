/*
 * test_compaction.c - background compaction through the public API: leveled compaction
 * moves data down and keeps levels sorted, sequential loads move tables without
 * rewriting them, the L0 slowdown delays writes and counts it, the rate limit slows
 * compaction writes, the leveled pick stays linear, tiered keeps few runs cut into
 * bounded tables, fifo drops expired tables but never uncovers older versions, and a
 * restart with another compaction style (each direction) keeps every key's value.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "compaction.h"
#include "db_impl.h"
#include "format.h"
#include "shale.h"
#include "table_cache.h"
#include "testutil.h"

/* The small store's tables, L1 and cache, with smaller memtables and levels 4x apart. */
static void opts(shale_options *o)
{
    tu_small_options(o);
    o->memtable_size = 128 * 1024;
    o->level_size_multiplier = 4;
}

static void fill(shale_db *db, int n, int stride, int gen)
{
    char k[32], v[128];
    for (int i = 0; i < n; i++) {
        int key = (int)(((uint64_t)i * (uint64_t)stride) % (uint64_t)n);
        snprintf(k, sizeof k, "key%08d", key);
        snprintf(v, sizeof v, "value-%d-%d-padding-padding-padding-padding-padding", key, gen);
        assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
    }
}

static void check(shale_db *db, int n, int gen)
{
    char k[32], v[128];
    for (int i = 0; i < n; i += 7) {
        snprintf(k, sizeof k, "key%08d", i);
        snprintf(v, sizeof v, "value-%d-%d-padding-padding-padding-padding-padding", i, gen);
        void *got;
        size_t len;
        assert_int_equal(shale_get(db, k, strlen(k), &got, &len), 0);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(got, v, len);
        shale_free(got);
    }
}

/* Waits until background compaction has nothing left (score < 1) or 20 s pass. */
static void settle(shale_db *db)
{
    for (int i = 0; i < 400; i++) {
        if (tu_prop(db, "shale.running-compactions") == 0 &&
            tu_prop(db, "shale.num-files-at-level0") < 4 &&
            tu_prop(db, "shale.num-immutable-memtables") == 0)
            return;
        usleep(50 * 1000);
    }
}

static void test_compaction_leveled_moves_data_down(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    const int n = 40000;
    fill(db, n, 7919, 1);
    fill(db, n, 104729, 2);
    assert_int_equal(shale_flush(db), 0);
    settle(db);
    uint64_t below = 0;
    for (int l = 1; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof name, "shale.num-files-at-level%d", l);
        below += tu_prop(db, name);
    }
    assert_true(below > 0);
    assert_true(tu_prop(db, "shale.compaction-count") > 0);
    assert_true(tu_prop(db, "shale.dropped-shadowed") > 0);
    check(db, n, 2);
    /* every level's size is tracked */
    assert_true(tu_prop(db, "shale.total-table-bytes") > 0);
    shale_close(db);
    tu_rmdir_free(dir);
}

static void test_compaction_sequential_load_moves_tables(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    char k[32], v[128];
    for (int i = 0; i < 60000; i++) {
        snprintf(k, sizeof k, "key%08d", i);
        snprintf(v, sizeof v, "value-%d-padding-padding-padding-padding-padding", i);
        assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
    }
    assert_int_equal(shale_flush(db), 0);
    settle(db);
    assert_true(tu_prop(db, "shale.trivial-moves") > 0);
    shale_close(db);
    tu_rmdir_free(dir);
}

static void test_compaction_l0_slowdown_is_counted(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.l0_compaction_trigger = 1;
    o.l0_slowdown_trigger = 1;
    o.l0_stop_trigger = 64;
    o.delayed_write_rate = 256 * 1024; /* slow enough to be seen */
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    fill(db, 3000, 1, 1);
    assert_int_equal(shale_flush(db), 0);
    /* With one L0 table present the next writes are delayed (until compaction clears it). */
    assert_int_equal(shale_set_option(db, "l0_compaction_trigger", "64"), -EINVAL);
    assert_int_equal(shale_set_option(db, "l0_stop_trigger", "100"), 0);
    fill(db, 3000, 1, 2);
    check(db, 3000, 2);
    uint64_t c = tu_prop(db, "shale.stall-count-l0_slowdown");
    uint64_t us = tu_prop(db, "shale.stall-micros-l0_slowdown");
    printf("l0 slowdown: %llu delays, %llu us\n", (unsigned long long)c, (unsigned long long)us);
    assert_true(c > 0 && us > 0);
    char *s;
    assert_int_equal(shale_property(db, "shale.stats", &s), 0);
    assert_non_null(strstr(s, "l0_slowdown"));
    shale_free(s);
    shale_close(db);
    tu_rmdir_free(dir);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void test_compaction_rate_limit_slows_writes_to_disk(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.compression = SHALE_COMPRESSION_NONE;
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    fill(db, 20000, 7919, 1);
    assert_int_equal(shale_flush(db), 0);
    uint64_t bytes = tu_prop(db, "shale.total-table-bytes");
    /* a full compaction at 4x the data's size per second takes at least ~1/4 s */
    char rate[32];
    snprintf(rate, sizeof rate, "%llu", (unsigned long long)(bytes * 4));
    assert_int_equal(shale_set_option(db, "compaction_rate_limit", rate), 0);
    uint64_t t0 = now_us();
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t took = now_us() - t0;
    printf("compaction of %llu bytes at %s B/s took %llu ms\n", (unsigned long long)bytes, rate,
           (unsigned long long)(took / 1000));
    assert_true(took >= 150000);
    check(db, 20000, 1);
    shale_close(db);
    tu_rmdir_free(dir);
}

static void test_compaction_fifo_drops_expired_tables(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.compaction_style = SHALE_COMPACTION_FIFO;
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t soon = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 300;
    char k[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "cache%06d", i);
        assert_int_equal(shale_put(db, k, strlen(k), "cached-value", 12, soon), 0);
    }
    assert_int_equal(shale_flush(db), 0);
    assert_true(tu_prop(db, "shale.num-files-at-level0") >= 1);
    usleep(400 * 1000);
    /* the picker runs at least every second */
    for (int i = 0; i < 60 && tu_prop(db, "shale.num-files-at-level0") > 0; i++)
        usleep(50 * 1000);
    assert_int_equal(tu_prop(db, "shale.num-files-at-level0"), 0);
    assert_true(tu_prop(db, "shale.fifo-deleted-bytes") > 0);
    shale_close(db);
    tu_rmdir_free(dir);
}

static void put_str(shale_db *db, const char *k, const char *v, uint64_t expire_at_ms)
{
    assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), expire_at_ms), 0);
}

/* get of k: the value's length, or -1 when it reads as absent; the value through *out. */
static long get_len(shale_db *db, const char *k, char *out, size_t cap)
{
    void *got;
    size_t len;
    int rc = shale_get(db, k, strlen(k), &got, &len);
    if (rc == SHALE_ENOTFOUND)
        return -1;
    assert_int_equal(rc, 0);
    if (out) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(out, got, n);
        out[n] = 0;
    }
    shale_free(got);
    return (long)len;
}

static void want_value(shale_db *db, const char *k, const char *v)
{
    char got[4096];
    long len = get_len(db, k, got, sizeof got);
    if (len < 0)
        fail_msg("get %s: not found, want \"%.40s\"", k, v);
    if ((size_t)len != strlen(v) || strcmp(got, v) != 0)
        fail_msg("get %s: \"%.40s\" (%ld bytes), want \"%.40s\"", k, got, len, v);
}

/* #15.3: a value-log pointer without an expiry starts with varint 0, which the builder
   read as a fixed64 expiry: the table's max-expiry property said "expires at 0", and a
   store reopened as fifo dropped the table (and the value) at once. */
static void test_compaction_vlog_pointer_no_expiry(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    char big[2049];
    memset(big, 'v', 2048);
    big[2048] = 0;
    put_str(db, "big", big, 0); /* over value_threshold: a pointer in the table */
    assert_int_equal(shale_flush(db), 0);
    shale_close(db);
    o.compaction_style = SHALE_COMPACTION_FIFO;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0); /* runs the fifo picker */
    assert_int_equal(tu_prop(db, "shale.fifo-deleted-bytes"), 0);
    want_value(db, "big", big);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* Tables written before #15.3's fix carry max-expiry 0 in the manifest even though their
   pointers never expire: fifo must not read that 0 as "expired at 0". The old figure is
   put back in memory, as an old manifest would load it. */
static void test_compaction_fifo_ignores_zero_expiry_of_old_tables(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    char big[2049];
    memset(big, 'v', 2048);
    big[2048] = 0;
    put_str(db, "big", big, 0);
    assert_int_equal(shale_flush(db), 0);
    shale_close(db);
    o.compaction_style = SHALE_COMPACTION_FIFO;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    pthread_mutex_lock(&db->mu);
    assert_int_equal(db->vs->current->nfiles[0], 1);
    db->vs->current->files[0][0]->max_expire_at_ms = 0;
    pthread_mutex_unlock(&db->mu);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    assert_int_equal(tu_prop(db, "shale.fifo-deleted-bytes"), 0);
    want_value(db, "big", big);
    shale_close(db);
    tu_rmdir_free(dir);
}

static void want_absent(shale_db *db, const char *k)
{
    char got[4096];
    long len = get_len(db, k, got, sizeof got);
    if (len >= 0)
        fail_msg("get %s: \"%.40s\" (%ld bytes), want not found", k, got, len);
}

/* #15.1: fifo dropped a table whose entries had all expired (or were tombstones) while
   older tables kept versions of its keys: the overwritten value and the deleted value
   came back. The reviewer's scenario, table by table (oldest first). */
static void test_compaction_fifo_keeps_shadowing_tables(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.compaction_style = SHALE_COMPACTION_FIFO;
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    put_str(db, "k", "old", 0);
    assert_int_equal(shale_flush(db), 0);
    uint64_t soon = tu_now_ms() + 500;
    put_str(db, "k", "new", soon);
    assert_int_equal(shale_flush(db), 0);
    put_str(db, "d", "deleted-value", 0);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_delete(db, "d", 1), 0);
    put_str(db, "t", "ttl", soon);
    assert_int_equal(shale_flush(db), 0);
    while (tu_now_ms() <= soon + 50)
        usleep(20 * 1000);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0); /* runs the fifo picker */
    usleep(1200 * 1000); /* and the background picker, which runs every second */
    want_absent(db, "k");
    want_absent(db, "d");
    want_absent(db, "t");
    shale_close(db);
    /* and after a reopen */
    assert_int_equal(shale_open(dir, &o, &db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    want_absent(db, "k");
    want_absent(db, "d");
    shale_close(db);
    tu_rmdir_free(dir);
}

/* What fifo may still drop besides the oldest tables over the cap: the oldest tables
   once all their entries expired (a prefix by age), and a later all-expired table whose
   keys no older table holds; never one that shadows an older table's version. */
static void test_compaction_fifo_drops_expired_prefix_and_unshadowing(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.compaction_style = SHALE_COMPACTION_FIFO;
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    uint64_t soon = tu_now_ms() + 300;
    put_str(db, "a1", "x", soon); /* oldest, all expired: dropped */
    put_str(db, "m", "x", soon);
    assert_int_equal(shale_flush(db), 0);
    put_str(db, "b", "old", 0); /* never expires: kept */
    assert_int_equal(shale_flush(db), 0);
    put_str(db, "c", "x", soon); /* expired and a tombstone, no older table holds c or
                                    c0: dropped */
    assert_int_equal(shale_delete(db, "c0", 2), 0);
    assert_int_equal(shale_flush(db), 0);
    put_str(db, "b", "new", soon); /* expired, but shadows b=old: kept */
    put_str(db, "z", "x", soon);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(tu_prop(db, "shale.num-files-at-level0"), 4);
    while (tu_now_ms() <= soon + 50)
        usleep(20 * 1000);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    usleep(1200 * 1000); /* the background picker too */
    assert_int_equal(tu_prop(db, "shale.num-files-at-level0"), 2);
    want_absent(db, "b");
    want_absent(db, "a1");
    want_absent(db, "c");
    shale_close(db);
    tu_rmdir_free(dir);
}

/* #15.2: a tiered merge that took the oldest L0 run dropped tombstones as if nothing were
   older, while levels below L0 (written by leveled compaction before a restart with the
   tiered style) still held the key. */
static void test_compaction_tiered_keeps_tombstone_over_lower_levels(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    put_str(db, "k", "old", 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    assert_int_equal(tu_prop(db, "shale.num-files-at-level0"), 0); /* k is below L0 */
    shale_close(db);
    o.compaction_style = SHALE_COMPACTION_TIERED;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    assert_int_equal(shale_delete(db, "k", 1), 0);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    want_absent(db, "k");
    shale_close(db);
    assert_int_equal(shale_open(dir, &o, &db), 0);
    want_absent(db, "k");
    shale_close(db);
    tu_rmdir_free(dir);
}

/* ---- restarts with another compaction style (#15.2) ----
   The style is not stored with the database, so any open may bring another one. A model
   of every key's latest value is checked after each step; where fifo has dropped tables
   for its cap, a key may read as absent but never as an older or deleted value. */

#define STYLE_KEYS 3000

typedef struct style_model {
    char *val[STYLE_KEYS]; /* NULL: absent (deleted or expired) */
} style_model;

static void style_key(char *k, size_t cap, int i)
{
    snprintf(k, cap, "key%06d", i);
}

static void style_set(shale_db *db, style_model *m, int i, int gen, uint64_t expire_at_ms)
{
    char k[32], v[2200];
    style_key(k, sizeof k, i);
    int n = snprintf(v, sizeof v, "v%d-%d-", i, gen);
    /* every 50th value is large: a value-log pointer where the style separates values */
    size_t len = i % 50 == 0 ? 2100 : 100;
    uint64_t x = (uint64_t)i * 2654435761u + (uint64_t)gen * 40503u + 1;
    for (size_t j = (size_t)n; j < len; j++) { /* incompressible, so sizes are real */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[j] = (char)('a' + x % 26);
    }
    v[len] = 0;
    put_str(db, k, v, expire_at_ms);
    free(m->val[i]);
    m->val[i] = expire_at_ms ? NULL : strdup(v);
}

static void style_del(shale_db *db, style_model *m, int i)
{
    char k[32];
    style_key(k, sizeof k, i);
    assert_int_equal(shale_delete(db, k, strlen(k)), 0);
    free(m->val[i]);
    m->val[i] = NULL;
}

/* exact: every key reads its model value; else a key may also read as absent. */
static void style_check(shale_db *db, const style_model *m, bool exact, const char *when)
{
    char k[32];
    int absent = 0;
    for (int i = 0; i < STYLE_KEYS; i++) {
        style_key(k, sizeof k, i);
        void *got;
        size_t len;
        int rc = shale_get(db, k, strlen(k), &got, &len);
        if (rc == SHALE_ENOTFOUND) {
            if (m->val[i] && exact)
                fail_msg("%s: %s not found, want \"%.20s...\"", when, k, m->val[i]);
            absent += m->val[i] != NULL;
            continue;
        }
        assert_int_equal(rc, 0);
        if (!m->val[i] || len != strlen(m->val[i]) || memcmp(got, m->val[i], len) != 0)
            fail_msg("%s: %s = \"%.20s...\" (%zu bytes), want %s%.20s", when, k, (char *)got, len,
                     m->val[i] ? "" : "not found", m->val[i] ? m->val[i] : "");
        shale_free(got);
    }
    if (absent)
        printf("%s: %d keys dropped by fifo's cap\n", when, absent);
}

/* Waits (up to 10 s) until no compaction runs and no memtable waits for its flush. */
static void idle(shale_db *db)
{
    for (int i = 0; i < 200; i++) {
        usleep(50 * 1000);
        if (tu_prop(db, "shale.running-compactions") == 0 &&
            tu_prop(db, "shale.num-immutable-memtables") == 0)
            return;
    }
}

static void style_model_free(style_model *m)
{
    for (int i = 0; i < STYLE_KEYS; i++)
        free(m->val[i]);
}

static const char *style_name(shale_compaction_style s)
{
    return s == SHALE_COMPACTION_LEVELED  ? "leveled"
           : s == SHALE_COMPACTION_TIERED ? "tiered"
                                          : "fifo";
}

static void style_change(shale_compaction_style from, shale_compaction_style to)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.compaction_style = from;
    style_model *m = calloc(1, sizeof *m);
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    /* the old style's layout: everything written and compacted, then newer versions,
       tombstones and soon-expired entries on top, left where the flush puts them */
    for (int i = 0; i < STYLE_KEYS; i++)
        style_set(db, m, i, 1, 0);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t soon = tu_now_ms() + 300;
    for (int i = 0; i < STYLE_KEYS; i++) {
        if (i % 7 == 0)
            style_set(db, m, i, 2, soon);
        else if (i % 5 == 0)
            style_del(db, m, i);
        else if (i % 3 == 0)
            style_set(db, m, i, 2, 0);
    }
    assert_int_equal(shale_flush(db), 0);
    while (tu_now_ms() <= soon + 50)
        usleep(20 * 1000);
    style_check(db, m, true, "before the change");
    shale_close(db);

    char when[64];
    snprintf(when, sizeof when, "%s reopened as %s", style_name(from), style_name(to));
    o.compaction_style = to;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    style_check(db, m, true, when);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    style_check(db, m, true, when);
    for (int i = 0; i < STYLE_KEYS; i++) {
        if (i % 11 == 0)
            style_del(db, m, i);
        else if (i % 4 == 0)
            style_set(db, m, i, 3, 0);
    }
    assert_int_equal(shale_flush(db), 0);
    style_check(db, m, true, when);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    idle(db);
    style_check(db, m, true, when);
    shale_close(db);
    assert_int_equal(shale_open(dir, &o, &db), 0);
    style_check(db, m, true, when);
    if (to == SHALE_COMPACTION_FIFO) {
        /* the cap holds over whatever the old style left, oldest tables first */
        uint64_t cap = 256 * 1024;
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)cap);
        assert_int_equal(shale_set_option(db, "fifo_max_size", s), 0);
        assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
        uint64_t bytes = tu_prop(db, "shale.total-table-bytes");
        if (bytes > cap)
            fail_msg("%s: %llu table bytes over fifo's cap of %llu", when,
                     (unsigned long long)bytes, (unsigned long long)cap);
        style_check(db, m, false, when);
        want_value(db, "key000004", m->val[4]); /* written last: in the newest table */
        /* a cap of 1 byte drops every table; the value-log pointers the old style wrote
           go with them, so their segments hold no live bytes (GC may take them) */
        assert_int_equal(shale_set_option(db, "fifo_max_size", "1"), 0);
        assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
        assert_int_equal(tu_prop(db, "shale.total-table-bytes"), 0);
        assert_int_equal(tu_prop(db, "shale.vlog-live-bytes"), 0);
        assert_int_equal(shale_vlog_gc(db, 0.5), 0);
        style_check(db, m, false, when);
    } else {
        /* every level's tables stay sorted and disjoint: the store checks out */
        assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
        style_check(db, m, true, when);
    }
    shale_close(db);
    style_model_free(m);
    free(m);
    tu_rmdir_free(dir);
}

/* #15.11: a tiered merge wrote its whole sorted run as one table, and a table's reader
   keeps the table's index and filter in memory: a store of N bytes held one index and
   filter of N bytes' worth. Runs below L0 are cut into tables of table_size now. */
static void test_compaction_tiered_run_tables_are_bounded(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.compaction_style = SHALE_COMPACTION_TIERED;
    o.memtable_size = 64 * 1024;
    o.table_size = 64 * 1024;
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    style_model *m = calloc(1, sizeof *m);
    for (int round = 1; round <= 3; round++)
        for (int i = 0; i < STYLE_KEYS; i++)
            if (i % 50 != 0) /* small values only: all of them in the tables */
                style_set(db, m, i, round, 0);
    assert_int_equal(shale_flush(db), 0);
    idle(db);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    uint64_t bytes = tu_prop(db, "shale.total-table-bytes");
    uint64_t tables = 0;
    for (int l = 0; l < o.num_levels; l++) {
        char name[64];
        snprintf(name, sizeof name, "shale.num-files-at-level%d", l);
        tables += tu_prop(db, name);
    }
    printf("%llu table bytes in %llu tables\n", (unsigned long long)bytes,
           (unsigned long long)tables);
    assert_true(bytes > 4 * o.table_size);
    /* cut at table_size, plus at most one data block, the filter and the index */
    uint64_t bound = o.table_size + o.table_size / 4;
    assert_true(tables >= bytes / bound);
    char name[64];
    snprintf(name, sizeof name, "shale.num-files-at-level%d", o.num_levels - 1);
    assert_int_equal(tu_prop(db, name), tables); /* one sorted run, in the last level */
    style_check(db, m, true, "after the full merge");
    shale_close(db);
    /* every table file on disk is within the bound */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s -name '*.sst' -size +%lluc | wc -l", dir,
             (unsigned long long)bound);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int over = -1;
    assert_int_equal(fscanf(p, "%d", &over), 1);
    pclose(p);
    assert_int_equal(over, 0);
    style_model_free(m);
    free(m);
    tu_rmdir_free(dir);
}

static void test_compaction_style_change_leveled_to_tiered(void **state)
{
    style_change(SHALE_COMPACTION_LEVELED, SHALE_COMPACTION_TIERED);
}

static void test_compaction_style_change_tiered_to_leveled(void **state)
{
    style_change(SHALE_COMPACTION_TIERED, SHALE_COMPACTION_LEVELED);
}

static void test_compaction_style_change_leveled_to_fifo(void **state)
{
    style_change(SHALE_COMPACTION_LEVELED, SHALE_COMPACTION_FIFO);
}

static void test_compaction_style_change_fifo_to_leveled(void **state)
{
    style_change(SHALE_COMPACTION_FIFO, SHALE_COMPACTION_LEVELED);
}

static void test_compaction_style_change_tiered_to_fifo(void **state)
{
    style_change(SHALE_COMPACTION_TIERED, SHALE_COMPACTION_FIFO);
}

static void test_compaction_style_change_fifo_to_tiered(void **state)
{
    style_change(SHALE_COMPACTION_FIFO, SHALE_COMPACTION_TIERED);
}

/* ---- the leveled picker on made-up levels (#15.10) ---- */

static file_meta *pick_file(uint64_t number, int lo, int hi, uint64_t size)
{
    char a[16], b[16];
    snprintf(a, sizeof a, "k%08d", lo);
    snprintf(b, sizeof b, "k%08d", hi);
    file_meta *f = file_meta_new();
    assert_non_null(f);
    f->number = number;
    f->file_size = size;
    assert_int_equal(ikey_append(&f->smallest, slice_from_str(a), 1, KIND_VALUE), 0);
    assert_int_equal(ikey_append(&f->largest, slice_from_str(b), 1, KIND_VALUE), 0);
    return f;
}

/* A sorted level of n disjoint tables over keys [0, span): random widths and gaps. */
static file_meta **pick_level_of(uint64_t *rs, int n, int span, uint64_t first_number)
{
    file_meta **files = calloc((size_t)(n ? n : 1), sizeof *files);
    int step = span / (n ? n : 1);
    for (int i = 0; i < n; i++) {
        int lo = i * step + (int)tu_rand_below(rs, (uint64_t)(step / 2 + 1));
        int hi = lo + (int)tu_rand_below(rs, (uint64_t)(step - (lo - i * step)));
        files[i] = pick_file(first_number + (uint64_t)i, lo, hi, 1 + tu_rand_below(rs, 1 << 20));
        files[i]->being_compacted = tu_rand_below(rs, 20) == 0;
    }
    return files;
}

static void pick_level_free(file_meta **files, int n)
{
    for (int i = 0; i < n; i++)
        file_meta_unref(files[i], NULL);
    free(files);
}

/* The pick by its definition: every table against every table below. */
static level_pick pick_by_definition(file_meta **files, int n, file_meta **next, int m)
{
    level_pick best = {-1, 0, 0};
    double best_ratio = 0;
    for (int i = 0; i < n; i++) {
        if (files[i]->being_compacted)
            continue;
        slice lo = ikey_user_key(buf_slice(&files[i]->smallest));
        slice hi = ikey_user_key(buf_slice(&files[i]->largest));
        int from = -1, to = 0;
        uint64_t bytes = 0;
        bool busy = false;
        for (int j = 0; j < m; j++) {
            if (slice_compare(ikey_user_key(buf_slice(&next[j]->largest)), lo) < 0 ||
                slice_compare(ikey_user_key(buf_slice(&next[j]->smallest)), hi) > 0)
                continue;
            from = from < 0 ? j : from;
            to = j + 1;
            bytes += next[j]->file_size;
            busy |= next[j]->being_compacted;
        }
        double ratio = (double)bytes / (double)(files[i]->file_size + 1);
        if (!busy && (best.index < 0 || ratio < best_ratio)) {
            best_ratio = ratio;
            best = (level_pick){i, from < 0 ? 0 : from, from < 0 ? 0 : to};
        }
    }
    return best;
}

/* #15.10: pick_level compared every table of a level with every table of the next
   (n x m key comparisons under the db mutex, at every wake-up). It must pick what the
   definition picks, with key comparisons linear in n + m. */
static void test_compaction_pick_level_is_linear(void **state)
{
    uint64_t rs = tu_seed();
    /* the same choice as the definition, on many small layouts */
    for (int round = 0; round < 300; round++) {
        int n = (int)tu_rand_below(&rs, 12), m = (int)tu_rand_below(&rs, 40);
        int span = 1000 + (int)tu_rand_below(&rs, 1000);
        file_meta **files = pick_level_of(&rs, n, span, 1);
        file_meta **next = pick_level_of(&rs, m, span, 1000);
        level_pick want = pick_by_definition(files, n, next, m), got;
        compaction_pick_in_level(NULL, 2, files, n, next, m, &got);
        /* an empty overlap may be reported at any position */
        bool same_over = got.over_to - got.over_from == want.over_to - want.over_from &&
                         (want.over_to == want.over_from || got.over_from == want.over_from);
        if (got.index != want.index || (want.index >= 0 && !same_over))
            fail_msg("round %d (n %d, m %d): picked %d [%d, %d), want %d [%d, %d)", round, n, m,
                     got.index, got.over_from, got.over_to, want.index, want.over_from,
                     want.over_to);
        pick_level_free(files, n);
        pick_level_free(next, m);
    }
    /* and linear on large levels: 2 000 tables over 20 000 */
    const int n = 2000, m = 20000;
    file_meta **files = pick_level_of(&rs, n, 10 * m, 1);
    file_meta **next = pick_level_of(&rs, m, 10 * m, 100000);
    level_pick got, want = pick_by_definition(files, n, next, m);
    uint64_t before = atomic_load(&compaction_pick_compares);
    compaction_pick_in_level(NULL, 2, files, n, next, m, &got);
    uint64_t compares = atomic_load(&compaction_pick_compares) - before;
    printf("pick over %d + %d tables: %llu key comparisons\n", n, m, (unsigned long long)compares);
    assert_int_equal(got.index, want.index);
    assert_true(compares <= 4 * (uint64_t)(n + m));
    pick_level_free(files, n);
    pick_level_free(next, m);
}

/* Open descriptors of this process that name a deleted table file. */
static int deleted_tables_open(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += strstr(target, ".sst") && strstr(target, "(deleted)");
    }
    return n;
}

/* Point reads pin each table they open (in its file metadata); the pin goes with the
   last version holding the table, so a compacted-away table is closed once deleted.
   Pins stay within half of max_open_files, and reads past that budget still work. */
static void test_compaction_pinned_tables_close_when_deleted(void **state)
{
    char *dir = tu_tempdir("compact");
    shale_options o;
    opts(&o);
    o.max_open_files = 16; /* 8 pins at most */
    o.memtable_size = 1 << 20;
    o.l0_compaction_trigger = 30;
    o.l0_slowdown_trigger = 30;
    o.l0_stop_trigger = 30;
    shale_db *db;
    assert_int_equal(shale_open(dir, &o, &db), 0);
    const int n = 2000;            /* a fill fits one memtable */
    for (int t = 0; t < 12; t++) { /* 12 overlapping L0 tables */
        fill(db, n, 7919, t);
        assert_int_equal(shale_flush(db), 0);
    }
    assert_int_equal(tu_prop(db, "shale.num-files-at-level0"), 12);
    check(db, n, 11); /* found in the newest table */
    char k[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "nokey%08d", i); /* inside no table's range: no table opened */
        assert_int_equal(shale_get(db, k, strlen(k), NULL, NULL), SHALE_ENOTFOUND);
        snprintf(k, sizeof k, "key%08dx", i % n); /* in range, absent: every L0 table */
        assert_int_equal(shale_get(db, k, strlen(k), NULL, NULL), SHALE_ENOTFOUND);
    }
    assert_int_equal(table_cache_pinned(db->tc), 8);
    check(db, n, 11); /* reads past the pin budget */
    assert_int_equal(deleted_tables_open(), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    assert_int_equal(tu_prop(db, "shale.num-files-at-level0"), 0);
    assert_int_equal(table_cache_pinned(db->tc), 0); /* the old tables' pins went */
    assert_int_equal(deleted_tables_open(), 0);
    check(db, n, 11);
    assert_true(table_cache_pinned(db->tc) > 0);
    shale_close(db);
    tu_rmdir_free(dir);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compaction_leveled_moves_data_down),
        cmocka_unit_test(test_compaction_pinned_tables_close_when_deleted),
        cmocka_unit_test(test_compaction_sequential_load_moves_tables),
        cmocka_unit_test(test_compaction_l0_slowdown_is_counted),
        cmocka_unit_test(test_compaction_rate_limit_slows_writes_to_disk),
        cmocka_unit_test(test_compaction_pick_level_is_linear),
        cmocka_unit_test(test_compaction_fifo_drops_expired_tables),
        cmocka_unit_test(test_compaction_vlog_pointer_no_expiry),
        cmocka_unit_test(test_compaction_fifo_ignores_zero_expiry_of_old_tables),
        cmocka_unit_test(test_compaction_fifo_keeps_shadowing_tables),
        cmocka_unit_test(test_compaction_fifo_drops_expired_prefix_and_unshadowing),
        cmocka_unit_test(test_compaction_tiered_keeps_tombstone_over_lower_levels),
        cmocka_unit_test(test_compaction_style_change_leveled_to_tiered),
        cmocka_unit_test(test_compaction_tiered_run_tables_are_bounded),
        cmocka_unit_test(test_compaction_style_change_tiered_to_leveled),
        cmocka_unit_test(test_compaction_style_change_leveled_to_fifo),
        cmocka_unit_test(test_compaction_style_change_fifo_to_leveled),
        cmocka_unit_test(test_compaction_style_change_tiered_to_fifo),
        cmocka_unit_test(test_compaction_style_change_fifo_to_tiered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

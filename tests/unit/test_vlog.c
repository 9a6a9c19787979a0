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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shale.h"
#include "testutil.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void vlog_options(shale_options *o)
{
    shale_options_default(o);
    o->memtable_size = 256 * 1024;
    o->table_size = 128 * 1024;
    o->base_level_size = 512 * 1024;
    o->block_cache_size = 1 << 20;
    o->value_threshold = 100;
    o->vlog_file_size = 1 << 20;
    o->vlog_gc_interval_s = 0; /* tests run GC themselves */
}

static shale_db *open_db(const char *dir, const shale_options *o)
{
    shale_db *db = NULL;
    int rc = shale_open(dir, o, &db);
    if (rc)
        fprintf(stderr, "shale_open(%s): %s\n", dir, shale_strerror(rc));
    assert_int_equal(rc, 0);
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
    for (size_t j = 0; j < len; j++)
        out[j] = (char)('a' + (i + gen + (int)j) % 26);
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
    memset(big, 'v', sizeof big);
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
    memset(val, 'x', sizeof val);
    uint64_t exp = now_ms() + 400;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_through_pointers),
        cmocka_unit_test(test_corrupt_value_is_reported),
        cmocka_unit_test(test_expired_values_are_discardable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

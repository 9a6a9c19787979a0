/*
 * test_corruption.c - damage to each kind of file (issue 7): a byte flipped in the middle,
 * the file cut to half, a 4 KiB page zeroed, in a table, the write-ahead log (records not
 * yet in tables), a value-log segment, the manifest and CURRENT. For each: the store
 * either refuses to open with SHALE_ECORRUPT or opens and never returns a wrong value
 * (a read is the right value or SHALE_ECORRUPT; a key may be missing only where the
 * damage reads as a crash's torn tail: the end of the log or of the manifest); `shale-tool
 * check` reports the damage it must see; and `shale-tool repair` brings every key back
 * when the manifest or CURRENT is what was damaged. docs/reliability.md has the table.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "shale.h"
#include "testutil.h"

#define OLD_KEYS 600 /* in tables and a value-log segment */
#define NEW_KEYS 200 /* only in the write-ahead log */

static void value_of(char *out, size_t n, int i)
{
    size_t want = i % 3 == 0 ? 700 : 40;
    uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + 7;
    for (size_t j = 0; j < want && j + 1 < n; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[j] = (char)('!' + (x >> 40) % 90);
    }
    int k = snprintf(out, n, "%d:", i);
    out[k] = '#';
    out[want] = '\0';
}

static void options(shale_options *o)
{
    tu_small_options(o);
    o->memtable_size = 64 * 1024;
    o->value_threshold = 256;
    o->vlog_gc_interval_s = 0;
}

static void put_range(shale_db *db, int from, int to)
{
    char key[32], val[1024];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        value_of(val, sizeof val, i);
        assert_int_equal(shale_put(db, key, strlen(key), val, strlen(val), 0), 0);
    }
}

/* The image: old keys flushed and compacted in a closed store, new keys only in the log
   of a second session that "crashed" after a sync. */
static char *make_image(void)
{
    char *dir = tu_tempdir("corrupt-src");
    shale_options o;
    options(&o);
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    put_range(db, 0, OLD_KEYS);
    assert_int_equal(shale_flush(db), 0);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    assert_int_equal(shale_close(db), 0);
    db = tu_open(dir, &o);
    assert_non_null(db);
    put_range(db, OLD_KEYS, OLD_KEYS + NEW_KEYS);
    assert_int_equal(shale_sync(db), 0);
    char *img = tu_crash_image(dir);
    assert_non_null(img);
    shale_close(db);
    tu_rmdir_free(dir);
    return img;
}

enum kind { K_TABLE, K_WAL, K_SEGMENT, K_MANIFEST, K_CURRENT };
static const char *kind_names[] = {"table", "log", "value-log segment", "manifest", "CURRENT"};
enum damage { D_FLIP, D_CUT, D_ZERO };
static const char *damage_names[] = {"flipped byte", "cut to half", "zeroed page"};

/* The file of a kind in dir: the largest table; the newest log (unflushed records); the
   oldest log (a segment tables point into); the manifest; CURRENT. */
static bool pick(const char *dir, enum kind k, char *out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char best[256] = "";
    int64_t best_size = -1;
    uint64_t best_num = 0;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        size_t l = strlen(n);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        bool is_log = l > 4 && strcmp(n + l - 4, ".log") == 0;
        uint64_t num = strtoull(n, NULL, 10);
        if (k == K_TABLE && l > 4 && strcmp(n + l - 4, ".sst") == 0 && tu_file_size(path) > best_size) {
            best_size = tu_file_size(path);
            snprintf(best, sizeof best, "%s", n);
        } else if (k == K_WAL && is_log && (!best[0] || num > best_num)) {
            best_num = num;
            snprintf(best, sizeof best, "%s", n);
        } else if (k == K_SEGMENT && is_log && (!best[0] || num < best_num)) {
            best_num = num;
            snprintf(best, sizeof best, "%s", n);
        } else if (k == K_MANIFEST && strncmp(n, "MANIFEST-", 9) == 0) {
            snprintf(best, sizeof best, "%s", n);
        } else if (k == K_CURRENT && strcmp(n, "CURRENT") == 0) {
            snprintf(best, sizeof best, "%s", n);
        }
    }
    closedir(d);
    snprintf(out, PATH_MAX, "%s/%s", dir, best);
    return best[0] != 0;
}

static void damage(const char *path, enum damage d)
{
    int64_t size = tu_file_size(path);
    assert_true(size > 0);
    if (d == D_FLIP) {
        assert_int_equal(tu_flip_byte(path, (uint64_t)size / 2), 0);
    } else if (d == D_CUT) {
        assert_int_equal(tu_truncate(path, (uint64_t)size / 2), 0);
    } else {
        FILE *f = fopen(path, "r+b");
        uint64_t at = ((uint64_t)size / 2) & ~(uint64_t)4095;
        char zeros[4096] = {0};
        fseek(f, (long)at, SEEK_SET);
        size_t n = (uint64_t)size - at < sizeof zeros ? (size_t)((uint64_t)size - at) : sizeof zeros;
        fwrite(zeros, 1, n, f);
        fclose(f);
    }
}

static int tool(const char *cmd, const char *dir)
{
    char line[PATH_MAX + 256];
    const char *build = getenv("SHALE_BUILD") ? getenv("SHALE_BUILD") : "build";
    snprintf(line, sizeof line, "%s/shale-tool %s '%s' >/dev/null 2>&1", build, cmd, dir);
    int st = system(line);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every key reads right, or as an error; missing only where allowed. Returns how many
   keys read right. */
static int check_reads(const char *dir, bool may_miss, const char *what)
{
    shale_options o;
    options(&o);
    shale_db *db = NULL;
    int rc = shale_open(dir, &o, &db);
    if (rc == SHALE_ECORRUPT)
        return -1; /* refused: fine */
    if (rc)
        fail_msg("%s: open failed with %s, not a corruption report", what, shale_strerror(rc));
    int right = 0;
    char key[32], val[1024];
    for (int i = 0; i < OLD_KEYS + NEW_KEYS; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        value_of(val, sizeof val, i);
        void *v = NULL;
        size_t vlen;
        rc = shale_get(db, key, strlen(key), &v, &vlen);
        if (rc == 0 && (vlen != strlen(val) || memcmp(v, val, vlen) != 0))
            fail_msg("%s: key %d read back a wrong value", what, i);
        if (rc == SHALE_ENOTFOUND && !may_miss)
            fail_msg("%s: key %d is missing without a corruption report", what, i);
        if (rc != 0 && rc != SHALE_ENOTFOUND && rc != SHALE_ECORRUPT)
            fail_msg("%s: key %d: %s", what, i, shale_strerror(rc));
        right += rc == 0;
        shale_free(v);
    }
    shale_close(db);
    return right;
}

static void test_damage_matrix(void **state)
{
    char *img = make_image();
    assert_int_equal(tool("check", img), 0);
    for (int k = K_TABLE; k <= K_CURRENT; k++) {
        for (int d = D_FLIP; d <= D_ZERO; d++) {
            char what[128];
            snprintf(what, sizeof what, "%s, %s", kind_names[k], damage_names[d]);
            char *dir = tu_crash_image(img);
            char path[PATH_MAX];
            assert_true(pick(dir, (enum kind)k, path));
            damage(path, (enum damage)d);
            /* a cut log or manifest reads as the torn tail a crash leaves, and so does
               damage inside a manifest's last record (a crash mid-edit looks the same) */
            bool torn_like = (d == D_CUT && k == K_WAL) || k == K_MANIFEST;
            bool wal_tail = k == K_WAL && d != D_FLIP;
            int check = tool("check", dir);
            if (!torn_like && !wal_tail && check != 1)
                fail_msg("%s: shale-tool check exit %d, wanted 1 (damage found)", what, check);
            char *copy = tu_crash_image(dir); /* repair works on a copy never opened */
            int right = check_reads(dir, torn_like || wal_tail || k == K_MANIFEST, what);
            if (k == K_MANIFEST || k == K_CURRENT) {
                assert_int_equal(tool("repair", copy), 0);
                int after = check_reads(copy, false, what);
                if (after != OLD_KEYS + NEW_KEYS)
                    fail_msg("%s: after shale-tool repair %d of %d keys read back", what, after,
                             OLD_KEYS + NEW_KEYS);
            }
            fprintf(stderr, "# %-32s check %d, open %s, %d of %d keys right\n", what, check,
                    right < 0 ? "refused (corruption)" : "ok", right < 0 ? 0 : right,
                    OLD_KEYS + NEW_KEYS);
            tu_rmdir_free(copy);
            tu_rmdir_free(dir);
        }
    }
    tu_rmdir_free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_damage_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

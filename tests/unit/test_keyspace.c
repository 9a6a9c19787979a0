/*
 * test_keyspace.c - Redis keys on engine keys: counts (DBSIZE) through writes, expiry
 * reaping and reopen; FLUSHDB/SWAPDB mappings that persist; and the compaction filter,
 * which drops the fields of deleted or replaced hashes and the keys of flushed databases
 * but never a live one; fifo databases in engines of their own (style persisted, counts
 * and half-dropped keys repaired after the engine drops tables, directories removed).
 */
#include <errno.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyspace.h"
#include "ks_fixture.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    shale_db *db;
    keyspace ks;
} fixture;

static void open_all(fixture *f)
{
    ks_fixture_open(f->dir, &f->ks, &f->db);
}

static void close_all(fixture *f)
{
    ks_fixture_close(&f->ks, f->db);
}

static void set_string(fixture *f, int dbi, const char *k, const char *v, uint64_t exp)
{
    ks_meta old;
    assert_int_equal(ks_read(&f->ks, dbi, k, strlen(k), &old), 0);
    ks_begin(&f->ks);
    assert_int_equal(ks_put_meta(&f->ks, dbi, k, strlen(k), &old, KS_TYPE_STRING, v, strlen(v), exp), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&old);
}

/* Creates (or replaces) hash k with n fields under a new version; returns the version. */
static uint64_t make_hash(fixture *f, int dbi, const char *k, int n)
{
    ks_meta old;
    assert_int_equal(ks_read(&f->ks, dbi, k, strlen(k), &old), 0);
    uint64_t ver = ks_new_version(&f->ks);
    unsigned char meta[16];
    for (int i = 0; i < 8; i++) {
        meta[i] = (unsigned char)(ver >> (56 - 8 * i));
        meta[8 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    }
    ks_begin(&f->ks);
    for (int i = 0; i < n; i++) {
        char field[32];
        snprintf(field, sizeof field, "f%05d", i);
        ks_key fk;
        assert_int_equal(ks_field_key(&f->ks, dbi, k, strlen(k), ver, field, strlen(field), &fk), 0);
        assert_int_equal(ks_put_raw(&f->ks, &fk, "value", 5), 0);
        ks_key_free(&fk);
    }
    assert_int_equal(ks_put_meta(&f->ks, dbi, k, strlen(k), &old, KS_TYPE_HASH, meta, 16, 0), 0);
    assert_int_equal(ks_commit(&f->ks), 0);
    ks_meta_free(&old);
    return ver;
}

/* Engine keys starting with prefix (any version), counted with an iterator. */
static int count_prefix(fixture *f, const char *prefix, size_t plen)
{
    ks_range r;
    assert_int_equal(ks_range_open(&f->ks, prefix, plen, true, &r), 0);
    int n = 0;
    for (; ks_iter_valid(r.it); ks_iter_next(r.it))
        n++;
    ks_range_close(&r);
    return n;
}

static int count_fields(fixture *f, int dbi, const char *k, uint64_t ver)
{
    ks_key p;
    assert_int_equal(ks_field_key(&f->ks, dbi, k, strlen(k), ver, NULL, 0, &p), 0);
    int n = count_prefix(f, p.p, p.len);
    ks_key_free(&p);
    return n;
}

static void test_keyspace_counts_expiry_and_reopen(void **state)
{
    fixture f = {.dir = tu_tempdir("ks")};
    open_all(&f);
    set_string(&f, 0, "a", "1", 0);
    set_string(&f, 0, "a", "2", 0); /* overwrite: still one key */
    set_string(&f, 0, "b", "1", ks_now_ms() + 100);
    set_string(&f, 3, "c", "1", 0);
    make_hash(&f, 0, "h", 10);
    assert_int_equal(f.ks.count[0], 3);
    assert_int_equal(f.ks.expires[0], 1);
    assert_int_equal(f.ks.count[3], 1);
    usleep(150 * 1000);
    /* expired but not reaped: still counted, as Redis counts it */
    assert_int_equal(f.ks.count[0], 3);
    assert_int_equal(ks_background(&f.ks, 100, ks_now_ms()), 1);
    assert_int_equal(f.ks.count[0], 2);
    assert_int_equal(f.ks.expires[0], 0);
    assert_int_equal(f.ks.expired_keys, 1);
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "a", 1, &m), 0);
    ks_begin(&f.ks);
    assert_int_equal(ks_del_key(&f.ks, 0, "a", 1, &m), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_int_equal(f.ks.count[0], 1);
    /* a lazily found expiry is reaped by the read */
    set_string(&f, 0, "t", "1", ks_now_ms() + 50);
    usleep(80 * 1000);
    assert_int_equal(ks_read(&f.ks, 0, "t", 1, &m), 0);
    assert_int_equal(m.type, 0);
    assert_int_equal(f.ks.count[0], 1);
    close_all(&f);
    open_all(&f); /* counts are rebuilt from the records */
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.count[3], 1);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

static void test_keyspace_flush_and_swap_persist(void **state)
{
    fixture f = {.dir = tu_tempdir("ks")};
    open_all(&f);
    set_string(&f, 0, "zero", "0", 0);
    set_string(&f, 1, "one", "1", 0);
    assert_int_equal(ks_swap(&f.ks, 0, 1), 0);
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "one", 3, &m), 0);
    assert_int_equal(m.type, KS_TYPE_STRING);
    ks_meta_free(&m);
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(ks_flush(&f.ks, 1), 0); /* db 1 now holds "zero": gone */
    assert_int_equal(f.ks.count[1], 0);
    close_all(&f);
    open_all(&f);
    assert_int_equal(ks_read(&f.ks, 0, "one", 3, &m), 0);
    assert_int_equal(m.type, KS_TYPE_STRING);
    ks_meta_free(&m);
    assert_int_equal(ks_read(&f.ks, 1, "zero", 4, &m), 0);
    assert_int_equal(m.type, 0);
    assert_int_equal(f.ks.count[1], 0);
    /* the sweeper deletes the dropped id's records */
    while (ks_background(&f.ks, 100, ks_now_ms()) > 0)
        ;
    assert_int_equal(f.ks.ndead, 0);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

/*
 * The sweeper of a flushed database starts each tick where the last one stopped. What it
 * deleted stays as tombstones until compaction; a tick that walked from the start of the
 * dropped id stepped over all of them again, so sweeping N keys cost O(N^2 / budget)
 * (FLUSHALL of a 300,000-member sorted set kept the server busy for minutes). A key put
 * back behind the sweep point stands for those tombstones: a resumed tick never visits it
 * (keys of a dropped id are never written; the compaction filter drops any it finds).
 */
static void test_keyspace_sweep_resumes(void **state)
{
    fixture f = {.dir = tu_tempdir("ks")};
    open_all(&f);
    enum { FIELDS = 20000 };
    uint64_t ver = make_hash(&f, 1, "big", FIELDS);
    ks_key first;
    assert_int_equal(ks_field_key(&f.ks, 1, "big", 3, ver, "f00000", 6, &first), 0);
    assert_int_equal(ks_flush(&f.ks, 1), 0);
    assert_int_equal(f.ks.ndead, 1);
    assert_int_equal(ks_background(&f.ks, 200, ks_now_ms()), 200);
    void *v = NULL;
    size_t vl;
    assert_int_equal(shale_get(f.db, first.p, first.len, &v, &vl), SHALE_ENOTFOUND);
    assert_int_equal(shale_put(f.db, first.p, first.len, "back", 4, 0), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ticks = 1;
    while (f.ks.ndead > 0) {
        ks_background(&f.ks, 200, ks_now_ms());
        assert_true(++ticks < 2 * FIELDS / 200);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("     swept %d fields in %d ticks of 200: %.1f ms\n", FIELDS, ticks,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    assert_int_equal(shale_get(f.db, first.p, first.len, &v, &vl), 0);
    shale_free(v);
    ks_key_free(&first);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

static void test_keyspace_filter_drops_only_stale_fields(void **state)
{
    fixture f = {.dir = tu_tempdir("ks")};
    open_all(&f);
    uint64_t gone = make_hash(&f, 0, "gone", 500);
    uint64_t old = make_hash(&f, 0, "replaced", 300);
    uint64_t live = make_hash(&f, 0, "live", 400);
    set_string(&f, 2, "flushed", "x", 0);
    uint32_t flushed_phys = f.ks.phys[2];
    assert_int_equal(shale_flush(f.db), 0);
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "gone", 4, &m), 0);
    ks_begin(&f.ks);
    assert_int_equal(ks_del_key(&f.ks, 0, "gone", 4, &m), 0); /* O(1): fields stay */
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    uint64_t now = make_hash(&f, 0, "replaced", 5);
    assert_int_equal(ks_flush(&f.ks, 2), 0);
    f.ks.ndead = 0; /* leave the dropped id to the filter, not the sweeper */
    assert_int_equal(count_fields(&f, 0, "gone", gone), 500);
    assert_int_equal(shale_flush(f.db), 0);
    assert_int_equal(shale_compact_range(f.db, NULL, 0, NULL, 0), 0);
    assert_int_equal(count_fields(&f, 0, "gone", gone), 0);
    assert_int_equal(count_fields(&f, 0, "replaced", old), 0);
    assert_int_equal(count_fields(&f, 0, "replaced", now), 5);
    assert_int_equal(count_fields(&f, 0, "live", live), 400);
    char p[5] = {'m', (char)(flushed_phys >> 24), (char)(flushed_phys >> 16),
                 (char)(flushed_phys >> 8), (char)flushed_phys};
    assert_int_equal(count_prefix(&f, p, sizeof p), 0);
    uint64_t dropped = 0;
    assert_int_equal(shale_property_int(f.db, "shale.dropped-by-filter", &dropped), 0);
    assert_true(dropped >= 800);
    close_all(&f);
    tu_rmdir_free(f.dir);
}


static bool dir_exists(const fixture *f, uint32_t phys)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/fifo-%u", f->dir, phys);
    struct stat st;
    return stat(p, &st) == 0;
}

/* Writes n incompressible 1 KiB strings "fill<i>" into dbi, then flushes its engine. */
static void fill_and_flush(fixture *f, int dbi, int first, int n, uint64_t *rnd)
{
    char v[1024];
    for (int i = first; i < first + n; i++) {
        for (size_t j = 0; j < sizeof v; j++)
            v[j] = (char)tu_rand(rnd);
        char k[32];
        snprintf(k, sizeof k, "fill%06d", i);
        ks_meta old;
        assert_int_equal(ks_read(&f->ks, dbi, k, strlen(k), &old), 0);
        ks_begin(&f->ks);
        assert_int_equal(ks_put_meta(&f->ks, dbi, k, strlen(k), &old, KS_TYPE_STRING, v, sizeof v, 0), 0);
        assert_int_equal(ks_commit(&f->ks), 0);
        ks_meta_free(&old);
    }
    assert_int_equal(shale_flush(ks_fifo_of(&f->ks, dbi)->db), 0);
}

static int count_db_records(fixture *f, int dbi)
{
    char p[5] = {'m', (char)(f->ks.phys[dbi] >> 24), (char)(f->ks.phys[dbi] >> 16),
                 (char)(f->ks.phys[dbi] >> 8), (char)f->ks.phys[dbi]};
    return count_prefix(f, p, sizeof p);
}

static void test_keyspace_fifo_database(void **state)
{
    fixture f = {.dir = tu_tempdir("ks")};
    uint64_t rnd = tu_seed();
    open_all(&f);
    set_string(&f, 1, "busy", "1", 0);
    assert_int_equal(ks_set_fifo(&f.ks, 1, true, 1 << 20), -ENOTEMPTY);
    assert_int_equal(ks_set_fifo(&f.ks, 2, true, 1 << 20), 0);
    assert_non_null(ks_fifo_of(&f.ks, 2));
    assert_null(ks_fifo_of(&f.ks, 1));
    uint32_t phys = f.ks.phys[2];
    assert_true(dir_exists(&f, phys));

    /* The first table: a hash of 10 fields and a key with a TTL. */
    uint64_t exp = ks_now_ms() + 3600 * 1000;
    uint64_t ver = make_hash(&f, 2, "h", 10);
    set_string(&f, 2, "ttl", "v1", exp);
    int filled = 0;
    fill_and_flush(&f, 2, filled, 100, &rnd); /* tables of ~100 KiB: one drop is enough */
    filled += 100;
    /* A later table: the TTL key rewritten with its TTL kept (its index entry stays in
       the first table), one more field and the hash's new count. */
    set_string(&f, 2, "ttl", "v2", exp);
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 2, "h", 1, &m), 0);
    unsigned char meta[16];
    for (int i = 0; i < 8; i++) {
        meta[i] = (unsigned char)(ver >> (56 - 8 * i));
        meta[8 + i] = (unsigned char)(11ull >> (56 - 8 * i));
    }
    ks_key fk;
    assert_int_equal(ks_field_key(&f.ks, 2, "h", 1, ver, "new", 3, &fk), 0);
    ks_begin(&f.ks);
    assert_int_equal(ks_put_raw(&f.ks, &fk, "value", 5), 0);
    assert_int_equal(ks_put_meta(&f.ks, 2, "h", 1, &m, KS_TYPE_HASH, meta, 16, 0), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_key_free(&fk);
    ks_meta_free(&m);
    fill_and_flush(&f, 2, filled, 100, &rnd);
    filled += 100;
    /* The main engine never sees the fifo database's keys. */
    assert_int_equal(shale_get(f.db, "m", 1, (void **)&fk.p, &fk.len), SHALE_ENOTFOUND);

    /* Fill past the 1 MiB cap until the first table is dropped. */
    for (int round = 0; round < 60 && count_fields(&f, 2, "h", ver) == 11; round++) {
        fill_and_flush(&f, 2, filled, 100, &rnd);
        filled += 100;
        /* the engine drops in the background: wait until it is back under its cap */
        uint64_t bytes = UINT64_MAX;
        for (int w = 0; w < 300 && bytes > (1 << 20); w++) {
            shale_property_int(ks_fifo_of(&f.ks, 2)->db, "shale.total-table-bytes", &bytes);
            if (bytes > (1 << 20))
                usleep(10 * 1000);
        }
    }
    assert_int_equal(count_fields(&f, 2, "h", ver), 1); /* the later table's field */
    assert_true(count_db_records(&f, 2) < filled);
    assert_true(f.ks.count[2] > count_db_records(&f, 2)); /* stale until the check */
    /* One step of the recount (100 keys), then changes on both sides of its cursor. */
    assert_true(ks_background(&f.ks, 1, ks_now_ms()) > 0);
    assert_non_null(ks_fifo_of(&f.ks, 2)->recount);
    set_string(&f, 2, "aaa", "behind the cursor", 0);
    set_string(&f, 2, "aab", "behind the cursor", ks_now_ms() + 3600 * 1000);
    set_string(&f, 2, "zzz", "ahead of the cursor", ks_now_ms() + 3600 * 1000);
    char last[32];
    snprintf(last, sizeof last, "fill%06d", filled - 1);
    for (int i = 0; i < 2; i++) { /* the first key still there, and the last one */
        ks_range r;
        char mp[5] = {'m', (char)(phys >> 24), (char)(phys >> 16), (char)(phys >> 8), (char)phys};
        assert_int_equal(ks_range_open(&f.ks, mp, sizeof mp, false, &r), 0);
        size_t kl;
        const char *k = ks_iter_key(r.it, &kl);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(kl - KS_META_PREFIX), k + KS_META_PREFIX);
        ks_range_close(&r);
        const char *victim = i == 0 ? key : last;
        assert_int_equal(ks_read(&f.ks, 2, victim, strlen(victim), &m), 0);
        assert_int_equal(m.type, KS_TYPE_STRING);
        ks_begin(&f.ks);
        assert_int_equal(ks_del_key(&f.ks, 2, victim, strlen(victim), &m), 0);
        assert_int_equal(ks_commit(&f.ks), 0);
        ks_meta_free(&m);
    }
    while (ks_background(&f.ks, 1, ks_now_ms()) > 0)
        ;
    assert_int_equal(f.ks.count[2], count_db_records(&f, 2));
    assert_int_equal(f.ks.expires[2], 3);
    assert_int_equal(ks_read(&f.ks, 2, "h", 1, &m), 0);
    assert_int_equal(m.type, KS_TYPE_HASH);
    assert_int_equal(m.size, 1); /* repaired to what is left */
    ks_meta_free(&m);
    char xp[5] = {'x', (char)(phys >> 24), (char)(phys >> 16), (char)(phys >> 8), (char)phys};
    assert_int_equal(count_prefix(&f, xp, sizeof xp), 3); /* ttl's index entry is back */
    assert_int_equal(ks_set_fifo(&f.ks, 2, false, 0), -ENOTEMPTY);
    assert_int_equal(ks_set_fifo(&f.ks, 2, true, 2 << 20), 0); /* a new cap only */
    assert_int_equal(f.ks.phys[2], phys);

    /* Style and cap persist; a stray fifo directory goes at open. */
    int64_t count = f.ks.count[2];
    close_all(&f);
    char stray[4200];
    snprintf(stray, sizeof stray, "%s/fifo-9999", f.dir);
    assert_int_equal(mkdir(stray, 0755), 0);
    open_all(&f);
    assert_false(dir_exists(&f, 9999));
    assert_non_null(ks_fifo_of(&f.ks, 2));
    assert_int_equal(ks_fifo_of(&f.ks, 2)->cap, 2 << 20);
    assert_int_equal(f.ks.count[2], count);
    assert_int_equal(ks_read(&f.ks, 2, "ttl", 3, &m), 0);
    assert_int_equal(m.type, KS_TYPE_STRING);
    ks_meta_free(&m);

    /* SWAPDB moves the data and its engine; FLUSHDB gives a fresh engine. */
    assert_int_equal(ks_swap(&f.ks, 2, 3), 0);
    assert_null(ks_fifo_of(&f.ks, 2));
    assert_non_null(ks_fifo_of(&f.ks, 3));
    assert_int_equal(ks_flush(&f.ks, 3), 0);
    assert_non_null(ks_fifo_of(&f.ks, 3));
    assert_false(dir_exists(&f, phys));
    assert_true(dir_exists(&f, f.ks.phys[3]));
    assert_int_equal(f.ks.count[3], 0);
    uint32_t fresh = f.ks.phys[3];
    assert_int_equal(ks_set_fifo(&f.ks, 3, false, 0), 0); /* empty: back to the main engine */
    assert_null(ks_fifo_of(&f.ks, 3));
    assert_false(dir_exists(&f, fresh));
    assert_int_equal(f.ks.nfifo, 0);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

/* #15.4 through the server's key layer: a 4 KB string with a TTL lives in the value log;
   after a reopen and its expiry, value-log GC reclaims its segment while the metadata
   record still points there. GET (ks_read) must answer nil, not an error, and active
   expiry must reap it and go on to the keys after it. */
static void test_keyspace_expired_value_reclaimed_by_gc(void **state)
{
    fixture f = {.dir = tu_tempdir("ksgc")};
    shale_options o;
    shale_options_default(&o);
    o.compaction_filter = ks_compaction_filter;
    o.compaction_filter_ctx = &f.ks;
    o.value_threshold = 100;
    o.vlog_gc_interval_s = 0; /* the test runs GC itself */
    assert_int_equal(shale_open(f.dir, &o, &f.db), 0);
    assert_int_equal(ks_open(&f.ks, f.db, f.dir, NULL), 0);
    char big[4097];
    for (int i = 0; i < 4096; i++)
        big[i] = (char)('a' + (i * 7919 + i / 13) % 26);
    big[4096] = '\0';
    uint64_t now = ks_now_ms();
    set_string(&f, 0, "big", big, now + 800);
    set_string(&f, 0, "after", "1", now + 900); /* next in the expiry index */
    set_string(&f, 0, "stays", "1", 0);
    assert_int_equal(f.ks.count[0], 3);
    ks_close(&f.ks);
    assert_int_equal(shale_close(f.db), 0);
    assert_int_equal(shale_open(f.dir, &o, &f.db), 0);
    assert_int_equal(ks_open(&f.ks, f.db, f.dir, NULL), 0);
    assert_int_equal(f.ks.count[0], 3);
    usleep(2000 * 1000);
    assert_int_equal(shale_vlog_gc(f.db, 0.5), 0);
    ks_meta m;
    int rc = ks_read(&f.ks, 0, "big", 3, &m);
    if (rc)
        fail_msg("GET of an expired key whose value GC reclaimed: %s", shale_strerror(rc));
    assert_int_equal(m.type, 0); /* nil */
    assert_int_equal(ks_background(&f.ks, 100, ks_now_ms()), 2);
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.expires[0], 0);
    assert_int_equal(ks_read(&f.ks, 0, "stays", 5, &m), 0);
    assert_int_equal(m.type, KS_TYPE_STRING);
    ks_meta_free(&m);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

/* Reads string k of database dbi: its value must be v (NULL: absent). */
static void check_string(fixture *f, int dbi, const char *k, const char *v)
{
    ks_meta m;
    assert_int_equal(ks_read(&f->ks, dbi, k, strlen(k), &m), 0);
    if (m.type != (v ? KS_TYPE_STRING : 0))
        print_message("key %s: %s\n", k, v ? "absent" : "present");
    if (!v) {
        assert_int_equal(m.type, 0);
    } else {
        assert_int_equal(m.type, KS_TYPE_STRING);
        assert_int_equal(m.vlen, strlen(v));
        assert_memory_equal(m.val, v, m.vlen);
    }
    ks_meta_free(&m);
}

/*
 * Compaction drops an expired key's metadata record but not its expiry-index entry (the
 * entry has no TTL of its own). A key created again under that name then has another
 * expiry (or none), and the active expiry cycle that reaches the stale entry must delete
 * only that entry: before the fix reap() deleted the live key too, and DBSIZE kept
 * counting it.
 */
static void test_keyspace_expiry_spares_recreated_key(void **state)
{
    fixture f = {.dir = tu_tempdir("ks")};
    open_all(&f);
    uint64_t now = ks_now_ms();
    set_string(&f, 0, "plain", "old", now + 50);
    set_string(&f, 0, "ttl", "old", now + 60);
    set_string(&f, 0, "gone", "old", now + 70);
    usleep(120 * 1000);
    /* the expired metadata goes at compaction; the index entries stay */
    assert_int_equal(shale_flush(f.db), 0);
    assert_int_equal(shale_compact_range(f.db, NULL, 0, NULL, 0), 0);
    check_string(&f, 0, "plain", NULL);
    assert_int_equal(count_prefix(&f, "x", 1), 3);
    /* created again: one without a TTL, one with a later TTL */
    set_string(&f, 0, "plain", "new", 0);
    set_string(&f, 0, "ttl", "new", ks_now_ms() + 3600 * 1000);
    assert_int_equal(ks_background(&f.ks, 100, ks_now_ms()), 3);
    check_string(&f, 0, "plain", "new");
    check_string(&f, 0, "ttl", "new");
    check_string(&f, 0, "gone", NULL);
    /* the two live keys, one of them with a TTL, whose index entry is the only one left */
    assert_int_equal(f.ks.count[0], 2);
    assert_int_equal(f.ks.expires[0], 1);
    assert_int_equal(f.ks.expired_keys, 3);
    assert_int_equal(count_prefix(&f, "x", 1), 1);
    close_all(&f);
    open_all(&f); /* the counts rebuilt from the records agree */
    assert_int_equal(f.ks.count[0], 2);
    assert_int_equal(f.ks.expires[0], 1);
    /* a stale entry across a restart: still one expired key until it is reaped */
    set_string(&f, 0, "late", "old", ks_now_ms() + 50);
    usleep(80 * 1000);
    assert_int_equal(shale_flush(f.db), 0);
    assert_int_equal(shale_compact_range(f.db, NULL, 0, NULL, 0), 0);
    close_all(&f);
    open_all(&f);
    assert_int_equal(f.ks.count[0], 3);
    assert_int_equal(f.ks.expires[0], 2);
    set_string(&f, 0, "late", "new", 0);
    assert_int_equal(f.ks.count[0], 4);
    assert_int_equal(ks_background(&f.ks, 100, ks_now_ms()), 1);
    check_string(&f, 0, "late", "new");
    assert_int_equal(f.ks.count[0], 3);
    assert_int_equal(f.ks.expires[0], 1);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

/* Flips a byte in the middle of the first file of dir holding needle (n bytes);
   returns whether one did. */
static bool flip_inside(const char *dir, const char *needle, size_t n)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    bool done = false;
    while (!done && (e = readdir(d))) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "rb");
        if (!fp)
            continue;
        static char data[1 << 20];
        size_t len = fread(data, 1, sizeof data, fp);
        fclose(fp);
        for (size_t i = 0; !done && len >= n && i <= len - n; i++)
            if (memcmp(data + i, needle, n) == 0) {
                assert_int_equal(tu_flip_byte(path, i + n / 2), 0);
                done = true;
            }
    }
    closedir(d);
    return done;
}

/*
 * ks_read_head (SET, SETEX, MSET) asks only whether a key exists and its expiry: a value
 * in the value log is not read, so SET replaces a key whose old value is unreadable
 * (ks_read reports it), and counts, expiry index and reaping stay exact.
 */
static void test_keyspace_head_read_skips_value(void **state)
{
    fixture f = {.dir = tu_tempdir("kshead")};
    shale_options o;
    shale_options_default(&o);
    o.compaction_filter = ks_compaction_filter;
    o.compaction_filter_ctx = &f.ks;
    o.value_threshold = 100;
    assert_int_equal(shale_open(f.dir, &o, &f.db), 0);
    assert_int_equal(ks_open(&f.ks, f.db, f.dir, NULL), 0);
    uint64_t rnd = tu_seed();
    char big[2049];
    for (int i = 0; i < 2048; i++)
        big[i] = (char)('!' + tu_rand_below(&rnd, 90)); /* lz4 cannot shrink it */
    big[2048] = '\0';
    uint64_t exp = ks_now_ms() + 3600 * 1000;
    set_string(&f, 0, "big", big, exp);
    assert_int_equal(shale_flush(f.db), 0); /* the table now points into the log */
    assert_true(flip_inside(f.dir, big + 512, 64));

    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "big", 3, &m), SHALE_ECORRUPT);
    ks_meta_free(&m);
    assert_int_equal(ks_read_head(&f.ks, 0, "big", 3, &m), 0);
    assert_int_equal(m.type, KS_TYPE_UNREAD);
    assert_int_equal(m.expire_at_ms, exp);
    assert_null(m.raw);
    ks_begin(&f.ks);
    assert_int_equal(ks_put_meta(&f.ks, 0, "big", 3, &m, KS_TYPE_STRING, "new", 3, 0), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    check_string(&f, 0, "big", "new");
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.expires[0], 0);

    assert_int_equal(ks_read_head(&f.ks, 0, "none", 4, &m), 0);
    assert_int_equal(m.type, 0);
    set_string(&f, 0, "gone", "x", ks_now_ms() + 30);
    assert_int_equal(f.ks.count[0], 2);
    assert_int_equal(f.ks.expires[0], 1);
    usleep(80 * 1000);
    assert_int_equal(ks_read_head(&f.ks, 0, "gone", 4, &m), 0);
    assert_int_equal(m.type, 0); /* expired: reaped, as ks_read does */
    assert_int_equal(f.ks.count[0], 1);
    assert_int_equal(f.ks.expires[0], 0);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

/*
 * A collection version is never handed out twice, whatever the clock says: members of a
 * deleted collection stay on disk until compaction, so a new collection under the same
 * name and an old version would show them (pika#2762). The versions handed out before a
 * restart are stood in for by a counter far ahead of any clock.
 */
static void test_keyspace_versions_never_reused(void **state)
{
    fixture f = {.dir = tu_tempdir("ksver")};
    open_all(&f);
    f.ks.last_version = (uint64_t)1 << 62;
    uint64_t old = make_hash(&f, 0, "h", 3);
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "h", 1, &m), 0);
    ks_begin(&f.ks);
    assert_int_equal(ks_del_key(&f.ks, 0, "h", 1, &m), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    close_all(&f);

    open_all(&f);
    uint64_t fresh = make_hash(&f, 0, "h", 1);
    assert_true(fresh > old);
    assert_int_equal(ks_read(&f.ks, 0, "h", 1, &m), 0);
    ks_range r;
    assert_int_equal(ks_range_open_members(&f.ks, 0, "h", 1, &m, &r), 0);
    int n = 0;
    for (; ks_iter_valid(r.it); ks_iter_next(r.it))
        n++;
    ks_range_close(&r);
    assert_int_equal(n, 1); /* none of the deleted hash's three */
    ks_meta_free(&m);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

/*
 * Collections other than hashes: the metadata keeps the type's extra bytes (a list's
 * head and tail), a copy keeps them under a new version with the members, and size 0
 * deletes the key in the same transaction.
 */
static void test_keyspace_collection_metadata(void **state)
{
    fixture f = {.dir = tu_tempdir("kscoll")};
    open_all(&f);
    ks_meta m;
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    uint64_t ver = ks_new_version(&f.ks);
    ks_begin(&f.ks);
    for (int i = 0; i < 2; i++) {
        ks_key k;
        char sub[8] = {0, 0, 0, 0, 0, 0, 0, (char)i};
        assert_int_equal(ks_field_key(&f.ks, 0, "l", 1, ver, sub, 8, &k), 0);
        assert_int_equal(ks_put_raw(&f.ks, &k, i ? "b" : "a", 1), 0);
        ks_key_free(&k);
    }
    assert_int_equal(ks_put_collection(&f.ks, 0, "l", 1, &m, KS_TYPE_LIST, ver, 2,
                                       "HEADTAIL........", 16), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_int_equal(f.ks.count[0], 1);

    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    assert_int_equal(m.type, KS_TYPE_LIST);
    assert_string_equal(ks_type_name(m.type), "list");
    assert_int_equal(m.size, 2);
    assert_int_equal(m.extralen, 16);
    assert_memory_equal(m.extra, "HEADTAIL........", 16);
    ks_meta none;
    assert_int_equal(ks_read(&f.ks, 0, "l2", 2, &none), 0);
    ks_begin(&f.ks);
    assert_int_equal(ks_copy_value(&f.ks, 0, "l", 1, &m, 0, "l2", 2, &none, 0), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta copy;
    assert_int_equal(ks_read(&f.ks, 0, "l2", 2, &copy), 0);
    assert_int_equal(copy.type, KS_TYPE_LIST);
    assert_true(copy.version > m.version);
    assert_int_equal(copy.size, 2);
    assert_memory_equal(copy.extra, "HEADTAIL........", 16);
    ks_range r;
    assert_int_equal(ks_range_open_members(&f.ks, 0, "l2", 2, &copy, &r), 0);
    int n = 0;
    for (; ks_iter_valid(r.it); ks_iter_next(r.it), n++) {
        size_t kl, vl;
        const char *k = ks_iter_key(r.it, &kl);
        const char *v = ks_iter_value(r.it, &vl);
        assert_int_equal(kl - r.lo.len, 8);
        assert_int_equal(k[kl - 1], n);
        assert_int_equal(v[0], "ab"[n]);
    }
    ks_range_close(&r);
    assert_int_equal(n, 2);
    assert_int_equal(f.ks.count[0], 2);

    ks_begin(&f.ks);
    assert_int_equal(ks_put_collection(&f.ks, 0, "l", 1, &m, KS_TYPE_LIST, m.version, 0, NULL, 0), 0);
    assert_int_equal(ks_commit(&f.ks), 0);
    ks_meta_free(&m);
    assert_int_equal(ks_read(&f.ks, 0, "l", 1, &m), 0);
    assert_int_equal(m.type, 0);
    assert_int_equal(f.ks.count[0], 1);
    ks_meta_free(&m);
    ks_meta_free(&none);
    ks_meta_free(&copy);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

/* ks_range_open_ex: an unpositioned range is invalid until the caller seeks (random
   picks seek straight to their point instead of walking over deleted keys at the
   range's start first); a positioned one starts at its first key. */
static void test_keyspace_range_unpositioned(void **state)
{
    fixture f = {.dir = tu_tempdir("ks")};
    open_all(&f);
    uint64_t ver = make_hash(&f, 0, "h", 10);
    ks_key p;
    assert_int_equal(ks_field_key(&f.ks, 0, "h", 1, ver, NULL, 0, &p), 0);
    ks_range r;
    assert_int_equal(ks_range_open_ex(&f.ks, p.p, p.len, false,
                                      KS_RANGE_UNPOSITIONED | KS_RANGE_FILL_CACHE, &r),
                     0);
    assert_false(ks_iter_valid(r.it));
    ks_key at;
    assert_int_equal(ks_field_key(&f.ks, 0, "h", 1, ver, "f00005", 6, &at), 0);
    ks_iter_seek(r.it, at.p, at.len);
    assert_true(ks_iter_valid(r.it));
    size_t kl;
    const char *k = ks_iter_key(r.it, &kl);
    assert_memory_equal(k + p.len, "f00005", 6);
    ks_range_close(&r);
    assert_int_equal(ks_range_open_ex(&f.ks, p.p, p.len, false, 0, &r), 0);
    k = ks_iter_key(r.it, &kl);
    assert_memory_equal(k + p.len, "f00000", 6);
    ks_range_close(&r);
    ks_key_free(&at);
    ks_key_free(&p);
    close_all(&f);
    tu_rmdir_free(f.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyspace_counts_expiry_and_reopen),
        cmocka_unit_test(test_keyspace_flush_and_swap_persist),
        cmocka_unit_test(test_keyspace_filter_drops_only_stale_fields),
        cmocka_unit_test(test_keyspace_fifo_database),
        cmocka_unit_test(test_keyspace_expired_value_reclaimed_by_gc),
        cmocka_unit_test(test_keyspace_expiry_spares_recreated_key),
        cmocka_unit_test(test_keyspace_head_read_skips_value),
        cmocka_unit_test(test_keyspace_versions_never_reused),
        cmocka_unit_test(test_keyspace_collection_metadata),
        cmocka_unit_test(test_keyspace_range_unpositioned),
        cmocka_unit_test(test_keyspace_sweep_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

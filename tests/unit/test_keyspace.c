/*
 * test_keyspace.c - Redis keys on engine keys: counts (DBSIZE) through writes, expiry
 * reaping and reopen; FLUSHDB/SWAPDB mappings that persist; and the compaction filter,
 * which drops the fields of deleted or replaced hashes and the keys of flushed databases
 * but never a live one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyspace.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    shale_db *db;
    keyspace ks;
} fixture;

static void open_all(fixture *f)
{
    shale_options o;
    shale_options_default(&o);
    o.compaction_filter = ks_compaction_filter;
    o.compaction_filter_ctx = &f->ks;
    assert_int_equal(shale_open(f->dir, &o, &f->db), 0);
    assert_int_equal(ks_open(&f->ks, f->db), 0);
}

static void close_all(fixture *f)
{
    ks_close(&f->ks);
    assert_int_equal(shale_close(f->db), 0);
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
    for (; shale_iter_valid(r.it); shale_iter_next(r.it))
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyspace_counts_expiry_and_reopen),
        cmocka_unit_test(test_keyspace_flush_and_swap_persist),
        cmocka_unit_test(test_keyspace_filter_drops_only_stale_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

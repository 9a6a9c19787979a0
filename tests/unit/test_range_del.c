/*
 * test_range_del.c - range deletion (shale_batch_delete_range, issue 17): fragments
 * against a brute force, a batch's order, reads of every kind over memtables, L0 and
 * lower levels and snapshots, recovery from the log, compaction (covered entries and,
 * at the bottom, the tombstones themselves dropped; kept for a snapshot; cut among many
 * outputs without overlap), the table format versions, and value-log GC taking a
 * range-deleted value for garbage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "db_impl.h"
#include "format.h"
#include "range_del.h"
#include "shale.h"
#include "testutil.h"

static void key(char *out, size_t cap, int i)
{
    snprintf(out, cap, "key%06d", i);
}

static void put(shale_db *db, int i, const char *tag)
{
    char k[32], v[64];
    key(k, sizeof k, i);
    snprintf(v, sizeof v, "%s-%d", tag, i);
    assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
}

static void del_range(shale_db *db, int lo, int hi)
{
    char a[32], b[32];
    key(a, sizeof a, lo);
    key(b, sizeof b, hi);
    assert_int_equal(shale_delete_range(db, a, strlen(a), b, strlen(b)), 0);
}

/* Reads key i (at snap): its value's tag, or NULL when absent. */
static const char *get_tag(shale_db *db, const shale_snapshot *snap, int i, char *out)
{
    char k[32];
    key(k, sizeof k, i);
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.snapshot = snap;
    void *v;
    size_t n;
    int rc = shale_get_ex(db, &ro, k, strlen(k), &v, &n, NULL);
    if (rc == SHALE_ENOTFOUND)
        return NULL;
    assert_int_equal(rc, 0);
    size_t t = strcspn(v, "-");
    memcpy(out, v, t);
    out[t] = '\0';
    shale_free(v);
    return out;
}

/* Every key in [0, n): want[i] the tag it must hold (NULL: absent), by get and by
   iterators both ways, from the start and from a seek into the middle. */
static void check_all(shale_db *db, const shale_snapshot *snap, int n, const char **want)
{
    char tag[32];
    for (int i = 0; i < n; i++) {
        const char *got = get_tag(db, snap, i, tag);
        if ((got == NULL) != (want[i] == NULL) || (got && strcmp(got, want[i])))
            fail_msg("key %d: got %s, want %s", i, got ? got : "(absent)",
                     want[i] ? want[i] : "(absent)");
    }
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.snapshot = snap;
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, &ro, &it), 0);
    int i = 0;
    for (shale_iter_seek_to_first(it); shale_iter_valid(it); shale_iter_next(it), i++) {
        while (i < n && !want[i])
            i++;
        char k[32];
        key(k, sizeof k, i);
        size_t len;
        const char *got = shale_iter_key(it, &len);
        if (i >= n || len != strlen(k) || memcmp(got, k, len))
            fail_msg("forward: at %.*s, want %s", (int)len, got, i < n ? k : "the end");
    }
    while (i < n && !want[i])
        i++;
    assert_int_equal(i, n);
    i = n - 1;
    for (shale_iter_seek_to_last(it); shale_iter_valid(it); shale_iter_prev(it), i--) {
        while (i >= 0 && !want[i])
            i--;
        char k[32];
        key(k, sizeof k, i);
        size_t len;
        const char *got = shale_iter_key(it, &len);
        if (i < 0 || len != strlen(k) || memcmp(got, k, len))
            fail_msg("backward: at %.*s, want %s", (int)len, got, i >= 0 ? k : "the start");
    }
    while (i >= 0 && !want[i])
        i--;
    assert_int_equal(i, -1);
    /* a seek and a seek_for_prev from the middle */
    char mid[32];
    key(mid, sizeof mid, n / 2);
    shale_iter_seek(it, mid, strlen(mid));
    for (i = n / 2; i < n && !want[i]; i++)
        ;
    assert_int_equal(shale_iter_valid(it), i < n);
    shale_iter_seek_for_prev(it, mid, strlen(mid));
    for (i = n / 2; i >= 0 && !want[i]; i--)
        ;
    assert_int_equal(shale_iter_valid(it), i >= 0);
    assert_int_equal(shale_iter_status(it), 0);
    shale_iter_free(it);
}

/* ---- fragments ---- */

static uint64_t brute_cover(const range_tomb *t, int n, slice k, uint64_t read_seq)
{
    uint64_t best = 0;
    for (int i = 0; i < n; i++)
        if (t[i].seq <= read_seq && t[i].seq > best && slice_compare(t[i].begin, k) <= 0 &&
            slice_compare(k, t[i].end) < 0)
            best = t[i].seq;
    return best;
}

/* Random tombstones over a small key space: the fragments answer as the tombstones do,
   for every reader at or above the collapse point; they are disjoint and in order. */
static void test_range_del_fragments_match_brute_force(void **state)
{
    uint64_t rs = tu_seed();
    static char keys[40][8];
    for (int i = 0; i < 40; i++)
        snprintf(keys[i], sizeof keys[i], "%c%c", 'a' + i / 8, 'a' + i % 8);
    for (int round = 0; round < 300; round++) {
        int n = (int)tu_rand_below(&rs, 30);
        range_tomb t[30];
        for (int i = 0; i < n; i++) {
            int a = (int)tu_rand_below(&rs, 40), b = (int)tu_rand_below(&rs, 40);
            if (a > b) {
                int x = a;
                a = b;
                b = x;
            }
            t[i] = (range_tomb){slice_from_str(keys[a]), slice_from_str(keys[b]),
                                1 + tu_rand_below(&rs, 50)}; /* a == b: empty, left out */
        }
        uint64_t collapse = tu_rand_below(&rs, 3) == 0 ? 0 : tu_rand_below(&rs, 60);
        rdel_list *l;
        assert_int_equal(rdel_list_build(t, (size_t)n, UINT64_MAX, collapse, &l), 0);
        for (int i = 0; l && i < l->n; i++) {
            assert_true(slice_compare(l->frags[i].begin, l->frags[i].end) < 0);
            if (i > 0)
                assert_true(slice_compare(l->frags[i - 1].end, l->frags[i].begin) <= 0);
            for (uint32_t j = 1; j < l->frags[i].nseqs; j++)
                assert_true(l->frags[i].seqs[j - 1] > l->frags[i].seqs[j]);
        }
        rdel_cursor cur;
        rdel_cursor_init(&cur, l);
        for (int probe = 0; probe < 200; probe++) {
            char k[4] = {(char)('a' + tu_rand_below(&rs, 6)), (char)('a' + tu_rand_below(&rs, 9)),
                         0};
            slice ks = slice_make(k, 1 + tu_rand_below(&rs, 2));
            uint64_t read_seq = collapse + tu_rand_below(&rs, 60);
            uint64_t want = brute_cover(t, n, ks, read_seq);
            assert_int_equal(rdel_list_cover(l, ks, read_seq), want);
            assert_int_equal(rdel_cursor_cover(&cur, ks, read_seq), want);
        }
        rdel_list_unref(l);
    }
}

/* A memtable keeps its tombstones' fragments in runs (a binary counter of lists): every
   reader, at the newest sequence or an older one (part of a run), gets the tombstones
   it sees, by lookup and by the lists an iterator takes. */
static void test_range_del_memtable_runs(void **state)
{
    uint64_t rs = tu_seed();
    static char keys[60][8];
    for (int i = 0; i < 60; i++)
        snprintf(keys[i], sizeof keys[i], "%c%c", 'a' + i / 8, 'a' + i % 8);
    memtable *m;
    assert_int_equal(memtable_new(&m), 0);
    enum { N = 700 };
    range_tomb t[N];
    for (int i = 0; i < N; i++) {
        int a = (int)tu_rand_below(&rs, 59);
        int b = a + 1 + (int)tu_rand_below(&rs, i % 5 == 0 ? 59 - (uint64_t)a : 3);
        if (b > 59)
            b = 59;
        t[i] = (range_tomb){slice_from_str(keys[a]), slice_from_str(keys[b]), 10 + 2 * (uint64_t)i};
        assert_int_equal(memtable_add(m, t[i].seq, KIND_RANGE_DELETE, t[i].begin, t[i].end), 0);
        if (i % 37 != 0 && i != N - 1)
            continue;
        for (int probe = 0; probe < 100; probe++) {
            slice k = slice_from_str(keys[tu_rand_below(&rs, 60)]);
            uint64_t read_seq =
                tu_rand_below(&rs, 3) ? UINT64_MAX >> 8 : tu_rand_below(&rs, 12 + 2 * (uint64_t)i);
            uint64_t want = brute_cover(t, i + 1, k, read_seq), got;
            assert_int_equal(memtable_range_cover(m, k, read_seq, &got), 0);
            assert_int_equal(got, want);
            rdel_list *l[MEMTABLE_RDEL_RUNS];
            int n;
            assert_int_equal(memtable_range_dels(m, read_seq, l, &n), 0);
            assert_true(n <= 12); /* log2(700) + 1 runs at most */
            got = 0;
            for (int j = 0; j < n; j++) {
                uint64_t c = rdel_list_cover(l[j], k, read_seq);
                got = c > got ? c : got;
                rdel_list_unref(l[j]);
            }
            assert_int_equal(got, want);
        }
    }
    assert_int_equal(memtable_num_range_dels(m), N);
    assert_int_equal(memtable_num_entries(m), N);
    /* their lists count in the memtable's size, which decides when it is flushed */
    assert_true(memtable_memory_usage(m) >= N * sizeof(range_tomb));
    memtable_unref(m);
}

/* ---- batches ---- */

/* A batch's entries apply in order: a put before the range is deleted, one after it
   stays. Arguments are checked; an empty range adds nothing. */
static void test_range_del_batch_order_and_arguments(void **state)
{
    char *dir = tu_tempdir("rdel");
    shale_db *db = tu_open(dir, NULL);
    assert_non_null(db);
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    assert_int_equal(shale_batch_put(b, "b", 1, "1", 1, 0), 0);
    assert_int_equal(shale_batch_delete_range(b, "a", 1, "c", 1), 0);
    assert_int_equal(shale_batch_put(b, "bb", 2, "2", 1, 0), 0);
    assert_int_equal(shale_batch_delete_range(b, "c", 1, "a", 1), -EINVAL);
    assert_int_equal(shale_batch_delete_range(b, "", 0, "a", 1), -EINVAL);
    assert_int_equal(shale_batch_delete_range(b, "a", 1, "", 0), -EINVAL);
    assert_int_equal(shale_batch_delete_range(b, "x", 1, "x", 1), 0);
    assert_int_equal(shale_batch_count(b), 3);
    assert_int_equal(shale_write(db, b), 0);
    assert_int_equal(shale_get(db, "b", 1, NULL, NULL), SHALE_ENOTFOUND);
    assert_int_equal(shale_get(db, "bb", 2, NULL, NULL), 0);
    assert_int_equal(shale_delete_range(db, "b", 1, "a", 1), -EINVAL);
    assert_int_equal(shale_delete_range(NULL, "a", 1, "b", 1), -EINVAL);
    shale_batch_free(b);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* ---- reads ---- */

#define NK 300

/* Values at the bottom, newer ones in L0 and the memtable, tombstones in each place, a
   snapshot from before them: get, iterators both ways and the snapshot agree with the
   model wherever the data and the tombstones sit, and after a full compaction. */
static void test_range_del_reads_everywhere(void **state)
{
    char *dir = tu_tempdir("rdel");
    shale_options o;
    tu_small_options(&o);
    o.value_threshold = 0;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    const char *want[NK], *before[NK];
    for (int i = 0; i < NK; i++) {
        put(db, i, "old");
        want[i] = "old";
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    const shale_snapshot *snap;
    assert_int_equal(shale_snapshot_new(db, &snap), 0);
    memcpy(before, want, sizeof want);
    del_range(db, 10, 60); /* over the bottom, then in L0 */
    for (int i = 10; i < 60; i++)
        want[i] = NULL;
    for (int i = 40; i < 50; i += 2) { /* written again after it */
        put(db, i, "l0");
        want[i] = "l0";
    }
    check_all(db, snap, NK, before);
    check_all(db, NULL, NK, want);
    assert_int_equal(shale_flush(db), 0);
    check_all(db, NULL, NK, want);
    for (int i = 100; i < 200; i++) { /* newer values in L0, deleted from the memtable */
        put(db, i, "new");
        want[i] = "new";
    }
    assert_int_equal(shale_flush(db), 0);
    del_range(db, 150, 250);
    for (int i = 150; i < 250; i++)
        want[i] = NULL;
    del_range(db, 0, 5); /* nested and overlapping ones */
    del_range(db, 2, 12);
    del_range(db, 280, 290);
    del_range(db, 283, 286);
    for (int i = 0; i < 12; i++)
        want[i] = NULL;
    for (int i = 280; i < 290; i++)
        want[i] = NULL;
    put(db, 3, "mem");
    want[3] = "mem";
    check_all(db, NULL, NK, want);
    check_all(db, snap, NK, before);
    assert_int_equal(shale_flush(db), 0);
    check_all(db, NULL, NK, want);
    check_all(db, snap, NK, before);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    check_all(db, NULL, NK, want);
    check_all(db, snap, NK, before);
    /* the snapshot kept them; without it a full compaction leaves none */
    assert_true(tu_prop(db, "shale.table-range-deletions") > 0);
    shale_snapshot_release(db, snap);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    check_all(db, NULL, NK, want);
    assert_int_equal(tu_prop(db, "shale.table-range-deletions"), 0);
    assert_true(tu_prop(db, "shale.dropped-range-deleted") > 0);
    uint64_t live = 0;
    for (int i = 0; i < NK; i++)
        live += want[i] != NULL;
    assert_int_equal(tu_prop(db, "shale.table-entries"), live);
    shale_close(db);
    db = tu_open(dir, &o);
    check_all(db, NULL, NK, want);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* A range deletion in the log alone (the process died before a flush) comes back. */
static void test_range_del_recovers_from_the_log(void **state)
{
    char *dir = tu_tempdir("rdel");
    shale_options o;
    tu_small_options(&o);
    o.sync_writes = 1;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    const char *want[NK];
    for (int i = 0; i < NK; i++) {
        put(db, i, "v");
        want[i] = "v";
    }
    assert_int_equal(shale_flush(db), 0);
    shale_batch *b;
    assert_int_equal(shale_batch_new(&b), 0);
    char lo[32], hi[32];
    key(lo, sizeof lo, 20);
    key(hi, sizeof hi, 120);
    assert_int_equal(shale_batch_delete_range(b, lo, strlen(lo), hi, strlen(hi)), 0);
    assert_int_equal(shale_batch_put(b, "key000050", 9, "w-50", 4, 0), 0);
    assert_int_equal(shale_write(db, b), 0);
    shale_batch_free(b);
    for (int i = 20; i < 120; i++)
        want[i] = NULL;
    want[50] = "w";
    char *copy = tu_crash_image(dir);
    assert_non_null(copy);
    shale_close(db);
    db = tu_open(copy, &o);
    assert_non_null(db);
    check_all(db, NULL, NK, want);
    shale_close(db);
    db = tu_open(copy, &o); /* and once more, from the table the recovery wrote */
    check_all(db, NULL, NK, want);
    shale_close(db);
    tu_rmdir_free(copy);
    tu_rmdir_free(dir);
}

/* ---- compaction ---- */

/* Tables of each level below L0 are in key order and do not overlap, range tombstones'
   reach included (a largest key may be a tombstone's exclusive end, which the next
   table may start at). */
static void check_levels_disjoint(shale_db *db)
{
    pthread_mutex_lock(&db->mu);
    version *v = db->vs->current;
    for (int l = 1; l < v->num_levels; l++)
        for (int i = 1; i < v->nfiles[l]; i++) {
            slice a = buf_slice(&v->files[l][i - 1]->largest);
            slice b = buf_slice(&v->files[l][i]->smallest);
            if (ikey_compare(a, b) >= 0)
                fail_msg("L%d: table %d ends at or after table %d starts", l, i - 1, i);
        }
    pthread_mutex_unlock(&db->mu);
}

/* A wide tombstone a snapshot keeps goes down through compactions cut into many small
   tables: each output holds its part, the level's tables stay disjoint, every read
   agrees before and after a reopen, and once the snapshot goes it is dropped. */
static void test_range_del_cut_among_outputs(void **state)
{
    char *dir = tu_tempdir("rdel");
    shale_options o;
    tu_small_options(&o);
    o.table_size = 64 * 1024; /* the least: many outputs */
    o.compression = SHALE_COMPRESSION_NONE;
    o.value_threshold = 0;
    o.iter_skip_compaction_trigger = 0;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    enum { N = 6000 };
    const char **want = calloc(N, sizeof *want);
    char pad[64];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < N; i++) {
        char k[32], v[128];
        key(k, sizeof k, i);
        snprintf(v, sizeof v, "old-%s", pad);
        assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
        want[i] = "old";
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    const shale_snapshot *snap;
    assert_int_equal(shale_snapshot_new(db, &snap), 0);
    del_range(db, 500, 5500);
    for (int i = 500; i < 5500; i++)
        want[i] = NULL;
    for (int i = 1000; i < 5000; i += 100) {
        put(db, i, "new");
        want[i] = "new";
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    check_levels_disjoint(db);
    check_all(db, NULL, N, want);
    uint64_t kept = tu_prop(db, "shale.table-range-deletions");
    assert_true(kept > 1); /* cut among the outputs */
    shale_snapshot_release(db, snap);
    shale_close(db);
    db = tu_open(dir, &o);
    check_all(db, NULL, N, want);
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    check_levels_disjoint(db);
    check_all(db, NULL, N, want);
    assert_int_equal(tu_prop(db, "shale.table-range-deletions"), 0);
    shale_close(db);
    free(want);
    tu_rmdir_free(dir);
}

/* A range deletion over values in lower levels, then the tombstone density trigger: the
   table holding it goes down and takes what it covers with it, without a write. */
static void test_range_del_compacted_away_without_writes(void **state)
{
    char *dir = tu_tempdir("rdel");
    shale_options o;
    tu_small_options(&o);
    o.value_threshold = 0;
    o.tombstone_compaction_min_entries = 1;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    for (int i = 0; i < 5000; i++)
        put(db, i, "v");
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    del_range(db, 0, 4900);
    assert_int_equal(shale_flush(db), 0); /* an L0 table of one range tombstone */
    assert_int_equal(tu_prop(db, "shale.table-range-deletions"), 1);
    for (int t = 0; t < 200 && tu_prop(db, "shale.table-range-deletions"); t++)
        usleep(50 * 1000);
    assert_int_equal(tu_prop(db, "shale.table-range-deletions"), 0);
    assert_int_equal(tu_prop(db, "shale.table-entries"), 100);
    shale_iter *it;
    assert_int_equal(shale_iter_new(db, NULL, &it), 0);
    uint64_t skipped = tu_prop(db, "shale.iter-skipped-entries");
    shale_iter_seek_to_first(it);
    assert_true(shale_iter_valid(it));
    assert_int_equal(tu_prop(db, "shale.iter-skipped-entries"), skipped);
    shale_iter_free(it);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* ---- table format ---- */

typedef struct footers {
    const char *dir;
    int v1, v2;
} footers;

static void count_footers(footers *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".sst"))
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        off_t size = lseek(fd, 0, SEEK_END);
        unsigned char v[4];
        assert_int_equal(pread(fd, v, 4, size - TABLE_FOOTER_SIZE + 48), 4);
        close(fd);
        uint32_t version =
            (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
        f->v1 += version == TABLE_FORMAT_VERSION;
        f->v2 += version == TABLE_FORMAT_VERSION_RANGE_DEL;
    }
    closedir(d);
}

/* A table with range tombstones is format version 2, so a build that would ignore them
   refuses it (SHALE_EVERSION); every other table stays version 1, readable by older
   builds. */
static void test_range_del_table_format_versions(void **state)
{
    char *dir = tu_tempdir("rdel");
    shale_db *db = tu_open(dir, NULL);
    assert_non_null(db);
    put(db, 1, "v");
    assert_int_equal(shale_flush(db), 0);
    footers f = {dir, 0, 0};
    count_footers(&f);
    assert_int_equal(f.v1, 1);
    assert_int_equal(f.v2, 0);
    del_range(db, 0, 10);
    assert_int_equal(shale_flush(db), 0);
    f = (footers){dir, 0, 0};
    count_footers(&f);
    assert_int_equal(f.v1, 1);
    assert_int_equal(f.v2, 1);
    shale_close(db);
    tu_rmdir_free(dir);
}

/* ---- value log ---- */

/* Values in the value log whose keys a range deletion covers are garbage: GC does not
   copy them (here before any compaction has dropped their pointers). */
static void test_range_del_values_are_vlog_garbage(void **state)
{
    char *dir = tu_tempdir("rdel");
    shale_options o;
    tu_small_options(&o);
    o.memtable_size = 512 << 10; /* switches, at which the 1 MiB log rolls */
    o.compression = SHALE_COMPRESSION_NONE;
    o.value_threshold = 64;
    o.vlog_file_size = 1 << 20;
    o.vlog_gc_interval_s = 0;
    o.tombstone_compaction_ratio = 0;
    o.iter_skip_compaction_trigger = 0;
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    char v[300];
    memset(v, 'v', sizeof v);
    enum { N = 4000 }; /* 1.2 MB of values: the first segment rolls */
    for (int i = 0; i < N; i++) {
        char k[32];
        key(k, sizeof k, i);
        v[0] = (char)('a' + i % 26);
        assert_int_equal(shale_put(db, k, strlen(k), v, sizeof v, 0), 0);
    }
    assert_int_equal(shale_flush(db), 0);
    /* the odd keys go by point deletes and a compaction: their bytes are discarded */
    for (int i = 1; i < N; i += 2) {
        char k[32];
        key(k, sizeof k, i);
        assert_int_equal(shale_delete(db, k, strlen(k)), 0);
    }
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    /* the even ones by a range deletion still in the memtable */
    del_range(db, 0, N);
    uint64_t before = tu_prop(db, "shale.vlog-gc-rewritten-bytes");
    int rc = shale_vlog_gc(db, 0.3);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_prop(db, "shale.vlog-gc-rewritten-bytes"), before);
    for (int i = 0; i < N; i += 97)
        assert_null(get_tag(db, NULL, i, v));
    shale_close(db);
    tu_rmdir_free(dir);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_del_fragments_match_brute_force),
        cmocka_unit_test(test_range_del_memtable_runs),
        cmocka_unit_test(test_range_del_batch_order_and_arguments),
        cmocka_unit_test(test_range_del_reads_everywhere),
        cmocka_unit_test(test_range_del_recovers_from_the_log),
        cmocka_unit_test(test_range_del_cut_among_outputs),
        cmocka_unit_test(test_range_del_compacted_away_without_writes),
        cmocka_unit_test(test_range_del_table_format_versions),
        cmocka_unit_test(test_range_del_values_are_vlog_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

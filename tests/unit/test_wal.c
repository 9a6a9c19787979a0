/*
 * test_wal.c - WAL records: round trips, a cut at every byte of the last records keeps
 * every whole record and nothing after, corruption in the middle is reported with its
 * offset, zero-filled and stale tails end the log, write errors are sticky.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "file.h"
#include "format.h"
#include "shale.h"
#include "testutil.h"
#include "wal.h"

/* Record i: deterministic bytes of a length from the seed. */
static size_t rec_len(uint64_t seed, int i)
{
    uint64_t s = seed + (uint64_t)i * 7919;
    size_t r = (size_t)tu_rand_below(&s, 100);
    if (r < 5)
        return 0;
    if (r < 10)
        return (size_t)tu_rand_below(&s, 1 << 20);
    return (size_t)tu_rand_below(&s, 3000);
}

static void rec_fill(char *p, size_t n, int i)
{
    for (size_t j = 0; j < n; j++)
        p[j] = (char)(i * 31 + (int)j * 7);
}

static int write_log(const char *path, uint64_t number, uint64_t seed, int n, uint64_t *ends,
                     uint64_t prealloc)
{
    wal_writer *w;
    assert_int_equal(wal_writer_open(path, number, prealloc, &w), 0);
    char *b = malloc(1 << 20);
    for (int i = 0; i < n; i++) {
        size_t len = rec_len(seed, i);
        rec_fill(b, len, i);
        /* odd records: the whole payload in three parts (the multi-part checksum);
           even records: only the first third, in one part */
        slice parts[3] = {slice_make(b, len / 3), slice_make(b + len / 3, len / 3),
                          slice_make(b + 2 * (len / 3), len - 2 * (len / 3))};
        assert_int_equal(wal_writer_append(w, parts, i % 2 ? 3 : 1), 0);
        if (ends)
            ends[i] = wal_writer_size(w);
    }
    assert_int_equal(wal_writer_sync(w), 0);
    wal_writer_close(w);
    free(b);
    return 0;
}

/* Reads the log and checks records 0..expect-1, then the end (or error). */
static int read_log(const char *path, uint64_t number, uint64_t seed, int expect, bool *torn)
{
    wal_reader *r;
    assert_int_equal(wal_reader_open(path, number, &r), 0);
    char *b = malloc(1 << 20);
    slice rec;
    int n = 0, rc;
    while ((rc = wal_reader_next(r, &rec)) == 1) {
        assert_true(n < expect);
        size_t len = rec_len(seed, n);
        if (n % 2 == 0)
            len = len / 3; /* single-part records hold the first third */
        assert_int_equal(rec.len, len);
        rec_fill(b, len, n);
        assert_memory_equal(rec.data, b, len);
        n++;
    }
    if (torn)
        *torn = wal_reader_had_torn_tail(r);
    wal_reader_close(r);
    free(b);
    if (rc < 0)
        return rc;
    return n;
}

/* Overwrites the stack below the caller, where the writer's frames lived. */
static void __attribute__((noinline)) scribble_stack(void)
{
    volatile char junk[32768];
    memset((char *)junk, 0x5a, sizeof junk);
}

/* Multi-part records of one length in a row, the stack scribbled between them: each
   must carry its own right checksum (a hash state on the stack reset with a seed equal
   to the garbage's once reused a stale secret: every such record read as corrupt). */
static void test_wal_same_length_multipart_records(void **state)
{
    char *dir = tu_tempdir("wal");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/000009.log", dir);
    wal_writer *w;
    assert_int_equal(wal_writer_open(path, 9, 0, &w), 0);
    char b[483];
    for (int i = 0; i < 100; i++) {
        rec_fill(b, sizeof b, i);
        slice parts[3] = {slice_make(b, 161), slice_make(b + 161, 161), slice_make(b + 322, 161)};
        assert_int_equal(wal_writer_append(w, parts, 3), 0);
        scribble_stack();
    }
    assert_int_equal(wal_writer_sync(w), 0);
    wal_writer_close(w);
    wal_reader *r;
    assert_int_equal(wal_reader_open(path, 9, &r), 0);
    slice rec;
    int n = 0, rc;
    while ((rc = wal_reader_next(r, &rec)) == 1) {
        rec_fill(b, sizeof b, n++);
        assert_int_equal(rec.len, sizeof b);
        assert_memory_equal(rec.data, b, sizeof b);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 100);
    wal_reader_close(r);
    tu_rmdir_free(dir);
}

static void test_wal_round_trip(void **state)
{
    char *dir = tu_tempdir("wal");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/000007.log", dir);
    uint64_t seed = tu_seed();
    write_log(path, 7, seed, 200, NULL, 0);
    bool torn;
    assert_int_equal(read_log(path, 7, seed, 200, &torn), 200);
    assert_false(torn);
    /* preallocated: the zero tail ends the log cleanly */
    write_log(path, 7, seed, 50, NULL, 8 << 20);
    assert_true(tu_file_size(path) >= (8 << 20));
    assert_int_equal(read_log(path, 7, seed, 50, &torn), 50);
    tu_rmdir_free(dir);
}

static void test_wal_cut_at_every_byte_keeps_whole_records(void **state)
{
    char *dir = tu_tempdir("wal");
    char path[PATH_MAX], cut[PATH_MAX];
    snprintf(path, sizeof path, "%s/000003.log", dir);
    snprintf(cut, sizeof cut, "%s/000003.cut", dir);
    uint64_t seed = 12345; /* small records only below */
    enum { N = 12 };
    uint64_t ends[N];
    wal_writer *w;
    assert_int_equal(wal_writer_open(path, 3, 0, &w), 0);
    for (int i = 0; i < N; i++) {
        char b[200];
        size_t len = (size_t)(i * 13 % 150);
        rec_fill(b, len, i);
        slice p = slice_make(b, len);
        assert_int_equal(wal_writer_append(w, &p, 1), 0);
        ends[i] = wal_writer_size(w);
    }
    wal_writer_close(w);
    (void)seed;
    uint64_t start = ends[N - 4];
    for (uint64_t size = start; size <= ends[N - 1]; size++) {
        assert_int_equal(tu_copy_file(path, cut), 0);
        assert_int_equal(tu_truncate(cut, size), 0);
        wal_reader *r;
        assert_int_equal(wal_reader_open(cut, 3, &r), 0);
        slice rec;
        int n = 0, rc;
        while ((rc = wal_reader_next(r, &rec)) == 1) {
            char b[200];
            size_t len = (size_t)(n * 13 % 150);
            rec_fill(b, len, n);
            assert_int_equal(rec.len, len);
            assert_memory_equal(rec.data, b, len);
            n++;
        }
        assert_int_equal(rc, 0);
        int whole = 0;
        while (whole < N && ends[whole] <= size)
            whole++;
        assert_int_equal(n, whole);
        assert_int_equal(wal_reader_valid_end(r), whole ? ends[whole - 1] : 0);
        assert_int_equal(wal_reader_had_torn_tail(r), size != ends[whole - 1]);
        wal_reader_close(r);
    }
    tu_rmdir_free(dir);
}

static void test_wal_flipped_byte_in_middle_is_corruption(void **state)
{
    char *dir = tu_tempdir("wal");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/000009.log", dir);
    wal_writer *w;
    uint64_t ends[20];
    assert_int_equal(wal_writer_open(path, 9, 0, &w), 0);
    for (int i = 0; i < 20; i++) {
        char b[100];
        rec_fill(b, sizeof b, i);
        slice p = slice_make(b, sizeof b);
        assert_int_equal(wal_writer_append(w, &p, 1), 0);
        ends[i] = wal_writer_size(w);
    }
    wal_writer_close(w);
    /* every byte of record 10 (header and payload) */
    for (uint64_t off = ends[9]; off < ends[10]; off++) {
        assert_int_equal(tu_flip_byte(path, off), 0);
        wal_reader *r;
        assert_int_equal(wal_reader_open(path, 9, &r), 0);
        slice rec;
        int n = 0, rc;
        while ((rc = wal_reader_next(r, &rec)) == 1)
            n++;
        assert_int_equal(n, 10);
        /* every byte, the length's included (a length that seems to run past the end is
           not a torn tail while whole records follow): corruption at record 10 */
        assert_int_equal(rc, SHALE_ECORRUPT);
        assert_int_equal(wal_reader_offset(r), ends[9]);
        wal_reader_close(r);
        assert_int_equal(tu_flip_byte(path, off), 0); /* restore */
    }
    /* the very last record damaged: a torn tail */
    assert_int_equal(tu_flip_byte(path, ends[19] - 3), 0);
    bool torn = false;
    wal_reader *r;
    assert_int_equal(wal_reader_open(path, 9, &r), 0);
    slice rec;
    int n = 0, rc;
    while ((rc = wal_reader_next(r, &rec)) == 1)
        n++;
    torn = wal_reader_had_torn_tail(r);
    wal_reader_close(r);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 19);
    assert_true(torn);
    tu_rmdir_free(dir);
}

static void test_wal_stale_records_of_other_log_end_it(void **state)
{
    char *dir = tu_tempdir("wal");
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s/a.log", dir);
    snprintf(b, sizeof b, "%s/b.log", dir);
    wal_writer *w;
    char payload[64];
    memset(payload, 'x', sizeof payload);
    slice p = slice_make(payload, sizeof payload);
    assert_int_equal(wal_writer_open(b, 5, 0, &w), 0);
    for (int i = 0; i < 10; i++)
        wal_writer_append(w, &p, 1);
    wal_writer_close(w);
    /* a "recycled" file: 3 records of log 6 over the 10 of log 5 */
    assert_int_equal(wal_writer_open(a, 6, 0, &w), 0);
    for (int i = 0; i < 3; i++)
        wal_writer_append(w, &p, 1);
    wal_writer_close(w);
    char *da, *db;
    size_t la, lb;
    assert_int_equal(file_read_all(a, &da, &la), 0);
    assert_int_equal(file_read_all(b, &db, &lb), 0);
    memcpy(db, da, la);
    FILE *f = fopen(b, "wb");
    fwrite(db, 1, lb, f);
    fclose(f);
    free(da);
    free(db);
    wal_reader *r;
    assert_int_equal(wal_reader_open(b, 6, &r), 0);
    slice rec;
    int n = 0, rc;
    while ((rc = wal_reader_next(r, &rec)) == 1)
        n++;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    wal_reader_close(r);
    tu_rmdir_free(dir);
}

static void test_wal_write_error_is_sticky(void **state)
{
    char *dir = tu_tempdir("wal");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/000001.log", dir);
    wal_writer *w;
    assert_int_equal(wal_writer_open(path, 1, 0, &w), 0);
    char b[100] = {1};
    slice p = slice_make(b, sizeof b);
    assert_int_equal(wal_writer_append(w, &p, 1), 0);
    file_fault_arm(FILE_OP_WRITE, 1, ENOSPC, true, false);
    assert_int_equal(wal_writer_append(w, &p, 1), -ENOSPC);
    file_fault_clear();
    assert_int_equal(wal_writer_append(w, &p, 1), -ENOSPC);
    assert_int_equal(wal_writer_sync(w), -ENOSPC);
    wal_writer_close(w);
    /* the torn half record is dropped on read */
    bool torn;
    wal_reader *r;
    assert_int_equal(wal_reader_open(path, 1, &r), 0);
    slice rec;
    assert_int_equal(wal_reader_next(r, &rec), 1);
    assert_int_equal(wal_reader_next(r, &rec), 0);
    torn = wal_reader_had_torn_tail(r);
    assert_true(torn);
    wal_reader_close(r);
    tu_rmdir_free(dir);
}

/* Bytes in the writer's buffer after a record of need bytes (header included) is appended
   to a buffer holding used: one that does not fit flushes the buffer first, one larger
   than the buffer goes straight to the file. The buffer starts wherever the last flush
   left the file, not at a multiple of its size, so the test keeps this count itself. */
static size_t buffered_after(size_t used, size_t need, size_t cap)
{
    if (used + need > cap)
        used = 0;
    return need > cap ? 0 : used + need;
}

/* Buffered appends (manual_wal_flush) into a preallocated log: records that fill the
   buffer exactly, that cross its end (a flush first) and that are larger than the buffer
   (straight to the file) land one after another at the end of what is written, whatever
   the file's size; a failed flush is recovered and its records written again in place. */
static void test_wal_buffered_appends_cross_the_buffer(void **state)
{
    char *dir = tu_tempdir("wal");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/000003.log", dir);
    uint64_t seed = tu_seed();
    wal_writer *w;
    assert_int_equal(wal_writer_open(path, 3, 1 << 20, &w), 0);
    const size_t cap = 4096;
    assert_int_equal(wal_writer_set_buffer(w, cap), 0);
    char *b = malloc(3u << 20); /* rec_len's largest (1 MiB), tripled for even records */
    assert_non_null(b);
    int n = 60;
    uint64_t size = 0;
    size_t used = 0; /* bytes in the writer's buffer */
    bool recovered = false;
    for (int i = 0; i < n; i++) {
        size_t len = rec_len(seed, i);
        if (i % 5 == 1) { /* exactly what is left in the buffer */
            size_t left = cap - used;
            /* Less than a header left: no record fits (the subtraction below would
               wrap to a length near 2^64), so fill the next buffer whole. */
            if (left < WAL_HEADER_SIZE)
                left = cap;
            len = left - WAL_HEADER_SIZE;
        } else if (i % 5 == 3)
            len = cap + (size_t)i; /* larger than the buffer */
        if (i % 2 == 0)
            len *= 3; /* even records keep the first third, as read_log expects */
        rec_fill(b, len, i);
        slice parts[3] = {slice_make(b, len / 3), slice_make(b + len / 3, len / 3),
                          slice_make(b + 2 * (len / 3), len - 2 * (len / 3))};
        if (i == 40) /* the flush this append starts (or the next) fails, torn */
            file_fault_arm(FILE_OP_WRITE, 1, ENOSPC, true, false);
        int rc = wal_writer_append(w, parts, i % 2 ? 3 : 1);
        if (rc == -ENOSPC) {
            recovered = true;
            file_fault_clear();
            assert_int_equal(wal_writer_recover(w), 0); /* writes the buffer out */
            used = 0;
            rc = wal_writer_append(w, parts, i % 2 ? 3 : 1);
        }
        assert_int_equal(rc, 0);
        /* an even record's payload is its first third */
        used = buffered_after(used, WAL_HEADER_SIZE + (i % 2 ? len : len / 3), cap);
        size = wal_writer_size(w);
    }
    assert_true(recovered);
    file_fault_clear();
    assert_int_equal(wal_writer_sync(w), 0);
    wal_writer_close(w);
    free(b);
    /* read back (lengths differ from rec_len's: check the bytes and the count) */
    wal_reader *r;
    assert_int_equal(wal_reader_open(path, 3, &r), 0);
    slice rec;
    int got = 0, rc;
    while ((rc = wal_reader_next(r, &rec)) == 1) {
        for (size_t j = 0; j < rec.len; j++)
            if (rec.data[j] != (char)(got * 31 + (int)j * 7))
                fail_msg("record %d byte %zu", got, j);
        got++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got, n);
    assert_int_equal(wal_reader_valid_end(r), size);
    wal_reader_close(r);
    tu_rmdir_free(dir);
}

int main(void)
{
    tu_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_round_trip),
        cmocka_unit_test(test_wal_same_length_multipart_records),
        cmocka_unit_test(test_wal_cut_at_every_byte_keeps_whole_records),
        cmocka_unit_test(test_wal_flipped_byte_in_middle_is_corruption),
        cmocka_unit_test(test_wal_stale_records_of_other_log_end_it),
        cmocka_unit_test(test_wal_write_error_is_sticky),
        cmocka_unit_test(test_wal_buffered_appends_cross_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

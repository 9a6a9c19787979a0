/*
 * wal.c - write-ahead log records (format in format.h and docs/format.md): the writer
 * appends header + payload parts with one pwritev at the end of the file; the reader
 * streams the file through a buffer and tells a torn tail (dropped) from corruption (an
 * error).
 *
 * End-of-log rules, in the order the reader applies them at a record boundary:
 *  (a) a header or payload cut short by the end of the file: torn tail, the log ends,
 *      unless a whole valid record of this log follows (a damaged length: corruption);
 *  (b) a header of 16 zero bytes: a preallocated or zero-filled tail, the log ends,
 *      unless a nonzero byte follows later in the file (then: corruption);
 *  (c) a record with a valid checksum but another log number: a stale record of a reused
 *      file, the log ends;
 *  (d) a complete record with a bad checksum (or a length over WAL_MAX_RECORD): if only
 *      zero bytes follow it to the end of the file and no whole valid record of this log
 *      starts after its header (its length may be the damaged part), a torn tail (the
 *      log ends); otherwise SHALE_ECORRUPT, with wal_reader_offset() at the bad record.
 * So a flipped byte inside the very last record reads as a torn tail: after a crash,
 * the last record is exactly the one that may have been half written.
 */
#include "wal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "file.h"
#include "format.h"
#include "shale.h"
#include "sync_point.h"

struct wal_writer {
    int fd;
    uint64_t log_number;
    uint64_t size;      /* bytes appended, buffered ones included */
    uint64_t allocated; /* bytes preallocated (the file's size while larger than size) */
    int error;          /* sticky until wal_writer_recover; atomic: without a buffer the
                           writer takes no lock and the sync thread reads it */
    bool sync_failed;   /* an fdatasync failed: what reached the disk is unknown */
    /* buffered mode */
    char *buf;
    size_t buf_len, buf_cap;
    pthread_mutex_t mu; /* guards buf and the file offset when buffered */
};

int wal_writer_open(const char *path, uint64_t log_number, uint64_t preallocate, wal_writer **out)
{
    *out = NULL;
    wal_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->fd = -1;
    int rc = file_open_write(path, true, &w->fd);
    if (rc == 0 && preallocate)
        rc = file_allocate(w->fd, preallocate);
    w->allocated = preallocate;
    if (rc) {
        if (w->fd > 0)
            file_close(w->fd);
        unlink(path);
        free(w);
        return rc;
    }
    w->log_number = log_number;
    *out = w;
    return 0;
}

/* Frames the record: fills header, returns the payload length (or -EINVAL). */
static int64_t frame(const wal_writer *w, const slice *parts, int n, char *header)
{
    uint64_t len = 0;
    for (int i = 0; i < n; i++)
        len += parts[i].len;
    if (len >= WAL_MAX_RECORD)
        return -EINVAL;
    encode_fixed32(header, (uint32_t)len);
    encode_fixed32(header + 4, (uint32_t)w->log_number);
    /* The checksum covers length and log number through the seed. */
    uint64_t seed = decode_fixed64(header), sum;
    if (n == 1) {
        sum = checksum64_seeded(parts[0].data, parts[0].len, seed);
    } else {
        XXH3_state_t st;
        /* A state on the stack must be initialized before a reset with a seed: the
           reset skips deriving the secret when the garbage's seed field already equals
           the seed, and then hashes with a stale secret (xxhash.h, XXH3_INITSTATE). */
        XXH3_INITSTATE(&st);
        XXH3_64bits_reset_withSeed(&st, seed);
        for (int i = 0; i < n; i++)
            XXH3_64bits_update(&st, parts[i].data, parts[i].len);
        sum = XXH3_64bits_digest(&st);
    }
    encode_fixed64(header + 8, sum);
    return (int64_t)len;
}

static int sticky_error(wal_writer *w)
{
    return __atomic_load_n(&w->error, __ATOMIC_RELAXED);
}

static int flush_locked(wal_writer *w)
{
    int err = sticky_error(w);
    if (err)
        return err;
    if (w->buf_len == 0)
        return 0;
    struct iovec v = {w->buf, w->buf_len};
    int rc = file_pwritev(w->fd, &v, 1, w->size - w->buf_len);
    if (rc) {
        __atomic_store_n(&w->error, rc, __ATOMIC_RELAXED);
        return rc;
    }
    w->buf_len = 0;
    return 0;
}

int wal_writer_set_buffer(wal_writer *w, size_t cap)
{
    char *b = malloc(cap);
    if (!b)
        return -ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    w->buf = b;
    w->buf_cap = cap;
    return 0;
}

int wal_writer_flush(wal_writer *w)
{
    if (!w->buf)
        return sticky_error(w);
    pthread_mutex_lock(&w->mu);
    int rc = flush_locked(w);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int append_direct(wal_writer *w, const slice *parts, int n);

int wal_writer_append(wal_writer *w, const slice *parts, int n)
{
    if (!w->buf)
        return append_direct(w, parts, n);
    char header[WAL_HEADER_SIZE];
    int64_t len = frame(w, parts, n, header);
    if (len < 0)
        return (int)len;
    size_t need = WAL_HEADER_SIZE + (size_t)len;
    pthread_mutex_lock(&w->mu);
    int rc = sticky_error(w);
    if (rc == 0 && w->buf_len + need > w->buf_cap)
        rc = flush_locked(w);
    if (rc == 0 && need > w->buf_cap) {
        rc = append_direct(w, parts, n); /* larger than the buffer: straight to the file */
    } else if (rc == 0) {
        memcpy(w->buf + w->buf_len, header, WAL_HEADER_SIZE);
        w->buf_len += WAL_HEADER_SIZE;
        for (int i = 0; i < n; i++) {
            if (parts[i].len)
                memcpy(w->buf + w->buf_len, parts[i].data, parts[i].len);
            w->buf_len += parts[i].len;
        }
        __atomic_store_n(&w->size, w->size + need, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int append_direct(wal_writer *w, const slice *parts, int n)
{
    int err = sticky_error(w);
    if (err)
        return err;
    char header[WAL_HEADER_SIZE];
    int64_t flen = frame(w, parts, n, header);
    if (flen < 0)
        return (int)flen;
    uint64_t len = (uint64_t)flen;
    struct iovec iov[9];
    struct iovec *v = n + 1 <= 9 ? iov : malloc((size_t)(n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    v[0].iov_base = header;
    v[0].iov_len = WAL_HEADER_SIZE;
    for (int i = 0; i < n; i++) {
        v[i + 1].iov_base = (void *)parts[i].data;
        v[i + 1].iov_len = parts[i].len;
    }
    /* at the end of what is in the file (nothing is buffered when this runs) */
    int rc = file_pwritev(w->fd, v, n + 1, w->size - w->buf_len);
    if (v != iov)
        free(v);
    if (rc) {
        __atomic_store_n(&w->error, rc, __ATOMIC_RELAXED);
        return rc;
    }
    SYNC_POINT("wal:appended"); /* in the file, not yet counted in size */
    __atomic_store_n(&w->size, w->size + WAL_HEADER_SIZE + len, __ATOMIC_RELAXED);
    return 0;
}

int wal_writer_sync(wal_writer *w)
{
    int rc = wal_writer_flush(w);
    if (rc)
        return rc;
    rc = file_fdatasync(w->fd);
    if (rc) {
        __atomic_store_n(&w->error, rc, __ATOMIC_RELAXED);
        __atomic_store_n(&w->sync_failed, true, __ATOMIC_RELAXED);
    }
    return rc;
}

int wal_writer_recover(wal_writer *w)
{
    if (w->buf)
        pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (__atomic_load_n(&w->sync_failed, __ATOMIC_RELAXED)) {
        rc = SHALE_EFAILED;
    } else if (sticky_error(w)) {
        /* The file holds whole records up to here; a failed write may have left part of
           a record after them. Cut it, then write the buffered records again. */
        uint64_t good_end = w->size - w->buf_len;
        rc = file_truncate(w->fd, good_end);
        if (rc == 0)
            rc = file_seek(w->fd, good_end);
        if (rc == 0) {
            w->allocated = good_end;
            __atomic_store_n(&w->error, 0, __ATOMIC_RELAXED);
            if (w->buf)
                rc = flush_locked(w);
        }
    }
    if (w->buf)
        pthread_mutex_unlock(&w->mu);
    return rc;
}

bool wal_writer_failed_sync(const wal_writer *w)
{
    return __atomic_load_n(&w->sync_failed, __ATOMIC_RELAXED);
}

int wal_writer_reserve(wal_writer *w, uint64_t upto)
{
    if (upto <= w->allocated)
        return 0;
    int rc = file_allocate(w->fd, upto);
    if (rc == 0)
        w->allocated = upto;
    return rc;
}

int wal_writer_finish(wal_writer *w)
{
    int rc = wal_writer_flush(w);
    if (rc == 0 && w->allocated > w->size)
        rc = file_truncate(w->fd, w->size);
    if (rc == 0)
        w->allocated = w->size;
    return rc;
}

uint64_t wal_writer_size(const wal_writer *w)
{
    return __atomic_load_n(&w->size, __ATOMIC_RELAXED);
}

uint64_t wal_writer_log_number(const wal_writer *w)
{
    return w->log_number;
}

int wal_writer_close(wal_writer *w)
{
    if (!w)
        return 0;
    int frc = wal_writer_flush(w);
    int rc = file_close(w->fd);
    if (w->buf) {
        pthread_mutex_destroy(&w->mu);
        free(w->buf);
    }
    free(w);
    return frc ? frc : rc;
}

/* ---- reader ---- */

#define READ_CHUNK (256u << 10)

struct wal_reader {
    int fd;
    uint64_t log_number;
    uint64_t file_size;
    char *buf;
    size_t cap;
    uint64_t buf_off; /* file offset of buf[0] */
    size_t buf_len;
    uint64_t pos;      /* next record's offset */
    uint64_t last_off; /* offset of the last record returned / the bad one */
    uint64_t valid_end;
    bool torn;
};

int wal_reader_open(const char *path, uint64_t log_number, wal_reader **out)
{
    *out = NULL;
    wal_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    int rc = file_open_read(path, &r->fd);
    if (rc == 0)
        rc = file_size(r->fd, &r->file_size);
    if (rc) {
        if (r->fd > 0)
            file_close(r->fd);
        free(r);
        return rc;
    }
    r->log_number = log_number;
    *out = r;
    return 0;
}

void wal_reader_skip_to(wal_reader *r, uint64_t offset)
{
    r->pos = r->valid_end = offset;
}

/* Makes bytes [off, off+n) available in the buffer; returns a pointer or NULL (-errno in
 *err) and never reads past the file size (the caller checks bounds first). */
static const char *wal_fetch(wal_reader *r, uint64_t off, size_t n, int *err)
{
    if (off >= r->buf_off && off + n <= r->buf_off + r->buf_len)
        return r->buf + (off - r->buf_off);
    size_t want = n > READ_CHUNK ? n : READ_CHUNK;
    if (want > r->file_size - off)
        want = (size_t)(r->file_size - off);
    if (want < n)
        want = n;
    if (want > r->cap) {
        char *p = realloc(r->buf, want);
        if (!p) {
            *err = -ENOMEM;
            return NULL;
        }
        r->buf = p;
        r->cap = want;
    }
    ssize_t got = file_pread(r->fd, r->buf, want, off);
    if (got < 0) {
        *err = (int)got;
        return NULL;
    }
    r->buf_off = off;
    r->buf_len = (size_t)got;
    if ((size_t)got < n) {
        *err = SHALE_ECORRUPT; /* the file shrank under us */
        return NULL;
    }
    return r->buf;
}

/* True when every byte from off to the end of the file is zero. */
static int zeros_to_end(wal_reader *r, uint64_t off, bool *all_zero)
{
    *all_zero = true;
    while (off < r->file_size) {
        size_t n = r->file_size - off > READ_CHUNK ? READ_CHUNK : (size_t)(r->file_size - off);
        int err = 0;
        const char *p = wal_fetch(r, off, n, &err);
        if (!p)
            return err;
        for (size_t i = 0; i < n; i++)
            if (p[i]) {
                *all_zero = false;
                return 0;
            }
        off += n;
    }
    return 0;
}

/*
 * Sets *found when a whole record of this log with a valid checksum starts after off.
 * A header whose length runs past the end of the file is a torn tail only when nothing
 * valid follows it; a flipped bit in the length of a record in the middle of the log
 * would otherwise drop every record after it silently. The search looks for the log
 * number (bytes 4..7 of every header) with memmem, so the zeros of a preallocated tail
 * cost little.
 */
static int record_follows(wal_reader *r, uint64_t off, bool *found)
{
    *found = false;
    char pat[4];
    encode_fixed32(pat, (uint32_t)r->log_number);
    uint64_t pos = off + 1;
    while (pos + WAL_HEADER_SIZE <= r->file_size) {
        size_t n = r->file_size - pos > READ_CHUNK ? READ_CHUNK : (size_t)(r->file_size - pos);
        int err = 0;
        const char *p = wal_fetch(r, pos, n, &err);
        if (!p)
            return err;
        const char *hit = memmem(p + 4, n - 4, pat, sizeof pat);
        if (!hit) {
            if (pos + n >= r->file_size)
                return 0;
            pos += n - 8; /* a header may straddle the chunk's end */
            continue;
        }
        uint64_t h = pos + (uint64_t)(hit - p) - 4;
        if (h + WAL_HEADER_SIZE <= r->file_size) {
            const char *hd = wal_fetch(r, h, WAL_HEADER_SIZE, &err);
            if (!hd)
                return err;
            uint32_t len = decode_fixed32(hd);
            uint64_t seed = decode_fixed64(hd), sum = decode_fixed64(hd + 8);
            if (len < WAL_MAX_RECORD && r->file_size - h - WAL_HEADER_SIZE >= len) {
                const char *body = wal_fetch(r, h + WAL_HEADER_SIZE, len, &err);
                if (!body)
                    return err;
                if (checksum64_seeded(body, len, seed) == sum) {
                    *found = true;
                    return 0;
                }
            }
        }
        pos = h + 1;
    }
    return 0;
}

static int end_torn(wal_reader *r)
{
    r->torn = true;
    return 0;
}

int wal_reader_next(wal_reader *r, slice *record)
{
    uint64_t off = r->pos;
    int err = 0;
    /* Past the end: skipped to a flushed position the file no longer reaches (a power
       cut took unsynced bytes whose records the tables already hold). */
    if (off >= r->file_size)
        return 0;
    if (r->file_size - off < WAL_HEADER_SIZE)
        return end_torn(r); /* (a) */
    const char *h = wal_fetch(r, off, WAL_HEADER_SIZE, &err);
    if (!h)
        return err;
    static const char zero[WAL_HEADER_SIZE];
    if (memcmp(h, zero, WAL_HEADER_SIZE) == 0) { /* (b) */
        bool all_zero;
        err = zeros_to_end(r, off, &all_zero);
        if (err)
            return err;
        r->last_off = off;
        if (!all_zero)
            return SHALE_ECORRUPT;
        return end_torn(r);
    }
    uint32_t len = decode_fixed32(h);
    uint32_t lognum = decode_fixed32(h + 4);
    uint64_t sum = decode_fixed64(h + 8);
    uint64_t seed = decode_fixed64(h);
    bool len_ok = len < WAL_MAX_RECORD;
    if (len_ok && r->file_size - off - WAL_HEADER_SIZE < len) { /* (a): payload cut short */
        bool follows;
        err = record_follows(r, off, &follows);
        if (err)
            return err;
        r->last_off = off;
        return follows ? SHALE_ECORRUPT : end_torn(r);
    }
    const char *p = NULL;
    if (len_ok) {
        p = wal_fetch(r, off + WAL_HEADER_SIZE, len, &err);
        if (!p)
            return err;
    }
    if (!len_ok || checksum64_seeded(p, len, seed) != sum) { /* (d) */
        bool all_zero = false;
        if (len_ok) {
            err = zeros_to_end(r, off + WAL_HEADER_SIZE + len, &all_zero);
            if (err)
                return err;
        }
        if (all_zero) { /* a damaged length may point into the zeros: look for records */
            bool follows;
            err = record_follows(r, off, &follows);
            if (err)
                return err;
            all_zero = !follows;
        }
        r->last_off = off;
        if (all_zero)
            return end_torn(r);
        return SHALE_ECORRUPT;
    }
    if (lognum != (uint32_t)r->log_number) /* (c) */
        return 0;
    r->last_off = off;
    r->pos = off + WAL_HEADER_SIZE + len;
    r->valid_end = r->pos;
    *record = slice_make(p, len);
    return 1;
}

uint64_t wal_reader_offset(const wal_reader *r)
{
    return r->last_off;
}

uint64_t wal_reader_valid_end(const wal_reader *r)
{
    return r->valid_end;
}

bool wal_reader_had_torn_tail(const wal_reader *r)
{
    return r->torn;
}

void wal_reader_close(wal_reader *r)
{
    if (!r)
        return;
    file_close(r->fd);
    free(r->buf);
    free(r);
}

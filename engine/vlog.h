/*
 * vlog.h - the value log (key-value separation, as in WiscKey and Badger). The WAL files
 * are the value log: a write is appended once, to the log, and when its memtable is
 * flushed a value of at least value_threshold bytes is not copied into the table; the
 * table keeps a pointer to the value's bytes inside the log record instead. A log file
 * that holds values some table points to is kept after its memtables are flushed and
 * becomes a value-log segment; logs roll at vlog_file_size, and at every memtable switch
 * while nothing in them can become a pointer (db.c, log_keeps_going), so that a log of
 * small values is deleted as soon as its memtable is flushed.
 *
 * Pointer (the value of a KIND_VPTR entry, 10 to 44 bytes, docs/format.md):
 *   varint64 expire_at_ms (0: never) | varint64 segment (log number) | varint64 offset of
 *   the value's first stored byte in the file | varint32 length | fixed32 low 32 bits of
 *   the value's XXH3-64 | varint32 stored length (0: stored as is; else its lz4 bytes)
 * Varints keep tables small (about 16 bytes a pointer), which is what compaction moves.
 * It starts with the expiry, so expiry checks need not decode the rest (format.h).
 *
 * Segments are reference counted by the versions that list them (version.h), so a
 * segment's file is deleted only when no reader, iterator or snapshot can reach it.
 */
#ifndef SHALE_VLOG_H
#define SHALE_VLOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "slice.h"

#define VPTR_MAX_SIZE 44

typedef struct vptr {
    uint64_t expire_at_ms;
    uint64_t segment;
    uint64_t offset;
    uint32_t len;        /* the value's length */
    uint32_t checksum;   /* of the value: low 32 bits of XXH3-64 */
    uint32_t stored_len; /* 0: stored as is; else its lz4 bytes in the file */
} vptr;

/* Bytes the value takes in its segment (what GC's counters add up). */
static inline uint64_t vptr_disk_len(const vptr *p)
{
    return p->stored_len ? p->stored_len : p->len;
}

/* Writes p to out (VPTR_MAX_SIZE bytes of room); returns the length. */
size_t vptr_encode(char *out, const vptr *p);
/* SHALE_ECORRUPT when v is not a pointer. */
int vptr_decode(slice v, vptr *p);

struct version_set;

/*
 * One segment. The counters are the space accounting GC picks by, persisted as manifest
 * records: `pointed` is the value bytes flushes made tables point to, `discarded` the bytes
 * of pointers compactions dropped since (shadowed, deleted, expired, filtered). Live bytes
 * are pointed - discarded; everything else in the file (keys, small values, values
 * overwritten before their flush, framing) is garbage from the start.
 */
typedef struct vlog_segment {
    uint64_t number;
    atomic_int refs;             /* versions holding it */
    atomic_bool obsolete;        /* removed by an edit: delete the file at the last unref */
    atomic_uint_fast64_t pointed;   /* bytes */
    atomic_uint_fast64_t discarded; /* bytes */
    /* Of those, the pointers with an expiry, and the latest expiry among them: once it
       has passed, every expiring value of the segment is garbage even if no compaction
       has dropped its pointer yet (space comes back after a TTL without a compaction). */
    atomic_uint_fast64_t exp_pointed, exp_discarded, exp_max;
    char *path;
} vlog_segment;

/* A new segment with one reference. NULL on ENOMEM. */
vlog_segment *vlog_segment_new(const char *dir, uint64_t number);
void vlog_segment_ref(vlog_segment *s);
/* Drops a reference; at the last one, when obsolete, tells vs (may be NULL) the log file
   can be deleted. */
void vlog_segment_unref(vlog_segment *s, struct version_set *vs);

struct table_cache;
/*
 * Reads the value p points to into *out (malloc'ed, NUL-terminated, the caller frees) with
 * one pread (then lz4 decoding when stored compressed) and verifies its checksum. The
 * file's descriptor comes from tc, which bounds open files (max_open_files); with tc NULL
 * the file is opened for this read only. Errors: SHALE_ECORRUPT (missing or short file,
 * undecodable, checksum mismatch), -errno, -ENOMEM.
 */
int vlog_segment_read(vlog_segment *s, struct table_cache *tc, const vptr *p, char **out);
/* The file's size in bytes (0 when it cannot be read). */
uint64_t vlog_segment_file_size(vlog_segment *s);
/* Live bytes the counters leave at now_ms (at least 0). */
uint64_t vlog_segment_live(const vlog_segment *s, uint64_t now_ms);
/* The share of the file that is garbage at now_ms (0..1), with the file's size and live
   bytes through *size and *live. */
double vlog_segment_garbage(vlog_segment *s, uint64_t now_ms, uint64_t *size, uint64_t *live);

/* For crash tests: the process _exits with VLOG_GC_CRASH_EXIT at GC step `step` (1 after
   the pick, 2 after a batch of rewrites, 3 after the rewrites are synced, 4 after the
   manifest dropped the segment, 5 after its file was deleted; 0: never). vlog_gc.c. */
#define VLOG_GC_CRASH_EXIT 77
void vlog_gc_crash_at(int step);

#endif

/*
 * shale.h - the public API of libshale, a persistent LSM key-value store.
 *
 * Conventions (see docs/ for more):
 *  - Every function that can fail returns 0 or a negative code: -errno for operating
 *    system failures, SHALE_E* (below -4095) for shale's own. shale_strerror() names both.
 *  - Output parameters come last and are set to NULL/0 on failure.
 *  - Buffers returned to the caller are allocated with malloc() and owned by the caller,
 *    who frees them with shale_free() (or free()). Pointers returned by the iterator
 *    accessors belong to the iterator and stay valid until it moves or is freed.
 *  - Keys and values are byte strings; keys compare bytewise (memcmp, shorter first).
 *  - All functions taking a shale_db are thread-safe unless stated otherwise. A
 *    shale_batch and a shale_iter must be used by one thread at a time.
 *
 * This header is not a description of the internals; it is the whole contract.
 */
#ifndef SHALE_H
#define SHALE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHALE_VERSION_MAJOR 0
#define SHALE_VERSION_MINOR 1
#define SHALE_VERSION_PATCH 0
#define SHALE_VERSION_STRING "0.1.0"

#define SHALE_MAX_KEY_SIZE (1u << 20)   /* 1 MiB */
#define SHALE_MAX_VALUE_SIZE (1u << 29) /* 512 MiB, as Redis's proto-max-bulk-len */

/* ---- Error codes (shale's own; OS failures are returned as -errno) ---------------- */

#define SHALE_ENOTFOUND -4096  /* the key has no live value (absent, deleted or expired) */
#define SHALE_ECORRUPT -4097   /* a checksum or structure check failed on persistent data */
#define SHALE_EBUSY -4098      /* the directory is locked by another process */
#define SHALE_ESTALL -4099     /* a write stalled longer than write_stall_timeout_ms */
#define SHALE_EFAILED -4100    /* an earlier write failed; writes refused (shale_resume) */
#define SHALE_EVERSION -4101   /* a file has a format version this build cannot read */
#define SHALE_ENOREWRITE -4102 /* value-log GC found no segment worth rewriting */
#define SHALE_ECLOSING -4103   /* the database is being closed */
#define SHALE_ENOTSUP -4104    /* the option or operation is not supported */
#define SHALE_ESEQ -4105       /* shale_write_at: the record's first sequence is not above
                                  the store's last one (applied already, or another writer) */

/* Names an error code (shale's own or -errno). Never returns NULL; the string is static. */
const char *shale_strerror(int code);

/* ---- Options ---------------------------------------------------------------------- */

typedef enum shale_compaction_style {
    SHALE_COMPACTION_LEVELED = 0, /* RocksDB level style: L0 -> L1 -> ... by score */
    SHALE_COMPACTION_TIERED = 1,  /* RocksDB universal: merge similar-sized sorted runs */
    SHALE_COMPACTION_FIFO = 2,    /* cache data: drop the oldest tables over fifo_max_size */
} shale_compaction_style;

typedef enum shale_compression {
    SHALE_COMPRESSION_NONE = 0,
    SHALE_COMPRESSION_LZ4 = 1,
} shale_compression;

/*
 * Every knob of the engine. Fill it with shale_options_default() and change what you
 * need; the defaults below are the documented ones (docs/tuning.md explains each).
 */
typedef struct shale_options {
    int create_if_missing; /* 1: create the directory and database when absent */
    int error_if_exists;   /* 0: 1 makes shale_open fail with -EEXIST on an existing db */

    /* Memtables (Badger MemTableSize/NumMemtables, RocksDB write_buffer_size/number) */
    size_t memtable_size; /* 64 MiB: bytes before the active memtable becomes immutable */
    int num_memtables;    /* 2: active + immutable memtables before writes stop */

    /* Write-ahead log */
    int sync_writes;           /* 0: 1 = a write returns after its WAL record is durable */
    uint32_t sync_interval_ms; /* 1000: background WAL fdatasync period when sync_writes=0 */
    int manual_wal_flush;      /* 0: 1 keeps WAL records in a 1 MiB buffer until
                                  shale_flush_wal, shale_sync or a full buffer (RocksDB's
                                  manual_wal_flush): one write per batch of writes instead
                                  of one per write; a crash loses what was not flushed */

    /* Level 0 and write stalls (RocksDB level0_*_trigger, Badger NumLevelZeroTables*) */
    int l0_compaction_trigger;       /* 4: L0 tables that start an L0 compaction */
    int l0_slowdown_trigger;         /* 20: L0 tables from which writes are delayed */
    int l0_stop_trigger;             /* 36: L0 tables at which writes wait for compaction */
    uint64_t delayed_write_rate;     /* 16 MiB/s: write rate at the slowdown trigger; it
                                        falls as L0 grows towards the stop trigger */
    uint32_t write_stall_timeout_ms; /* 0 (wait): a stalled write fails with SHALE_ESTALL
                                        after this long */

    /* Compaction */
    shale_compaction_style compaction_style; /* leveled */
    int num_compactors;                      /* 1: background compaction threads (flushes have
                                                their own thread) */
    int num_levels;                          /* 7 */
    uint64_t base_level_size;          /* 256 MiB: target size of L1 (max_bytes_for_level_base) */
    int level_size_multiplier;         /* 10: each level's target is this times the previous */
    uint64_t table_size;               /* 64 MiB: target size of a compaction output table */
    uint64_t compaction_rate_limit;    /* 0 (unlimited): bytes/s of compaction+flush writes */
    uint64_t fifo_max_size;            /* 1 GiB: fifo style drops oldest tables above this */
    int tiered_size_ratio;             /* 1 (%): universal size_ratio */
    int tiered_min_merge_width;        /* 2: fewest sorted runs merged at once */
    int tiered_max_size_amplification; /* 200 (%): full merge when older runs exceed this
                                          percentage of the oldest run */
    /* Tombstone density (leveled and tiered; Kvrocks's compaction checker, RocksDB's
       CompactOnDeletionCollector): a table whose tombstones are at least
       tombstone_compaction_ratio % of its entries, and that holds at least
       tombstone_compaction_min_entries entries, is compacted on its own (into the level
       below, or by itself at the bottom, where its tombstones go) once no size-triggered
       compaction is due, without waiting for its level to fill. */
    int tombstone_compaction_ratio;            /* 50 (%); 0 turns the trigger off */
    uint64_t tombstone_compaction_min_entries; /* 1000 */
    /* An iterator move (seek, next, prev) that steps over at least this many hidden table
       entries (tombstones, and versions they or newer writes shadow) marks the tables
       under the range it crossed for the same compaction (read-triggered, as Pebble's).
       0 turns it off. */
    uint64_t iter_skip_compaction_trigger; /* 1000 */
    /* NULL (none): called from compaction threads for each live entry a compaction
       keeps that every snapshot sees (value without its expiry); returning 1 drops it.
       Dropping says the key and all its older versions are garbage: an older version
       in a lower level may read again until compaction reaches it too. job numbers the
       compaction run (its inputs were all written before it started), so a filter may
       cache what it looked up for the run. A value kept in the value log is passed
       as NULL with its length (it is not read back). Used by the server to drop hash
       fields of deleted hashes and keys of flushed databases. */
    int (*compaction_filter)(void *ctx, uint64_t job, const void *key, size_t klen, const void *val,
                             size_t vlen);
    void *compaction_filter_ctx;

    /* Tables and the read path */
    shale_compression compression; /* lz4: per block, kept raw when not smaller */
    size_t block_size;             /* 4096: uncompressed bytes per data block */
    int block_restart_interval;    /* 16: keys between restart points in a block */
    size_t block_cache_size;       /* 32 MiB: uncompressed block cache, sharded LRU */
    int bloom_bits_per_key;        /* 10 (about 1 % false positives); 0 disables */
    int max_open_files;            /* 1000: open files kept (tables and value-log segments) */

    /* Value log (key-value separation) */
    size_t value_threshold;       /* 512: values at least this large stay in the value log
                                     (the WAL files) when flushed, tables keep a pointer; 0 keeps
                                     every value in the tables (fifo style always does) */
    uint64_t vlog_file_size;      /* 256 MiB: a log rolls to a new segment at this size */
    uint32_t vlog_gc_interval_s;  /* 300: background GC runs this often; 0 turns it off */
    double vlog_gc_discard_ratio; /* 0.7: background GC rewrites a segment only when at
                                     least this fraction of it is garbage */
    int vlog_gc_rewrite;          /* 1: GC rewrites live values (they take sequence
                                     numbers); 0 (reclaim only, for a replica): GC never
                                     writes and deletes only segments with no live value */

    /* Replication hooks (docs/tuning.md "Replication hooks"; fixed at open).
       NULL (none): called by the write leader for every log record it writes (user
       writes, value-log GC's rewrites, shale_write_at's records), in sequence order,
       with the record's write batch as encoded before compression (docs/format.md
       "Write batch": fixed64 first sequence | fixed32 count | entries; count > 0), after
       the record is in the log (with sync_writes, after it is durable) and before its
       writes become visible to reads. rep is valid during the call only. It runs while
       every other write waits: it must be cheap (copy the bytes and return) and must not
       call any shale_* function on this db (a write would deadlock). A record whose
       write fails before it is in the log (or, with sync_writes, durable) is not passed;
       the store then refuses writes (shale_background_error). */
    void (*commit_tap)(void *ctx, const void *rep, size_t len);
    void *commit_tap_ctx;
} shale_options;

/* Fills *opts with the documented defaults. */
void shale_options_default(shale_options *opts);

/* ---- Opening and closing ---------------------------------------------------------- */

typedef struct shale_db shale_db;

/*
 * Opens (or creates, with create_if_missing) the database in directory `path`.
 * opts may be NULL for the defaults. Recovers the manifest, then the write-ahead log.
 * Errors: -ENOENT (absent, create_if_missing=0), -EEXIST (error_if_exists), -EINVAL
 * (bad option), SHALE_EBUSY (locked by another process or handle), SHALE_ECORRUPT (a
 * damaged manifest, table or WAL record; the message in the log names file and offset),
 * SHALE_EVERSION, -errno. On success *out is a handle that shale_close releases.
 */
int shale_open(const char *path, const shale_options *opts, shale_db **out);

/*
 * Flushes the WAL to disk, waits for background work to stop and frees the handle.
 * Returns the first error met while closing (the handle is freed anyway). NULL: no-op.
 */
int shale_close(shale_db *db);

/* Removes every file of the database in `path` (which must not be open). */
int shale_destroy(const char *path);

/* ---- Writing ---------------------------------------------------------------------- */

/*
 * Writes key -> value. expire_at_ms is a Unix time in milliseconds after which the entry
 * reads as absent and compaction may drop it; 0 means never. Returns 0 once the write is
 * in the WAL (and durable, with sync_writes). Errors: SHALE_ESTALL, SHALE_EFAILED,
 * SHALE_ECLOSING, -EINVAL (empty key, key over SHALE_MAX_KEY_SIZE or value over
 * SHALE_MAX_VALUE_SIZE), -errno.
 */
int shale_put(shale_db *db, const void *key, size_t klen, const void *val, size_t vlen,
              uint64_t expire_at_ms);

/* Deletes key (a tombstone; succeeds whether or not the key exists). Errors as shale_put. */
int shale_delete(shale_db *db, const void *key, size_t klen);
/* Deletes every key in [begin, end) in one write (shale_batch_delete_range). Errors as
   shale_put, and -EINVAL when end is before begin. */
int shale_delete_range(shale_db *db, const void *begin, size_t blen, const void *end, size_t elen);

/* An atomic group of writes: all of it is visible and durable, or none of it. */
typedef struct shale_batch shale_batch;

/* Allocates an empty batch, freed with shale_batch_free. Errors: -ENOMEM. */
int shale_batch_new(shale_batch **out);
/* Adds a put or a delete; later entries of a batch win over earlier ones. -EINVAL/-ENOMEM */
int shale_batch_put(shale_batch *b, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t expire_at_ms);
int shale_batch_delete(shale_batch *b, const void *key, size_t klen);
/*
 * Adds a range deletion: every key k with begin <= k < end (bytewise), whatever was
 * written to it before this entry, in this batch or earlier, reads as absent; later
 * entries of the batch, and later writes, are not affected. One entry, whatever the
 * range holds: reads, iterators and snapshots taken before the write still see the keys,
 * compaction drops what it covers, and value-log GC counts their values as garbage.
 * begin == end deletes nothing (and adds no entry). -EINVAL (an empty key, a key over
 * SHALE_MAX_KEY_SIZE, end before begin), -ENOMEM.
 */
int shale_batch_delete_range(shale_batch *b, const void *begin, size_t blen, const void *end,
                             size_t elen);
/* Empties the batch for reuse. */
void shale_batch_clear(shale_batch *b);
/* Number of entries and encoded bytes in the batch. */
uint32_t shale_batch_count(const shale_batch *b);
size_t shale_batch_size(const shale_batch *b);
/* NULL: no-op. */
void shale_batch_free(shale_batch *b);

/* What an entry of an encoded write batch does (shale_batch_rep_iterate). */
typedef enum shale_entry_kind {
    SHALE_ENTRY_DELETE = 0,       /* key deleted (value empty) */
    SHALE_ENTRY_PUT = 1,          /* key set to value, with expire_at_ms (0: none) */
    SHALE_ENTRY_RANGE_DELETE = 4, /* keys from key (inclusive) to value (exclusive) deleted */
} shale_entry_kind;

/*
 * Reads an encoded write batch as the commit tap gives it (rep, len bytes: docs/format.md
 * "Write batch"): calls fn for each entry in order, with its sequence number, kind, key
 * and value (valid during the call only) and expiry. fn returns 0 to go on. For a
 * replica that must know what a record changes before it applies it (shale_write_at).
 * Returns 0, fn's non-zero code, -EINVAL (rep NULL) or SHALE_ECORRUPT (it does not
 * decode). -ENOMEM when a compressed value cannot be decoded for want of memory.
 */
int shale_batch_rep_iterate(const void *rep, size_t len,
                            int (*fn)(void *arg, uint64_t seq, shale_entry_kind kind,
                                      const void *key, size_t klen, const void *val,
                                      size_t vlen, uint64_t expire_at_ms),
                            void *arg);

/* The sequences an encoded batch covers, from its header (docs/format.md "Write batch"):
   1 with *first and *last, 0 when it is too short or has no entries. */
int shale_batch_rep_range(const void *rep, size_t len, uint64_t *first, uint64_t *last);

/* Applies the batch atomically. Errors as shale_put. The batch is not modified. */
int shale_write(shale_db *db, const shale_batch *b);

/*
 * Makes every write that has returned so far durable (fdatasync of the WAL, older logs
 * first). With sync_writes=0 this lets a caller commit many writes with one sync, e.g. a
 * server that syncs once per event-loop round on a commit thread before replying.
 * Errors: -errno of the sync (after which writes are refused: SHALE_EFAILED), SHALE_EFAILED.
 */
int shale_sync(shale_db *db);

/*
 * With manual_wal_flush: writes the buffered WAL records to the log file (no fsync), so
 * that they survive a crash of the process (not of the machine). A caller that replies to
 * clients calls it before replying. 0 or -errno (then writes are refused: SHALE_EFAILED).
 */
int shale_flush_wal(shale_db *db);

/*
 * After a log write failed (a full disk, say), writes are refused with SHALE_EFAILED and
 * reads go on. shale_background_error returns that first error (-ENOSPC, -EIO, ...), or 0
 * while writes are accepted. Once the cause is gone, shale_resume cuts what the failed
 * write left of a record, writes the records that were waiting in the buffer and lets
 * writes through again (as RocksDB's DB::Resume). Returns 0 when writes are accepted
 * (or already were), -errno when the cause persists (call again later), SHALE_EFAILED
 * when only a reopen can recover: an fdatasync failed (the kernel may have dropped pages
 * it could not write; what reached the disk is known only by reading the log back) or a
 * memtable allocation failed. Flush and compaction failures need no resume: they retry
 * on their own, and writes get their error while the memtables are full.
 */
int shale_background_error(shale_db *db);
int shale_resume(shale_db *db);

/* ---- Reading ---------------------------------------------------------------------- */

typedef struct shale_snapshot shale_snapshot;

typedef struct shale_read_options {
    const shale_snapshot *snapshot; /* NULL: the latest state */
    const void *lower_bound;        /* iterators: first key allowed (inclusive), or NULL */
    size_t lower_bound_len;
    const void *upper_bound; /* iterators: keys must be below this (exclusive), or NULL */
    size_t upper_bound_len;
    int fill_cache;      /* 1: blocks read are added to the block cache (0 for scans) */
    int include_expired; /* 0: 1 returns entries past their expiry too (with it), for a
                            caller that judges expiry itself, e.g. a server's key counts */
} shale_read_options;

/* Fills *ro with: latest state, no bounds, fill_cache=1, include_expired=0. */
void shale_read_options_default(shale_read_options *ro);

/*
 * Reads key. On success *val is a malloc'ed copy (caller frees with shale_free; a
 * terminating NUL is added after vlen bytes for convenience), *vlen its length.
 * Errors: SHALE_ENOTFOUND, SHALE_ECORRUPT, -errno.
 */
int shale_get(shale_db *db, const void *key, size_t klen, void **val, size_t *vlen);

/*
 * shale_get with read options (ro may be NULL) that also reports the entry's expiry
 * (0 = none) in *expire_at_ms when that pointer is not NULL. val (and vlen) may be NULL
 * to ask only whether the key exists and when it expires: the value is then neither
 * copied nor, when it sits in the value log, read.
 */
int shale_get_ex(shale_db *db, const shale_read_options *ro, const void *key, size_t klen,
                 void **val, size_t *vlen, uint64_t *expire_at_ms);

/* A consistent point-in-time view. Release every snapshot before shale_close. */
int shale_snapshot_new(shale_db *db, const shale_snapshot **out);
void shale_snapshot_release(shale_db *db, const shale_snapshot *snap);

/* ---- Iterators -------------------------------------------------------------------- */

typedef struct shale_iter shale_iter;

/*
 * Creates an iterator over live entries (tombstones and expired entries are skipped),
 * positioned nowhere (not valid) until a seek. It pins the files it reads: free it.
 * The bound buffers in ro are copied. Errors: -ENOMEM, -errno.
 */
int shale_iter_new(shale_db *db, const shale_read_options *ro, shale_iter **out);
void shale_iter_seek_to_first(shale_iter *it);
void shale_iter_seek_to_last(shale_iter *it);
/* First key >= key. */
void shale_iter_seek(shale_iter *it, const void *key, size_t klen);
/* Last key <= key. */
void shale_iter_seek_for_prev(shale_iter *it, const void *key, size_t klen);
void shale_iter_next(shale_iter *it);
void shale_iter_prev(shale_iter *it);
/* 1 when positioned on an entry, 0 otherwise (end, or an error: see shale_iter_status). */
int shale_iter_valid(const shale_iter *it);
/* The current key/value; owned by the iterator, valid until it moves or is freed.
   A value kept in the value log is read here: when that read fails the value is NULL,
   the iterator becomes invalid and shale_iter_status says why (SHALE_ECORRUPT, -errno). */
const void *shale_iter_key(const shale_iter *it, size_t *klen);
const void *shale_iter_value(const shale_iter *it, size_t *vlen);
/* The current entry's expiry in Unix ms (0 = none). */
uint64_t shale_iter_expire_at(const shale_iter *it);
/* 0, or the first error met (SHALE_ECORRUPT, -errno). */
int shale_iter_status(const shale_iter *it);
/* NULL: no-op. */
void shale_iter_free(shale_iter *it);

/*
 * A random point of [lo, hi) (hi NULL: unbounded) drawn from where the data is: a table
 * chosen with probability proportional to its size, then a point between its first and
 * last keys. Seek an iterator to it for a random key near uniform over the tables'
 * keys, whatever the keys' shapes (memtable contents are not sampled). The point goes to
 * out (at most cap bytes), its length to *len. rnd: random bits. 0, -ENOENT when no
 * table holds keys of the range, -EINVAL.
 */
int shale_sample_point(shale_db *db, const void *lo, size_t lol, const void *hi, size_t hil,
                       uint64_t rnd, void *out, size_t cap, size_t *len);

/* ---- Maintenance and statistics --------------------------------------------------- */

/* Turns the active memtable into a table and waits until it is on disk. */
int shale_flush(shale_db *db);

/*
 * Compacts the key range [begin, end] (NULL begin/end: open ends) down to the last level
 * (leveled/tiered), dropping shadowed versions, bottom tombstones and expired entries.
 * Waits until done. Errors: -errno, SHALE_ECORRUPT, SHALE_ECLOSING.
 */
int shale_compact_range(shale_db *db, const void *begin, size_t blen, const void *end, size_t elen);

/*
 * Value-log garbage collection, one segment per call (Badger's RunValueLogGC): picks the
 * flushed segment with the largest share of garbage (bytes no table points to any more:
 * overwritten, deleted or expired values, keys, small values); when that share is below
 * discard_ratio (0 < ratio < 1) returns SHALE_ENOREWRITE. Otherwise streams the segment
 * (bounded memory), writes each value the store still points to again through the
 * normal write path (a value overwritten meanwhile is left alone), syncs, and deletes
 * the segment's file once no snapshot, iterator or read can reach it (at once, or when
 * the last older snapshot is released). Reads and writes go on meanwhile; GC's writes
 * wait while foreground writes are stalled. The discard figures come from compactions
 * (shale_compact_range first refreshes them all) and from expiry.
 * With vlog_gc_rewrite 0 (reclaim only) GC never writes (takes no sequence number): it
 * picks only segments whose live bytes are 0 (every value overwritten, deleted or
 * expired, as compactions and expiry counted them), checks while streaming that no value
 * is still live (else the segment stays and the call returns SHALE_ENOREWRITE) and
 * deletes them as above.
 * Errors: SHALE_ENOREWRITE, -EINVAL, SHALE_ECORRUPT (the segment; nothing is deleted),
 * SHALE_EFAILED, SHALE_ECLOSING, -errno.
 */
int shale_vlog_gc(shale_db *db, double discard_ratio);

/*
 * A statistic by name, as text in *out (malloc'ed, caller frees with shale_free).
 * "shale.stats" prints the per-level table and the stall, cache and memtable figures;
 * every numeric property (list in docs/tuning.md) is also available as text.
 * Errors: -ENOENT (unknown name), -ENOMEM.
 */
int shale_property(shale_db *db, const char *name, char **out);

/* A numeric statistic by name (see docs/tuning.md). Errors: -ENOENT, -EINVAL (not numeric). */
int shale_property_int(shale_db *db, const char *name, uint64_t *out);

/*
 * Changes a knob at run time: memtable_size, l0_compaction_trigger, l0_slowdown_trigger,
 * l0_stop_trigger, delayed_write_rate, write_stall_timeout_ms, compaction_rate_limit,
 * sync_writes, sync_interval_ms, fifo_max_size, block_cache_size,
 * tombstone_compaction_ratio, tombstone_compaction_min_entries,
 * iter_skip_compaction_trigger, value_threshold, vlog_file_size, vlog_gc_interval_s,
 * vlog_gc_discard_ratio, vlog_gc_rewrite (value as decimal text,
 * sizes may end in k, m or g; booleans as yes/no/1/0). Errors: -ENOENT (unknown or not
 * changeable at run time), -EINVAL (bad value).
 */
int shale_set_option(shale_db *db, const char *name, const char *value);

/* ---- Checkpoints (backups, replication's full sync) ------------------------------- */

/*
 * Makes dest, a directory that must not exist, hold an openable copy of the store with
 * every write that returned before the call began (and none that began after it took its
 * moment): tables and closed logs are hard-linked (copied where the file system has no
 * links, e.g. dest on another one), the active log copied up to its last whole record, a
 * fresh manifest written. The copy is built in "<dest>.checkpoint-tmp" (removed first if
 * a crash left it), every file and directory synced, then renamed to dest: after a crash
 * dest is absent or whole. Reads, writes, flushes, compactions and value-log GC go on
 * meanwhile; file deletions wait until the files are linked. Opening dest gives the store
 * as of the checkpoint, and *seq is the last sequence number it holds (what the store's
 * last sequence was at that moment). A hard link shares the file with the store: dest
 * must not be written to while the store also runs (open it elsewhere after a copy, or
 * open it in place: a store never changes an existing table or closed log).
 * Errors: -EEXIST (dest exists), -EINVAL, SHALE_EFAILED (the store refuses writes after a
 * failed log write: shale_resume first), SHALE_ECORRUPT (a log shorter than what was
 * written to it), -ENAMETOOLONG, -ENOMEM, -errno (dest is then absent, except when only
 * the final sync of dest's parent directory failed: dest is whole but may not survive a
 * power cut). *seq is 0 on failure.
 */
int shale_checkpoint(shale_db *db, const char *dest, uint64_t *seq);

/* ---- Replication ------------------------------------------------------------------ */

/*
 * The last sequence number visible to reads: the last entry of the last record written
 * (or applied with shale_write_at). Sequence numbers only grow; after a reopen this is
 * the last sequence recovered. 0 for an empty store (or db NULL).
 */
uint64_t shale_last_seq(shale_db *db);

/*
 * Applies an encoded write batch as the commit tap gave it (rep, len bytes: fixed64 first
 * sequence | fixed32 count | entries, docs/format.md), with ITS sequence numbers: entry i
 * gets first + i, and shale_last_seq becomes first + count - 1. first must be above
 * shale_last_seq; it may be more than one above (the sequences between are skipped, and
 * a reopen keeps them skipped). The record goes through the normal write path (the log,
 * sync_writes, stalls) alone, never merged with another writer's batch, so it is durable
 * as any write and a reopen recovers it with the same sequences; a crash keeps a prefix
 * of the applied records. A store that takes shale_write_at records must take no other
 * writes (a replica only applies; run its value-log GC with vlog_gc_rewrite 0, since GC's
 * rewrites take sequence numbers): a record whose sequences another write has taken
 * meanwhile fails with SHALE_ESEQ. rep is not modified and is not kept after the call.
 * Errors: SHALE_ESEQ (first <= shale_last_seq), -EINVAL (db or rep NULL, a rep that does
 * not decode, a count of 0, a compressed value, a key or value over the limits, a last
 * sequence past 2^56 - 1), and shale_write's (SHALE_ESTALL, SHALE_EFAILED, SHALE_ECLOSING,
 * -errno, -ENOMEM).
 */
int shale_write_at(shale_db *db, const void *rep, size_t len);

/* Frees a buffer returned by shale_get or shale_property. NULL: no-op. */
void shale_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* SHALE_H */

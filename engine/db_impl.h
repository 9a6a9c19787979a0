/*
 * db_impl.h - the inside of a shale_db, shared by db.c (open, write path, reads),
 * flush.c, compaction.c, db_iter.c and stats.c. Not part of the public API.
 *
 * Locking: `mu` guards the memtable list, the version set's current version, the writer
 * queue, snapshots and background-work bookkeeping. Reads never take it: they reference
 * a super_version (the memtables and version of one moment) under the sv_lock spinlock
 * and then run unlocked.
 */
#ifndef SHALE_DB_IMPL_H
#define SHALE_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "block_cache.h"
#include "format.h"
#include "memtable.h"
#include "options.h"
#include "shale.h"
#include "table_cache.h"
#include "version.h"
#include "wal.h"
#include "write_batch.h"

#define MAX_IMMUTABLES 64

/* The memtables and tables readers see at one moment; reference counted. */
typedef struct super_version {
    atomic_int refs;
    memtable *mem;
    memtable *imm[MAX_IMMUTABLES]; /* newest first */
    int n_imm;
    version *v;
} super_version;

/* A WAL file that may still need a sync before it is closed (see db.c). */
typedef struct wal_file {
    wal_writer *w;
    atomic_int refs;
    uint64_t number;
    uint64_t synced; /* bytes known durable */
    atomic_bool dir_synced; /* its directory entry is durable (a directory sync since) */
    /* Some memtable switched out of it held a value a flush may turn into a pointer into
       this file (db.c, log_keeps_going; mu). */
    bool may_hold_pointers;
    struct wal_file *next;
} wal_file;

/* A thread waiting in the write queue (group commit, LevelDB style). */
typedef struct writer {
    const shale_batch *batch; /* NULL: a sync request without data */
    bool sync;
    bool filtered; /* db_write_filtered: goes as a group of its own */
    bool at;       /* db_write_at: its own sequences, a group of its own */
    bool done;
    int status;
    pthread_cond_t cv;
    struct writer *next;
} writer;

struct shale_snapshot {
    uint64_t seq;
    struct shale_snapshot *prev, *next;
};

enum stall_cause { STALL_L0_SLOWDOWN = 0, STALL_L0_STOP, STALL_MEMTABLE, STALL_CAUSES };

/* Counters; all atomics, updated with relaxed order. */
typedef struct db_stats {
    atomic_uint_fast64_t stall_count[STALL_CAUSES];
    atomic_uint_fast64_t stall_micros[STALL_CAUSES];
    atomic_uint_fast64_t stall_timeouts;
    atomic_uint_fast64_t dropped_by_filter;
    atomic_uint_fast64_t stall_timeouts_memtable; /* of which while memtables were full */
    atomic_uint_fast64_t user_bytes_written; /* keys + values of writes */
    atomic_uint_fast64_t wal_bytes;
    atomic_uint_fast64_t wal_syncs;
    atomic_uint_fast64_t wal_sync_micros;
    atomic_uint_fast64_t group_wait_micros; /* leaders waiting for a full sync group */
    atomic_uint_fast64_t flush_bytes;       /* L0 tables written by flushes */
    atomic_uint_fast64_t flush_count;
    atomic_uint_fast64_t compact_read_bytes[SHALE_MAX_LEVELS];  /* by output level */
    atomic_uint_fast64_t compact_write_bytes[SHALE_MAX_LEVELS]; /* by output level */
    atomic_uint_fast64_t compact_count;
    atomic_uint_fast64_t compact_micros;
    atomic_uint_fast64_t trivial_moves;
    atomic_uint_fast64_t tombstone_compactions; /* jobs the tombstone density picked */
    atomic_uint_fast64_t iter_skipped;    /* hidden table entries iterators stepped over */
    atomic_uint_fast64_t iter_skip_hints; /* iterator moves that marked tables for it */
    atomic_uint_fast64_t bg_errors;
    atomic_uint_fast64_t dropped_expired;
    atomic_uint_fast64_t dropped_tombstones;
    atomic_uint_fast64_t dropped_range_deleted; /* entries a range tombstone covered */
    atomic_uint_fast64_t dropped_shadowed;
    atomic_uint_fast64_t fifo_deleted_bytes;
    atomic_uint_fast64_t num_writes, num_gets, num_write_groups;
    atomic_uint_fast64_t vlog_gc_runs;            /* GC calls that rewrote a segment */
    atomic_uint_fast64_t vlog_gc_rewritten_bytes; /* live values GC wrote again */
    atomic_uint_fast64_t vlog_gc_deleted_segments, vlog_gc_deleted_bytes;
    atomic_uint_fast64_t write_scratch_bytes; /* the leader's buffers kept between writes */
} db_stats;

struct compaction;

struct shale_db {
    char *dir;
    shale_options opts; /* knobs changeable at run time are read with __atomic loads */
    int lock_fd;
    FILE *info_log;

    pthread_mutex_t mu;
    pthread_cond_t bg_cv;   /* background progress: a flush or compaction finished */
    pthread_cond_t work_cv; /* background threads wait here for work */

    memtable *mem;
    memtable *imm[MAX_IMMUTABLES]; /* oldest first */
    int n_imm;
    bool flush_running;
    uint64_t flush_failures; /* failed flush attempts so far; flush_error the last code */
    int flush_error;
    bool flush_failing; /* the last flush attempt failed (full memtables then fail writes) */
    int flush_requests; /* shale_flush callers waiting */
    super_version *sv;  /* replaced under mu and sv_lock; read under sv_lock */
    pthread_spinlock_t sv_lock;

    wal_file *wal;           /* the active memtable's log */
    wal_file *old_wals;      /* switched-out logs with unsynced bytes, oldest first */
    pthread_mutex_t sync_mu; /* one syncer at a time, so logs become durable in order */

    version_set *vs;
    table_cache *tc;
    block_cache *bc;

    writer *w_head, *w_tail;
    int n_queued;                  /* writers in the queue */
    int sync_writers_active;       /* writers seen around the last synced group (see db.c) */
    uint64_t last_sync_us;         /* duration of the last group's WAL sync */
    pthread_cond_t queue_cv;       /* signalled when a writer joins the queue */
    shale_batch group;             /* the leader's merged batch */
    buf wal_rep;                   /* the leader's batch as the log stores it (compressed) */
    LZ4_stream_t *wal_lz4;         /* the leader's lz4 state for it (NULL until needed) */
    atomic_uint_fast64_t last_seq; /* the last sequence visible to reads */
    uint64_t alloc_seq;            /* the last sequence handed out (leader only) */
    atomic_int bg_error;           /* sticky write failure (cleared by shale_resume) */
    bool bg_error_needs_reopen;    /* ... that shale_resume cannot undo (leader only) */
    bool closing;

    /* write controller (leader only) */
    uint64_t delay_next_us; /* earliest time the next delayed write may go */

    /* compaction bookkeeping (mu) */
    struct compaction *running; /* linked list of running jobs */
    int n_running;
    bool manual_compaction;     /* a compact_range is in progress: no background picks */
    uint64_t bg_retry_after_us; /* after an error, background jobs wait until then */

    struct shale_snapshot snapshots; /* list head; snapshots.next is the oldest */
    _Atomic uint64_t iter_skip_note_us; /* the last db_note_iter_skips that took mu */

    pthread_t flush_thread, sync_thread;
    pthread_t *compact_threads;
    int n_compact_threads;
    bool sync_thread_started, flush_thread_started;

    /* rate limiter for background writes */
    pthread_mutex_t rl_mu;
    double rl_tokens;
    uint64_t rl_last_us;

    /* value-log GC (vlog_gc.c) */
    pthread_mutex_t gc_mu; /* one GC at a time */
    struct gc_pending {
        uint64_t number; /* a segment GC emptied */
        uint64_t seq;    /* the last sequence its rewrites used */
    } *gc_pending;       /* waiting for older snapshots to go (gc_mu) */
    int n_gc_pending;
    pthread_t gc_thread;
    bool gc_thread_started;
    bool gc_stopping; /* close is stopping GC before it touches the log (atomic loads) */

    /* checkpoints (checkpoint.c): while pinned, no file is deleted; logs a flush
       freed meanwhile wait in deferred_logs (mu) */
    int deletions_pinned;
    uint64_t *deferred_logs;
    int n_deferred_logs, cap_deferred_logs;

    db_stats stats;
};

/* ---- helpers shared by the engine's files ---- */
uint64_t db_now_us(void);
uint64_t db_now_ms(void);
void db_log(shale_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* super versions: acquire under no lock (takes mu briefly), release anywhere */
super_version *db_sv_acquire(shale_db *db);
void db_sv_release(super_version *sv);
/* Rebuilds db->sv after mem/imm/current changed (mu held). */
int db_sv_install(shale_db *db);

/* The sequence below which no snapshot needs older versions (mu held). */
uint64_t db_smallest_snapshot(shale_db *db);

/* Background work (flush.c, compaction.c). */
void *db_flush_thread(void *arg);
void *db_compact_thread(void *arg);
/* Writes a memtable's entries as a new L0 table; fills *f (number, keys, sizes) and *d
   (the bytes its pointers into the memtable's log cover; d->pointed == 0: none).
   The caller has allocated f->number. Errors: -errno, -ENOMEM. */
int db_write_l0_table(shale_db *db, memtable *m, uint64_t smallest_snapshot, file_meta *f,
                      vlog_delta *d);
/*
 * A write whose batch is checked against the store just before it is applied: filter
 * runs as the write leader (no other write can come between), with sv the store as the
 * batch will see it, and may rewrite the batch (fewer entries, none). Used by value-log
 * GC, which must not bring back a value a user overwrote meanwhile. Errors as shale_write
 * plus the filter's own.
 */
typedef int (*db_write_filter)(shale_db *db, super_version *sv, shale_batch *batch, void *arg);
int db_write_filtered(shale_db *db, shale_batch *batch, db_write_filter filter, void *arg);
/* Writes batch (count > 0, not modified) with the sequences its header holds
   (shale_write_at, repl.c). SHALE_ESEQ when its first is not above the last one handed
   out; a first more than one above is preceded by a skip record. Errors as shale_write. */
int db_write_at(shale_db *db, const shale_batch *batch);
/* The newest entry of key (any sequence) in sv: 1 with its kind and raw value copied
   into *value, 0 when there is none. Errors: SHALE_ECORRUPT, -errno, -ENOMEM. */
int db_get_newest(shale_db *db, super_version *sv, slice key, int *kind, buf *value);
/* Makes every WAL byte written so far durable, older logs first. mu not held. */
int db_wal_sync_all(shale_db *db);
/*
 * An entry with an expiry whose pointer names a segment v no longer lists: GC dropped the
 * segment after judging the value expired (it rewrites every live value first), and a
 * version without the segment can never need it again. Such an entry reads as expired
 * (not found), whatever the clock says now and even for include_expired reads: its value
 * is gone, and the clock may have been ahead when GC judged it (a step back must not turn
 * a reclaimed value into corruption). A pointer without an expiry into a missing segment
 * stays corruption.
 */
struct vptr;
bool db_vptr_reclaimed(const version *v, const struct vptr *p);
/* Reads the value a KIND_VPTR entry's raw value points to, through v's segments, into
   *out (malloc'ed, NUL-terminated; the caller frees). Errors: SHALE_ENOTFOUND (a value
   GC reclaimed after its expiry, db_vptr_reclaimed), SHALE_ECORRUPT (logged with segment
   and offset), -errno, -ENOMEM. */
int db_read_pointer(shale_db *db, const version *v, slice raw, char **out, size_t *len);
/* Deletes tables that no version references any more. */
void db_delete_obsolete(shale_db *db);
/*
 * File deletions pinned (RocksDB's DisableFileDeletions): between pin and unpin no table,
 * log or segment is deleted, so a checkpoint can list files and then link them. Calls
 * nest. unpin deletes what waited. mu not held for either.
 */
void db_pin_file_deletions(shale_db *db);
void db_unpin_file_deletions(shale_db *db);
/* Runs fn(db, arg) with mu held as the write leader: every write queued before it has
   reached the log (buffered records are flushed by fn if it needs them in the file) and
   is visible, and none after it starts until fn returns. Returns fn's result. */
int db_write_barrier(shale_db *db, int (*fn)(shale_db *db, void *arg), void *arg);
/* Waits until background compaction has nothing to do (for tests and compact_range). */
int db_compact_range(shale_db *db, const slice *begin, const slice *end);
/*
 * An iterator move stepped over many hidden table entries between user keys lo and hi
 * (hi NULL: to the end): marks the tables there that hold tombstones (compact_hint) for
 * the tombstone picker and wakes it. mu not held; cheap to call often (rate limited).
 */
void db_note_iter_skips(shale_db *db, slice lo, const slice *hi);
/* Runs the picker and wakes compaction threads when there is work (mu held). */
void db_maybe_schedule_compaction(shale_db *db);
/* Compaction score of the current version: >= 1 means work to do (mu held). */
double db_compaction_score(shale_db *db, int *level);
/* L0 table count of the current version (mu held). */
int db_l0_count(shale_db *db);

/* A table being written by a flush or compaction (flush.c). */
typedef struct table_output {
    file_meta *f; /* number, keys and sizes filled as entries are added and at finish */
    int fd;
    struct table_builder *tb;
    uint64_t rate_charged; /* bytes already passed through the rate limiter */
} table_output;
/* Opens table `number` (0: allocate one). Errors: -errno, -ENOMEM. */
int table_output_open(shale_db *db, uint64_t number, table_output *o);
int table_output_add(shale_db *db, table_output *o, slice ikey, slice value);
/* Adds range tombstone [begin, end) at seq (after the point entries, in fragment order):
   the table's key range grows to hold it (its largest key becomes end's sentinel,
   range_del_sentinel_trailer, when the range reaches past the last point entry). */
int table_output_add_range_del(table_output *o, slice begin, slice end, uint64_t seq);
/* Adds every (fragment, sequence) of l. */
int table_output_add_range_dels(table_output *o, const struct rdel_list *l);
uint64_t table_output_size(const table_output *o);
/* Finishes, fsyncs and closes the table and fills o->f. The caller owns o->f. */
int table_output_finish(shale_db *db, table_output *o);
/* Closes and deletes a table that will not be used; frees o->f. */
void table_output_abandon(shale_db *db, table_output *o);

/*
 * What to do with an entry while rewriting (flush or compaction), LevelDB's rules plus
 * expiry: entries are fed newest-first per user key.
 */
enum entry_fate { ENTRY_KEEP, ENTRY_DROP, ENTRY_TOMBSTONE };
typedef struct drop_state {
    buf cur_key;
    bool has_cur;
    uint64_t last_seq_for_key;
} drop_state;
/* base_level: no older data for this key can exist below the output level. */
enum entry_fate entry_decide(drop_state *s, const parsed_ikey *k, slice value,
                             uint64_t smallest_snapshot, bool base_level, uint64_t now_ms);

/* Value-log GC's background thread (vlog_gc.c), started when vlog_gc_interval_s > 0. */
void *db_vlog_gc_thread(void *arg);
/* The current version, referenced (the caller unrefs), and the number of the oldest log
   still needed to recover unflushed writes (segments from there on are not GC's). */
version *db_vlog_view(shale_db *db, uint64_t *log_number);
/* Deletes the segments GC emptied that no snapshot can read any more (mu not held). */
void db_vlog_gc_reap(shale_db *db);

/* Rate limit background writes (compaction_rate_limit bytes/s; 0 = unlimited). */
void db_rate_limit(shale_db *db, uint64_t bytes);

/* stats.c */
int db_property(shale_db *db, const char *name, char **out);
int db_property_int(shale_db *db, const char *name, uint64_t *out);

static inline uint64_t db_opt_u64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

#endif

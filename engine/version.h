/*
 * version.h - which tables make up the database: file metadata, immutable versions (the
 * set of tables per level at one moment) and version edits (the changes the manifest
 * records). A version is reference counted; a table file is deleted once no version
 * references it (see version_set_take_obsolete).
 */
#ifndef SHALE_VERSION_H
#define SHALE_VERSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iterator.h"
#include "options.h"
#include "slice.h"

struct table_cache;
typedef struct version_set version_set;

typedef struct file_meta {
    uint64_t number;
    uint64_t file_size;
    buf smallest, largest; /* internal keys */
    uint64_t min_seq, max_seq;
    uint64_t num_entries, num_deletes;
    uint64_t num_live_keys;    /* table_props's; UINT64_MAX: unknown (an older table) */
    uint64_t num_range_dels;   /* range tombstones in its range-deletion block */
    uint64_t max_expire_at_ms; /* UINT64_MAX: some entry never expires */
    atomic_int refs;           /* versions (and edits) holding it */
    bool being_compacted;      /* under the db mutex */
    /* An iterator stepped over many hidden entries under this table (db mutex; not
       persisted: a compaction's outputs start without it). */
    bool compact_hint;
    /* The open table, pinned by the first point read (table_cache_get_pinned) and
       released with the last reference. */
    _Atomic(struct cache_handle *) pinned;
} file_meta;

/* A new file_meta with one reference (num_live_keys unknown); NULL on ENOMEM. */
file_meta *file_meta_new(void);
/* Entries of f hidden from a reader of the latest state: tombstones, and the older
   versions of keys a snapshot kept (known for tables written since issue 17). */
static inline uint64_t file_meta_hidden(const file_meta *f)
{
    if (f->num_live_keys == UINT64_MAX || f->num_live_keys > f->num_entries)
        return f->num_deletes + f->num_range_dels;
    return f->num_entries - f->num_live_keys + f->num_range_dels;
}
void file_meta_ref(file_meta *f);
/* Drops a reference; at the last one, the pinned table handle is released and vs (may
   be NULL) learns the table is obsolete. */
void file_meta_unref(file_meta *f, version_set *vs);

typedef struct deleted_file {
    int level;
    uint64_t number;
} deleted_file;

typedef struct added_file {
    int level;
    file_meta *f; /* the edit holds a reference */
} added_file;

/* Changes to a value-log segment's counters (vlog.h); an edit adds them. A segment
   first appears in the version with an edit that points to it (pointed > 0). */
typedef struct vlog_delta {
    uint64_t number;
    uint64_t pointed, discarded, exp_pointed, exp_discarded, exp_max;
} vlog_delta;

typedef struct version_edit {
    bool has_log_number, has_next_file, has_last_seq;
    uint64_t log_number; /* WALs older than this are flushed */
    uint64_t log_offset; /* ... and so is log_number's prefix before this offset */
    uint64_t next_file_number;
    uint64_t last_seq;
    deleted_file *deleted;
    int n_deleted, cap_deleted;
    added_file *added;
    int n_added, cap_added;
    vlog_delta *vlog;
    int n_vlog, cap_vlog;
    uint64_t *vlog_deleted; /* segments GC has emptied */
    int n_vlog_deleted, cap_vlog_deleted;
} version_edit;

void edit_init(version_edit *e);
void edit_destroy(version_edit *e); /* drops the references of added files */
int edit_add_file(version_edit *e, int level, file_meta *f); /* takes a new reference */
int edit_delete_file(version_edit *e, int level, uint64_t number);
/* Adds d's counters to the edit's delta for d->number (one delta per segment). */
int edit_vlog_add(version_edit *e, const vlog_delta *d);
int edit_vlog_delete(version_edit *e, uint64_t number);
/* Manifest record encoding (docs/format.md). decode: SHALE_ECORRUPT on bad input. */
int edit_encode(const version_edit *e, buf *out);
int edit_decode(slice in, version_edit *e);

typedef struct version {
    version_set *vs;
    atomic_int refs;
    int num_levels;
    file_meta **files[SHALE_MAX_LEVELS]; /* L0: newest (max_seq) first; others by key */
    int nfiles[SHALE_MAX_LEVELS];
    uint64_t level_bytes[SHALE_MAX_LEVELS];
    int rdel_files[SHALE_MAX_LEVELS]; /* tables holding range tombstones, per level */
    struct vlog_segment **segs;       /* value-log segments, by number */
    int nsegs;
} version;

/* The segment numbered `number` in v, or NULL. */
struct vlog_segment *version_segment(const version *v, uint64_t number);
/* Adds an installed edit's vlog counters to the segments of v (the version it made). */
void version_apply_vlog_counters(version *v, const version_edit *e);

void version_ref(version *v);
/* Drops a reference; the last one frees it and may make files obsolete. NULL: no-op. */
void version_unref(version *v);

/*
 * Looks up user_key (hash: its bloom_hash) at max_seq through the tables: L0 newest first,
 * then one table per level. *found=1 with kind and value (copied into *value) when an entry exists.
 * Errors: SHALE_ECORRUPT, -errno, -ENOMEM.
 */
int version_get(version *v, struct table_cache *tc, slice user_key, uint64_t hash, uint64_t max_seq,
                bool fill_cache, int *found, int *kind, buf *value);
/* Starts loading the filter blocks that version_get of a key with this hash will test
   first (the L0 tables'), so their cache misses overlap with the memtables'. hash:
   bloom_hash(user_key), as for version_get. */
void version_prefetch(version *v, uint64_t hash);

/* Appends to its[] (capacity enough for L0 files + levels) the iterators over v's tables
   that may hold user keys in [lower, upper) (a bound with NULL data is open): an iterator
   bounded to a small range neither seeks in nor compares against the others. */
int version_add_iterators(version *v, struct table_cache *tc, bool fill_cache, slice lower,
                          slice upper, iter **its, int *n);
/* An iterator over one sorted level's files (borrowed: keep the version alive). */
iter *level_iter_new(struct table_cache *tc, file_meta **files, int n, bool fill_cache);

/* Number of iterators version_add_iterators may add. */
int version_max_iterators(const version *v);

/* Files of level overlapping the user key range [begin, end] (NULL = open), into *out
   (malloc'ed array, caller frees). For L0 the range grows as LevelDB's does. */
int version_overlapping(const version *v, int level, const slice *begin, const slice *end,
                        file_meta ***out, int *n);
/* True when some file at a level > level overlaps user key range [a, b]. */
bool version_overlap_in_levels_below(const version *v, int level, slice a, slice b);

/* ---- version set: the current version and the manifest ---- */

struct version_set {
    char *dir;
    const shale_options *opts; /* the db's (changeable knobs read atomically elsewhere) */
    version *current;
    uint64_t next_file_number;
    uint64_t last_seq;   /* last sequence durable in the manifest's view */
    uint64_t log_number; /* WALs with numbers below this are flushed */
    uint64_t log_offset; /* and log_number's records before this offset */
    uint64_t manifest_number;
    struct wal_writer *manifest;
    bool manifest_busy;         /* a log_and_apply is writing (guarded by the db mutex) */
    pthread_cond_t manifest_cv; /* signalled when manifest_busy clears */
    /* Table files whose last reference is gone, to delete (obsolete_mu). */
    pthread_mutex_t obsolete_mu;
    uint64_t *obsolete;
    int n_obsolete, cap_obsolete;
    uint64_t *obsolete_logs; /* value-log segments no version holds any more */
    int n_obsolete_logs, cap_obsolete_logs;
};

int version_set_new(const char *dir, const shale_options *opts, version_set **out);
void version_set_free(version_set *vs);
/* Reads CURRENT and replays the manifest. -ENOENT when there is no CURRENT.
   Errors: SHALE_ECORRUPT (with a message through *why, file and offset), -errno. */
int version_set_recover(version_set *vs, char *why, size_t whylen);
/* Writes a new manifest holding the whole current state and points CURRENT at it. */
int version_set_write_snapshot(version_set *vs);
/* Writes manifest `number` holding v's state with the given log position and last
   sequence, and a CURRENT naming it, into dir (another store's directory: a checkpoint),
   both synced, the directory too. vs is not changed. Errors: -errno, -ENOMEM. */
int version_set_write_manifest_in(version_set *vs, version *v, const char *dir, uint64_t number,
                                  uint64_t log_number, uint64_t log_offset, uint64_t last_seq);
/*
 * Applies e to the current version: writes and syncs the manifest record, then installs
 * the new version as current. Called with *mu (the db mutex, which guards `current`)
 * held; releases it during the write. Calls are serialised internally, so the new version
 * is always built on the version it replaces. On a manifest write error nothing is
 * installed and the error is returned.
 */
int version_set_log_and_apply(version_set *vs, version_edit *e, pthread_mutex_t *mu);
/* Builds the version that e applied to base would give (no manifest write). */
int version_apply(version_set *vs, version *base, const version_edit *e, version **out);
uint64_t version_set_new_file_number(version_set *vs);
/* Moves the list of obsolete table numbers to the caller (malloc'ed; caller frees). */
int version_set_take_obsolete(version_set *vs, uint64_t **numbers, int *n);
/* The same for value-log segments (log file numbers) no version holds any more. */
void version_set_add_obsolete_log(version_set *vs, uint64_t number);
int version_set_take_obsolete_logs(version_set *vs, uint64_t **numbers, int *n);
/* Sets *live to true when number is in the current version (for directory sweeps). */
bool version_has_file(const version *v, uint64_t number);

#endif

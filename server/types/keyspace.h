/*
 * keyspace.h - Redis keys on engine keys (docs/format.md, "Keyspace").
 *
 * A logical database (SELECT 0..15) maps to a physical id, so that FLUSHDB and SWAPDB
 * only rewrite the mapping; keys of a dropped id are swept in the background. Engine keys:
 *
 *   'D'                                   the mapping record
 *   'm' | id:be32 | key                   metadata: type byte + payload; the entry's expiry
 *                                         is the key's TTL
 *   'h' | id:be32 | klen:be32 | key | version:be64 | sub        one member of a collection
 *   'x' | id:be32 | expire_at_ms:be64 | key                    expiry index (no value)
 *   'V'                                   the version ceiling (ks_new_version)
 *
 * Strings keep their bytes in the metadata record ('s' | bytes). A collection (hash,
 * list, set, sorted set) has the metadata type | version:be64 | size:be64 | extra, where
 * extra is its type's own (a list's head and tail); its members are engine keys under
 * that version, laid out by its type's file in types/ (the 'h' tag is every collection's,
 * whatever its type: versions are unique across types). DEL or EXPIRE of a collection is
 * one metadata write and old versions' members are left for the compaction filter and the
 * sweeper. Every key with a TTL has one expiry-index entry, which lets the active expire
 * cycle find expired keys in order without a scan and keeps DBSIZE exact: a key counts
 * from its creation until it is deleted or its expiry is reaped, as in Redis.
 *
 * A database may be set to compaction-style fifo (ks_set_fifo): its physical id then lives
 * in an engine of its own under dir/fifo-<id> (FIFO drops whole tables, and the main
 * engine's tables mix every database), listed in the mapping record. Engine keys are
 * routed by the physical id they carry; a transaction writes one batch per engine, so it
 * is atomic when it touches one engine (everything but a MOVE or COPY between a fifo
 * database and another one).
 *
 * Not thread-safe: callers hold the server's command lock (ks_engines_flush_wal and
 * ks_engines_sync excepted).
 */
#ifndef SHALE_KEYSPACE_H
#define SHALE_KEYSPACE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shale.h"

#define KS_DBS 16
#define KS_TYPE_STRING 's'
#define KS_TYPE_HASH 'h'
#define KS_TYPE_LIST 'l'
#define KS_TYPE_SET 't'
#define KS_TYPE_ZSET 'z'
#define KS_TYPE_UNREAD '?' /* ks_read_head: the key exists, its record was not read */
#define KS_MAX_DEAD 256 /* dropped physical ids waiting for the sweeper */

struct ks_recount;
typedef struct ks_txn ks_txn;   /* a transaction over several commands (ks_txn.c) */
typedef struct ks_iter ks_iter; /* an engine iterator merged with it (ks_txn.c) */

/* Told of a key that a write may have made a non-empty list or sorted set (blocking
   pops: server/commands/blocking.c), as the write joins the transaction; key NULL: any
   key of database dbi (SWAPDB). The listener looks again after the command, so a write
   aborted later is a harmless false alarm. */
typedef void (*ks_ready_fn)(void *ctx, int dbi, const void *key, size_t klen);

/* Told of every write of a key of logical database dbi (WATCH: server/multi/watch.c) as
   the write joins the command's batch: its metadata written (deleted true when it is
   deleted, by a command or by expiry) or one of its members written. A write aborted
   later is a false alarm. */
typedef void (*ks_touch_fn)(void *ctx, int dbi, const void *key, size_t klen, bool deleted);
/* Told before database dbi's keys all change at once: emptied (other -1: FLUSHDB,
   FLUSHALL, a change of style), swapped with database other (SWAPDB: told for (a, b) and
   (b, a)), or some of its keys dropped with a fifo engine's tables (other -2). */
typedef void (*ks_db_touch_fn)(void *ctx, int dbi, int other);
/* Told of a key's life (keyspace notifications: server/pubsub/notify.h): KS_KEY_CREATED,
   its record written where there was none (as the write joins the command's batch: an
   aborted write is the caller's to forget); KS_KEY_EXPIRED, its expiry reaped (deleted by
   a read that found it expired, or by the expiry cycle) as the delete is written or
   joins the transaction. */
enum { KS_KEY_CREATED, KS_KEY_EXPIRED };
typedef void (*ks_key_event_fn)(void *ctx, int event, int dbi, const void *key, size_t klen);

/* An engine that holds one fifo database's physical id. */
typedef struct ks_fifo {
    uint32_t phys;
    uint64_t cap;          /* its fifo_max_size */
    shale_db *db;
    shale_batch *batch;    /* its part of the transaction being built */
    uint64_t dropped_seen; /* fifo-deleted-bytes when its counts were last checked */
    struct ks_recount *recount; /* a recount after dropped tables, in progress */
} ks_fifo;

#define KS_MAX_FIFO (2 * KS_DBS) /* a flush of every fifo database opens the new first */

typedef struct keyspace {
    shale_db *db; /* the main engine: every database that is not fifo */
    uint32_t phys[KS_DBS]; /* logical database -> physical id */
    uint32_t next_phys;
    uint32_t dead[KS_MAX_DEAD]; /* physical ids whose keys the sweeper deletes */
    int ndead;
    struct ks_key *sweep_at; /* per record tag, the last key swept of dead[0] (keyspace.c) */
    uint32_t sweep_phys;     /* the id sweep_at belongs to */
    int64_t count[KS_DBS]; /* keys per logical database (DBSIZE) */
    int64_t expires[KS_DBS]; /* of which have a TTL (INFO keyspace) */
    uint64_t last_version;   /* the last collection version handed out */
    uint64_t version_ceiling; /* persisted: no version above it was handed out */
    uint64_t expired_keys;   /* reaped expiries, lazy and active */
    bool reap_paused;        /* CLIENT PAUSE: expired keys read as absent, not deleted */
    bool replica; /* a replica: expired keys read as absent, not deleted, and neither expiry
                     nor the sweeper runs (its primary's deletes arrive as records) */
    shale_batch *batch;      /* the transaction being built */
    int ready;               /* the mapping is loaded: the compaction filter may judge */
    unsigned map_seq;        /* odd while the mapping changes (read by the filter) */
    int64_t delta[KS_DBS], delta_expires[KS_DBS];
    int64_t delta_behind[KS_DBS], delta_behind_expires[KS_DBS]; /* of keys a fifo recount
                                                                   has passed */
    ks_fifo fifo[KS_MAX_FIFO];
    int nfifo;
    pthread_rwlock_t engines_lock; /* held to change fifo[] and to sync outside the
                                      command lock */
    char dir[4096];                /* the store's directory */
    shale_options fifo_options;    /* for fifo engines (style and cap set per engine) */
    ks_ready_fn ready_fn;          /* NULL: nobody waits for keys */
    void *ready_ctx;
    ks_touch_fn touch_fn;       /* NULL: nobody watches keys */
    ks_db_touch_fn db_touch_fn; /* set with touch_fn */
    void *touch_ctx;
    ks_key_event_fn key_event_fn; /* NULL: nobody listens */
    void *key_event_ctx;
    int txn_failed; /* a command's writes could not join the transaction: its commit fails */
    ks_txn *txn; /* the transaction over several commands under way (ks_txn_begin), or NULL */
    int64_t txn_delta[KS_DBS], txn_delta_expires[KS_DBS]; /* its commands' count changes,
                                                             already in count[] */
    int64_t txn_behind[KS_DBS], txn_behind_expires[KS_DBS]; /* delta_behind, held */
} keyspace;

/* A growable engine key. */
typedef struct ks_key {
    char *p;
    size_t len, cap;
    char small[200];
} ks_key;

void ks_key_init(ks_key *k);
int ks_key_append(ks_key *k, const void *p, size_t n);
int ks_key_be32(ks_key *k, uint32_t v);
int ks_key_be64(ks_key *k, uint64_t v);
void ks_key_free(ks_key *k);
uint64_t ks_be64(const void *p);
uint32_t ks_be32(const void *p);

/* A key's metadata as read. */
typedef struct ks_meta {
    int type;              /* 0 when absent */
    uint64_t expire_at_ms; /* 0: no TTL */
    char *raw;             /* the record (malloc'ed; ks_meta_free) */
    size_t rawlen;
    const char *val; /* payload after the type byte */
    size_t vlen;
    uint64_t version, size; /* collections: members' version, how many members */
    const char *extra;      /* collections: the type's own metadata after them */
    size_t extralen;
} ks_meta;

/* Whether a type keeps members as engine keys under a version (not a string). */
static inline bool ks_is_collection(int type)
{
    return type == KS_TYPE_HASH || type == KS_TYPE_LIST || type == KS_TYPE_SET ||
           type == KS_TYPE_ZSET;
}
/* The name TYPE and SCAN TYPE give a type ("none" for 0). */
const char *ks_type_name(int type);

/* Loads the mapping (creating it in a new store), opens the fifo databases' engines under
   dir with fifo_options (NULL: the engine's defaults; each gets style fifo and its cap),
   removes fifo directories the mapping no longer lists, and counts every database's
   keys. */
int ks_open(keyspace *ks, shale_db *db, const char *dir, const shale_options *fifo_options);
/* Closes the fifo engines (the main engine is the caller's). 0 or the first error. */
int ks_close(keyspace *ks);
/*
 * A replica's full sync replaces the store under a live keyspace (repl_swap.h), whose
 * lock other threads use and whose listeners (WATCH, tracking, blocking, notifications)
 * stay. ks_detach drops the open transaction, closes the fifo engines, lets go of the
 * main engine (the caller's to close: from then on ks_engines_* see no engine and the
 * compaction filter keeps everything) and frees what the keyspace read of the store; 0
 * or the first close error (the engines are closed either way). ks_attach reads a store
 * again over db, as ks_open does, keeping the lock, directory, options and listeners; on
 * failure the keyspace is detached again. Lock held; both only after ks_open.
 */
int ks_detach(keyspace *ks);
int ks_attach(keyspace *ks, shale_db *db);

/* Reads a key's metadata; an expired key is reaped (deleted, counted; left to the
   expiry cycle if that write fails) and reads as absent. Returns 0 or the engine's read
   error; *m is always safe to ks_meta_free. */
int ks_read(keyspace *ks, int dbi, const void *key, size_t klen, ks_meta *m);
/* ks_read for a write that replaces the record whatever it holds (SET, SETEX, MSET):
   only whether the key exists (type KS_TYPE_UNREAD, no val) and its expiry, without
   copying the record out or reading a value kept in the value log. */
int ks_read_head(keyspace *ks, int dbi, const void *key, size_t klen, ks_meta *m);
void ks_meta_free(ks_meta *m);
/* Whether (dbi, key) is there without reaping it: KS_ABSENT, KS_LIVE, or KS_EXPIRED (its
   record is there, past its expiry). 0 or the engine's read error. */
enum { KS_ABSENT, KS_LIVE, KS_EXPIRED };
int ks_peek(keyspace *ks, int dbi, const void *key, size_t klen, int *state);

/* Builds the metadata engine key of (dbi, key). */
int ks_meta_key(const keyspace *ks, int dbi, const void *key, size_t klen, ks_key *out);
/* Builds a collection member's engine key (sub: the type's member layout, a hash field's
   name); sub may be NULL (the prefix of all the version's members). */
int ks_field_key(const keyspace *ks, int dbi, const void *key, size_t klen, uint64_t version,
                 const void *field, size_t flen, ks_key *out);
/* A new collection version: the last one + 1, never from the clock, never reused. A
   ceiling above it is persisted by the next ks_commit that needs one, and a reopened
   store starts above the ceiling and above every version its metadata names. */
uint64_t ks_new_version(keyspace *ks);

/*
 * Transactions: the writes below go into one engine batch that ks_commit applies
 * atomically (and only then changes the counts); ks_abort drops it.
 */
void ks_begin(keyspace *ks);
int ks_commit(keyspace *ks);
void ks_abort(keyspace *ks);

/*
 * Transactions over several commands (EXEC). Between ks_txn_begin and ks_txn_commit each
 * command's ks_begin ... ks_commit writes nothing to the engine: ks_commit folds the
 * command's writes into the transaction's index, where the key layer's reads (ks_read,
 * ks_read_head, ks_get_raw, every ks_range and ks_iter) find them before the engine's
 * entries; ks_abort drops only that command's writes. A command's own writes stay
 * invisible to its own reads, as outside a transaction. The counts (DBSIZE) change at
 * each command's ks_commit, and go back if the transaction aborts. ks_txn_commit writes
 * the index's newest write of each key as one batch per engine, the main engine's first:
 * atomic when the transaction touches one engine (the main one, or one fifo database's);
 * a failure after the main engine's batch leaves it written without the fifo ones, as for
 * one command. ks_txn_abort (or a failed ks_txn_commit) writes nothing of the index.
 * Mapping changes (ks_flush, ks_swap, ks_set_fifo) are written at once, not with the
 * batch; writes of a database flushed later in the transaction are dropped at commit.
 * A key reaped on a read in a transaction is deleted with the transaction's batch.
 */
int ks_txn_begin(keyspace *ks); /* -EBUSY when one is under way, -ENOMEM */
int ks_txn_commit(keyspace *ks);
void ks_txn_abort(keyspace *ks);
static inline bool ks_in_txn(const keyspace *ks)
{
    return ks->txn != NULL;
}

/* Writes (dbi, key)'s metadata record type|payload with expiry (0 = none); old is what
   ks_read returned for it (type 0 if new). */
int ks_put_meta(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old, int type,
                const void *payload, size_t plen, uint64_t expire_at_ms);
/* Writes a collection's metadata: type | version | size | extra (elen bytes), keeping
   old's expiry when old is of this type (a new one has none); size 0 deletes the key
   instead (an emptied collection does not exist), in the same transaction. A non-empty
   list or sorted set is told to ready_fn. */
int ks_put_collection(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
                      int type, uint64_t version, uint64_t size, const void *extra,
                      size_t elen);
/* ks_put_collection with the expiry given (0: none) rather than old's: a collection
   written whole, as RESTORE writes one. */
int ks_put_collection_expiring(keyspace *ks, int dbi, const void *key, size_t klen,
                               const ks_meta *old, int type, uint64_t version, uint64_t size,
                               const void *extra, size_t elen, uint64_t expire_at_ms);
/* Deletes (dbi, key) (which must be present as in old). A collection's members stay for
   the sweeper, unreachable under a version nothing refers to. */
int ks_del_key(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old);
/* Writes a copy of src (the value of (sdb, skey)) to (ddb, dkey), whose current
   metadata is dold, with expiry expire_at_ms. A collection's members are copied under a
   new version: O(members). A list or sorted set copied is told to ready_fn. */
int ks_copy_value(keyspace *ks, int sdb, const void *skey, size_t sklen, const ks_meta *src,
                  int ddb, const void *dkey, size_t dklen, const ks_meta *dold,
                  uint64_t expire_at_ms);
/* Raw puts and deletes of other engine keys (hash fields) in the transaction. */
int ks_put_raw(keyspace *ks, const ks_key *k, const void *val, size_t vlen);
int ks_del_raw(keyspace *ks, const ks_key *k);

/*
 * The key layer's iterator: shale_iter's contract (shale.h), over the engine's entries
 * merged with the writes of the transaction under way (a write hides the engine's entry
 * of its key, a delete hides it). Outside a transaction it is the engine's iterator.
 */
int ks_iter_open(keyspace *ks, const shale_read_options *ro, ks_iter **out);
void ks_iter_seek_to_first(ks_iter *it);
void ks_iter_seek_to_last(ks_iter *it);
void ks_iter_seek(ks_iter *it, const void *key, size_t klen);
void ks_iter_seek_for_prev(ks_iter *it, const void *key, size_t klen);
void ks_iter_next(ks_iter *it);
void ks_iter_prev(ks_iter *it);
int ks_iter_valid(const ks_iter *it);
const void *ks_iter_key(const ks_iter *it, size_t *klen);
const void *ks_iter_value(const ks_iter *it, size_t *vlen);
uint64_t ks_iter_expire_at(const ks_iter *it);
int ks_iter_status(const ks_iter *it);
void ks_iter_free(ks_iter *it); /* NULL: no-op */

/* An iterator over the engine keys that start with a prefix (it owns its bounds). */
typedef struct ks_range {
    ks_iter *it;
    ks_key lo, hi;
} ks_range;

/* Opens r over keys starting with prefix, positioned at the first; live entries only
   unless include_expired. Close with ks_range_close. */
int ks_range_open(keyspace *ks, const void *prefix, size_t plen, bool include_expired,
                  ks_range *r);
/* ks_range_open with flags: KS_RANGE_FILL_CACHE, its reads fill the block cache (a
   scan's do not), for seeks to a few random places, which are point reads more than a
   scan; KS_RANGE_UNPOSITIONED, left invalid until the caller seeks (a seek to the first
   key walks over every deleted key before it). */
#define KS_RANGE_FILL_CACHE 1u
#define KS_RANGE_UNPOSITIONED 2u
int ks_range_open_ex(keyspace *ks, const void *prefix, size_t plen, bool include_expired,
                     unsigned flags, ks_range *r);
/* The metadata of logical database dbi: engine keys 'm' | id | user key. */
int ks_range_open_db(keyspace *ks, int dbi, ks_range *r);
/* The metadata of dbi's keys that start with prefix (KEYS and SCAN with a literal head). */
int ks_range_open_db_prefix(keyspace *ks, int dbi, const void *prefix, size_t plen,
                            ks_range *r);
/* The members of a collection m (as read for (dbi, key)), in engine-key order; the
   member's own part of each engine key starts at r->lo.len. */
int ks_range_open_members(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                          ks_range *r);
void ks_range_close(ks_range *r);
/* The expiry index of dbi: engine keys 'x' | id | expire_at_ms:be64 | user key, in
   expiry order (KS_EXPIRY_PREFIX bytes before the user key). */
int ks_range_open_expiries(keyspace *ks, int dbi, ks_range *r);
#define KS_EXPIRY_PREFIX 13
/* Positions r's iterator at a key near a random point between the range's first and last
   keys (past their common prefix, each byte drawn between the bytes those keys use):
   close to uniform for keys of one shape, such as user:000123. rnd: random bits.
   Returns 0 (the iterator is invalid only when the range is empty) or an engine error. */
int ks_range_seek_random(ks_range *r, uint64_t rnd);
/* Length of the metadata key prefix ('m' | id) to strip for the user key. */
#define KS_META_PREFIX 5

/* Empties a logical database (a new physical id; the old one goes to the sweeper);
   dbi < 0 empties all. Swaps two databases (telling ready_fn of both). Both persist the
   mapping. */
int ks_flush(keyspace *ks, int dbi);
int ks_swap(keyspace *ks, int a, int b);

/*
 * Fifo databases. ks_set_fifo sets dbi's compaction style: fifo with cap bytes of tables
 * (its oldest tables are dropped past it, nothing is rewritten), or back to the main
 * engine (fifo false). Changing the style is only allowed on an empty database
 * (-ENOTEMPTY); on a fifo database with fifo true it only changes the cap. Persists.
 */
int ks_set_fifo(keyspace *ks, int dbi, bool fifo, uint64_t cap);
/* dbi's fifo engine, or NULL when it lives in the main engine. */
ks_fifo *ks_fifo_of(keyspace *ks, int dbi);
/* Empties every fifo database here only: each engine is destroyed and opened again empty
   with the same id and cap, and its databases count no key. Writes nothing to the main
   engine (the mapping stays): for a node that becomes a replica, whose fifo databases
   no record of its primary's reaches (docs/server.md, "Replication"). Command lock
   held. 0 or the first error (an engine that did not open again is told to the log and
   its database reads as empty until the next start). */
int ks_fifo_empty_all(keyspace *ks);
/* The engine that holds an engine key (by the physical id in it). */
shale_db *ks_engine_of_key(keyspace *ks, const void *key, size_t klen);
/* Reads an engine key (a hash field) from its engine: shale_get's contract. */
int ks_get_raw(keyspace *ks, const ks_key *k, void **val, size_t *vlen);
/* Every engine: 0 is the main one, then the fifo ones. Stable while the command lock is
   held. */
int ks_engine_count(const keyspace *ks);
shale_db *ks_engine_at(keyspace *ks, int i);
/* shale_flush_wal / shale_sync / shale_flush / shale_resume on every engine (the first
   two may run outside the command lock). 0 or the first error. */
int ks_engines_flush_wal(keyspace *ks);
int ks_engines_sync(keyspace *ks);
int ks_engines_flush(keyspace *ks);
int ks_engines_resume(keyspace *ks);
/* A checkpoint of every engine (shale_checkpoint) into dest, which must not exist: the
   main engine's in dest, each fifo engine's in dest/fifo-<id>, under the table's read
   lock (no fifo database opens or closes meanwhile; may run outside the command lock).
   Each engine's checkpoint is of its own moment, as a transaction across engines is not
   atomic either. *writes (may be NULL): the engines' sequences summed; *main_seq (may be
   NULL): the main engine's (where a replica's stream goes on from). with_fifo false:
   the main engine's only (a full sync: fifo databases are not replicated, and a copy
   that no later write reaches would serve stale values). 0 or the first error (dest
   then may hold part of it: the caller removes it). */
int ks_engines_checkpoint(keyspace *ks, const char *dest, bool with_fifo, uint64_t *writes,
                          uint64_t *main_seq);
/* The engines' last sequences summed: a count of writes, for rdb_changes_since_last_save. */
uint64_t ks_engines_writes(keyspace *ks);
/* The first engine's background error (shale_background_error), 0 when none has one. */
int ks_engines_background_error(keyspace *ks);

/*
 * The engine's compaction filter (ctx: the keyspace): drops collection members whose key
 * is gone or has another version, and every key of a dropped database. Runs on compaction
 * threads; keeps everything until ks_open has loaded the mapping.
 */
int ks_compaction_filter(void *ctx, uint64_t job, const void *key, size_t klen, const void *val,
                         size_t vlen);

/* One step of background work: reaps up to `budget` expired keys, sweeps up to `budget`
   keys of dropped databases, and goes on with the check of a fifo database whose engine
   dropped tables (ks_fifo.c). Returns the keys handled. */
int ks_background(keyspace *ks, int budget, uint64_t now_ms);

uint64_t ks_now_ms(void);

#endif

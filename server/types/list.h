/*
 * list.h - a Redis list on engine keys (docs/format.md, "Keyspace": lists).
 *
 * The metadata record is type 'l' | version | size | head:be64 | tail:be64; the elements
 * are the engine keys ks_field_key(..., version, index:be64) for head <= index < tail,
 * dense, so size = tail - head and element i (0-based from the left) is at head + i. A
 * new list starts with head = tail = 2^63: LPUSH writes head - 1, head - 2, ..., RPUSH
 * tail, tail + 1, ...; pops move head or tail and delete what they took. So LINDEX and
 * LSET are one point read or write, LRANGE is one seek from head + start, and a queue's
 * tombstones (pops at one end) lie behind the live head, where no read starts.
 *
 * A list is changed through a `list` opened over the metadata a command read: its
 * operations add writes to the keyspace transaction (ks_begin ... ks_commit) and keep
 * head and tail in memory; list_save then writes the metadata (an emptied list deletes its
 * key in the same batch) and deletes the elements that left the list. Reads go to the
 * store and do not see the transaction's own writes: within one transaction, pop before
 * you push (LMOVE on one key pops first), and read nothing after a rewrite.
 *
 * Never writes a reply: values and positions go to callbacks. Every function returns 0
 * or a negative error (the engine's, -ENOMEM, SHALE_ECORRUPT when the elements are not
 * where the metadata says).
 */
#ifndef SHALE_LIST_H
#define SHALE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"
#include "rdb.h"

#define LIST_MID (UINT64_C(1) << 63) /* head and tail of a new list */
#define LIST_EXTRA 16                /* head:be64 | tail:be64 after version and size */

typedef struct list {
    keyspace *ks;
    int dbi;
    const char *key;
    size_t klen;
    const ks_meta *m;       /* the metadata as read (type 0: no list yet) */
    uint64_t version;       /* 0 until a new list gets one */
    uint64_t head, tail;    /* as changed by this transaction */
    uint64_t old_head, old_tail; /* as read */
    ks_key ek;              /* an element's engine key: version and index patched in */
    size_t vpos;            /* where the version starts in ek (the index follows it) */
    bool dirty;             /* list_save has metadata to write */
} list;

/* Called with each value read (owned by the caller of the callback: copy it), in the
   order asked for; a non-zero return stops the read with that code. */
typedef int (*list_emit_fn)(void *ctx, const void *v, size_t vl);
/* Called with each position found (0-based from the left). */
typedef int (*list_pos_fn)(void *ctx, uint64_t pos);

/* Opens l over the list (dbi, key) whose metadata ks_read gave in m (type KS_TYPE_LIST,
   or 0 when absent: the first push creates it). key and m must outlive l.
   SHALE_ECORRUPT when the metadata is not a list's. Close with list_close. */
int list_open(list *l, keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m);
void list_close(list *l);

static inline uint64_t list_len(const list *l)
{
    return l->tail - l->head;
}

/*
 * Redis's index arithmetic, pure. list_span: LRANGE's [start, stop] (negative counts from
 * the right) clamped to a list of len elements: *from and *count (0 when empty).
 * list_pos_of: LINDEX's index as a position, false when out of range.
 */
void list_span(uint64_t len, long long start, long long stop, uint64_t *from, uint64_t *count);
bool list_pos_of(uint64_t len, long long index, uint64_t *pos);

/* Adds v at the left (head) or right (tail) end. -EOVERFLOW when that end has run out
   of indices (2^63 pushes on one side). */
int list_push(list *l, bool left, const void *v, size_t vl);
/* Takes min(count, len) elements from one end, emitting them in the order taken. */
int list_pop(list *l, bool left, uint64_t count, list_emit_fn emit, void *ctx);
/* Emits count elements from position from (from + count <= len), left to right, or from
   the last one leftwards when reverse. */
int list_read(list *l, uint64_t from, uint64_t count, bool reverse, list_emit_fn emit,
              void *ctx);
/* The element at position pos (< len): *v malloc'ed (shale_free). */
int list_get(list *l, uint64_t pos, void **v, size_t *vl);
/* Overwrites the element at position pos (< len): one write, no read. */
int list_set(list *l, uint64_t pos, const void *v, size_t vl);

/* LINSERT: inserts v before (or after) the first element equal to pivot, moving the
   shorter side by one; *found false (nothing written) when no element is. */
int list_insert(list *l, bool after, const void *pivot, size_t plen, const void *v, size_t vl,
                bool *found);
/* LREM: removes the first count elements equal to v from the left (count > 0), from the
   right (count < 0), or all (0; also LLONG_MIN, as Redis's negation of it wraps); the
   survivors close up by moving the fewest of them. *removed: how many. */
int list_remove(list *l, long long count, const void *v, size_t vl, uint64_t *removed);
/* LTRIM: keeps [start, stop] (Redis's arithmetic), deleting the rest. When what stays is
   small beside what goes, it is copied under a new version instead and the old one is
   left whole to the compaction filter, as DEL leaves a list: fewer writes, no tombstones. */
int list_trim(list *l, long long start, long long stop);
/* LPOS: positions of elements equal to v, from the left (rank > 0) or the right (rank < 0),
   skipping the first |rank| - 1 matches, at most count of them (0: all), looking at no
   more than maxlen elements (0: all). rank LLONG_MIN is -1 here (Redis's negation of it
   wraps; what that does to COUNT is the command's). */
int list_find(list *l, const void *v, size_t vl, long long rank, uint64_t count,
              uint64_t maxlen, list_pos_fn emit, void *ctx);

/* The whole list m (which exists) into *v (initialized here as a list, head to tail):
   DUMP's read, one walk. rdb_value_free *v either way. */
int list_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
              rdb_value *v);
/* Writes list v (at least one element) as (dbi, key), replacing what old (as read, any
   type) was, under a new version with the elements at LIST_MID onwards, with expiry
   expire_at_ms (0: none): RESTORE's write, in the caller's transaction. Its waiters are
   woken (ks_put_collection). */
int list_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
               const rdb_value *v, uint64_t expire_at_ms);

/* Writes what the operations changed: the metadata (deleting the key when the list is
   empty) and deletes of the elements that left the list. No-op when nothing changed. */
int list_save(list *l);

#endif

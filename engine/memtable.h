/*
 * memtable.h - the in-memory write buffer: a skiplist of internal keys in an arena.
 *
 * Concurrency: one writer at a time (the db's write leader) calls memtable_add; any number
 * of readers call memtable_get and iterate at the same time without locks (entries are
 * published with release stores). A memtable is reference counted: the db, readers and
 * iterators each hold a reference.
 *
 * Entry layout in the arena: varint32 ikey length | internal key | varint32 value length |
 * value | varint64 value position | varint32 stored (compressed) length, 0 if none. Values of
 * KIND_EXPIRING carry their fixed64 expiry first (format.h). The position is where the value's
 * bytes sit in the memtable's log file (0: unknown), so a flush can point to them there instead of
 * copying them (vlog.h).
 */
#ifndef SHALE_MEMTABLE_H
#define SHALE_MEMTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "iterator.h"
#include "range_del.h"
#include "slice.h"

typedef struct memtable memtable;

/* A new empty memtable with one reference. Errors: -ENOMEM. */
int memtable_new(memtable **out);
void memtable_ref(memtable *m);
/* Drops a reference; the last one frees the memtable. NULL: no-op. */
void memtable_unref(memtable *m);

/*
 * Adds an entry (single writer). value is stored as given (for KIND_EXPIRING it must
 * already begin with the fixed64 expiry). KIND_RANGE_DELETE adds a range tombstone
 * [user_key, value) to the memtable's tombstone list instead of the skiplist (entries
 * count it). Errors: -ENOMEM.
 */
int memtable_add(memtable *m, uint64_t seq, int kind, slice user_key, slice value);
/* The same, for a value whose bytes are at file offset value_pos of the memtable's log:
   as they are (stored_len 0; for KIND_EXPIRING the position of the expiry), or
   lz4-compressed, stored_len bytes of the value without its expiry. */
int memtable_add_at(memtable *m, uint64_t seq, int kind, slice user_key, slice value,
                    uint64_t value_pos, uint32_t stored_len);

/*
 * Finds the newest entry for user_key with seq <= max_seq. Returns true when one exists,
 * with its kind and raw value (pointing into the arena, valid while the caller holds a
 * reference); false otherwise.
 */
bool memtable_get(memtable *m, slice user_key, uint64_t max_seq, int *kind, slice *value);
/* The same with hash = XXH3_64bits of user_key (bloom_hash's value), computed once by a
   reader that probes several memtables and tables with it; the entry's sequence goes to
   *seq when seq is not NULL. */
bool memtable_get_hashed(memtable *m, slice user_key, uint64_t hash, uint64_t max_seq, int *kind,
                         slice *value, uint64_t *seq);
/* Starts loading the hash bucket of a key (hash as above) into the CPU cache, so that its
   miss overlaps with the reader's other misses. */
void memtable_prefetch(const memtable *m, uint64_t hash);

/* Range tombstones added so far (any thread). */
uint64_t memtable_num_range_dels(const memtable *m);
/* At most this many fragment lists make up a memtable's range tombstones (memtable.c). */
#define MEMTABLE_RDEL_RUNS 40

/* The newest sequence at or below read_seq of a range tombstone of m over key, in
 *cover (0: none). Errors: -ENOMEM. */
int memtable_range_cover(memtable *m, slice key, uint64_t read_seq, uint64_t *cover);
/*
 * The range tombstones a reader at read_seq sees, as up to MEMTABLE_RDEL_RUNS fragment
 * lists (newest sequence per fragment, range_del.h; a key's cover is the largest any of
 * them gives) in out[0..*n), referenced (the caller unrefs each). Errors: -ENOMEM.
 */
int memtable_range_dels(memtable *m, uint64_t read_seq, rdel_list **out, int *n);
/* A copy of the tombstones as written (malloc'ed array, caller frees; the keys point into
   the memtable, valid while the caller holds a reference). Errors: -ENOMEM. */
int memtable_range_tombs(memtable *m, range_tomb **out, size_t *n);

/* Bytes of memory the memtable holds (arena, and its range tombstones' lists), safe from
   any thread. */
size_t memtable_memory_usage(const memtable *m);
/* Entries added so far and how many were tombstones. */
uint64_t memtable_num_entries(const memtable *m);
uint64_t memtable_num_deletes(const memtable *m);
/* The length of the longest value added with a log position (memtable_add_at with
   value_pos != 0), expiry prefix included: a flush can turn a value into a pointer into
   the log only when this reaches value_threshold. */
uint64_t memtable_max_logged_value(const memtable *m);

/*
 * An iterator over every entry in internal-key order, both directions. It holds a
 * reference on m. NULL on ENOMEM.
 */
iter *memtable_iter_new(memtable *m);
/* Where the value of the entry a memtable iterator is on sits in the log (pos 0:
   unknown), and its compressed length (0: stored as is). */
uint64_t memtable_iter_value_pos(const iter *it, uint32_t *stored_len);

/* Which WAL file holds this memtable's entries, from which offset (set and read by the
   db: a log holds one or more memtables, one after the other), and the last sequence
   number written before that position: the record there carries last_seq + 1, which is
   how recovery sees a gap between logs. */
void memtable_set_log_position(memtable *m, uint64_t number, uint64_t offset, uint64_t last_seq);
uint64_t memtable_log_number(const memtable *m);
uint64_t memtable_log_offset(const memtable *m);
uint64_t memtable_log_last_seq(const memtable *m);

#endif

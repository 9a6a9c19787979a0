/*
 * range_del.h - range tombstones (shale_batch_delete_range). A tombstone [begin, end) at
 * sequence t deletes every entry of a user key in [begin, end) with a sequence below t,
 * for readers whose sequence is t or later. Memtables keep tombstones as written; tables
 * and readers use them fragmented (RocksDB's and Pebble's "fragmented range tombstones"):
 * cut at every begin and end into fragments that do not overlap, each carrying the
 * sequences of the tombstones over it, newest first. A point lookup then finds the one
 * fragment over its key (a binary search) and the newest sequence its reader may see.
 *
 * It is not the write path or the table format (write_batch.h, table_builder.h), only
 * the fragments and their lookups, shared by memtables, tables, reads and compaction.
 */
#ifndef SHALE_RANGE_DEL_H
#define SHALE_RANGE_DEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "slice.h"

/* A tombstone as written: the keys in [begin, end) at sequence seq (begin < end). */
typedef struct range_tomb {
    slice begin, end;
    uint64_t seq;
} range_tomb;

/* A fragment: [begin, end) and the sequences over it, newest first (at least one). */
typedef struct rdel_frag {
    slice begin, end;
    const uint64_t *seqs;
    uint32_t nseqs;
} rdel_frag;

/* Fragments in key order, disjoint, with their own copy of every key; reference
   counted, immutable once built (readers share one without locks). */
typedef struct rdel_list {
    atomic_int refs;
    int n;
    rdel_frag *frags;
    uint64_t entries; /* (fragment, sequence) pairs: what a table stores */
    uint64_t max_seq, min_seq;
    size_t key_bytes;
    char *keys;     /* the fragments' key bytes */
    uint64_t *seqs; /* the fragments' sequences */
} rdel_list;

/*
 * Fragments tombstones t[0..n) (in any order). Tombstones newer than read_seq are left
 * out. Of the sequences over a fragment, every one above collapse is kept and, of those
 * at or below it, only the newest: a compaction passes its oldest snapshot (no reader
 * tells the others apart), a reader its own sequence (only the newest matters to it),
 * 0 keeps them all. *out is NULL when nothing is left. Errors: -ENOMEM.
 */
int rdel_list_build(const range_tomb *t, size_t n, uint64_t read_seq, uint64_t collapse,
                    rdel_list **out);
void rdel_list_ref(rdel_list *l);
/* Bytes l holds (fragments, keys, sequences). */
size_t rdel_list_memory(const rdel_list *l);
/* NULL: no-op. */
void rdel_list_unref(rdel_list *l);

/* The newest of f's sequences at or below read_seq; 0 when none. */
static inline uint64_t rdel_frag_seq_at(const rdel_frag *f, uint64_t read_seq)
{
    for (uint32_t i = 0; i < f->nseqs; i++)
        if (f->seqs[i] <= read_seq)
            return f->seqs[i];
    return 0;
}

/* Index of the first fragment whose end is past key (n when none). */
int rdel_list_find(const rdel_list *l, slice key);

/* The newest sequence at or below read_seq of a tombstone over key; 0 when none. l may
   be NULL. */
uint64_t rdel_list_cover(const rdel_list *l, slice key, uint64_t read_seq);

/*
 * A cursor for lookups that mostly move a little at a time (iterators, a compaction's
 * merge): it remembers its fragment and answers from it while the key stays inside it
 * or in the gap before it, in either direction.
 */
typedef struct rdel_cursor {
    const rdel_list *l;
    int i; /* the fragment last found (n: past the end) */
} rdel_cursor;

static inline void rdel_cursor_init(rdel_cursor *c, const rdel_list *l)
{
    c->l = l;
    c->i = 0;
}
/* rdel_list_cover through the cursor. */
uint64_t rdel_cursor_cover(rdel_cursor *c, slice key, uint64_t read_seq);

/* Does the user key range [lo, hi] (inclusive) meet a fragment? */
bool rdel_list_overlaps(const rdel_list *l, slice lo, slice hi);

#endif

/*
 * block.h - the sorted block format shared by data and index blocks (LevelDB's).
 *
 * entry = varint32 shared | varint32 non_shared | varint32 value_len |
 *         key[shared:] (non_shared bytes) | value
 * block = entries | fixed32 restart offsets... | fixed32 restart count
 * Every restart_interval entries a restart point stores its key whole (shared = 0).
 * Blocks are compressed and checksummed by the table layer, not here.
 */
#ifndef SHALE_BLOCK_H
#define SHALE_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iterator.h"
#include "slice.h"

typedef struct block_builder {
    buf data;
    uint32_t *restarts;
    size_t n_restarts, cap_restarts;
    int restart_interval;
    int counter; /* entries since the last restart */
    buf last_key;
    bool finished;
    uint32_t n_entries;
} block_builder;

void block_builder_init(block_builder *bb, int restart_interval);
/* Keys must be added in increasing order (the caller's order). 0 or -ENOMEM. */
int block_builder_add(block_builder *bb, slice key, slice value);
/* Appends the restart array; the slice is valid until reset or destroy. */
slice block_builder_finish(block_builder *bb);
void block_builder_reset(block_builder *bb);
/* Size the block would have if finished now. */
size_t block_builder_size_estimate(const block_builder *bb);
static inline bool block_builder_empty(const block_builder *bb)
{
    return bb->data.len == 0;
}
void block_builder_destroy(block_builder *bb);

/* A parsed, read-only block. */
typedef struct block {
    const char *data;
    size_t size;             /* bytes of data, including the restart array */
    uint32_t restart_offset; /* where the restart array begins */
    uint32_t n_restarts;
    bool owned; /* data is free()d with the block */
} block;

/*
 * Checks the restart array and wraps data. owned=true hands data (malloc'ed) to the
 * block. Errors: SHALE_ECORRUPT (restart array out of bounds), -ENOMEM. On error an
 * owned buffer is freed.
 */
int block_new(const char *data, size_t size, bool owned, block **out);
/* NULL: no-op. */
void block_free(block *b);
/* Bytes the block holds in memory (for cache charges). */
size_t block_memory_usage(const block *b);

/*
 * An iterator over a block in key order with cmp (ikey_compare for data and index
 * blocks, slice_compare for plain-keyed blocks). Borrows b: the caller keeps b alive
 * until the iterator is freed, or passes a release callback that the iterator calls on
 * destroy (used to release a block cache handle). Malformed entries make the iterator
 * invalid with SHALE_ECORRUPT. NULL on ENOMEM.
 */
iter *block_iter_new(const block *b, int (*cmp)(slice a, slice b), void (*release)(void *arg),
                     void *release_arg);

/*
 * Point lookup without an iterator: finds the first entry >= target. Returns 1 with its
 * key rebuilt in *key (a caller-owned scratch buffer) and its value (pointing into the
 * block), 0 when every entry is < target, SHALE_ECORRUPT or -ENOMEM.
 */
int block_find(const block *b, int (*cmp)(slice a, slice b), slice target, buf *key, slice *value);

/*
 * A dense search aid for a block whose every entry is a restart point (index blocks are
 * built so): the first 8 bytes after the prefix all keys share, of each key's ordered
 * part, as big-endian numbers. A seek binary-searches this array, which stays in the CPU
 * cache, and compares whole keys only among the entries whose 8 bytes tie, instead of
 * decoding an entry (a cache miss) at every step.
 *
 * ordered_part(key) must be a prefix of key whose bytewise order cmp follows: when
 * ordered_part(a) < ordered_part(b) bytewise, cmp(a, b) < 0 (the user key of an
 * internal key). Memory: 8 bytes an entry.
 */
typedef struct block_prefix_index {
    uint64_t *windows;  /* one per entry, non-decreasing */
    uint32_t n;         /* entries (== restart points) */
    uint32_t lcp;       /* bytes every ordered part starts with */
    const char *common; /* those bytes (in the block) */
} block_prefix_index;

/*
 * Builds the aid for b (borrowed: keep b alive while the aid is used). Returns 0 with
 * x->windows NULL when b has an entry that is not a restart point (then use block_find),
 * SHALE_ECORRUPT on a malformed entry, -ENOMEM.
 */
int block_prefix_index_build(const block *b, slice (*ordered_part)(slice key),
                             block_prefix_index *x);
void block_prefix_index_free(block_prefix_index *x);
size_t block_prefix_index_memory(const block_prefix_index *x);
/*
 * block_find through the aid: the first entry >= target. target_part is
 * ordered_part(target). Returns 1 with the entry's key and value (both pointing into the
 * block), 0 when every entry is < target, SHALE_ECORRUPT.
 */
int block_prefix_index_find(const block *b, const block_prefix_index *x,
                            int (*cmp)(slice a, slice b), slice target, slice target_part,
                            slice *key, slice *value);

#endif

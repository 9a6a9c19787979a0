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

#endif

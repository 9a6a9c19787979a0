/*
 * block_cache.h - a sharded cache keyed by two 64-bit numbers, bounded by the sum of its
 * entries' charges, with CLOCK eviction (an approximation of LRU: an entry hit since the
 * clock hand last passed it survives the next pass). The db uses one for uncompressed data blocks (key: table file
 * number, block offset) and one for open tables (key: file number, 0; charge 1).
 *
 * Entries are reference counted through handles: a looked-up entry stays alive (even if
 * evicted or erased) until its handle is released; then the deleter runs.
 */
#ifndef SHALE_BLOCK_CACHE_H
#define SHALE_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct block_cache block_cache;
typedef struct cache_handle cache_handle;

/* capacity in charge units; 2^shard_bits shards (each capacity/shards, rounded up).
   Errors: -ENOMEM. */
int block_cache_new(size_t capacity, int shard_bits, block_cache **out);
/* Frees every entry (all handles must have been released). NULL: no-op. */
void block_cache_free(block_cache *c);

/* A referenced handle, or NULL when absent. Counts a hit or a miss. */
cache_handle *block_cache_lookup(block_cache *c, uint64_t k1, uint64_t k2);
/*
 * Inserts (replacing an entry with the same key) and returns a referenced handle to the
 * new entry. deleter(value) runs when the entry is gone and unreferenced. May evict
 * unreferenced entries to stay within capacity. NULL on ENOMEM (deleter has then run).
 */
cache_handle *block_cache_insert(block_cache *c, uint64_t k1, uint64_t k2, void *value,
                                 size_t charge, void (*deleter)(void *value));
void *block_cache_value(const cache_handle *h);
/* Drops the handle without taking a lock unless the shard is over capacity. */
void block_cache_release(block_cache *c, cache_handle *h);
/* Drops the entry for the key if present (it lives on while handles reference it). */
void block_cache_erase(block_cache *c, uint64_t k1, uint64_t k2);
void block_cache_set_capacity(block_cache *c, size_t capacity);

typedef struct block_cache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t usage, capacity;
} block_cache_stats;
void block_cache_get_stats(block_cache *c, block_cache_stats *out);

#endif

/*
 * bloom.h - a whole-table bloom filter over user keys (RocksDB's full filter idea).
 * Filter layout: 64-byte blocks | 1 byte: number of probes k. The hash's high half picks
 * the block, its low half the k bits within it (docs/format.md).
 */
#ifndef SHALE_BLOOM_H
#define SHALE_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

uint64_t bloom_hash(slice user_key);

/* Appends a filter for n hashes at bits_per_key (>= 1) to out. 0 or -ENOMEM. */
int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, buf *out);

/* False only when the key is surely absent. A malformed filter answers true. */
bool bloom_may_contain(slice filter, uint64_t hash);
/* Starts loading the one 64-byte block bloom_may_contain will read into the CPU cache. */
void bloom_prefetch(slice filter, uint64_t hash);

#endif

/*
 * bloom.c - whole-table bloom filter over user keys (layout in bloom.h), cache-local:
 * all probes of a key fall in one 64-byte block.
 */
#include "bloom.h"

#include <errno.h>
#include <string.h>
#include <xxhash.h>

uint64_t bloom_hash(slice user_key)
{
    return XXH3_64bits(user_key.data, user_key.len);
}

/*
 * Cache-local layout (RocksDB's "fast local bloom" idea): the high half of the hash picks
 * one 64-byte block, and every probe lands inside it, so a lookup touches one cache line
 * instead of k. Probe j tests bit (h_lo + j * delta) mod 512 of that block, where
 * delta = (h_lo >> 17) | 1 (32-bit arithmetic).
 */
#define BLOOM_BLOCK_BITS 512

static inline uint32_t block_index(uint64_t hash, uint32_t nblocks)
{
    return (uint32_t)(((hash >> 32) * (uint64_t)nblocks) >> 32);
}

int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, buf *out)
{
    /* k = bits_per_key * ln 2 probes, between 1 and 30 */
    int k = (int)(bits_per_key * 0.69);
    if (k < 1)
        k = 1;
    if (k > 30)
        k = 30;
    uint64_t bits = (uint64_t)n * (uint64_t)bits_per_key;
    uint64_t nblocks64 = (bits + BLOOM_BLOCK_BITS - 1) / BLOOM_BLOCK_BITS;
    if (nblocks64 < 1)
        nblocks64 = 1;
    if (nblocks64 > UINT32_MAX)
        return -EINVAL;
    uint32_t nblocks = (uint32_t)nblocks64;
    size_t bytes = (size_t)nblocks * (BLOOM_BLOCK_BITS / 8);
    int rc = buf_reserve(out, bytes + 1);
    if (rc)
        return rc;
    unsigned char *array = (unsigned char *)out->data + out->len;
    memset(array, 0, bytes);
    for (size_t i = 0; i < n; i++) {
        unsigned char *blk = array + (size_t)block_index(hashes[i], nblocks) * 64;
        uint32_t h = (uint32_t)hashes[i];
        uint32_t delta = (h >> 17) | 1;
        for (int j = 0; j < k; j++) {
            uint32_t pos = h % BLOOM_BLOCK_BITS;
            blk[pos / 8] |= (unsigned char)(1u << (pos % 8));
            h += delta;
        }
    }
    array[bytes] = (unsigned char)k;
    out->len += bytes + 1;
    return 0;
}

void bloom_prefetch(slice filter, uint64_t hash)
{
    if (filter.len < 65)
        return;
    uint32_t nblocks = (uint32_t)((filter.len - 1) / 64);
    __builtin_prefetch(filter.data + (size_t)block_index(hash, nblocks) * 64);
}

bool bloom_may_contain(slice filter, uint64_t hash)
{
    if (filter.len < 65 || (filter.len - 1) % 64 != 0)
        return true; /* not a filter this build writes: do not filter */
    const unsigned char *array = (const unsigned char *)filter.data;
    uint32_t nblocks = (uint32_t)((filter.len - 1) / 64);
    int k = array[filter.len - 1];
    if (k < 1 || k > 30)
        return true;
    const unsigned char *blk = array + (size_t)block_index(hash, nblocks) * 64;
    uint32_t h = (uint32_t)hash;
    uint32_t delta = (h >> 17) | 1;
    for (int j = 0; j < k; j++) {
        uint32_t pos = h % BLOOM_BLOCK_BITS;
        if (!(blk[pos / 8] & (1u << (pos % 8))))
            return false;
        h += delta;
    }
    return true;
}

/*
 * bloom.c - whole-table bloom filter over user keys (layout in bloom.h). Probes use
 * double hashing on the two 32-bit halves of an XXH3-64 hash.
 */
#include "bloom.h"

#include <errno.h>
#include <xxhash.h>

uint64_t bloom_hash(slice user_key)
{
    return XXH3_64bits(user_key.data, user_key.len);
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
    if (bits < 64)
        bits = 64;
    bits = (bits + 63) / 64 * 64;
    size_t bytes = (size_t)(bits / 8);
    int rc = buf_reserve(out, bytes + 1);
    if (rc)
        return rc;
    unsigned char *array = (unsigned char *)out->data + out->len;
    memset(array, 0, bytes);
    for (size_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)hashes[i];
        uint32_t delta = (uint32_t)(hashes[i] >> 32) | 1;
        for (int j = 0; j < k; j++) {
            uint64_t pos = h % bits;
            array[pos / 8] |= (unsigned char)(1u << (pos % 8));
            h += delta;
        }
    }
    array[bytes] = (unsigned char)k;
    out->len += bytes + 1;
    return 0;
}

bool bloom_may_contain(slice filter, uint64_t hash)
{
    if (filter.len < 2)
        return true;
    const unsigned char *array = (const unsigned char *)filter.data;
    uint64_t bits = (uint64_t)(filter.len - 1) * 8;
    int k = array[filter.len - 1];
    if (k < 1 || k > 30)
        return true; /* unknown encoding: do not filter */
    uint32_t h = (uint32_t)hash;
    uint32_t delta = (uint32_t)(hash >> 32) | 1;
    for (int j = 0; j < k; j++) {
        uint64_t pos = h % bits;
        if (!(array[pos / 8] & (1u << (pos % 8))))
            return false;
        h += delta;
    }
    return true;
}

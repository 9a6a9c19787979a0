/*
 * write_batch.c - building and decoding write batches (layout in write_batch.h).
 * A batch is also what the WAL stores, so decoding is strict: it runs on recovery input.
 */
#include "write_batch.h"

#include <errno.h>
#include <stdlib.h>

#include "coding.h"
#include "format.h"

int batch_init(shale_batch *b)
{
    b->rep = (buf){0};
    b->count = 0;
    int rc = buf_reserve(&b->rep, 256);
    if (rc)
        return rc;
    memset(b->rep.data, 0, BATCH_HEADER_SIZE);
    b->rep.len = BATCH_HEADER_SIZE;
    return 0;
}

void batch_destroy(shale_batch *b)
{
    buf_free(&b->rep);
}

int shale_batch_new(shale_batch **out)
{
    *out = NULL;
    shale_batch *b = malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    int rc = batch_init(b);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void shale_batch_free(shale_batch *b)
{
    if (!b)
        return;
    batch_destroy(b);
    free(b);
}

void shale_batch_clear(shale_batch *b)
{
    memset(b->rep.data, 0, BATCH_HEADER_SIZE);
    b->rep.len = BATCH_HEADER_SIZE;
    b->count = 0;
}

uint32_t shale_batch_count(const shale_batch *b)
{
    return b->count;
}

size_t shale_batch_size(const shale_batch *b)
{
    return b->rep.len;
}

static void set_count(shale_batch *b, uint32_t count)
{
    b->count = count;
    encode_fixed32(b->rep.data + 8, count);
}

int shale_batch_put(shale_batch *b, const void *key, size_t klen, const void *val, size_t vlen,
                    uint64_t expire_at_ms)
{
    if (klen == 0 || klen > SHALE_MAX_KEY_SIZE || vlen > SHALE_MAX_VALUE_SIZE)
        return -EINVAL;
    size_t full = vlen + (expire_at_ms ? 8 : 0);
    int rc = buf_reserve(&b->rep, 1 + 5 + klen + 5 + full);
    if (rc)
        return rc;
    char *p = b->rep.data + b->rep.len;
    *p++ = (char)(expire_at_ms ? KIND_EXPIRING : KIND_VALUE);
    p = encode_varint32(p, (uint32_t)klen);
    memcpy(p, key, klen);
    p += klen;
    p = encode_varint32(p, (uint32_t)full);
    if (expire_at_ms) {
        encode_fixed64(p, expire_at_ms);
        p += 8;
    }
    if (vlen)
        memcpy(p, val, vlen);
    p += vlen;
    b->rep.len = (size_t)(p - b->rep.data);
    set_count(b, b->count + 1);
    return 0;
}

int shale_batch_delete(shale_batch *b, const void *key, size_t klen)
{
    if (klen == 0 || klen > SHALE_MAX_KEY_SIZE)
        return -EINVAL;
    int rc = buf_reserve(&b->rep, 1 + 5 + klen);
    if (rc)
        return rc;
    char *p = b->rep.data + b->rep.len;
    *p++ = (char)KIND_DELETE;
    p = encode_varint32(p, (uint32_t)klen);
    memcpy(p, key, klen);
    p += klen;
    b->rep.len = (size_t)(p - b->rep.data);
    set_count(b, b->count + 1);
    return 0;
}

void batch_set_seq(shale_batch *b, uint64_t seq)
{
    encode_fixed64(b->rep.data, seq);
}

int batch_append(shale_batch *dst, const shale_batch *src)
{
    int rc =
        buf_append(&dst->rep, src->rep.data + BATCH_HEADER_SIZE, src->rep.len - BATCH_HEADER_SIZE);
    if (rc)
        return rc;
    set_count(dst, dst->count + src->count);
    return 0;
}

int batch_rep_header(slice rep, uint64_t *seq, uint32_t *count)
{
    if (rep.len < BATCH_HEADER_SIZE)
        return SHALE_ECORRUPT;
    *seq = decode_fixed64(rep.data);
    *count = decode_fixed32(rep.data + 8);
    return 0;
}

int batch_rep_iterate(slice rep,
                      int (*fn)(void *arg, uint64_t seq, int kind, slice key, slice value),
                      void *arg)
{
    uint64_t seq;
    uint32_t count;
    int rc = batch_rep_header(rep, &seq, &count);
    if (rc)
        return rc;
    const char *p = rep.data + BATCH_HEADER_SIZE, *end = rep.data + rep.len;
    uint32_t n = 0;
    while (p < end) {
        int kind = (unsigned char)*p++;
        uint32_t klen, vlen = 0;
        p = decode_varint32(p, end, &klen);
        if (!p || klen > (size_t)(end - p) || kind >= KIND_VPTR) /* pointers never come in */
            return SHALE_ECORRUPT;
        slice key = slice_make(p, klen);
        p += klen;
        slice value = slice_make(p, 0);
        if (kind != KIND_DELETE) {
            p = decode_varint32(p, end, &vlen);
            if (!p || vlen > (size_t)(end - p))
                return SHALE_ECORRUPT;
            if (kind == KIND_EXPIRING && vlen < 8)
                return SHALE_ECORRUPT;
            value = slice_make(p, vlen);
            p += vlen;
        }
        rc = fn(arg, seq + n, kind, key, value);
        if (rc)
            return rc;
        n++;
    }
    return n == count ? 0 : SHALE_ECORRUPT;
}

typedef struct insert_ctx {
    memtable *m;
    const char *base;
    uint64_t base_pos;
} insert_ctx;

static int insert_one(void *arg, uint64_t seq, int kind, slice key, slice value)
{
    insert_ctx *c = arg;
    uint64_t pos = c->base_pos && value.len ? c->base_pos + (uint64_t)(value.data - c->base) : 0;
    return memtable_add_at(c->m, seq, kind, key, value, pos);
}

int batch_rep_insert(slice rep, memtable *m, uint64_t base_pos)
{
    insert_ctx c = {m, rep.data, base_pos};
    return batch_rep_iterate(rep, insert_one, &c);
}

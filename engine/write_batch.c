/*
 * write_batch.c - building and decoding write batches (layout in write_batch.h).
 * A batch is also what the WAL stores, so decoding is strict: it runs on recovery input.
 */
#include "write_batch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

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

/* Writes a length-prefixed slice at p (room reserved by the caller); returns its end. */
static char *put_slice(char *p, const void *data, size_t len)
{
    p = encode_varint32(p, (uint32_t)len);
    if (len)
        memcpy(p, data, len);
    return p + len;
}

/* Ends a record written up to p: the batch's length and count take it in. */
static void end_record(shale_batch *b, const char *p)
{
    b->rep.len = (size_t)(p - b->rep.data);
    set_count(b, b->count + 1);
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
    p = put_slice(p, key, klen);
    p = encode_varint32(p, (uint32_t)full);
    if (expire_at_ms) {
        encode_fixed64(p, expire_at_ms);
        p += 8;
    }
    if (vlen)
        memcpy(p, val, vlen);
    end_record(b, p + vlen);
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
    end_record(b, put_slice(p, key, klen));
    return 0;
}

int shale_batch_delete_range(shale_batch *b, const void *begin, size_t blen, const void *end,
                             size_t elen)
{
    if (!b || blen == 0 || elen == 0 || blen > SHALE_MAX_KEY_SIZE || elen > SHALE_MAX_KEY_SIZE ||
        !begin || !end)
        return -EINVAL;
    int order = slice_compare(slice_make(begin, blen), slice_make(end, elen));
    if (order > 0)
        return -EINVAL;
    if (order == 0)
        return 0; /* an empty range deletes nothing */
    int rc = buf_reserve(&b->rep, 1 + 5 + blen + 5 + elen);
    if (rc)
        return rc;
    char *p = b->rep.data + b->rep.len;
    *p++ = (char)KIND_RANGE_DELETE;
    p = put_slice(p, begin, blen);
    end_record(b, put_slice(p, end, elen));
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

void batch_encode_skip(char *out, uint64_t first, uint64_t last)
{
    encode_fixed64(out, first);
    encode_fixed32(out + 8, 0);
    encode_fixed64(out + BATCH_HEADER_SIZE, last);
}

int batch_rep_skip(slice rep, uint64_t *last)
{
    uint64_t first;
    uint32_t count;
    int rc = batch_rep_header(rep, &first, &count);
    if (rc || count > 0)
        return rc;
    if (rep.len != BATCH_SKIP_SIZE)
        return SHALE_ECORRUPT;
    *last = decode_fixed64(rep.data + BATCH_HEADER_SIZE);
    return *last >= first ? 1 : SHALE_ECORRUPT;
}

/* decode false: a compressed value is not decoded (its entry's value is empty; stored
   and stored_len still say where it is). */
static int iterate(slice rep, bool decode, int (*fn)(void *arg, const batch_entry *e), void *arg)
{
    uint64_t seq;
    uint32_t count;
    int rc = batch_rep_header(rep, &seq, &count);
    if (rc)
        return rc;
    uint64_t skip_last;
    if (count == 0 && rep.len > BATCH_HEADER_SIZE)
        return batch_rep_skip(rep, &skip_last) == 1 ? 0 : SHALE_ECORRUPT; /* no entries */
    const char *p = rep.data + BATCH_HEADER_SIZE, *end = rep.data + rep.len;
    uint32_t n = 0;
    buf scratch = {0}; /* decompressed values */
    while (p < end && rc == 0) {
        int byte = (unsigned char)*p++;
        int kind = byte & ~BATCH_KIND_LZ4;
        bool lz4 = (byte & BATCH_KIND_LZ4) != 0;
        uint32_t klen, vlen = 0;
        p = decode_varint32(p, end, &klen);
        /* pointers never come in a batch, and only values are compressed */
        if (!p || klen > (size_t)(end - p) || kind == KIND_VPTR || kind > KIND_RANGE_DELETE ||
            (lz4 && (kind == KIND_DELETE || kind == KIND_RANGE_DELETE))) {
            rc = SHALE_ECORRUPT;
            break;
        }
        batch_entry e = {.seq = seq + n, .kind = kind, .key = slice_make(p, klen)};
        p += klen;
        if (kind != KIND_DELETE && !lz4) {
            p = decode_varint32(p, end, &vlen);
            if (!p || vlen > (size_t)(end - p) || (kind == KIND_EXPIRING && vlen < 8) ||
                (kind == KIND_RANGE_DELETE &&
                 (klen == 0 || slice_compare(e.key, slice_make(p, vlen)) >= 0))) {
                rc = SHALE_ECORRUPT; /* a range tombstone's begin is below its end */
                break;
            }
            e.value = slice_make(p, vlen);
            e.stored = p;
            p += vlen;
        } else if (lz4) {
            uint32_t raw, stored;
            size_t pre = kind == KIND_EXPIRING ? 8 : 0;
            p = decode_varint32(p, end, &raw);
            p = p ? decode_varint32(p, end, &stored) : NULL;
            if (!p || stored > (size_t)(end - p) || pre > (size_t)(end - p) - stored ||
                raw > SHALE_MAX_VALUE_SIZE) {
                rc = SHALE_ECORRUPT;
                break;
            }
            if (!decode) {
                p += pre;
            } else if (buf_reserve(&scratch, pre + raw)) {
                rc = -ENOMEM;
                break;
            } else {
                memcpy(scratch.data, p, pre);
                p += pre;
                int got = LZ4_decompress_safe(p, scratch.data + pre, (int)stored, (int)raw);
                if (got < 0 || (uint32_t)got != raw) {
                    rc = SHALE_ECORRUPT;
                    break;
                }
                e.value = slice_make(scratch.data, pre + raw);
            }
            e.stored = p;
            e.stored_len = stored;
            p += stored;
        } else {
            e.value = slice_make(p, 0);
        }
        rc = fn(arg, &e);
        n++;
    }
    buf_free(&scratch);
    if (rc)
        return rc;
    return n == count ? 0 : SHALE_ECORRUPT;
}

int batch_rep_iterate_entries(slice rep, int (*fn)(void *arg, const batch_entry *e), void *arg)
{
    return iterate(rep, true, fn, arg);
}

typedef struct plain_ctx {
    int (*fn)(void *arg, uint64_t seq, int kind, slice key, slice value);
    void *arg;
} plain_ctx;

static int plain_one(void *arg, const batch_entry *e)
{
    plain_ctx *c = arg;
    return c->fn(c->arg, e->seq, e->kind, e->key, e->value);
}

int batch_rep_iterate(slice rep,
                      int (*fn)(void *arg, uint64_t seq, int kind, slice key, slice value),
                      void *arg)
{
    plain_ctx c = {fn, arg};
    return batch_rep_iterate_entries(rep, plain_one, &c);
}

/*
 * lz4's acceleration for values on the write path. The writer thread pays for this
 * compression on every put, so it is tuned for speed: on db_bench's values (compressible
 * 2:1) acceleration 2 keeps the ratio of the default (0.577) at half its time (1 KiB:
 * ~8 100 instructions instead of ~13 300); 4 loses ratio (0.625). Tables compress their
 * blocks in the background with the default.
 */
#define VALUE_LZ4_ACCELERATION 2

/* Compresses src into dst (cap bytes): lz4 block bytes that LZ4_decompress_safe decodes
   alone. With a stream, its tables are reset cheaply (LZ4_resetStream_fast) instead of
   being cleared: a fresh state costs a 16 KiB memset per value, more than compressing
   1 KiB. The reset stream has no dictionary, so each output stands alone. */
static int compress_value(LZ4_stream_t *lz4, const char *src, int n, char *dst, int cap)
{
    if (!lz4)
        return LZ4_compress_fast(src, dst, n, cap, VALUE_LZ4_ACCELERATION);
    LZ4_resetStream_fast(lz4);
    return LZ4_compress_fast_continue(lz4, src, dst, n, cap, VALUE_LZ4_ACCELERATION);
}

int batch_rep_compress(slice rep, size_t threshold, LZ4_stream_t *lz4, buf *out)
{
    out->len = 0;
    if (threshold == 0 || rep.len < BATCH_HEADER_SIZE)
        return 0;
    const char *p = rep.data + BATCH_HEADER_SIZE, *end = rep.data + rep.len;
    int compressed = 0;
    const char *copied = rep.data; /* rep bytes before this are already in out */
    while (p < end) {
        const char *entry = p;
        int kind = (unsigned char)*p++;
        uint32_t klen, vlen;
        p = decode_varint32(p, end, &klen);
        if (!p || klen > (size_t)(end - p))
            return SHALE_ECORRUPT;
        p += klen;
        if (kind == KIND_DELETE)
            continue;
        const char *vfield = p;
        p = decode_varint32(p, end, &vlen);
        if (!p || vlen > (size_t)(end - p))
            return SHALE_ECORRUPT;
        const char *value = p;
        p += vlen;
        size_t pre = kind == KIND_EXPIRING ? 8 : 0;
        if (kind == KIND_RANGE_DELETE)
            continue; /* its value is the range's end key: never compressed */
        if (kind != KIND_VALUE && kind != KIND_EXPIRING)
            return SHALE_ECORRUPT;
        if (vlen < pre || vlen - pre < threshold)
            continue;
        uint32_t raw = vlen - (uint32_t)pre;
        uint32_t most = raw - raw / 8; /* a longer result is not worth it */
        /* The field's header (raw length, stored length, expiry) goes before the lz4
           bytes; they are written where a header for a result of `most` bytes ends, so
           that only a result whose length takes fewer varint bytes has to move. */
        size_t hguess = (size_t)varint_length(raw) + (size_t)varint_length(most) + pre;
        /* what precedes this entry's value field, then the compressed field */
        if (buf_reserve(out, (size_t)(vfield - copied) + hguess + most))
            return -ENOMEM;
        buf_append(out, copied, (size_t)(vfield - copied));
        char *kb = out->data + out->len - (size_t)(vfield - entry); /* the kind byte */
        char *field = out->data + out->len;
        int n = compress_value(lz4, value + pre, (int)raw, field + hguess, (int)most);
        if (n <= 0) {
            /* does not fit in `most` bytes, not worth it: copy the field as it was */
            buf_append(out, vfield, (size_t)(p - vfield));
            copied = p;
            continue;
        }
        *kb = (char)(kind | BATCH_KIND_LZ4);
        char *h = encode_varint32(field, raw);
        char hdr[5];
        size_t nlen = (size_t)(encode_varint32(hdr, (uint32_t)n) - hdr);
        size_t hlen = (size_t)(h - field) + nlen + pre;
        if (hlen != hguess)
            memmove(field + hlen, field + hguess, (size_t)n);
        memcpy(h, hdr, nlen);
        memcpy(h + nlen, value, pre);
        out->len += hlen + (size_t)n;
        copied = p;
        compressed++;
    }
    if (compressed == 0) {
        out->len = 0;
        return 0;
    }
    if (buf_append(out, copied, (size_t)(end - copied)))
        return -ENOMEM;
    return compressed;
}

typedef struct insert_ctx {
    memtable *m;
    const char *base;
    uint64_t base_pos;
} insert_ctx;

static int insert_one(void *arg, const batch_entry *e)
{
    insert_ctx *c = arg;
    uint64_t pos = c->base_pos && e->value.len && e->kind != KIND_RANGE_DELETE
                       ? c->base_pos + (uint64_t)(e->stored - c->base)
                       : 0;
    return memtable_add_at(c->m, e->seq, e->kind, e->key, e->value, pos, e->stored_len);
}

int batch_rep_insert(slice rep, memtable *m, uint64_t base_pos)
{
    insert_ctx c = {m, rep.data, base_pos};
    return batch_rep_iterate_entries(rep, insert_one, &c);
}

/* Where each entry of the stored (compressed) rep keeps its value. */
typedef struct located {
    const char **stored;
    uint32_t *stored_len;
    uint32_t n, cap;
} located;

static int locate_one(void *arg, const batch_entry *e)
{
    located *l = arg;
    if (l->n == l->cap)
        return SHALE_ECORRUPT;
    l->stored[l->n] = e->stored;
    l->stored_len[l->n++] = e->stored_len;
    return 0;
}

typedef struct insert_located_ctx {
    memtable *m;
    const located *l;
    const char *base;
    uint64_t base_pos;
    uint32_t i;
} insert_located_ctx;

static int insert_located_one(void *arg, const batch_entry *e)
{
    insert_located_ctx *c = arg;
    uint32_t i = c->i++;
    uint64_t pos = c->base_pos && e->value.len && e->kind != KIND_RANGE_DELETE
                       ? c->base_pos + (uint64_t)(c->l->stored[i] - c->base)
                       : 0;
    return memtable_add_at(c->m, e->seq, e->kind, e->key, e->value, pos, c->l->stored_len[i]);
}

int batch_rep_insert_stored(slice rep, slice stored, memtable *m, uint64_t base_pos)
{
    uint64_t seq;
    uint32_t count;
    int rc = batch_rep_header(rep, &seq, &count);
    if (rc)
        return rc;
    const char *stack_p[32];
    uint32_t stack_l[32];
    located l = {stack_p, stack_l, 0, 32};
    if (count > 32) {
        l.stored = malloc(count * sizeof *l.stored);
        l.stored_len = malloc(count * sizeof *l.stored_len);
        l.cap = count;
        if (!l.stored || !l.stored_len)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = iterate(stored, false, locate_one, &l);
    if (rc == 0 && l.n != count)
        rc = SHALE_ECORRUPT;
    insert_located_ctx c = {m, &l, stored.data, base_pos, 0};
    if (rc == 0)
        rc = iterate(rep, true, insert_located_one, &c);
    if (l.stored != stack_p) {
        free(l.stored);
        free(l.stored_len);
    }
    return rc;
}

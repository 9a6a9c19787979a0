/*
 * block.c - sorted blocks with shared-prefix keys and restart points (layout in block.h),
 * as LevelDB's block_builder.cc and block.cc: build, parse and iterate both ways.
 */
#include "block.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "shale.h"

/* ---- builder ---- */

void block_builder_init(block_builder *bb, int restart_interval)
{
    memset(bb, 0, sizeof *bb);
    bb->restart_interval = restart_interval < 1 ? 1 : restart_interval;
}

static int push_restart(block_builder *bb, uint32_t off)
{
    if (bb->n_restarts == bb->cap_restarts) {
        size_t cap = bb->cap_restarts ? bb->cap_restarts * 2 : 32;
        uint32_t *p = realloc(bb->restarts, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        bb->restarts = p;
        bb->cap_restarts = cap;
    }
    bb->restarts[bb->n_restarts++] = off;
    return 0;
}

int block_builder_add(block_builder *bb, slice key, slice value)
{
    size_t shared = 0;
    if (bb->counter < bb->restart_interval && bb->n_entries > 0) {
        size_t min = key.len < bb->last_key.len ? key.len : bb->last_key.len;
        while (shared < min && key.data[shared] == bb->last_key.data[shared])
            shared++;
    } else {
        if (push_restart(bb, (uint32_t)bb->data.len))
            return -ENOMEM;
        bb->counter = 0;
    }
    size_t non_shared = key.len - shared;
    int rc = buf_reserve(&bb->data, 15 + non_shared + value.len);
    if (rc)
        return rc;
    char *p = bb->data.data + bb->data.len;
    p = encode_varint32(p, (uint32_t)shared);
    p = encode_varint32(p, (uint32_t)non_shared);
    p = encode_varint32(p, (uint32_t)value.len);
    memcpy(p, key.data + shared, non_shared);
    p += non_shared;
    if (value.len)
        memcpy(p, value.data, value.len);
    p += value.len;
    bb->data.len = (size_t)(p - bb->data.data);
    /* keep last_key = key without reallocating when it fits */
    bb->last_key.len = shared;
    rc = buf_append(&bb->last_key, key.data + shared, non_shared);
    if (rc)
        return rc;
    bb->counter++;
    bb->n_entries++;
    return 0;
}

slice block_builder_finish(block_builder *bb)
{
    if (bb->n_restarts == 0)
        push_restart(bb, 0);
    buf_reserve(&bb->data, bb->n_restarts * 4 + 4);
    for (size_t i = 0; i < bb->n_restarts; i++)
        put_fixed32(&bb->data, bb->restarts[i]);
    put_fixed32(&bb->data, (uint32_t)bb->n_restarts);
    bb->finished = true;
    return buf_slice(&bb->data);
}

void block_builder_reset(block_builder *bb)
{
    bb->data.len = 0;
    bb->n_restarts = 0;
    bb->counter = 0;
    bb->last_key.len = 0;
    bb->finished = false;
    bb->n_entries = 0;
}

size_t block_builder_size_estimate(const block_builder *bb)
{
    return bb->data.len + bb->n_restarts * 4 + 4;
}

void block_builder_destroy(block_builder *bb)
{
    buf_free(&bb->data);
    buf_free(&bb->last_key);
    free(bb->restarts);
    memset(bb, 0, sizeof *bb);
}

/* ---- parsed block ---- */

int block_new(const char *data, size_t size, bool owned, block **out)
{
    *out = NULL;
    block *b = malloc(sizeof *b);
    if (!b) {
        if (owned)
            free((void *)data);
        return -ENOMEM;
    }
    b->data = data;
    b->size = size;
    b->owned = owned;
    if (size < 4)
        goto corrupt;
    b->n_restarts = decode_fixed32(data + size - 4);
    if (b->n_restarts == 0 || b->n_restarts > (size - 4) / 4)
        goto corrupt;
    b->restart_offset = (uint32_t)(size - 4 - (size_t)b->n_restarts * 4);
    *out = b;
    return 0;
corrupt:
    block_free(b);
    return SHALE_ECORRUPT;
}

void block_free(block *b)
{
    if (!b)
        return;
    if (b->owned)
        free((void *)b->data);
    free(b);
}

size_t block_memory_usage(const block *b)
{
    return sizeof *b + b->size;
}

/* ---- iterator ---- */

typedef struct block_iter {
    iter base;
    const block *b;
    int (*cmp)(slice, slice);
    void (*release)(void *);
    void *release_arg;
    const char *data;
    uint32_t restarts; /* offset of the restart array: the end of entries */
    uint32_t n_restarts;
    uint32_t current;       /* offset of the current entry; == restarts when invalid */
    uint32_t restart_index; /* restart block containing current */
    buf key;
    slice value;
    int status;
} block_iter;

static inline uint32_t restart_point(const block_iter *bi, uint32_t i)
{
    return decode_fixed32(bi->data + bi->restarts + i * 4);
}

static inline uint32_t next_entry_offset(const block_iter *bi)
{
    return (uint32_t)(bi->value.data + bi->value.len - bi->data);
}

static void corruption(block_iter *bi)
{
    bi->current = bi->restarts;
    bi->restart_index = bi->n_restarts;
    bi->status = SHALE_ECORRUPT;
    bi->key.len = 0;
    bi->value = slice_make(NULL, 0);
}

/* Decodes the entry header at p; NULL on malformed input. */
static inline const char *decode_entry(const char *p, const char *limit, uint32_t *shared,
                                       uint32_t *non_shared, uint32_t *value_len)
{
    if (limit - p < 3)
        return NULL;
    *shared = (unsigned char)p[0];
    *non_shared = (unsigned char)p[1];
    *value_len = (unsigned char)p[2];
    if ((*shared | *non_shared | *value_len) < 128) {
        p += 3; /* fast path: all three are one byte */
    } else {
        if (!(p = decode_varint32(p, limit, shared)) ||
            !(p = decode_varint32(p, limit, non_shared)) ||
            !(p = decode_varint32(p, limit, value_len)))
            return NULL;
    }
    if ((uint64_t)(limit - p) < (uint64_t)*non_shared + *value_len)
        return NULL;
    return p;
}

/* Parses the entry at bi->current's successor position `off`; false at the end. */
static bool parse_entry_at(block_iter *bi, uint32_t off)
{
    bi->current = off;
    if (off >= bi->restarts) {
        bi->current = bi->restarts;
        bi->restart_index = bi->n_restarts;
        return false;
    }
    const char *p = bi->data + off, *limit = bi->data + bi->restarts;
    uint32_t shared, non_shared, value_len;
    p = decode_entry(p, limit, &shared, &non_shared, &value_len);
    if (!p || bi->key.len < shared) {
        corruption(bi);
        return false;
    }
    bi->key.len = shared;
    if (buf_append(&bi->key, p, non_shared)) {
        bi->status = -ENOMEM;
        corruption(bi);
        bi->status = -ENOMEM;
        return false;
    }
    bi->value = slice_make(p + non_shared, value_len);
    while (bi->restart_index + 1 < bi->n_restarts &&
           restart_point(bi, bi->restart_index + 1) <= bi->current)
        bi->restart_index++;
    return true;
}

static void seek_to_restart(block_iter *bi, uint32_t index)
{
    bi->key.len = 0;
    bi->restart_index = index;
    /* the next parse starts at the restart point */
    bi->value = slice_make(bi->data + restart_point(bi, index), 0);
}

static bool find_restart(const block *b, int (*cmp)(slice a, slice b), slice target, uint32_t *out);

int block_find(const block *b, int (*cmp)(slice a, slice b), slice target, buf *key, slice *value)
{
    /* Not through an iterator: a point read needs neither the restart index of each entry
       (kept for prev) nor the iterator's state. */
    uint32_t left;
    if (!find_restart(b, cmp, target, &left))
        return SHALE_ECORRUPT;
    const char *limit = b->data + b->restart_offset;
    const char *p = b->data + decode_fixed32(limit + (size_t)left * 4);
    key->len = 0;
    while (p < limit) {
        uint32_t shared, non_shared, value_len;
        p = decode_entry(p, limit, &shared, &non_shared, &value_len);
        if (!p || key->len < shared)
            return SHALE_ECORRUPT;
        key->len = shared;
        if (buf_append(key, p, non_shared))
            return -ENOMEM;
        p += non_shared;
        if (cmp(buf_slice(key), target) >= 0) {
            *value = slice_make(p, value_len);
            return 1;
        }
        p += value_len;
    }
    return 0;
}

static bool bi_valid(const iter *it)
{
    const block_iter *bi = (const block_iter *)it;
    return bi->current < bi->restarts;
}

static void bi_next(iter *it)
{
    block_iter *bi = (block_iter *)it;
    parse_entry_at(bi, next_entry_offset(bi));
}

static void bi_prev(iter *it)
{
    block_iter *bi = (block_iter *)it;
    uint32_t original = bi->current;
    while (restart_point(bi, bi->restart_index) >= original) {
        if (bi->restart_index == 0) {
            bi->current = bi->restarts;
            bi->restart_index = bi->n_restarts;
            return;
        }
        bi->restart_index--;
    }
    seek_to_restart(bi, bi->restart_index);
    do {
        if (!parse_entry_at(bi, next_entry_offset(bi)))
            return;
    } while (next_entry_offset(bi) < original);
}

static void bi_seek_to_first(iter *it)
{
    block_iter *bi = (block_iter *)it;
    seek_to_restart(bi, 0);
    parse_entry_at(bi, next_entry_offset(bi));
}

static void bi_seek_to_last(iter *it)
{
    block_iter *bi = (block_iter *)it;
    seek_to_restart(bi, bi->n_restarts - 1);
    while (parse_entry_at(bi, next_entry_offset(bi)) && next_entry_offset(bi) < bi->restarts) {
    }
}

/* The whole entry at restart point i of b (its key has shared == 0); false if malformed. */
static bool entry_at_restart(const block *b, uint32_t i, slice *key, slice *value, const char **end)
{
    uint32_t off = decode_fixed32(b->data + b->restart_offset + (size_t)i * 4);
    if (off >= b->restart_offset)
        return false;
    uint32_t shared, non_shared, value_len;
    const char *p =
        decode_entry(b->data + off, b->data + b->restart_offset, &shared, &non_shared, &value_len);
    if (!p || shared != 0)
        return false;
    *key = slice_make(p, non_shared);
    *value = slice_make(p + non_shared, value_len);
    *end = p + non_shared + value_len;
    return true;
}

/* Key stored whole at restart point i of b (shared must be 0). */
static bool restart_key(const block *b, uint32_t i, slice *key)
{
    slice value;
    const char *end;
    return entry_at_restart(b, i, key, &value, &end);
}

/* Binary search for the last restart point whose key is < target (0 if none); false on a
   malformed restart entry. */
static bool find_restart(const block *b, int (*cmp)(slice a, slice b), slice target, uint32_t *out)
{
    uint32_t left = 0, right = b->n_restarts - 1;
    while (left < right) {
        uint32_t mid = (left + right + 1) / 2;
        slice k;
        if (!restart_key(b, mid, &k))
            return false;
        if (cmp(k, target) < 0)
            left = mid;
        else
            right = mid - 1;
    }
    *out = left;
    return true;
}

static void bi_seek(iter *it, slice target)
{
    block_iter *bi = (block_iter *)it;
    uint32_t left;
    if (!find_restart(bi->b, bi->cmp, target, &left)) {
        corruption(bi);
        return;
    }
    seek_to_restart(bi, left);
    for (;;) {
        if (!parse_entry_at(bi, next_entry_offset(bi)))
            return;
        if (bi->cmp(buf_slice(&bi->key), target) >= 0)
            return;
    }
}

static void bi_seek_for_prev(iter *it, slice target)
{
    block_iter *bi = (block_iter *)it;
    bi_seek(it, target);
    if (bi->status)
        return;
    if (!bi_valid(it)) {
        bi_seek_to_last(it);
        return;
    }
    if (bi->cmp(buf_slice(&bi->key), target) > 0)
        bi_prev(it);
}

static slice bi_key(const iter *it)
{
    return buf_slice(&((const block_iter *)it)->key);
}

static slice bi_value(const iter *it)
{
    return ((const block_iter *)it)->value;
}

static int bi_status(const iter *it)
{
    return ((const block_iter *)it)->status;
}

static void bi_destroy(iter *it)
{
    block_iter *bi = (block_iter *)it;
    if (bi->release)
        bi->release(bi->release_arg);
    buf_free(&bi->key);
    free(bi);
}

static const iter_ops block_iter_ops = {
    bi_valid, bi_seek_to_first, bi_seek_to_last, bi_seek,   bi_seek_for_prev, bi_next,
    bi_prev,  bi_key,           bi_value,        bi_status, bi_destroy};

iter *block_iter_new(const block *b, int (*cmp)(slice a, slice b), void (*release)(void *arg),
                     void *release_arg)
{
    block_iter *bi = calloc(1, sizeof *bi);
    if (!bi)
        return NULL;
    bi->base.ops = &block_iter_ops;
    bi->b = b;
    bi->cmp = cmp;
    bi->release = release;
    bi->release_arg = release_arg;
    bi->data = b->data;
    bi->restarts = b->restart_offset;
    bi->n_restarts = b->n_restarts;
    bi->current = bi->restarts;
    bi->restart_index = bi->n_restarts;
    return &bi->base;
}

/* ---- prefix index (see block.h) ---- */

/* Bytes [lcp, lcp + 8) of part as a big-endian number, zero-padded past its end. */
static inline uint64_t window_of(slice part, uint32_t lcp)
{
    uint64_t w = 0;
    for (size_t i = 0; i < 8; i++) {
        size_t at = lcp + i;
        w = w << 8 | (at < part.len ? (unsigned char)part.data[at] : 0);
    }
    return w;
}

int block_prefix_index_build(const block *b, slice (*ordered_part)(slice key),
                             block_prefix_index *x)
{
    memset(x, 0, sizeof *x);
    uint32_t n = b->n_restarts;
    slice first, last, key, value;
    const char *end;
    if (b->restart_offset == 0)
        return 0; /* no entry (a table of range tombstones alone): nothing to search */
    if (!entry_at_restart(b, 0, &first, &value, &end) ||
        !entry_at_restart(b, n - 1, &last, &value, &end))
        return SHALE_ECORRUPT;
    slice fp = ordered_part(first), lp = ordered_part(last);
    uint32_t lcp = 0;
    while (lcp < fp.len && lcp < lp.len && fp.data[lcp] == lp.data[lcp])
        lcp++;
    uint64_t *w = malloc((size_t)n * sizeof *w);
    if (!w)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        if (!entry_at_restart(b, i, &key, &value, &end)) {
            free(w);
            return SHALE_ECORRUPT;
        }
        const char *next =
            i + 1 < n ? b->data + decode_fixed32(b->data + b->restart_offset + (size_t)(i + 1) * 4)
                      : b->data + b->restart_offset;
        slice part = ordered_part(key);
        if (end != next || part.len < lcp || (i > 0 && window_of(part, lcp) < w[i - 1])) {
            free(w); /* entries between restart points, or out of order: no aid */
            return 0;
        }
        w[i] = window_of(part, lcp);
    }
    x->windows = w;
    x->n = n;
    x->lcp = lcp;
    x->common = fp.data;
    return 0;
}

void block_prefix_index_free(block_prefix_index *x)
{
    free(x->windows);
    memset(x, 0, sizeof *x);
}

size_t block_prefix_index_memory(const block_prefix_index *x)
{
    return (size_t)x->n * sizeof *x->windows;
}

int block_prefix_index_find(const block *b, const block_prefix_index *x,
                            int (*cmp)(slice a, slice b), slice target, slice target_part,
                            slice *key, slice *value)
{
    /* Outside the shared prefix: before every entry or after all of them. */
    size_t m = target_part.len < x->lcp ? target_part.len : x->lcp;
    int c = memcmp(target_part.data, x->common, m);
    uint32_t lo = 0, hi = x->n;
    if (c > 0)
        return 0;
    if (c == 0 && target_part.len >= x->lcp) {
        uint64_t t = window_of(target_part, x->lcp);
        while (lo < hi) { /* first window >= t */
            uint32_t mid = lo + (hi - lo) / 2;
            if (x->windows[mid] < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (uint32_t top = x->n; hi < top;) { /* first window > t, from lo */
            uint32_t mid = hi + (top - hi) / 2;
            if (x->windows[mid] <= t)
                hi = mid + 1;
            else
                top = mid;
        }
        /* entries before lo are < target, from hi on > target: search [lo, hi) whole */
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            const char *end;
            if (!entry_at_restart(b, mid, key, value, &end))
                return SHALE_ECORRUPT;
            if (cmp(*key, target) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    if (lo >= x->n)
        return 0;
    const char *end;
    return entry_at_restart(b, lo, key, value, &end) ? 1 : SHALE_ECORRUPT;
}

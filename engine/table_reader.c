/*
 * table_reader.c - reads sorted tables: footer, index, filter and properties at open;
 * data blocks through the block cache. Every block read from the file has its checksum
 * verified; damage is SHALE_ECORRUPT, never a wrong answer.
 */
#include "table_reader.h"

#include <errno.h>
#include <lz4.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "file.h"
#include "format.h"
#include "range_del.h"
#include "shale.h"

static atomic_uint_fast64_t stat_bloom_useful, stat_block_reads;

uint64_t table_stat_bloom_useful(void)
{
    return atomic_load(&stat_bloom_useful);
}

uint64_t table_stat_block_reads(void)
{
    return atomic_load(&stat_block_reads);
}

struct table {
    int fd;
    uint64_t number;
    uint64_t size;
    block_cache *cache;
    block *index;
    block_prefix_index index_aid; /* windows NULL: search the index with block_find */
    char *filter_data;
    slice filter;
    table_props props;
    rdel_list *rdels; /* the range-deletion block's fragments (NULL: none) */
};

/* Per-thread buffers, so a point read allocates nothing once warm but the block it
   caches (freed by the key's destructor when the thread ends). */
typedef struct scratch {
    buf key; /* the key block_find rebuilds */
    buf raw; /* a block as read from the file, before decompression */
} scratch;

/* Blocks larger than this are read into a buffer of their own, not kept per thread. */
#define RAW_SCRATCH_MAX (1u << 20)

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    buf_free(&s->key);
    buf_free(&s->raw);
    free(s);
}

static void scratch_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

/* This thread's scratch; NULL on ENOMEM. */
static scratch *thread_scratch(void)
{
    pthread_once(&scratch_once, scratch_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (s && pthread_setspecific(scratch_key, s)) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

/* A buffer of n bytes for a raw block: the thread's scratch (*mine false) or, for a large
   block or without scratch, a malloc'ed one (*mine true: the caller frees it). */
static char *raw_buffer(size_t n, bool *mine)
{
    scratch *s = n <= RAW_SCRATCH_MAX ? thread_scratch() : NULL;
    *mine = !s || buf_reserve(&s->raw, n) != 0;
    return *mine ? malloc(n ? n : 1) : s->raw.data;
}

/* Hands a raw buffer over to the caller as a block's own (malloc'ed) memory. */
static char *take_raw(char *raw, bool mine)
{
    if (mine)
        return raw;
    scratch *s = thread_scratch(); /* the one raw came from */
    s->raw = (buf){0};
    return raw;
}

/* An lz4 block's contents (varint32 length, then the compressed bytes) into a malloc'ed
   buffer. Errors: SHALE_ECORRUPT, -ENOMEM. */
static int decompress_lz4(const char *in, size_t len, char **out, size_t *out_len)
{
    uint32_t ulen;
    const char *p = decode_varint32(in, in + len, &ulen);
    if (!p || ulen > (256u << 20))
        return SHALE_ECORRUPT;
    char *u = malloc(ulen ? ulen : 1);
    if (!u)
        return -ENOMEM;
    int d = LZ4_decompress_safe(p, u, (int)(in + len - p), (int)ulen);
    if (d < 0 || (uint32_t)d != ulen) {
        free(u);
        return SHALE_ECORRUPT;
    }
    *out = u;
    *out_len = ulen;
    return 0;
}

/* Reads, verifies and (if lz4) decompresses a block into a malloc'ed buffer. The file's
   bytes go through the thread's scratch buffer, so an lz4 block costs one allocation. */
static int read_block(table *t, block_handle h, char **out, size_t *out_len)
{
    *out = NULL;
    if (h.offset > t->size || h.size > t->size - h.offset ||
        t->size - h.offset - h.size < BLOCK_TRAILER_SIZE)
        return SHALE_ECORRUPT;
    size_t n = (size_t)h.size + BLOCK_TRAILER_SIZE;
    bool mine;
    char *raw = raw_buffer(n, &mine);
    if (!raw)
        return -ENOMEM;
    int rc = 0;
    ssize_t got = file_pread(t->fd, raw, n, h.offset);
    if (got < 0 || (size_t)got != n)
        rc = got < 0 ? (int)got : SHALE_ECORRUPT;
    if (rc == 0)
        atomic_fetch_add_explicit(&stat_block_reads, 1, memory_order_relaxed);
    char type = rc == 0 ? raw[h.size] : 0;
    if (rc == 0 && decode_fixed32(raw + h.size + 1) != block_checksum(raw, (size_t)h.size, type))
        rc = SHALE_ECORRUPT;
    if (rc == 0 && type == BLOCK_RAW) {
        *out = take_raw(raw, mine);
        *out_len = (size_t)h.size;
        return 0;
    }
    if (rc == 0 && type != BLOCK_LZ4)
        rc = SHALE_ECORRUPT;
    if (rc == 0)
        rc = decompress_lz4(raw, (size_t)h.size, out, out_len);
    if (mine)
        free(raw);
    return rc;
}

static int decode_handle(slice v, block_handle *h)
{
    if (get_varint64(&v, &h->offset) || get_varint64(&v, &h->size))
        return SHALE_ECORRUPT;
    return 0;
}

static int decode_props(slice in, table_props *p)
{
    uint32_t n;
    if (get_varint32(&in, &n) || n < 9)
        return SHALE_ECORRUPT;
    /* Tables written before issue 17 have the first 9 fields; later fields read as
       unknown there, and fields past these (a newer writer's) are skipped. */
    uint64_t *f[] = {&p->num_entries,     &p->num_deletes,    &p->raw_key_bytes,
                     &p->raw_value_bytes, &p->data_bytes,     &p->num_data_blocks,
                     &p->min_seq,         &p->max_seq,        &p->max_expire_at_ms,
                     &p->num_live_keys,   &p->num_range_dels, &p->range_del_offset,
                     &p->range_del_size};
    const uint32_t known = (uint32_t)(sizeof f / sizeof f[0]);
    p->num_live_keys = UINT64_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v;
        if (get_varint64(&in, &v))
            return SHALE_ECORRUPT;
        if (i < known)
            *f[i] = v;
    }
    return 0;
}

/* The range-deletion block's entries, (begin, seq, KIND_RANGE_DELETE) -> end, into
   t->rdels. Errors: SHALE_ECORRUPT (a malformed entry, a begin not below its end, a
   count that differs from the properties'), -ENOMEM. */
static int load_range_dels(table *t, const char *data, size_t len)
{
    block *b;
    int rc = block_new(data, len, false, &b);
    if (rc)
        return rc;
    iter *it = block_iter_new(b, ikey_compare, NULL, NULL);
    uint64_t want = t->props.num_range_dels;
    bool fits = want <= len; /* an entry takes bytes: a larger count is damage */
    range_tomb *rt = it && fits ? malloc((size_t)want * sizeof *rt) : NULL;
    size_t *off = it && fits ? malloc((size_t)want * sizeof *off) : NULL;
    size_t n = 0;
    buf begins = {0}; /* the iterator rebuilds each key in one buffer: keep copies */
    rc = !it ? -ENOMEM : !fits ? SHALE_ECORRUPT : !rt || !off ? -ENOMEM : 0;
    for (iter_seek_to_first(it); rc == 0 && iter_valid(it); iter_next(it)) {
        slice k = iter_key(it), v = iter_value(it); /* v points into the block */
        if (n == want || k.len < TRAILER_SIZE || ikey_kind(k) != KIND_RANGE_DELETE ||
            slice_compare(ikey_user_key(k), v) >= 0) {
            rc = SHALE_ECORRUPT;
            break;
        }
        off[n] = begins.len;
        rt[n++] = (range_tomb){ikey_user_key(k), v, ikey_seq(k)};
        if (buf_append(&begins, k.data, k.len - TRAILER_SIZE))
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = iter_status(it);
    if (rc == 0 && n != want)
        rc = SHALE_ECORRUPT;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rt[i].begin.data = begins.data + off[i];
    /* stored fragmented; building again copies the keys out (and mends nothing: a
       writer's fragments come back as they were) */
    if (rc == 0)
        rc = rdel_list_build(rt, n, UINT64_MAX, 0, &t->rdels);
    free(rt);
    free(off);
    buf_free(&begins);
    iter_free(it);
    block_free(b);
    return rc;
}

int table_open(int fd, uint64_t file_number, uint64_t expected_size, block_cache *cache,
               table **out)
{
    *out = NULL;
    table *t = calloc(1, sizeof *t);
    if (!t) {
        file_close(fd);
        return -ENOMEM;
    }
    t->fd = fd;
    t->number = file_number;
    t->cache = cache;
    uint64_t actual;
    int rc = file_size(fd, &actual);
    if (rc == 0 && actual != expected_size && expected_size != 0)
        rc = SHALE_ECORRUPT; /* the manifest and the file disagree: truncated or grown */
    t->size = actual;
    char footer[TABLE_FOOTER_SIZE];
    if (rc == 0 && actual < TABLE_FOOTER_SIZE)
        rc = SHALE_ECORRUPT;
    if (rc == 0) {
        ssize_t got = file_pread(fd, footer, sizeof footer, actual - TABLE_FOOTER_SIZE);
        if (got != (ssize_t)sizeof footer)
            rc = got < 0 ? (int)got : SHALE_ECORRUPT;
    }
    block_handle hs[3];
    if (rc == 0) {
        if (decode_fixed64(footer + 56) != TABLE_MAGIC ||
            decode_fixed32(footer + 52) != checksum32(footer, 52))
            rc = SHALE_ECORRUPT;
        else if (decode_fixed32(footer + 48) != TABLE_FORMAT_VERSION &&
                 decode_fixed32(footer + 48) != TABLE_FORMAT_VERSION_RANGE_DEL)
            rc = SHALE_EVERSION;
    }
    for (int i = 0; rc == 0 && i < 3; i++) {
        hs[i].offset = decode_fixed64(footer + i * BLOCK_HANDLE_SIZE);
        hs[i].size = decode_fixed64(footer + i * BLOCK_HANDLE_SIZE + 8);
    }
    char *data;
    size_t len;
    if (rc == 0)
        rc = read_block(t, hs[0], &data, &len);
    if (rc == 0)
        rc = block_new(data, len, true, &t->index);
    if (rc == 0)
        rc = block_prefix_index_build(t->index, ikey_user_key, &t->index_aid);
    if (rc == 0 && hs[1].size > 0) {
        rc = read_block(t, hs[1], &t->filter_data, &len);
        if (rc == 0)
            t->filter = slice_make(t->filter_data, len);
    }
    if (rc == 0) {
        rc = read_block(t, hs[2], &data, &len);
        if (rc == 0) {
            rc = decode_props(slice_make(data, len), &t->props);
            free(data);
        }
    }
    /* version 2 has a range-deletion block, version 1 none */
    bool v2 = rc == 0 && decode_fixed32(footer + 48) == TABLE_FORMAT_VERSION_RANGE_DEL;
    if (rc == 0 && v2 != (t->props.num_range_dels > 0))
        rc = SHALE_ECORRUPT;
    if (rc == 0 && v2) {
        block_handle rh = {t->props.range_del_offset, t->props.range_del_size};
        rc = read_block(t, rh, &data, &len);
        if (rc == 0) {
            rc = load_range_dels(t, data, len);
            free(data);
        }
    }
    if (rc) {
        table_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

void table_close(table *t)
{
    if (!t)
        return;
    file_close(t->fd);
    block_prefix_index_free(&t->index_aid);
    block_free(t->index);
    free(t->filter_data);
    rdel_list_unref(t->rdels);
    free(t);
}

static void free_block(void *p)
{
    block_free((block *)p);
}

/* A data block: from the cache (handle set, release it) or freshly read (owned by the
   caller when *h is NULL and fill_cache is false). */
static int get_block(table *t, block_handle bh, bool fill_cache, block **b, cache_handle **h)
{
    *h = NULL;
    *b = NULL;
    if (t->cache) {
        *h = block_cache_lookup(t->cache, t->number, bh.offset);
        if (*h) {
            *b = block_cache_value(*h);
            return 0;
        }
    }
    char *data;
    size_t len;
    int rc = read_block(t, bh, &data, &len);
    if (rc == 0)
        rc = block_new(data, len, true, b);
    if (rc)
        return rc;
    if (t->cache && fill_cache) {
        *h = block_cache_insert(t->cache, t->number, bh.offset, *b, block_memory_usage(*b),
                                free_block);
        if (!*h)
            return -ENOMEM; /* the deleter has freed the block */
    }
    return 0;
}

/* The index entry of the data block that may hold ikey: 1 with its value in *v. */
static int find_data_block(table *t, slice ikey, buf *key, slice *v)
{
    if (!t->index_aid.windows)
        return block_find(t->index, ikey_compare, ikey, key, v);
    slice k;
    return block_prefix_index_find(t->index, &t->index_aid, ikey_compare, ikey, ikey_user_key(ikey),
                                   &k, v);
}

int table_get(table *t, slice ikey, bool fill_cache,
              void (*found)(void *arg, slice ikey, slice value), void *arg)
{
    return table_get_hashed(t, ikey, bloom_hash(ikey_user_key(ikey)), fill_cache, found, arg);
}

void table_prefetch_filter(const table *t, uint64_t hash)
{
    bloom_prefetch(t->filter, hash);
}

int table_get_hashed(table *t, slice ikey, uint64_t hash, bool fill_cache,
                     void (*found)(void *arg, slice ikey, slice value), void *arg)
{
    if (t->filter.len && !bloom_may_contain(t->filter, hash)) {
        atomic_fetch_add_explicit(&stat_bloom_useful, 1, memory_order_relaxed);
        return 0;
    }
    scratch *sc = thread_scratch();
    if (!sc)
        return -ENOMEM;
    buf *key = &sc->key;
    slice v;
    int rc = find_data_block(t, ikey, key, &v);
    if (rc <= 0)
        return rc;
    block_handle bh;
    rc = decode_handle(v, &bh);
    if (rc)
        return rc;
    block *b;
    cache_handle *h;
    rc = get_block(t, bh, fill_cache, &b, &h);
    if (rc)
        return rc;
    rc = block_find(b, ikey_compare, ikey, key, &v);
    if (rc == 1) {
        found(arg, buf_slice(key), v);
        rc = 0;
    }
    if (h)
        block_cache_release(t->cache, h);
    else
        block_free(b);
    return rc;
}

/* ---- two-level iterator: index block -> data blocks ---- */

typedef struct table_iter {
    iter base;
    table *t;
    bool fill_cache;
    iter *index;
    iter *data;
    uint64_t data_offset; /* block offset of `data`, for reuse */
    int status;
} table_iter;

typedef struct block_ref {
    table *t;
    cache_handle *h;
    block *b;
} block_ref;

static void release_block_ref(void *arg)
{
    block_ref *r = arg;
    if (r->h)
        block_cache_release(r->t->cache, r->h);
    else
        block_free(r->b);
    free(r);
}

static void set_data(table_iter *ti, iter *data)
{
    if (ti->data) {
        int st = iter_status(ti->data);
        if (st && !ti->status)
            ti->status = st;
        iter_free(ti->data);
    }
    ti->data = data;
}

/* Opens the data block the index iterator points at. */
static void init_data(table_iter *ti)
{
    if (!iter_valid(ti->index)) {
        set_data(ti, NULL);
        return;
    }
    block_handle bh;
    if (decode_handle(iter_value(ti->index), &bh)) {
        ti->status = SHALE_ECORRUPT;
        set_data(ti, NULL);
        return;
    }
    if (ti->data && ti->data_offset == bh.offset)
        return;
    block_ref *r = malloc(sizeof *r);
    if (!r) {
        ti->status = -ENOMEM;
        set_data(ti, NULL);
        return;
    }
    r->t = ti->t;
    int rc = get_block(ti->t, bh, ti->fill_cache, &r->b, &r->h);
    if (rc) {
        free(r);
        if (!ti->status)
            ti->status = rc;
        set_data(ti, NULL);
        return;
    }
    iter *d = block_iter_new(r->b, ikey_compare, release_block_ref, r);
    if (!d) {
        release_block_ref(r);
        ti->status = -ENOMEM;
        set_data(ti, NULL);
        return;
    }
    set_data(ti, d);
    ti->data_offset = bh.offset;
}

static void skip_empty_forward(table_iter *ti)
{
    while (!ti->status && (!ti->data || !iter_valid(ti->data))) {
        if (ti->data && iter_status(ti->data))
            return;
        if (!iter_valid(ti->index)) {
            set_data(ti, NULL);
            return;
        }
        iter_next(ti->index);
        init_data(ti);
        if (ti->data)
            iter_seek_to_first(ti->data);
    }
}

static void skip_empty_backward(table_iter *ti)
{
    while (!ti->status && (!ti->data || !iter_valid(ti->data))) {
        if (ti->data && iter_status(ti->data))
            return;
        if (!iter_valid(ti->index)) {
            set_data(ti, NULL);
            return;
        }
        iter_prev(ti->index);
        init_data(ti);
        if (ti->data)
            iter_seek_to_last(ti->data);
    }
}

static bool ti_valid(const iter *it)
{
    const table_iter *ti = (const table_iter *)it;
    return !ti->status && ti->data && iter_valid(ti->data);
}

static void ti_seek_to_first(iter *it)
{
    table_iter *ti = (table_iter *)it;
    iter_seek_to_first(ti->index);
    init_data(ti);
    if (ti->data)
        iter_seek_to_first(ti->data);
    skip_empty_forward(ti);
}

static void ti_seek_to_last(iter *it)
{
    table_iter *ti = (table_iter *)it;
    iter_seek_to_last(ti->index);
    init_data(ti);
    if (ti->data)
        iter_seek_to_last(ti->data);
    skip_empty_backward(ti);
}

static void ti_seek(iter *it, slice target)
{
    table_iter *ti = (table_iter *)it;
    iter_seek(ti->index, target);
    init_data(ti);
    if (ti->data)
        iter_seek(ti->data, target);
    skip_empty_forward(ti);
}

static void ti_seek_for_prev(iter *it, slice target)
{
    table_iter *ti = (table_iter *)it;
    /* The block whose separator is the first >= target holds the candidates; if its
       first entry is already > target, the answer is the previous block's last. */
    iter_seek(ti->index, target);
    if (!iter_valid(ti->index) && !iter_status(ti->index))
        iter_seek_to_last(ti->index);
    init_data(ti);
    if (ti->data)
        iter_seek_for_prev(ti->data, target);
    skip_empty_backward(ti);
}

static void ti_next(iter *it)
{
    table_iter *ti = (table_iter *)it;
    iter_next(ti->data);
    skip_empty_forward(ti);
}

static void ti_prev(iter *it)
{
    table_iter *ti = (table_iter *)it;
    iter_prev(ti->data);
    skip_empty_backward(ti);
}

static slice ti_key(const iter *it)
{
    return iter_key(((const table_iter *)it)->data);
}

static slice ti_value(const iter *it)
{
    return iter_value(((const table_iter *)it)->data);
}

static int ti_status(const iter *it)
{
    const table_iter *ti = (const table_iter *)it;
    if (ti->status)
        return ti->status;
    int st = iter_status(ti->index);
    if (st)
        return st;
    return ti->data ? iter_status(ti->data) : 0;
}

static void ti_destroy(iter *it)
{
    table_iter *ti = (table_iter *)it;
    iter_free(ti->data);
    iter_free(ti->index);
    free(ti);
}

static const iter_ops table_iter_ops = {
    ti_valid, ti_seek_to_first, ti_seek_to_last, ti_seek,   ti_seek_for_prev, ti_next,
    ti_prev,  ti_key,           ti_value,        ti_status, ti_destroy};

iter *table_iter_new(table *t, bool fill_cache)
{
    table_iter *ti = calloc(1, sizeof *ti);
    if (!ti)
        return NULL;
    ti->base.ops = &table_iter_ops;
    ti->t = t;
    ti->fill_cache = fill_cache;
    ti->index = block_iter_new(t->index, ikey_compare, NULL, NULL);
    if (!ti->index) {
        free(ti);
        return NULL;
    }
    return &ti->base;
}

const table_props *table_get_props(const table *t)
{
    return &t->props;
}

rdel_list *table_range_dels(const table *t)
{
    return t->rdels;
}

uint64_t table_file_number(const table *t)
{
    return t->number;
}

size_t table_memory_usage(const table *t)
{
    return sizeof *t + block_memory_usage(t->index) + block_prefix_index_memory(&t->index_aid) +
           t->filter.len;
}

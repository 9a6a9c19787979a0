/*
 * table_cache.c - open tables by file number (see table_cache.h). A table handle stays
 * open while an iterator or a lookup uses it, even when evicted meanwhile.
 */
#include "table_cache.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "format.h"
#include "range_del.h"

/* Up to 16 shards, each holding at least 64 files: a shard's pinned tables count against
   its own share only, so shares of one or two files would let the pins push the total
   past max_open_files. */
static int shard_bits_for(int max_open_files)
{
    int bits = 0;
    while (bits < 4 && (max_open_files >> (bits + 1)) >= 64)
        bits++;
    return bits;
}

int table_cache_new(const char *dir, int max_open_files, block_cache *blocks, table_cache **out)
{
    *out = NULL;
    table_cache *tc = calloc(1, sizeof *tc);
    if (!tc)
        return -ENOMEM;
    tc->dir = strdup(dir);
    tc->blocks = blocks;
    tc->max_pinned = max_open_files / 2;
    int rc = tc->dir ? block_cache_new((size_t)max_open_files, shard_bits_for(max_open_files),
                                       &tc->tables)
                     : -ENOMEM;
    if (rc) {
        free(tc->dir);
        free(tc);
        return rc;
    }
    *out = tc;
    return 0;
}

void table_cache_free(table_cache *tc)
{
    if (!tc)
        return;
    block_cache_free(tc->tables);
    free(tc->dir);
    free(tc);
}

static void close_table(void *value)
{
    open_table *o = value;
    __atomic_sub_fetch(&o->tc->reader_bytes, o->bytes, __ATOMIC_RELAXED);
    table_close(o->t);
    free(o);
}

uint64_t table_cache_memory(const table_cache *tc)
{
    return __atomic_load_n(&tc->reader_bytes, __ATOMIC_RELAXED);
}

/* The second half of a cache key: tables and value-log segments share the cache (their
   numbers never collide anyway). */
#define TABLE_KEY 0
#define LOG_KEY 1

/* The cached entry (number, kind) in *h; on a miss (*h NULL) the file, named by
   file_name (file_name_table or file_name_log), opened for reading in *fd. */
static int lookup_or_open(table_cache *tc, uint64_t number, uint64_t kind,
                          int (*file_name)(char *, size_t, const char *, uint64_t),
                          cache_handle **h, int *fd)
{
    *h = block_cache_lookup(tc->tables, number, kind);
    if (*h)
        return 0;
    char path[PATH_MAX];
    int rc = file_name(path, sizeof path, tc->dir, number);
    if (rc < 0)
        return rc;
    return file_open_read(path, fd);
}

int table_cache_find(table_cache *tc, uint64_t number, uint64_t file_size, cache_handle **h)
{
    int fd = -1;
    int rc = lookup_or_open(tc, number, TABLE_KEY, file_name_table, h, &fd);
    if (rc || *h)
        return rc;
    table *t;
    rc = table_open(fd, number, file_size, tc->blocks, &t);
    if (rc)
        return rc;
    open_table *o = malloc(sizeof *o);
    if (!o) {
        table_close(t);
        return -ENOMEM;
    }
    o->t = t;
    o->tc = tc;
    o->bytes = table_memory_usage(t);
    __atomic_add_fetch(&tc->reader_bytes, o->bytes, __ATOMIC_RELAXED);
    *h = block_cache_insert(tc->tables, number, TABLE_KEY, o, 1, close_table);
    return *h ? 0 : -ENOMEM;
}

void table_cache_release(table_cache *tc, cache_handle *h)
{
    block_cache_release(tc->tables, h);
}

int table_cache_get(table_cache *tc, uint64_t number, uint64_t file_size, slice ikey,
                    bool fill_cache, void (*found)(void *arg, slice ikey, slice value), void *arg)
{
    cache_handle *h;
    int rc = table_cache_find(tc, number, file_size, &h);
    if (rc)
        return rc;
    rc = table_get(table_cache_table(h), ikey, fill_cache, found, arg);
    block_cache_release(tc->tables, h);
    return rc;
}

int table_cache_get_pinned(table_cache *tc, _Atomic(cache_handle *) *pin, uint64_t number,
                           uint64_t file_size, slice ikey, uint64_t hash, bool fill_cache,
                           void (*found)(void *arg, slice ikey, slice value), void *arg)
{
    /* The pin lives as long as the caller's metadata, which the caller's version holds. */
    cache_handle *h = atomic_load_explicit(pin, memory_order_acquire);
    if (h)
        return table_get_hashed(table_cache_table(h), ikey, hash, fill_cache, found, arg);
    int rc = table_cache_find(tc, number, file_size, &h);
    if (rc)
        return rc;
    rc = table_get_hashed(table_cache_table(h), ikey, hash, fill_cache, found, arg);
    if (__atomic_add_fetch(&tc->pinned, 1, __ATOMIC_RELAXED) <= tc->max_pinned) {
        cache_handle *none = NULL;
        if (atomic_compare_exchange_strong_explicit(pin, &none, h, memory_order_acq_rel,
                                                    memory_order_acquire))
            return rc; /* the pin keeps the handle */
    }
    __atomic_sub_fetch(&tc->pinned, 1, __ATOMIC_RELAXED); /* over budget, or pinned already */
    block_cache_release(tc->tables, h);
    return rc;
}

int table_cache_range_dels(table_cache *tc, _Atomic(cache_handle *) *pin, uint64_t number,
                           uint64_t file_size, rdel_list **out)
{
    *out = NULL;
    cache_handle *h = pin ? atomic_load_explicit(pin, memory_order_acquire) : NULL;
    bool mine = false;
    if (!h) {
        int rc = table_cache_find(tc, number, file_size, &h);
        if (rc)
            return rc;
        mine = true;
    }
    rdel_list *l = table_range_dels(table_cache_table(h));
    if (l)
        rdel_list_ref(l);
    *out = l;
    if (mine)
        block_cache_release(tc->tables, h);
    return 0;
}

void table_cache_prefetch_filter(_Atomic(cache_handle *) *pin, uint64_t hash)
{
    cache_handle *h = atomic_load_explicit(pin, memory_order_acquire);
    if (h)
        table_prefetch_filter(table_cache_table(h), hash);
}

void table_cache_unpin(_Atomic(cache_handle *) *pin)
{
    cache_handle *h = atomic_exchange_explicit(pin, NULL, memory_order_acq_rel);
    if (!h)
        return;
    table_cache *tc = ((open_table *)block_cache_value(h))->tc;
    __atomic_sub_fetch(&tc->pinned, 1, __ATOMIC_RELAXED);
    block_cache_release(tc->tables, h);
}

int table_cache_pinned(const table_cache *tc)
{
    return __atomic_load_n(&tc->pinned, __ATOMIC_RELAXED);
}

/* Wraps a table iterator so the table's cache handle is released with it. */
typedef struct pinned_iter {
    iter base;
    iter *inner;
    table_cache *tc;
    cache_handle *h;
} pinned_iter;

static bool pi_valid(const iter *it)
{
    return iter_valid(((const pinned_iter *)it)->inner);
}
static void pi_first(iter *it)
{
    iter_seek_to_first(((pinned_iter *)it)->inner);
}
static void pi_last(iter *it)
{
    iter_seek_to_last(((pinned_iter *)it)->inner);
}
static void pi_seek(iter *it, slice t)
{
    iter_seek(((pinned_iter *)it)->inner, t);
}
static void pi_seek_prev(iter *it, slice t)
{
    iter_seek_for_prev(((pinned_iter *)it)->inner, t);
}
static void pi_next(iter *it)
{
    iter_next(((pinned_iter *)it)->inner);
}
static void pi_prev(iter *it)
{
    iter_prev(((pinned_iter *)it)->inner);
}
static slice pi_key(const iter *it)
{
    return iter_key(((const pinned_iter *)it)->inner);
}
static slice pi_value(const iter *it)
{
    return iter_value(((const pinned_iter *)it)->inner);
}
static int pi_status(const iter *it)
{
    return iter_status(((const pinned_iter *)it)->inner);
}
static void pi_destroy(iter *it)
{
    pinned_iter *p = (pinned_iter *)it;
    iter_free(p->inner);
    block_cache_release(p->tc->tables, p->h);
    free(p);
}

static const iter_ops pinned_ops = {pi_valid, pi_first, pi_last,  pi_seek,   pi_seek_prev, pi_next,
                                    pi_prev,  pi_key,   pi_value, pi_status, pi_destroy};

iter *table_cache_iter(table_cache *tc, uint64_t number, uint64_t file_size, bool fill_cache)
{
    cache_handle *h;
    int rc = table_cache_find(tc, number, file_size, &h);
    if (rc)
        return iter_new_empty(rc);
    pinned_iter *p = malloc(sizeof *p);
    iter *inner = p ? table_iter_new(table_cache_table(h), fill_cache) : NULL;
    if (!inner) {
        free(p);
        block_cache_release(tc->tables, h);
        return NULL;
    }
    p->base.ops = &pinned_ops;
    p->inner = inner;
    p->tc = tc;
    p->h = h;
    return &p->base;
}

void table_cache_evict(table_cache *tc, uint64_t number)
{
    block_cache_erase(tc->tables, number, TABLE_KEY);
}

/* ---- value-log segments: a read descriptor each, key (number, LOG_KEY) ---- */

static void close_log(void *value)
{
    file_close((int)(intptr_t)value);
}

int table_cache_find_log(table_cache *tc, uint64_t number, cache_handle **h)
{
    int fd = -1;
    int rc = lookup_or_open(tc, number, LOG_KEY, file_name_log, h, &fd);
    if (rc || *h)
        return rc;
    /* Two readers missing at once both open: the second insert replaces the first entry,
       which closes when its reader releases it. */
    *h = block_cache_insert(tc->tables, number, LOG_KEY, (void *)(intptr_t)fd, 1, close_log);
    return *h ? 0 : -ENOMEM;
}

int table_cache_log_fd(cache_handle *h)
{
    return (int)(intptr_t)block_cache_value(h);
}

void table_cache_evict_log(table_cache *tc, uint64_t number)
{
    block_cache_erase(tc->tables, number, LOG_KEY);
}

/*
 * table_cache.h - open table handles by file number, and read descriptors of value-log
 * segments, at most max_open_files of them together (a CLOCK cache over block_cache.c
 * with charge 1 per file; RocksDB's blob files share its table cache the same way).
 * Lookups open the file on a miss.
 */
#ifndef SHALE_TABLE_CACHE_H
#define SHALE_TABLE_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "block_cache.h"
#include "iterator.h"
#include "table_reader.h"

typedef struct table_cache {
    char *dir;
    block_cache *tables;   /* value: open_table* */
    block_cache *blocks;   /* the shared data block cache */
    uint64_t reader_bytes; /* index and filter memory of the open tables (atomic) */
    int pinned;            /* handles held by table_cache_get_pinned's pins (atomic) */
    int max_pinned;        /* half of max_open_files: the rest stays for churn */
} table_cache;

/* A cached handle's value: the table and what its index and filter take in memory. */
typedef struct open_table {
    table *t;
    table_cache *tc;
    size_t bytes;
} open_table;

int table_cache_new(const char *dir, int max_open_files, block_cache *blocks, table_cache **out);
void table_cache_free(table_cache *tc);

/* A referenced handle to the open table (release with table_cache_release). */
int table_cache_find(table_cache *tc, uint64_t number, uint64_t file_size, cache_handle **h);
static inline table *table_cache_table(cache_handle *h)
{
    return ((open_table *)block_cache_value(h))->t;
}
/* Bytes the open tables' indexes and filters hold (RocksDB's estimate-table-readers-mem). */
uint64_t table_cache_memory(const table_cache *tc);
void table_cache_release(table_cache *tc, cache_handle *h);

/* table_get through the cache. */
int table_cache_get(table_cache *tc, uint64_t number, uint64_t file_size, slice ikey,
                    bool fill_cache, void (*found)(void *arg, slice ikey, slice value), void *arg);
/*
 * table_get through a pin: *pin (owned by the caller's file metadata, NULL at first)
 * keeps a referenced handle to the open table, so later point reads of that table skip
 * the cache lookup (RocksDB keeps the table reader in FileMetaData the same way); hash is
 * bloom_hash of ikey's user key. The
 * first read pins while fewer than max_pinned tables are pinned; past that budget every
 * read looks the table up as table_cache_get does, so max_open_files still bounds the
 * open files. Release the pin with table_cache_unpin when the metadata goes.
 */
int table_cache_get_pinned(table_cache *tc, _Atomic(cache_handle *) *pin, uint64_t number,
                           uint64_t file_size, slice ikey, uint64_t hash, bool fill_cache,
                           void (*found)(void *arg, slice ikey, slice value), void *arg);
/* Table number's range tombstones (table_range_dels), referenced in *out (the caller
   unrefs; NULL when it has none), through *pin as table_cache_get_pinned (pin may be
   NULL). Errors as table_cache_find. */
int table_cache_range_dels(table_cache *tc, _Atomic(cache_handle *) *pin, uint64_t number,
                           uint64_t file_size, struct rdel_list **out);
/* The pinned table, if any, starts loading the filter block for hash (bloom_hash). */
void table_cache_prefetch_filter(_Atomic(cache_handle *) *pin, uint64_t hash);
/* Releases a pin set by table_cache_get_pinned (no-op when none was set). The table stays
   in the cache, and open, until evicted. */
void table_cache_unpin(_Atomic(cache_handle *) *pin);
/* How many tables are pinned (for tests and statistics). */
int table_cache_pinned(const table_cache *tc);
/* An iterator over the table that keeps it open until freed; on error an empty iterator
   carrying the error. NULL on ENOMEM. */
iter *table_cache_iter(table_cache *tc, uint64_t number, uint64_t file_size, bool fill_cache);
/* Forgets a deleted table. */
void table_cache_evict(table_cache *tc, uint64_t number);

/* A referenced handle to a read descriptor of log (value-log segment) number, opened on a
   miss; release with table_cache_release. Errors: -errno of the open (-ENOENT when the
   file is gone), -ENOMEM. */
int table_cache_find_log(table_cache *tc, uint64_t number, cache_handle **h);
int table_cache_log_fd(cache_handle *h);
/* Forgets a deleted log's descriptor (closed once no reader holds it). */
void table_cache_evict_log(table_cache *tc, uint64_t number);

#endif

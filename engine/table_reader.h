/*
 * table_reader.h - reads a sorted table written by table_builder. Opening reads and
 * verifies the footer, index, filter and properties blocks and keeps them in memory;
 * data blocks come through the block cache (when one is given) and every block read from
 * the file has its checksum verified.
 */
#ifndef SHALE_TABLE_READER_H
#define SHALE_TABLE_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "block_cache.h"
#include "iterator.h"
#include "slice.h"
#include "table_builder.h"

typedef struct table table;

/*
 * Takes ownership of fd (closed by table_close, also on error). file_number keys the
 * block cache; cache may be NULL. Errors: SHALE_ECORRUPT (bad magic, footer, checksum),
 * SHALE_EVERSION, -errno, -ENOMEM.
 */
int table_open(int fd, uint64_t file_number, uint64_t file_size, block_cache *cache, table **out);
void table_close(table *t); /* NULL: no-op */

/*
 * Point lookup: consults the bloom filter with the user key of ikey, then finds the first
 * entry >= ikey. When that entry has the same user key, calls found(arg, its ikey, its
 * value) once (slices valid only during the call) and returns 0; when not, returns 0
 * without calling. Errors: SHALE_ECORRUPT, -errno.
 */
int table_get(table *t, slice ikey, bool fill_cache,
              void (*found)(void *arg, slice ikey, slice value), void *arg);
/* The same with hash = bloom_hash(the user key of ikey), computed once by the caller. */
int table_get_hashed(table *t, slice ikey, uint64_t hash, bool fill_cache,
                     void (*found)(void *arg, slice ikey, slice value), void *arg);
/* Starts loading the filter block a lookup of hash will test into the CPU cache. */
void table_prefetch_filter(const table *t, uint64_t hash);

/* An iterator over all entries (two-level: index then data blocks). NULL on ENOMEM. */
iter *table_iter_new(table *t, bool fill_cache);

const table_props *table_get_props(const table *t);
/* The table's range tombstones, fragmented (borrowed: ref it to keep it past the table);
   NULL when it has none. */
struct rdel_list *table_range_dels(const table *t);
uint64_t table_file_number(const table *t);
/* Memory held by the open table (index, filter). */
size_t table_memory_usage(const table *t);

/* Bloom filter checks that said "absent" / data blocks read from the file. Global counters. */
uint64_t table_stat_bloom_useful(void);
uint64_t table_stat_block_reads(void);

#endif

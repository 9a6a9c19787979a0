/*
 * table_builder.h - writes a sorted table (format in format.h and docs/format.md):
 * data blocks (prefix-compressed, lz4 when smaller, checksummed), a bloom filter block
 * over user keys, a properties block, an index block, a 64-byte footer.
 * It writes through file.c to an fd the caller opened and later syncs and closes.
 */
#ifndef SHALE_TABLE_BUILDER_H
#define SHALE_TABLE_BUILDER_H

#include <stdint.h>

#include "shale.h"
#include "slice.h"

typedef struct table_builder table_builder;

/* What a finished table contains; also stored in its properties block. */
typedef struct table_props {
    uint64_t num_entries;
    uint64_t num_deletes;
    uint64_t raw_key_bytes;
    uint64_t raw_value_bytes;
    uint64_t data_bytes; /* data blocks on disk */
    uint64_t num_data_blocks;
    uint64_t min_seq, max_seq;
    /* Latest expiry of any entry but tombstones; UINT64_MAX when some entry never expires
       (KIND_VALUE, or KIND_VPTR whose pointer carries expiry 0). FIFO compaction may drop
       a table whose max_expire_at_ms has passed (see pick_fifo for when). */
    uint64_t max_expire_at_ms;
    /* User keys whose newest entry in the table is not a tombstone (issue 17): the other
       entries (tombstones and the older versions a snapshot kept) are hidden from a
       reader of the latest state, and their share makes the table worth compacting on
       its own. UINT64_MAX when unknown (a table written before issue 17). */
    uint64_t num_live_keys;
    /* Range tombstones (fragment, sequence) in the range-deletion block (issue 17), and
       that block's handle (offset, size; 0, 0 when there is none). Not in num_entries
       or num_deletes, which count point entries; the sequences are in min/max_seq. */
    uint64_t num_range_dels;
    uint64_t range_del_offset, range_del_size;
} table_props;

/*
 * Uses o->block_size, o->block_restart_interval, o->compression, o->bloom_bits_per_key.
 * Errors: -ENOMEM.
 */
int table_builder_new(const shale_options *o, int fd, table_builder **out);
/* Adds an entry; internal keys strictly increasing. Errors: -errno of the write. */
int table_builder_add(table_builder *tb, slice ikey, slice value);
/* Adds a range tombstone [begin, end) at seq to the range-deletion block, written at
   finish; in (begin ascending, seq descending) order, fragments not overlapping
   (range_del.h). Errors: -ENOMEM. */
int table_builder_add_range_del(table_builder *tb, slice begin, slice end, uint64_t seq);
/* Writes the remaining blocks and the footer (no fsync). Errors: -errno. */
int table_builder_finish(table_builder *tb);
/* Bytes written so far (the file size after finish). */
uint64_t table_builder_file_size(const table_builder *tb);
uint64_t table_builder_num_entries(const table_builder *tb);
const table_props *table_builder_props(const table_builder *tb);
/* Frees (does not close the fd). NULL: no-op. */
void table_builder_free(table_builder *tb);

#endif

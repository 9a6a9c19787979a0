/*
 * ks_internal.h - what keyspace.c and ks_fifo.c share and nothing else uses.
 */
#ifndef SHALE_KS_INTERNAL_H
#define SHALE_KS_INTERNAL_H

#include "keyspace.h"

/* ---- keyspace.c ---- */

/* The engine that holds a physical id (the main one unless a fifo engine does). */
shale_db *ks_db_of_phys(keyspace *ks, uint32_t phys);
/* Reads (phys, key)'s metadata record as stored, expired or not (type 0: absent). */
int ks_read_raw(keyspace *ks, uint32_t phys, const void *key, size_t klen, ks_meta *m);
/* The same without the record (see ks_read_head): type KS_TYPE_UNREAD or 0, expiry. */
int ks_read_raw_head(keyspace *ks, uint32_t phys, const void *key, size_t klen, ks_meta *m);
/* Writes the mapping record (the databases' ids, dead ids, fifo ids and caps). */
int ks_save_mapping(keyspace *ks);
/* Around a change of the mapping: the compaction filter waits for a stable one. */
void ks_mapping_write_begin(keyspace *ks);
void ks_mapping_write_end(keyspace *ks);

/* For ks_apply.c: the logical database of a physical id (-1: none); the watchers of the
   user key an engine key belongs to told of its write (nothing without a touch_fn);
   dbi's counts recounted from its keys; the mapping record read again (its fifo
   engines are left as they are); the version ceiling read again (last_version never
   goes down). */
int ks_logical_of(const keyspace *ks, uint32_t phys);
void ks_touch_engine_key(keyspace *ks, const void *key, size_t klen, bool deleted);
int ks_recount_db(keyspace *ks, int dbi);
int ks_reload_mapping(keyspace *ks);
int ks_reload_version_ceiling(keyspace *ks);

/* ---- ks_fifo.c ---- */

/* The fifo engine of a physical id, or NULL. */
ks_fifo *ks_fifo_by_phys(keyspace *ks, uint32_t phys);
/* Opens (creating it) the engine of phys under dir/fifo-<phys> with style fifo and cap
   (0: fifo_options' cap) and adds it to ks->fifo. *out (may be NULL) is the entry. */
int ks_fifo_open_engine(keyspace *ks, uint32_t phys, uint64_t cap, ks_fifo **out);
/* Takes ks->fifo[i] out of the table and closes it; destroy also removes its files. */
int ks_fifo_close_engine(keyspace *ks, int i, bool destroy);
/* Removes fifo-<id> directories that no entry of ks->fifo holds (left by a crash between
   saving the mapping and removing a replaced engine). */
int ks_fifo_remove_strays(keyspace *ks);
/* Applies a new cap to a fifo engine. */
int ks_fifo_set_cap(keyspace *ks, ks_fifo *f, uint64_t cap);
/* Whether a recount of dbi is under way and has counted the key already; then a change of
   the key's count is passed on with ks_fifo_count_behind (at commit). */
bool ks_fifo_behind(keyspace *ks, int dbi, const void *key, size_t klen);
void ks_fifo_count_behind(keyspace *ks, int dbi, int64_t keys, int64_t expires);
/* After the engine dropped tables, recounts the database's keys and repairs what a drop
   can leave behind; up to budget keys per call. Returns the keys handled. */
int ks_fifo_check(keyspace *ks, int budget);

#endif

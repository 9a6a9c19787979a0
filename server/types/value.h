/*
 * value.h - a key's value whole in memory (an rdb_value), whatever its type: what DUMP
 * reads and RESTORE writes. Each type keeps the two functions that do it beside its
 * other operations (hash_load / hash_store in hash.c; a string is its metadata record);
 * this file only picks the type's pair.
 */
#ifndef SHALE_VALUE_H
#define SHALE_VALUE_H

#include <stdint.h>

#include "keyspace.h"
#include "rdb.h"

/* Reads the value of (dbi, key), whose metadata is m (present), into *v (rdb_value_free
   it either way). 0, an engine error, -ENOMEM, or SHALE_ENOTSUP for a type without a
   load function (every type shale has one). */
int value_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
               rdb_value *v);
/* Writes v as (dbi, key) in the caller's transaction, replacing what old (as read, type
   0 when absent) holds, with expiry expire_at_ms (0: none). 0, an engine error, or
   SHALE_ENOTSUP for a type without a store function (every type shale has one). */
int value_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
                const rdb_value *v, uint64_t expire_at_ms);

#endif

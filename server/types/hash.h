/*
 * hash.h - hashes on engine keys: the reads other families need (SORT's BY and GET
 * patterns read one field of a hash). A field is one engine key under the hash's
 * version, its value the field's bytes (docs/format.md, "Hash fields"). Never writes a
 * reply, never sees a client.
 */
#ifndef SHALE_HASH_H
#define SHALE_HASH_H

#include <stddef.h>

#include "keyspace.h"

/* Reads field f of hash m (the metadata of (dbi, key); type 0 when absent): 0 with *val
   (malloc'ed, shale_free; NULL val: existence only), SHALE_ENOTFOUND, or an error. */
int hash_get_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl, void **val, size_t *vlen);

#endif

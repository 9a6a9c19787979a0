/*
 * hash.h - a Redis hash on engine keys: one engine key per field under the hash's
 * version (keyspace.h: 'h' | id | klen | key | version | field name), the field's value
 * as the entry's value, and the field count in the metadata. Fields come in byte order
 * of their names. What a hash command means (arguments, replies) is in
 * commands/t_hash.c; this file never sees a client.
 *
 * Every function takes the hash as (ks, dbi, key, klen) and, where it reads, its
 * metadata m as ks_read gave it (type 0: the key is absent, which reads as an empty
 * hash). Writes go into the keyspace transaction the caller began (ks_begin); reads do
 * not see that transaction's own writes.
 */
#ifndef SHALE_HASH_H
#define SHALE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"
#include "rdb.h"

/* Reads field f: 0 with *val (malloc'ed, shale_free; val may be NULL) and *vl (may be
   NULL), SHALE_ENOTFOUND (absent field or hash), or the engine's read error. */
int hash_get_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl, void **val, size_t *vl);
/* Whether field f exists: 1, 0, or the engine's read error. */
int hash_has_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl);
/* Writes field f = v under version (m's, or a new one for a new hash). */
int hash_put_field(keyspace *ks, int dbi, const void *key, size_t klen, uint64_t version,
                   const void *f, size_t fl, const void *v, size_t vl);
/* Deletes field f of the hash m (which exists). */
int hash_del_field(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   const void *f, size_t fl);
/* The encoding byte of a hash's metadata (the one extra byte): Redis's, decided as the
   hash is written (commands/t_hash.c), and kept because Redis never turns a hashtable
   back into a listpack. */
enum { HASH_LISTPACK = 'l', HASH_TABLE = 't' };

/* Writes the hash's metadata: nfields fields under version and the encoding Redis would
   give it (one byte the caller decides, t_hash.c); 0 fields deletes the key (an emptied
   hash does not exist). m: as read (its expiry is kept). */
int hash_put_meta(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                  uint64_t version, uint64_t nfields, char encoding);

/* The fields of a hash in name order. range: the engine entries, a field's name is the
   engine key past range.lo.len (for a SCAN-style walk that keeps its own position). */
typedef struct hash_iter {
    ks_range range;
    bool started;
} hash_iter;

/* Opens it over hash m (which exists). Close with hash_iter_close, even on failure. */
int hash_iter_open(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
                   hash_iter *it);
/* The next field: true with its name and value (valid until the next call), false at
   the end or on an error (hash_iter_close tells which). */
bool hash_iter_next(hash_iter *it, const char **f, size_t *fl, const char **v, size_t *vl);
/* Frees it; returns the iteration's error (0 when it ran to the end without one). */
int hash_iter_close(hash_iter *it);

/* The whole hash m (which exists) into *v (initialized here as a hash; fields in name
   order, each followed by its value; v->enc from the metadata's encoding): DUMP's read. 0 or an engine error / -ENOMEM;
   rdb_value_free *v either way. */
int hash_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
              rdb_value *v);
/* The encoding (RDB_ENC_COMPACT or _BIG) Redis's RESTORE gives hash v, a payload in
   encoding v->enc, under these limits (hash-max-listpack-entries, -value): a hashtable
   past max_entries fields; a hashtable payload (or AUTO) also when a field or value is
   longer than max_value, while a listpack stays one whatever its lengths. */
int hash_restore_encoding(const rdb_value *v, uint64_t max_entries, uint64_t max_value);
/* Writes hash v (fields distinct, at least one) as (dbi, key), replacing what old (as
   read) was, under a new version, with expiry expire_at_ms (0: none): RESTORE's write,
   in the caller's transaction. Its encoding is v->enc as RESTORE settled it
   (hash_restore_encoding with the server's limits), or by Redis's default limits when
   AUTO. */
int hash_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
               const rdb_value *v, uint64_t expire_at_ms);

#endif

/*
 * keyspace.h - how Redis keys are stored in the engine (docs/format.md, "Keyspace"):
 * one metadata record per user key, engine key = 'm' | db byte | user key, whose value
 * starts with a type byte. Strings live in the metadata record itself:
 * value = 's' | bytes. Expiry is the engine entry's expire_at_ms.
 */
#ifndef SHALE_KEYSPACE_H
#define SHALE_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "shale.h"

#define KS_TYPE_STRING 's'

/* Builds the metadata key into buf (cap bytes) or a malloc'ed buffer when larger;
   returns the key pointer (free it with ks_key_free when != buf) or NULL on ENOMEM. */
char *ks_meta_key(int db, const void *key, size_t klen, char *buf, size_t cap, size_t *outlen);
void ks_key_free(char *key, char *buf);

/* Reads a key's metadata record. *type is 0 when absent. *val (malloc'ed, after the type
   byte) and *expire_at_ms are set when present. Returns 0 or an engine error. */
int ks_lookup(shale_db *db, int dbi, const void *key, size_t klen, int *type, char **raw,
              const char **val, size_t *vlen, uint64_t *expire_at_ms);

/* Writes a string value with an expiry (0 = none). */
int ks_set_string(shale_db *db, int dbi, const void *key, size_t klen, const void *val, size_t vlen,
                  uint64_t expire_at_ms);
/* Deletes the key; *existed tells whether it was there. */
int ks_delete(shale_db *db, int dbi, const void *key, size_t klen, int *existed);

#endif

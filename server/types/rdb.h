/*
 * rdb.h - Redis's own value serialization (the DUMP/RESTORE payload), between its bytes
 * and a neutral value in memory. Not how shale stores anything: a type's file reads a
 * key into an rdb_value and writes one back as a key (hash.h), commands/t_dump.c does
 * the commands. docs/format.md ("DUMP payloads") has the layout:
 *
 *   type:u8 | value in that type's RDB encoding | rdb version:le16 | crc64:le64
 *
 * The CRC (crc64.h) covers everything before it. The encoder writes what Redis 7.0 would
 * write for the value with its default encoding limits and rdbcompression no (no LZF);
 * the decoder takes every encoding Redis 7.0 writes or accepts for strings, lists, sets,
 * sorted sets and hashes, and refuses anything malformed (it never trusts a length).
 */
#ifndef SHALE_RDB_H
#define SHALE_RDB_H

#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"

#define RDB_VERSION 10 /* Redis 7.0's; payloads of a later one are refused, as 7.0 does */

/* Decoder errors (and -ENOMEM). */
#define RDB_EFORMAT (-4201)  /* "Bad data format": the value does not parse */
#define RDB_ECHECKSUM (-4202) /* "DUMP payload version or checksum are wrong" */

/* RDB type bytes (the first byte of a payload). */
enum {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
};

/* Redis 7.0's default encoding limits, which decide the encoding a DUMP uses. */
#define RDB_HASH_LISTPACK_ENTRIES 512 /* hash-max-listpack-entries (not 128: config.c) */
#define RDB_HASH_LISTPACK_VALUE 64    /* hash-max-listpack-value */
#define RDB_ZSET_LISTPACK_ENTRIES 128 /* zset-max-listpack-entries */
#define RDB_ZSET_LISTPACK_VALUE 64    /* zset-max-listpack-value */
#define RDB_SET_INTSET_ENTRIES 512    /* set-max-intset-entries */
#define RDB_LIST_NODE_BYTES 8192      /* list-max-listpack-size -2 */

/* The encoding a value is held in, as Redis's OBJECT ENCODING names it for its type. */
enum {
    RDB_ENC_AUTO = 0, /* not known: decided by the value and Redis's default limits */
    RDB_ENC_COMPACT,  /* a listpack (hash, sorted set) or an intset (set) */
    RDB_ENC_BIG,      /* a hashtable (hash, set) or a skiplist (sorted set) */
};

/*
 * A Redis value in memory: a string (one item), a list's elements in order, a set's
 * members, a hash's fields and values (items 2i and 2i + 1), or a sorted set's members
 * with one score each. Items are byte strings kept end to end in one buffer.
 */
typedef struct rdb_value {
    int type;     /* KS_TYPE_STRING, _LIST, _SET, _ZSET or _HASH */
    size_t n;     /* items */
    size_t *off;  /* item i is data[off[i] .. off[i + 1]) */
    size_t offcap;
    char *data;
    size_t len, cap;
    double *score; /* a sorted set's: score[i] for item i */
    int err;       /* -ENOMEM once an append failed; the value is then incomplete */
    /* RDB_ENC_*: a decoded payload's encoding; a loaded key's, as its metadata keeps it
       (Redis's conversion to the big encoding is for good, so a small hash can still be
       a hashtable and DUMP writes it as one). Lists: always AUTO. */
    int enc;
} rdb_value;

void rdb_value_init(rdb_value *v, int type);
void rdb_value_free(rdb_value *v);
/* Appends an item (a hash: the field, then its value). 0 or -ENOMEM (also kept in
   v->err, so a loop may check once at its end). */
int rdb_value_add(rdb_value *v, const void *p, size_t n);
/* Appends a sorted set's member with its score. */
int rdb_value_add_scored(rdb_value *v, const void *p, size_t n, double score);
/* Item i's bytes and length. */
const char *rdb_value_item(const rdb_value *v, size_t i, size_t *len);
/* Members: items, or fields for a hash (a pair per field). */
size_t rdb_value_members(const rdb_value *v);

/* The DUMP payload of v (malloc'ed into *out, free()): in the big encoding when v->enc
   says so or the value is past Redis's default limits, else the compact one (when
   v->enc is COMPACT, whatever the sizes: a listpack Redis was told to keep larger). 0,
   -ENOMEM, or -EINVAL for a type without an RDB encoding here or an empty collection. */
int rdb_encode(const rdb_value *v, char **out, size_t *outlen);
/* Checks a payload's version and CRC: 0 or RDB_ECHECKSUM. */
int rdb_check(const void *p, size_t n);
/* Decodes a payload (checked first) into *v (initialized here; rdb_value_free it even
   on failure). Returns 0, RDB_ECHECKSUM, RDB_EFORMAT (also for a well-formed value of a
   type shale has no room for: streams, modules) or -ENOMEM. A collection with a
   member named twice or with no member is RDB_EFORMAT, as in Redis. v->enc is the
   payload's encoding (COMPACT or BIG; AUTO for strings and lists). */
int rdb_decode(const void *p, size_t n, rdb_value *v);

/*
 * FUNCTION DUMP / RESTORE payloads: for each library RDB_OPCODE_FUNCTION2 and its code as
 * an RDB string, then the version and CRC as above. rdb_encode_functions writes the
 * codes[0..n) (malloc'ed *out); rdb_decode_functions checks the payload and gives each
 * code to fn (whose nonzero return stops it and is returned): 0, RDB_ECHECKSUM, -ENOMEM,
 * or RDB_EFORMAT with Redis's error in *err.
 */
#define RDB_OPCODE_FUNCTION2 245
int rdb_encode_functions(const char *const *codes, const size_t *lens, size_t n, char **out,
                         size_t *outlen);
typedef int (*rdb_function_fn)(void *ctx, const char *code, size_t n);
int rdb_decode_functions(const void *p, size_t n, rdb_function_fn fn, void *ctx,
                         const char **err);

#endif

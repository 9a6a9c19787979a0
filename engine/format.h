/*
 * format.h - the constants of shale's on-disk formats and the internal key encoding.
 * Every layout named here is written out byte by byte in docs/format.md; the
 * _Static_asserts keep the two in step. Change a layout: bump its version.
 */
#ifndef SHALE_FORMAT_H
#define SHALE_FORMAT_H

#include <stdint.h>

#include "coding.h"
#include "slice.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shale's file formats are little-endian; this build assumes a little-endian host"
#endif

/* ---- Internal keys ----------------------------------------------------------------
 * internal key = user key ++ trailer, trailer = fixed64(seq << 8 | kind).
 * Order: user key ascending, then seq descending, then kind descending, so the newest
 * version of a key comes first.
 */
enum entry_kind {
    KIND_DELETE = 0,   /* tombstone, empty value */
    KIND_VALUE = 1,    /* plain value */
    KIND_EXPIRING = 2, /* value = fixed64(expire_at_ms) ++ user value */
    KIND_VPTR = 3,     /* value = a value-log pointer (vlog.h); starts with varint64 expiry,
                          0 for none */
    KIND_MAX = 3,      /* the largest kind of a point entry (data blocks, the skiplist) */
    /* A range tombstone (range_del.h): user key = begin, value = end (exclusive). Never a
       point entry: it lives in batches, a memtable's tombstone list and a table's
       range-deletion block, and (with MAX_SEQUENCE) as the largest key of a table whose
       tombstone reaches past its last point entry. */
    KIND_RANGE_DELETE = 4,
};
/* The kind used when seeking: the largest, so a seek lands on the newest entry <= seq. */
#define KIND_FOR_SEEK KIND_MAX

#define TRAILER_SIZE 8
#define MAX_SEQUENCE ((UINT64_C(1) << 56) - 1)

static inline uint64_t pack_trailer(uint64_t seq, int kind)
{
    return (seq << 8) | (uint64_t)kind;
}

typedef struct parsed_ikey {
    slice user_key;
    uint64_t seq;
    int kind;
} parsed_ikey;

/* Returns 0, or SHALE_ECORRUPT when the key is too short or has an unknown kind. */
int ikey_parse(slice ikey, parsed_ikey *out);

static inline slice ikey_user_key(slice ikey)
{
    return slice_make(ikey.data, ikey.len - TRAILER_SIZE);
}
static inline uint64_t ikey_trailer(slice ikey)
{
    return decode_fixed64(ikey.data + ikey.len - TRAILER_SIZE);
}
static inline uint64_t ikey_seq(slice ikey)
{
    return ikey_trailer(ikey) >> 8;
}
static inline int ikey_kind(slice ikey)
{
    return (int)(ikey_trailer(ikey) & 0xff);
}

/* A table's largest key when a range tombstone ending at `end` (exclusive) reaches past
   its last point entry: it sorts before every entry of user key `end`. */
static inline uint64_t range_del_sentinel_trailer(void)
{
    return pack_trailer(MAX_SEQUENCE, KIND_RANGE_DELETE);
}

/* Appends user_key ++ trailer to b. 0 or -ENOMEM. */
int ikey_append(buf *b, slice user_key, uint64_t seq, int kind);

/* Total order over internal keys (see above). */
static inline int ikey_compare(slice a, slice b)
{
    int r = slice_compare(ikey_user_key(a), ikey_user_key(b));
    if (r != 0)
        return r;
    uint64_t ta = ikey_trailer(a), tb = ikey_trailer(b);
    return (ta < tb) - (ta > tb); /* larger trailer (newer) sorts first */
}

/* The expiry of an entry of kind `kind` with raw value v: 0 when it never expires. */
static inline uint64_t entry_expiry(int kind, slice v)
{
    uint64_t e = 0;
    if (kind == KIND_EXPIRING && v.len >= 8)
        e = decode_fixed64(v.data);
    else if (kind == KIND_VPTR && !decode_varint64(v.data, v.data + v.len, &e))
        e = 0; /* a malformed pointer: its read reports it */
    return e;
}

/* The expiry carried by a KIND_EXPIRING value, and the user value after it. */
static inline uint64_t expiring_value_expiry(slice v)
{
    return v.len >= 8 ? decode_fixed64(v.data) : 0;
}
static inline slice expiring_value_payload(slice v)
{
    return v.len >= 8 ? slice_make(v.data + 8, v.len - 8) : slice_make(v.data, 0);
}

/* ---- Checksums ----------------------------------------------------------------------
 * Every persistent record carries XXH3-64 of its bytes (tables store the low 32 bits).
 */
uint64_t checksum64(const void *p, size_t n);
uint64_t checksum64_seeded(const void *p, size_t n, uint64_t seed);
static inline uint32_t checksum32(const void *p, size_t n)
{
    return (uint32_t)checksum64(p, n);
}

/* ---- Write-ahead log and manifest records (wal.c) -----------------------------------
 * record = fixed32 length | fixed32 log number (low 32 bits) | fixed64 XXH3-64 of the
 *          payload seeded with the first 8 header bytes (read as fixed64) | payload
 */
#define WAL_HEADER_SIZE 16
#define WAL_MAX_RECORD (UINT32_C(1) << 31)

/* ---- Sorted tables (table_builder.c, table_reader.c) --------------------------------
 * block on disk = contents | 1 byte compression | fixed32 checksum of (contents ++ byte)
 * footer (fixed size, at the end) = index handle | filter handle | properties handle
 *   (each fixed64 offset, fixed64 size) | fixed32 format version | fixed32 checksum of
 *   the preceding 52 bytes | fixed64 magic
 */
#define BLOCK_TRAILER_SIZE 5
#define BLOCK_HANDLE_SIZE 16
#define TABLE_FOOTER_SIZE (3 * BLOCK_HANDLE_SIZE + 4 + 4 + 8)
#define TABLE_MAGIC UINT64_C(0x31656c6168537f88) /* "\x88\x7fShale1" little-endian */
#define TABLE_FORMAT_VERSION 1
#define TABLE_FORMAT_VERSION_RANGE_DEL 2 /* with a range-deletion block (issue 17) */
_Static_assert(TABLE_FOOTER_SIZE == 64, "docs/format.md: the table footer is 64 bytes");

enum block_compression {
    BLOCK_RAW = 0,
    BLOCK_LZ4 = 1,
};

/* A block's checksum: low 32 bits of XXH3-64 of the type byte, seeded with XXH3-64 of
   the contents (contents and type are not contiguous in memory when written). */
uint32_t block_checksum(const char *contents, size_t n, char type);

typedef struct block_handle {
    uint64_t offset;
    uint64_t size; /* of the contents, without the trailer */
} block_handle;

/* ---- Manifest (manifest.c) ----------------------------------------------------------- */
#define MANIFEST_FORMAT_VERSION 1

/* ---- File names ---------------------------------------------------------------------
 * NNNNNN.log   write-ahead log          NNNNNN.sst  sorted table
 * MANIFEST-NNNNNN  version edits        CURRENT     the live manifest's name + "\n"
 * LOCK         flock()ed while open     (a WAL file that tables point to is also a value-log
                                       segment and keeps its NNNNNN.log name, vlog.h)
 */
enum file_type {
    FILE_UNKNOWN = 0,
    FILE_LOG,
    FILE_TABLE,
    FILE_MANIFEST,
    FILE_CURRENT,
    FILE_LOCK,
    FILE_TEMP,
};

/* Writes "dir/NNNNNN.ext" into out (size outlen). Returns the length or -ENAMETOOLONG. */
int file_name_log(char *out, size_t outlen, const char *dir, uint64_t number);
int file_name_table(char *out, size_t outlen, const char *dir, uint64_t number);
int file_name_manifest(char *out, size_t outlen, const char *dir, uint64_t number);
int file_name_current(char *out, size_t outlen, const char *dir);
int file_name_lock(char *out, size_t outlen, const char *dir);
int file_name_temp(char *out, size_t outlen, const char *dir, uint64_t number);
/* Parses a bare file name (no directory). Returns its type, setting *number where it has one. */
enum file_type file_name_parse(const char *name, uint64_t *number);

#endif

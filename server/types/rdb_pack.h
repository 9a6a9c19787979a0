/*
 * rdb_pack.h - the packed blobs inside RDB values: the listpack (Redis 7.0's small
 * hashes, sorted sets and list nodes) and intset (small integer sets), which DUMP
 * writes, and besides those the ziplist and zipmap of older Redis versions, which
 * RESTORE still reads. Also the growable buffer and the integer rules both directions
 * share. docs/format.md ("DUMP payloads") has each layout.
 */
#ifndef SHALE_RDB_PACK_H
#define SHALE_RDB_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; after a failed append err is -ENOMEM and appends do nothing. */
typedef struct rdb_buf {
    char *p; /* malloc'ed (rdb_buf_free) */
    size_t len, cap;
    int err;
} rdb_buf;

void rdb_buf_put(rdb_buf *b, const void *p, size_t n);
void rdb_buf_byte(rdb_buf *b, unsigned c);
void rdb_buf_le(rdb_buf *b, uint64_t v, int bytes);
void rdb_buf_free(rdb_buf *b);

/* Redis's string2ll: p[0..n) is a base-10 int64 written the one way Redis writes it (no
   sign but '-', no leading zero, no "-0"): the strings Redis keeps as integers. */
bool rdb_parse_int(const char *p, size_t n, int64_t *out);
/* Writes v in decimal to buf (at least 21 bytes); returns the length. */
size_t rdb_format_int(int64_t v, char *buf);

/* A listpack being written: elements are appended, rdb_lp_finish closes it. */
typedef struct rdb_lp {
    rdb_buf b;
    uint64_t count;
} rdb_lp;

void rdb_lp_init(rdb_lp *w);
/* Appends an element, as an integer when rdb_parse_int takes it (as Redis does). */
void rdb_lp_add(rdb_lp *w, const void *p, size_t n);
/* Bytes of the listpack as it would be finished now (Redis's lpBytes). */
size_t rdb_lp_bytes(const rdb_lp *w);
/* Writes the end byte and the header. 0, or -ENOMEM / -E2BIG (4 GiB or more); w->b then
   holds the listpack (the caller frees it). */
int rdb_lp_finish(rdb_lp *w);

/* An intset of the given integers (sorted and distinct: the caller's duty), with the
   smallest element width that holds them all, into b. */
void rdb_intset_write(rdb_buf *b, const int64_t *v, size_t n);

/* Readers: each calls emit for every element in order (integers as decimal strings)
   and returns 0, RDB_EFORMAT when the blob is malformed anywhere (checked before any
   element is emitted is not promised: the caller drops what it got), or emit's error.
   The checks are Redis's deep sanitization ones (sizes, headers, counts, back
   lengths, an intset sorted without repeats); an empty blob is not an error here. */
typedef int (*rdb_emit)(void *ctx, const char *p, size_t n);
int rdb_listpack_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx);
int rdb_ziplist_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx);
int rdb_intset_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx);
/* A zipmap's fields and values alternate (an empty one is RDB_EFORMAT, as in Redis). */
int rdb_zipmap_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx);

#endif

/*
 * write_batch.h - the encoding of a shale_batch, which is also the payload of a WAL
 * record (docs/format.md):
 *   fixed64 first sequence | fixed32 count | entries...
 *   entry = byte kind | varint32 key length | key
 *           [ | varint32 value length | value ]   (not for KIND_DELETE)
 * KIND_RANGE_DELETE's key is the range's begin and its value the end (exclusive, above
 * the begin): the entry deletes [begin, end) at its sequence (range_del.h).
 * A KIND_EXPIRING value starts with fixed64 expire_at_ms. Entry i has sequence first+i.
 *
 * In the WAL (the value log) a large value may be stored lz4-compressed: its kind byte
 * has BATCH_KIND_LZ4 set and its value field is
 *   varint32 length of the value (without expiry) | varint32 stored length |
 *   [fixed64 expire_at_ms for KIND_EXPIRING] | stored (lz4 block) bytes
 * Decoding gives the value back as written.
 */
#define BATCH_KIND_LZ4 0x80
#ifndef SHALE_WRITE_BATCH_H
#define SHALE_WRITE_BATCH_H

#include <stdint.h>

#include "memtable.h"
#include "shale.h"
#include "slice.h"

typedef union LZ4_stream_u LZ4_stream_t; /* lz4.h */

#define BATCH_HEADER_SIZE 12

struct shale_batch {
    buf rep; /* always at least BATCH_HEADER_SIZE bytes once initialised */
    uint32_t count;
};

/* Initialises an empty batch in place (for batches embedded in other structs). */
int batch_init(shale_batch *b);
void batch_destroy(shale_batch *b);

static inline slice batch_rep(const shale_batch *b)
{
    return buf_slice(&b->rep);
}
void batch_set_seq(shale_batch *b, uint64_t seq);
/* Appends src's entries to dst (for group commit). 0 or -ENOMEM. */
int batch_append(shale_batch *dst, const shale_batch *src);

/* Reads the header of an encoded batch. SHALE_ECORRUPT when too short. */
int batch_rep_header(slice rep, uint64_t *seq, uint32_t *count);

/*
 * A sequence skip record (docs/format.md): a batch of no entries whose header is followed
 * by fixed64 last. It says that the sequences from its first to last were skipped (a
 * replica applied a record whose first sequence was past its last + 1, shale_write_at):
 * the next record starts at last + 1. Its first sequence is the one expected after the
 * record before it, so recovery still sees a record lost before it as a gap.
 */
#define BATCH_SKIP_SIZE (BATCH_HEADER_SIZE + 8)
void batch_encode_skip(char *out, uint64_t first, uint64_t last); /* BATCH_SKIP_SIZE bytes */
/* 1 with *last for a skip record, 0 for a batch with entries, SHALE_ECORRUPT for another
   record of no entries (too short or long, or a last below its first). */
int batch_rep_skip(slice rep, uint64_t *last);

/*
 * Calls fn for each entry of an encoded batch, with its sequence. fn returns 0 to go on.
 * Returns 0, fn's code, or SHALE_ECORRUPT (malformed, or the count does not match).
 */
int batch_rep_iterate(slice rep,
                      int (*fn)(void *arg, uint64_t seq, int kind, slice key, slice value),
                      void *arg);

/* One decoded entry. value is as the user wrote it (KIND_EXPIRING: expiry first),
   decompressed (valid during the callback only); stored is where its bytes sit in the
   rep: the value field's start when stored_len is 0, else the lz4 bytes (stored_len). */
typedef struct batch_entry {
    uint64_t seq;
    int kind;
    slice key, value;
    const char *stored;
    uint32_t stored_len;
} batch_entry;

/* Calls fn for each entry (fn returns 0 to go on). Returns 0, fn's code, -ENOMEM or
   SHALE_ECORRUPT (malformed, a compressed value that does not decode, a bad count). */
int batch_rep_iterate_entries(slice rep, int (*fn)(void *arg, const batch_entry *e), void *arg);

/*
 * Writes into *out the rep with every value of at least threshold bytes lz4-compressed
 * where that saves an eighth or more. Returns how many were (0: *out is empty, use rep),
 * -ENOMEM or SHALE_ECORRUPT. threshold 0: none. lz4 is a stream (LZ4_createStream) the
 * caller keeps between calls, used by one thread at a time, so that no value pays for
 * clearing a fresh state; NULL works too (slower).
 */
int batch_rep_compress(slice rep, size_t threshold, LZ4_stream_t *lz4, buf *out);

/* Inserts every entry of rep into m. base_pos is the file offset of rep's first byte in
   m's log (0: not in a log), so each value's position is known. Errors: SHALE_ECORRUPT,
   -ENOMEM. */
int batch_rep_insert(slice rep, memtable *m, uint64_t base_pos);
/* The same for a rep that the log holds as `stored` (batch_rep_compress's output of it):
   values are taken from rep as written, positions from stored, so the write path never
   decodes what it has just compressed. */
int batch_rep_insert_stored(slice rep, slice stored, memtable *m, uint64_t base_pos);

#endif

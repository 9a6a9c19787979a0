/*
 * write_batch.h - the encoding of a shale_batch, which is also the payload of a WAL
 * record (docs/format.md):
 *   fixed64 first sequence | fixed32 count | entries...
 *   entry = byte kind | varint32 key length | key
 *           [ | varint32 value length | value ]   (not for KIND_DELETE)
 * A KIND_EXPIRING value starts with fixed64 expire_at_ms. Entry i has sequence first+i.
 */
#ifndef SHALE_WRITE_BATCH_H
#define SHALE_WRITE_BATCH_H

#include <stdint.h>

#include "memtable.h"
#include "shale.h"
#include "slice.h"

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
 * Calls fn for each entry of an encoded batch, with its sequence. fn returns 0 to go on.
 * Returns 0, fn's code, or SHALE_ECORRUPT (malformed, or the count does not match).
 */
int batch_rep_iterate(slice rep,
                      int (*fn)(void *arg, uint64_t seq, int kind, slice key, slice value),
                      void *arg);

/* Inserts every entry of rep into m. base_pos is the file offset of rep's first byte in
   m's log (0: not in a log), so each value's position is known. Errors: SHALE_ECORRUPT,
   -ENOMEM. */
int batch_rep_insert(slice rep, memtable *m, uint64_t base_pos);

#endif

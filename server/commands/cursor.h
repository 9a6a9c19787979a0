/*
 * cursor.h - SCAN/HSCAN cursors. Clients hold a cursor as a decimal number (redis-cli
 * reads it with strtoull, go-redis as a uint64, Java clients as a long), so it is kept
 * below 2^63. Our keys are ordered byte strings, and a scan resumes at a position: the
 * shortest string after the last key visited and not after the next one (from "k0019"
 * to "k0020": "k002"). A cursor carries that position itself when it has at most 7 bytes
 * (it then survives any number of other scans and a restart); a longer one is kept in a
 * table of CURSOR_SLOTS positions and the cursor carries its first 2 bytes and the
 * entry's number. A cursor whose entry is gone (CURSOR_SLOTS newer long positions were
 * handed out since, or the server restarted) resumes at those 2 bytes: keys between
 * there and the real position come again, which SCAN's contract allows, and none is
 * missed. No pure 64-bit encoding can do better: between any two of its positions an
 * adversary can place as many keys as it likes.
 *
 *   bit 62 = 0: bits 61..6 the position's bytes (first byte highest), bits 2..0 its length
 *   bit 62 = 1: bits 61..46 its first 2 bytes, bits 45..0 the table entry's number
 */
#ifndef SHALE_CURSOR_H
#define SHALE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#define CURSOR_INLINE 7            /* position bytes a cursor carries itself */
#define CURSOR_SLOTS (1u << 16)    /* long positions remembered */
#define CURSOR_TABLE_BYTES (64u << 20) /* their bytes, at most (besides the newest) */

typedef struct cursor_slot {
    uint64_t id; /* entry number + 1 (0: empty) */
    char *pos;   /* malloc'ed */
    size_t len;
} cursor_slot;

typedef struct cursor_table {
    cursor_slot *slot; /* CURSOR_SLOTS of them, allocated at the first long position */
    uint64_t next;     /* the next entry's number (from a random start: a cursor from
                          before a restart does not name an entry made after it) */
    uint64_t oldest;   /* entries below it are gone */
    size_t bytes;      /* of the positions held */
    uint64_t lost;     /* cursors whose entry was gone (they resumed at 2 bytes) */
} cursor_table;

/* The shortest position p with last < p <= next (last < next): next's bytes up to the
   first that differs from last. Returns its length (p is next[0..len)). */
size_t cursor_position(const char *last, size_t ll, const char *next, size_t nl);
/* The cursor that resumes at pos[0..len) (1 <= len). 0 when memory is short. */
uint64_t cursor_encode(cursor_table *t, const char *pos, size_t len);
/* Where cursor c resumes: *pos (into buf, CURSOR_INLINE bytes, or into the table, valid
   until the next encode) and its length; 0 means the beginning. */
size_t cursor_decode(cursor_table *t, uint64_t c, char *buf, const char **pos);
void cursor_table_free(cursor_table *t);

#endif

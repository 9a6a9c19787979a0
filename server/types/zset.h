/*
 * zset.h - sorted sets on engine keys (docs/format.md, "Sorted sets"). Every member is
 * exactly two engine keys under the set's version prefix P ('h' | id | klen | key |
 * version, keyspace.h):
 *
 *   P | 'M' | hash64(member):be64 | member  -> score:be64 (encoded)   the member index
 *   P | 'S' | score:be64 (encoded) | member -> ""                     the score index
 *
 * The encoded score is the IEEE double with its sign bit flipped (negative numbers: all
 * bits flipped), big-endian, so byte order is numeric order: -inf < ... < -0 = 0 < ...
 * < +inf; -0.0 is stored as 0 and NaN is never stored. Score ranges, ranks, lex ranges
 * and pops are seeks and steps in the score index; ZSCORE is one read of the member
 * index, whose hash prefix spreads members evenly so that a random seek lands on a
 * near-uniform member (ZRANDMEMBER). The metadata's extra bytes hold flags and two hints:
 *
 *   flags:u8 | lo_len:u8 | lo | hi_len:u8 | hi
 *
 * flags bit 0: Redis would hold the set as a skiplist (it had more members, or one
 * longer, than its listpack limits allowed; sticky, as Redis's conversion is). lo is at or below
 * the smallest live score-index entry (enc score | member, at most ZSET_HINT_MAX bytes of it) and
 * hi at or above the largest; 0 bytes: no hint. Pops and front removals move them, so a queue's
 * tombstones (ZADD + ZPOPMIN) stay behind the seek key and are never iterated over.
 *
 * This file never writes a reply: reads hand members to a callback, the command decides.
 */
#ifndef SHALE_ZSET_H
#define SHALE_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"
#include "member_map.h"
#include "rdb.h"

#define ZSET_MEMBER_TAG 'M'
#define ZSET_SCORE_TAG 'S'
#define ZSET_HINT_MAX 40 /* a hint: 8 bytes of score, up to 32 of the member */
#define ZSET_STOP 1      /* an emit callback's "enough" */
#define ZSET_F_SKIPLIST 1

/* The listpack limits Redis's encoding follows (zset-max-listpack-entries and
   zset-max-listpack-value): a set that passes either is a skiplist for good. */
typedef struct zset_limits {
    uint64_t entries, value;
} zset_limits;
#define ZSET_LIMITS_DEFAULT ((zset_limits){.entries = 128, .value = 64})

/* The order-preserving encoding of a score (d must not be NaN), and back. */
uint64_t zset_score_encode(double d);
double zset_score_decode(uint64_t e);
/* The member-index hash of a member (part of the on-disk layout: never change it). */
uint64_t zset_member_hash(const void *p, size_t n);

/* A sorted set as read by a command: m is what ks_read gave for (dbi, key); type 0 means
   absent (reads find nothing). Borrowed pointers, valid for the call. */
typedef struct zset_ref {
    keyspace *ks;
    int dbi;
    const void *key;
    size_t klen;
    const ks_meta *m;
} zset_ref;

/* Called for each member a read visits, in the read's order: 0 goes on, ZSET_STOP ends
   the read early (not an error), a negative code ends it and is returned. The member's
   bytes are valid only during the call. */
typedef int (*zset_emit_fn)(void *ctx, const char *member, size_t len, double score);

/* [min, max] of scores, either end exclusive. */
typedef struct zset_score_range {
    double min, max;
    bool minex, maxex;
} zset_score_range;

/* One end of a lex range as Redis parses it: '-' (below everything), '+' (above
   everything), or a string, inclusive '[' or exclusive '('. */
typedef struct zset_lex_bound {
    int inf; /* -1: '-', 1: '+', 0: the string */
    const char *p;
    size_t len;
    bool ex;
} zset_lex_bound;
typedef struct zset_lex_range {
    zset_lex_bound min, max;
} zset_lex_range;

/* ---- reads (each opens its own iterator; cost in engine reads per call) ---- */

/* One member's score: 0, SHALE_ENOTFOUND or an engine error. 1 get. */
int zset_score(const zset_ref *z, const void *member, size_t n, double *score);
/* The member's rank counted from the lowest score (rev: from the highest), with its
   score: 0, SHALE_ENOTFOUND or an error. 1 get + min(rank, size - rank) steps from
   both ends at once (2 iterators). */
int zset_rank(const zset_ref *z, const void *member, size_t n, bool rev, uint64_t *rank,
              double *score);
/* Ranks start..stop (start <= stop < size, counted from the lowest score, or from the
   highest when rev), emitted in that order. Starts from the nearer end of the index:
   min(stop + 1, size - start) steps. */
int zset_range_rank(const zset_ref *z, uint64_t start, uint64_t stop, bool rev, zset_emit_fn emit,
                    void *ctx);
/* Members with scores in r, ascending (rev: descending), after skipping offset of them,
   at most limit (< 0: all). A seek + offset + emitted steps. */
int zset_range_score(const zset_ref *z, const zset_score_range *r, bool rev, uint64_t offset,
                     int64_t limit, zset_emit_fn emit, void *ctx);
/* Members in the lex range r as Redis's ZRANGEBYLEX walks them: in (score, member) order,
   from the first member at or above min (rev: the last at or below max) while the
   members stay within the other end. When every score is the same (the documented use)
   that is a seek; otherwise a walk from the end of the index to the first match. */
int zset_range_lex(const zset_ref *z, const zset_lex_range *r, bool rev, uint64_t offset,
                   int64_t limit, zset_emit_fn emit, void *ctx);
/* How many scores fall in r: walks the range and, at the same time, what lies outside it
   from both ends, and stops at whichever ends first: 3 * min(M, size - M) steps. */
int zset_count_score(const zset_ref *z, const zset_score_range *r, uint64_t *n);
/* How many members ZRANGEBYLEX would return for r. */
int zset_count_lex(const zset_ref *z, const zset_lex_range *r, uint64_t *n);
/* One near-uniform random member (rnd: random bits): a seek to a random hash in the
   member index, then a uniform pick among the next ZSET_RANDOM_WINDOW members (all of
   them in a smaller set, which makes it exactly uniform there). */
#define ZSET_RANDOM_WINDOW 16
int zset_random(const zset_ref *z, uint64_t rnd, zset_emit_fn emit, void *ctx);
/* Opens r over the member index (ZSCAN): each entry's member starts at *member_off of its
   engine key and its value is the encoded score (zset_entry_score). */
int zset_members_open(const zset_ref *z, ks_range *r, size_t *member_off);
/* The score in a member-index value; false when the value is not 8 bytes. */
bool zset_entry_score(const void *v, size_t n, double *score);

/* Whether lex bound-checks accept a member (ZRANGEBYLEX's zslLexValueGteMin/LteMax). */
bool zset_lex_gte_min(const zset_lex_range *r, const void *p, size_t n);
bool zset_lex_lte_max(const zset_lex_range *r, const void *p, size_t n);
/* Whether no member can be in r (min above max, or equal with an exclusive end). */
bool zset_lex_range_empty(const zset_lex_range *r);

/* ---- writes: inside the caller's ks_begin / ks_finish ---- */

enum { ZHINT_NONE, ZHINT_EMPTY, ZHINT_KEY };
typedef struct zset_hint {
    int state; /* ZHINT_NONE: unknown (the end of the index); EMPTY: no member yet */
    unsigned char b[ZSET_HINT_MAX];
    size_t n;
} zset_hint;

/* The writes one command makes to one sorted set. */
typedef struct zset_writer {
    zset_ref z; /* the set as read before the command (old version, old hints) */
    const ks_meta *old;
    ks_meta none; /* the "absent" metadata a replacing writer writes over */
    bool replace; /* a STORE: old (of any type) goes, the result is a new key */
    bool dirty;   /* the metadata must be written */
    uint64_t version, size;
    unsigned flags;     /* ZSET_F_* */
    zset_limits limits; /* Redis's defaults; a command sets the server's after the open */
    zset_hint lo, hi;
    member_map changed; /* members this command wrote: mark 1 with the score, 2 removed */
    uint64_t expire_at_ms; /* a replacing writer's new expiry: 0 (none) unless set */
} zset_writer;

/* Starts writing the sorted set (dbi, key) whose metadata m (type 0 or zset) was read;
   an absent set gets a new version. */
void zset_writer_open(zset_writer *w, keyspace *ks, int dbi, const void *key, size_t klen,
                      const ks_meta *m);
/* Starts a new sorted set that replaces (dbi, key) whatever it holds (m, any type): the
   STORE commands' destination. Its expiry is gone, as Redis's setKey drops it. Each
   member is set once (existed false) and nothing is read back. */
void zset_writer_open_replace(zset_writer *w, keyspace *ks, int dbi, const void *key, size_t klen,
                              const ks_meta *m);
/* The member's score as this command has left it so far: 0, SHALE_ENOTFOUND, or an
   error. At most 1 get. */
int zset_writer_score(zset_writer *w, const void *member, size_t n, double *score);
/* Gives a member a score (score not NaN). existed/old: what zset_writer_score said.
   2 puts, + 1 delete of the old score entry when the encoded score changes. */
int zset_writer_set(zset_writer *w, const void *member, size_t n, double score, bool existed,
                    double old);
/* Removes a member whose score is known (zset_writer_score). 2 deletes. */
int zset_writer_remove(zset_writer *w, const void *member, size_t n, double score);
/* Pops up to count members from the lowest scores (max: the highest), emitting each
   before it goes; *popped is how many. Reads the set as it was before the command. */
int zset_writer_pop(zset_writer *w, bool max, uint64_t count, zset_emit_fn emit, void *ctx,
                    uint64_t *popped);
/* ZREMRANGEBYRANK (ranks from the lowest score, start <= stop < size), BYSCORE, BYLEX:
 *removed is how many went. Each reads the set as it was before the command. */
int zset_writer_remove_rank(zset_writer *w, uint64_t start, uint64_t stop, uint64_t *removed);
int zset_writer_remove_score(zset_writer *w, const zset_score_range *r, uint64_t *removed);
int zset_writer_remove_lex(zset_writer *w, const zset_lex_range *r, uint64_t *removed);
/* Writes the metadata (size, hints) if anything changed; an emptied set deletes the key
   in the same batch. */
int zset_writer_finish(zset_writer *w);
void zset_writer_free(zset_writer *w);
static inline uint64_t zset_writer_size(const zset_writer *w)
{
    return w->size;
}

/* ---- whole values (DUMP, RESTORE) ---- */

/* The whole sorted set m (which exists) into *v (initialized here as a sorted set, by
   score then member, with the scores; v->enc from the metadata's flags): DUMP's read,
   one walk of the score index. rdb_value_free *v either way. */
int zset_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
              rdb_value *v);
/* Writes sorted set v (members distinct, scores not NaN, at least one member) as (dbi,
   key) through a replacing writer (2 puts a member), replacing what old (as read, any
   type) was, with expiry expire_at_ms (0: none): RESTORE's write. Its encoding is
   Redis's after a RESTORE of a payload in encoding v->enc: a skiplist payload (or AUTO)
   becomes a listpack when it has at most ZSET_LIMITS_DEFAULT.entries members of at most
   ZSET_LIMITS_DEFAULT.value bytes; a listpack one stays a listpack up to that many members
   whatever their lengths. Its waiters are woken (ks_put_collection). */
int zset_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
               const rdb_value *v, uint64_t expire_at_ms);

/* Reads the hints in a zset's metadata (tests and the writer). */
void zset_hints_parse(const ks_meta *m, zset_hint *lo, zset_hint *hi);
/* OBJECT ENCODING's answer for sorted set m: "listpack" or "skiplist". */
const char *zset_encoding(const ks_meta *m);

#endif

/*
 * set.h - sets on engine keys (docs/format.md, "Sets"): what SADD, SREM, SPOP, SINTER...
 * do to the store. It never writes a reply and never sees a client (commands/t_set.c
 * does); writes go into the keyspace transaction the caller began (ks_begin) and commits
 * (ks_finish).
 *
 * Each member is one engine key under the set's version, its own part being
 * hash64(member):be64 | member with an empty value, so members lie in hash order: a
 * random pick is a seek to a random hash (wrapping at the end) and a short walk, never a
 * scan of the set. The metadata's extra bytes say whether Redis would hold the set as an
 * intset (every member an integer, at most SET_INTSET_MAX of them) or as a hashtable
 * (like Redis's, the change to hashtable is for good, until the key is deleted), and how
 * many members were deleted since the version was written.
 *
 * Functions return 0 or a negative error (an engine's, -ENOMEM); m is the set's
 * metadata as ks_read gave it, type 0 for an absent key (an empty set).
 */
#ifndef SHALE_SET_H
#define SHALE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"
#include "rdb.h"

#define SET_INTSET_MAX 512 /* Redis's set-max-intset-entries default */
#define SET_F_HASHTABLE 1  /* extra[0]: Redis would hold it as a hashtable */
/* extra[1..8]: members deleted from the version (be64). A set of at most SET_REWRITE_MAX
   members with SET_REWRITE_RATIO times as many deleted is written anew (set.c,
   after_removal): a pick's walk then passes at most that many deleted members per live
   one. The largest rewrite reads 2 x 64 Ki members and writes 64 Ki in one command
   (measured 61 ms for 47 Ki; docs/commands.md's cost table). */
#define SET_REWRITE_MAX 65536
#define SET_REWRITE_RATIO 1

/* A list of members, back to back in one buffer. */
typedef struct set_list {
    char *buf;
    size_t len, cap;
    size_t *off; /* member i is buf[off[i] .. off[i + 1]); n + 1 entries */
    size_t n, ncap;
} set_list;

int set_list_push(set_list *l, const char *p, size_t len);
static inline const char *set_list_at(const set_list *l, size_t i, size_t *len)
{
    *len = l->off[i + 1] - l->off[i];
    return l->buf + l->off[i];
}
void set_list_free(set_list *l);
/* Orders l the way Redis replies a set it holds as an intset: when every member is an
   integer and there are at most SET_INTSET_MAX, by value; otherwise l is left as is. */
int set_list_intset_order(set_list *l);

/* Whether a member is an integer as Redis's intset takes one (string2ll). */
bool set_member_is_int(const char *p, size_t len);
/* OBJECT ENCODING's answer for set m: "intset" or "hashtable". */
const char *set_encoding(const ks_meta *m);

/* One set named by a command: key and its metadata (type 0: absent). */
typedef struct set_ref {
    const char *key;
    size_t klen;
    const ks_meta *m;
} set_ref;

/* Receives each member an operation produces (ctx: the caller's); a nonzero return
   stops the operation with that value. */
typedef int (*set_emit_fn)(void *ctx, const char *p, size_t len);
/* An emit function that appends to the set_list ctx. */
int set_list_emit(void *ctx, const char *p, size_t len);

/* ---- reads ---- */

/* found[i] = whether members[i] is in the set (members need not be distinct). Reads the
   members in engine-key order: a point read each, or one walk over the set when that
   reads less. */
int set_contains(keyspace *ks, int dbi, const set_ref *s, const char *const *members,
                 const size_t *lens, size_t n, bool *found);
/* Every member, in the set's order (hash order). */
int set_members(keyspace *ks, int dbi, const set_ref *s, set_emit_fn emit, void *ctx);
/* Members of the intersection of n sets: the smallest is walked, the others probed with
   point reads. limit > 0 stops after that many. */
int set_inter(keyspace *ks, int dbi, const set_ref *sets, size_t n, uint64_t limit,
              set_emit_fn emit, void *ctx);
/* Members of the union of n sets, each once: a merge of the sets' walks (all in hash
   order), nothing held in memory. */
int set_union(keyspace *ks, int dbi, const set_ref *sets, size_t n, set_emit_fn emit, void *ctx);
/* Members of sets[0] in none of the others: sets[0] walked, the others probed with
   point reads or walked beside it, whichever reads less. */
int set_diff(keyspace *ks, int dbi, const set_ref *sets, size_t n, set_emit_fn emit, void *ctx);

/*
 * Random members (SRANDMEMBER): count > 0 distinct ones (all when count >= size), count
 * < 0 |count| with repeats. Each pick is a seek to a random hash and a walk of up to
 * SET_PICK_WALK members (exactly uniform for sets up to that size, each member's chance
 * within about 1/4 of 1/size above it); when reading the whole set costs less than the
 * picks, it is read once and sampled.
 */
#define SET_PICK_WALK 16
/* SPOP's picks walk up to this many: every step also passes the deleted members between
   two live ones, which pops leave behind, so a pop's walk is kept short (each member's
   chance within about 1/2 of 1/size; Redis documents its own picks as not uniform
   either). */
#define SET_POP_WALK 4
int set_random(keyspace *ks, int dbi, const set_ref *s, long long count, set_list *out);
/* Seeds the random picks (tests); otherwise they are seeded from getrandom. */
void set_random_seed(uint64_t seed);

/* ---- writes (into the caller's transaction) ---- */

/* Adds members; *added = how many were new. Creates the set (a new version) when m is
   absent. */
int set_add(keyspace *ks, int dbi, const set_ref *s, const char *const *members, const size_t *lens,
            size_t n, uint64_t *added);
/* Removes members; *removed = how many were there. An emptied set is deleted. */
int set_remove(keyspace *ks, int dbi, const set_ref *s, const char *const *members,
               const size_t *lens, size_t n, uint64_t *removed);
/* Removes count random distinct members (all when count >= size: the key is deleted),
   which go to out. */
int set_pop(keyspace *ks, int dbi, const set_ref *s, uint64_t count, set_list *out);
/* SMOVE of a member from src to dst (distinct keys; dst may be absent): *moved = 1
   when src held it. */
int set_move(keyspace *ks, int dbi, const set_ref *src, const set_ref *dst, const char *member,
             size_t len, int *moved);

/* A set written whole under a new version (the STORE commands), replacing whatever
   the key held (its TTL too): begin, add each member once (set_writer_emit), end. */
typedef struct set_writer {
    keyspace *ks;
    int dbi;
    set_ref dst;
    uint64_t version, n;
    uint64_t expire_at_ms; /* the new set's expiry: 0 (none) unless set after begin */
    bool hashtable;
    ks_key k; /* the member prefix, then each member's engine key */
    size_t plen;
} set_writer;

int set_writer_begin(set_writer *w, keyspace *ks, int dbi, const set_ref *dst);
int set_writer_emit(void *w, const char *p, size_t len);
/* Writes the metadata (or deletes the key when no member was added); *n = members.
   Always frees w's memory. */
int set_writer_end(set_writer *w, int rc, uint64_t *n);

/* ---- whole values (DUMP, RESTORE) ---- */

/* The whole set m (which exists) into *v (initialized here as a set, in hash order: the
   encoder sorts an intset; v->enc from the metadata's flag): DUMP's read, one walk.
   rdb_value_free *v either way. */
int set_load(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *m,
             rdb_value *v);
/* Writes set v (members distinct, at least one) as (dbi, key) through a set_writer,
   replacing what old (as read, any type) was, with expiry expire_at_ms (0: none):
   RESTORE's write. Its encoding is the one Redis's RESTORE gives it whatever the
   payload's: an intset when every member is an integer and there are at most
   SET_INTSET_MAX of them. */
int set_store(keyspace *ks, int dbi, const void *key, size_t klen, const ks_meta *old,
              const rdb_value *v, uint64_t expire_at_ms);

/* ---- SSCAN ---- */

/* Opens r over the set's members in engine-key order (for scan_range). */
int set_range_open(keyspace *ks, int dbi, const set_ref *s, ks_range *r);
/* The member in an engine key from r. */
void set_range_member(const ks_range *r, const char *k, size_t kl, const char **p, size_t *len);

#endif

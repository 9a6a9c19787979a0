/*
 * member_map.h - an in-memory hash map from byte strings (collection members) to a score
 * and a mark. A sorted-set command keeps what it changed so far in one (reads inside a
 * transaction do not see the transaction's own writes), ZUNION/ZINTER/ZDIFF accumulate
 * their result in one, ZRANDMEMBER tells picks apart with one. Not a store: nothing here
 * touches the engine.
 */
#ifndef SHALE_MEMBER_MAP_H
#define SHALE_MEMBER_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mm_entry {
    const char *member; /* NULL: a free slot; else a copy owned by the map */
    size_t len;
    uint64_t hash;
    double score;
    int mark; /* the caller's */
} mm_entry;

typedef struct mm_chunk mm_chunk;

typedef struct member_map {
    mm_entry *slots;
    size_t cap; /* a power of two (0 before the first add) */
    size_t count;
    mm_chunk *chunks; /* the members' bytes */
} member_map;

void mm_init(member_map *m);
/* Frees what the map holds (not m itself); the map is empty and usable after. */
void mm_free(member_map *m);
/* The entry of member p[0..n), or NULL. The pointer is valid until the next mm_upsert. */
mm_entry *mm_find(const member_map *m, const void *p, size_t n);
/* The entry of p[0..n), added (score 0, mark 0, *added true) when absent; NULL when
   memory runs out. Valid until the next mm_upsert. */
mm_entry *mm_upsert(member_map *m, const void *p, size_t n, bool *added);
/* Every entry, in no order: slots[i] for i < cap where slots[i].member != NULL. */

#endif

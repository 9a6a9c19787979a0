/*
 * member_map.h - members (byte strings) with scores held in memory: a hash map from
 * member to a score and a mark, and a list. A sorted-set command keeps what it changed so
 * far in a map (reads inside a transaction do not see the transaction's own writes),
 * ZUNION/ZINTER/ZDIFF accumulate their result in one and sort it as a list, ZRANDMEMBER
 * samples a list and tells picks apart with a map. Not a store: nothing here touches the
 * engine.
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

/* A list of members with scores, their bytes back to back in one buffer. */
typedef struct ml_item {
    size_t off, len;
    double score;
} ml_item;
typedef struct member_list {
    char *buf;
    size_t len, cap;
    ml_item *items;
    size_t n, ncap;
} member_list;

/* Appends a member (0 or -ENOMEM). */
int ml_push(member_list *l, const void *p, size_t n, double score);
/* ml_push as a read's callback (zset_emit_fn; ctx: the list). */
int ml_emit(void *ctx, const char *p, size_t n, double score);
static inline const char *ml_member(const member_list *l, size_t i, size_t *len)
{
    *len = l->items[i].len;
    return l->buf + l->items[i].off;
}
/* Orders the list as a sorted set orders its members: by score, then by bytes. */
void ml_sort(member_list *l);
void ml_free(member_list *l);

#endif

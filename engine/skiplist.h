/*
 * skiplist.h - LevelDB's skiplist: one writer inserts, any number of readers search and
 * iterate without locks. Nodes live in an arena; the key bytes follow each node's tower.
 * Keys are memtable entries (memtable.h) compared by their internal keys.
 */
#ifndef SHALE_SKIPLIST_H
#define SHALE_SKIPLIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "slice.h"

#define SKIPLIST_MAX_HEIGHT 12

typedef struct skip_node skip_node;
struct skip_node {
    uint64_t prefix;  /* first 8 user key bytes, big-endian, zero padded: most
                         comparisons end here without touching the key bytes */
    const char *key;  /* the encoded entry */
    const char *ikey; /* its internal key */
    uint32_t ikey_len;
    uint32_t hash;               /* of the user key: the memtable's hash index */
    _Atomic(skip_node *) hnext;  /* older node in the same hash bucket */
    uint8_t height;
    _Atomic(skip_node *) next[1]; /* actually `height` entries */
};

/* The prefix of a user key as stored in skip_node.prefix. */
static inline uint64_t skiplist_key_prefix(slice user_key)
{
    uint64_t p = 0;
    size_t n = user_key.len < 8 ? user_key.len : 8;
    for (size_t i = 0; i < n; i++)
        p |= (uint64_t)(unsigned char)user_key.data[i] << (56 - 8 * i);
    return p;
}

typedef struct skiplist {
    arena *arena;
    skip_node *head;
    atomic_int max_height;
    uint64_t rnd;
} skiplist;

int skiplist_init(skiplist *sl, arena *a); /* 0 or -ENOMEM */
/* Allocates a node with room for `size` key bytes, returns where to write the entry. */
char *skiplist_alloc_entry(skiplist *sl, size_t size, skip_node **node);
/* Links a node whose entry was written (single writer), after setting its ikey fields.
   The key must not be present. */
void skiplist_insert_node(skiplist *sl, skip_node *node, const char *ikey, uint32_t ikey_len);

/* First node with ikey >= target, or NULL. */
skip_node *skiplist_seek(const skiplist *sl, slice target_ikey);
/* Last node with ikey < target, or NULL (the head). */
skip_node *skiplist_seek_lt(const skiplist *sl, slice target_ikey);
skip_node *skiplist_last(const skiplist *sl);
static inline skip_node *skiplist_first(const skiplist *sl)
{
    return atomic_load_explicit(&sl->head->next[0], memory_order_acquire);
}
static inline skip_node *skip_node_next(const skip_node *n)
{
    return atomic_load_explicit(&((skip_node *)n)->next[0], memory_order_acquire);
}

#endif

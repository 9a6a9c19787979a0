/*
 * skiplist.h - LevelDB's skiplist: one writer inserts, any number of readers search and
 * iterate without locks. Nodes live in an arena; the key bytes follow each node's tower.
 * Keys are memtable entries (memtable.h) compared by their internal keys.
 *
 * Comparisons without the key bytes. Real keys share long prefixes (a server's keys all
 * start with a tag and a database id, then often "user:" or a zero-padded number), so 8
 * bytes from the start of a key separate nothing. Instead the list keeps a few reference
 * keys (the first keys of each family it meets, never changed once set) and each node
 * stores, against the reference closest to it: how many leading bytes it shares with it
 * (`off`), the 8 key bytes from there (`window`), and on which side of the reference it
 * falls (`dir`). Two keys measured against the same reference compare by their offsets
 * alone when those differ, and by their windows when the offsets are equal; only equal
 * windows read the key bytes. The order is exactly the byte order of the keys: nothing
 * about the key layout is assumed, a bad choice of references only costs speed.
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
#define SKIPLIST_MAX_REFS 8
/* Offsets are capped here (a uint8_t); keys sharing more with a reference compare by
   the window after the cap, then by their bytes. */
#define SKIPLIST_MAX_OFF 255
/* A key sharing fewer leading bytes than this with every reference starts a new one
   while there is room: it belongs to a family the references do not cover yet. */
#define SKIPLIST_NEW_REF_BELOW 8

typedef struct skip_node skip_node;
struct skip_node {
    uint64_t window;  /* user key bytes [off, off + 8), big-endian, zero padded */
    const char *ikey; /* the internal key, inside the encoded entry */
    uint32_t ikey_len;
    uint32_t hash;              /* of the user key: the memtable's hash index */
    _Atomic(skip_node *) hnext; /* older node in the same hash bucket */
    uint8_t height;
    uint8_t ref;      /* the reference key off is measured against */
    uint8_t off;      /* leading bytes shared with it, at most SKIPLIST_MAX_OFF */
    int8_t dir;       /* sign of (this key - reference) at byte off: -1 when this key ends
                         there; unused when off reaches the reference's end or the cap */
    skip_node *prev0; /* the node before this one at level 0; the writer's alone,
                         readers never look at it (skiplist_insert_before) */
    _Atomic(skip_node *) next[1]; /* actually `height` entries */
};

/* A reference key: user key bytes in the arena, set once by the writer before the first
   node that names it is published. */
typedef struct skip_ref {
    const char *data;
    uint32_t len;
} skip_ref;

typedef struct skiplist {
    arena *arena;
    skip_node *head;
    atomic_int max_height;
    uint64_t rnd;
    int nrefs; /* writer only */
    skip_ref refs[SKIPLIST_MAX_REFS];
} skiplist;

int skiplist_init(skiplist *sl, arena *a); /* 0 or -ENOMEM */
/* Allocates a node with room for `size` key bytes, returns where to write the entry. */
char *skiplist_alloc_entry(skiplist *sl, size_t size, skip_node **node);
/* Links a node whose entry was written (single writer), after setting its ikey fields.
   The key must not be present. */
void skiplist_insert_node(skiplist *sl, skip_node *node, const char *ikey, uint32_t ikey_len);
/* The same without a descent when the node has height 1 and belongs right before succ
   (a memtable's newest entry of the same user key: the writer adds in sequence order,
   so the new entry sorts just before it). The hint is checked against succ and the node
   before it; a node that does not fit there, or a taller one, is linked after a descent. */
void skiplist_insert_before(skiplist *sl, skip_node *node, const char *ikey, uint32_t ikey_len,
                            skip_node *succ);

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

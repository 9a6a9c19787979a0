/*
 * arena.c - a bump allocator: memory comes from malloc in blocks and is freed all at
 * once. One thread allocates; any thread may read the usage counter.
 */
#include "arena.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct arena_block {
    struct arena_block *next;
    /* data follows, 8-aligned */
} arena_block;

struct arena {
    char *ptr;
    size_t left;
    size_t block_size;
    arena_block *blocks;
    atomic_size_t usage;
};

arena *arena_new(size_t block_size)
{
    arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->block_size = block_size < 4096 ? 4096 : block_size;
    atomic_init(&a->usage, sizeof *a);
    return a;
}

static void *new_block(arena *a, size_t bytes)
{
    arena_block *b = malloc(sizeof *b + bytes);
    if (!b)
        return NULL;
    b->next = a->blocks;
    a->blocks = b;
    return b + 1;
}

void *arena_alloc(arena *a, size_t n)
{
    size_t need = (n + 7) & ~(size_t)7;
    /* Usage counts bytes handed out, not blocks, so that small memtables (tests, tuning)
       fill by their contents; the unused tail of one block is the error. */
    atomic_store_explicit(&a->usage, atomic_load_explicit(&a->usage, memory_order_relaxed) + need,
                          memory_order_relaxed);
    if (need <= a->left) {
        void *p = a->ptr;
        a->ptr += need;
        a->left -= need;
        return p;
    }
    if (need > a->block_size / 4)
        return new_block(a, need); /* big: its own block, keep the current one */
    char *p = new_block(a, a->block_size);
    if (!p)
        return NULL;
    a->ptr = p + need;
    a->left = a->block_size - need;
    return p;
}

size_t arena_memory_usage(const arena *a)
{
    return atomic_load_explicit(&((arena *)a)->usage, memory_order_relaxed);
}

void arena_free(arena *a)
{
    if (!a)
        return;
    arena_block *b = a->blocks;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

/*
 * arena.c - a bump allocator: memory comes in blocks and is freed all at once. One
 * thread allocates; any thread may read the usage counter. Small blocks come from
 * malloc, large ones from mmap on huge-page boundaries (arena.h says why), recycled
 * through a small pool.
 */
#include "arena.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

typedef struct arena_block {
    struct arena_block *next;
    size_t bytes; /* of the whole block, this header included */
    bool mapped;  /* arena_unmap, not free */
    /* data follows, 8-aligned */
} arena_block;

/*
 * Mapped blocks of ARENA_HUGE_BLOCK bytes that freed arenas gave back, for the next
 * memtable: a fresh mapping costs a page fault and the kernel zeroing 2 MiB on first
 * touch, a recycled block neither. The pool keeps at most ARENA_POOL_BLOCKS (the size
 * of a default memtable: what the process held anyway a moment before); the rest is
 * unmapped. Shared by every arena of the process, any thread may free.
 */
#define ARENA_POOL_BLOCKS 32

static struct {
    pthread_mutex_t mu;
    int n;
    void *blocks[ARENA_POOL_BLOCKS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *pool_take(void)
{
    void *b = NULL;
    pthread_mutex_lock(&pool.mu);
    if (pool.n)
        b = pool.blocks[--pool.n];
    pthread_mutex_unlock(&pool.mu);
    return b;
}

/* false: the pool is full, the caller unmaps the block */
static bool pool_give(void *b)
{
    pthread_mutex_lock(&pool.mu);
    bool kept = pool.n < ARENA_POOL_BLOCKS;
    if (kept)
        pool.blocks[pool.n++] = b;
    pthread_mutex_unlock(&pool.mu);
    return kept;
}

size_t arena_pool_blocks(void)
{
    pthread_mutex_lock(&pool.mu);
    size_t n = (size_t)pool.n;
    pthread_mutex_unlock(&pool.mu);
    return n;
}

struct arena {
    char *ptr;
    size_t left;
    size_t block_size;
    arena_block *blocks;
    atomic_size_t usage;
};

void *arena_map_zeroed(size_t bytes)
{
    if (bytes < ARENA_HUGE_BLOCK)
        return calloc(1, bytes);
    /* over-map by one huge page, then trim both ends to the alignment */
    size_t len = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    char *raw =
        mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (raw + len + HUGE_PAGE > p + len)
        munmap(p + len, (size_t)(raw + len + HUGE_PAGE - (p + len)));
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE); /* a hint: without THP the pages are 4 KiB, no harm */
#endif
    return p;
}

void arena_unmap(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < ARENA_HUGE_BLOCK) {
        free(p);
        return;
    }
    munmap(p, (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1));
}

arena *arena_new(size_t block_size)
{
    arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->block_size = block_size < 4096 ? 4096 : block_size;
    atomic_init(&a->usage, sizeof *a);
    return a;
}

/* A block with room for `bytes` after its header, malloc'ed: big single allocations and
   the blocks of small arenas. */
static void *new_block(arena *a, size_t bytes)
{
    arena_block *b = malloc(sizeof *b + bytes);
    if (!b)
        return NULL;
    *b = (arena_block){a->blocks, sizeof *b + bytes, false};
    a->blocks = b;
    return b + 1;
}

/* The next regular block; returns its room after the header, 0 on ENOMEM. A huge-block
   arena maps it, its header taking the first bytes of the mapping. */
static size_t next_block(arena *a)
{
    if (a->block_size < ARENA_HUGE_BLOCK) {
        a->ptr = new_block(a, a->block_size);
        return a->ptr ? a->block_size : 0;
    }
    /* recycled blocks are exactly ARENA_HUGE_BLOCK; other sizes always map */
    arena_block *b = a->block_size == ARENA_HUGE_BLOCK ? pool_take() : NULL;
    if (!b)
        b = arena_map_zeroed(a->block_size);
    if (!b)
        return 0;
    *b = (arena_block){a->blocks, a->block_size, true};
    a->blocks = b;
    a->ptr = (char *)(b + 1);
    return a->block_size - sizeof *b;
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
    size_t room = next_block(a);
    if (!room) {
        a->left = 0;
        return NULL;
    }
    char *p = a->ptr;
    a->ptr = p + need;
    a->left = room - need;
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
        if (!b->mapped)
            free(b);
        else if (b->bytes != ARENA_HUGE_BLOCK || !pool_give(b))
            arena_unmap(b, b->bytes);
        b = n;
    }
    free(a);
}

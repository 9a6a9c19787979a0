/*
 * arena.h - bump allocator for a memtable: many small allocations, freed all at once.
 * One writer allocates; any thread may read arena_memory_usage concurrently.
 *
 * Blocks of ARENA_HUGE_BLOCK bytes or more are mapped 2 MiB-aligned and marked for
 * transparent huge pages: a memtable is written and searched at random over tens of
 * megabytes, and with 4 KiB pages every first touch is a page fault and nearly every
 * node visited a TLB miss.
 */
#ifndef SHALE_ARENA_H
#define SHALE_ARENA_H

#include <stddef.h>

#define ARENA_HUGE_BLOCK (2u << 20)

typedef struct arena arena;

/* A new arena that takes memory in blocks of block_size. NULL on ENOMEM. */
arena *arena_new(size_t block_size);
/* n bytes aligned to 8 (pointer alignment), valid until arena_free. NULL on ENOMEM. */
void *arena_alloc(arena *a, size_t n);
/* Bytes handed out so far (the current block's unused tail is not counted). Safe from
   any thread. */
size_t arena_memory_usage(const arena *a);
/* NULL: no-op. */
void arena_free(arena *a);

/* Freed huge blocks waiting in the pool for the next arena (at most 32). */
size_t arena_pool_blocks(void);

/* Zeroed memory outside any arena, from the same page source (huge pages when bytes
   is at least ARENA_HUGE_BLOCK): for large tables touched at random, such as the
   memtable's hash buckets. NULL on ENOMEM. Free with arena_unmap and the same size. */
void *arena_map_zeroed(size_t bytes);
/* NULL: no-op. */
void arena_unmap(void *p, size_t bytes);

#endif

/*
 * arena.h - bump allocator for a memtable: many small allocations, freed all at once.
 * One writer allocates; any thread may read arena_memory_usage concurrently.
 */
#ifndef SHALE_ARENA_H
#define SHALE_ARENA_H

#include <stddef.h>

typedef struct arena arena;

/* A new arena that takes memory from malloc in blocks of block_size. NULL on ENOMEM. */
arena *arena_new(size_t block_size);
/* n bytes aligned to 8 (pointer alignment), valid until arena_free. NULL on ENOMEM. */
void *arena_alloc(arena *a, size_t n);
/* Bytes handed out so far (the current block's unused tail is not counted). Safe from
   any thread. */
size_t arena_memory_usage(const arena *a);
/* NULL: no-op. */
void arena_free(arena *a);

#endif

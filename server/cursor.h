/*
 * cursor.h - SCAN/HSCAN cursors. Redis clients treat a cursor as an unsigned integer,
 * but our keys are ordered byte strings, so the server remembers where each cursor
 * resumes: a cursor is a number naming a slot of a fixed table that holds the engine key
 * to continue from. A cursor whose slot was reused restarts the scan from the
 * beginning: SCAN may then return elements again, which its contract allows, but never
 * misses one.
 */
#ifndef SHALE_CURSOR_H
#define SHALE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#define CURSOR_SLOTS 4096

typedef struct cursor_slot {
    uint64_t id;
    char *key; /* malloc'ed resume key */
    size_t klen;
} cursor_slot;

typedef struct cursor_table {
    cursor_slot slot[CURSOR_SLOTS];
    uint64_t next;
} cursor_table;

/* Remembers key; returns a new cursor (never 0), or 0 when memory is short. */
uint64_t cursor_save(cursor_table *t, const void *key, size_t klen);
/* The resume key of cursor id (borrowed until the next save), or NULL when forgotten. */
const char *cursor_find(const cursor_table *t, uint64_t id, size_t *klen);
void cursor_table_free(cursor_table *t);

#endif

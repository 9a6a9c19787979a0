/* cursor.c - SCAN cursors as slots of a table (see cursor.h). */
#include "cursor.h"

#include <stdlib.h>
#include <string.h>

uint64_t cursor_save(cursor_table *t, const void *key, size_t klen)
{
    uint64_t id = ++t->next;
    cursor_slot *s = &t->slot[id % CURSOR_SLOTS];
    char *k = malloc(klen ? klen : 1);
    if (!k)
        return 0;
    memcpy(k, key, klen);
    free(s->key);
    s->id = id;
    s->key = k;
    s->klen = klen;
    return id;
}

const char *cursor_find(const cursor_table *t, uint64_t id, size_t *klen)
{
    const cursor_slot *s = &t->slot[id % CURSOR_SLOTS];
    if (id == 0 || s->id != id || !s->key)
        return NULL;
    *klen = s->klen;
    return s->key;
}

void cursor_table_free(cursor_table *t)
{
    for (int i = 0; i < CURSOR_SLOTS; i++)
        free(t->slot[i].key);
    memset(t, 0, sizeof *t);
}

/*
 * ps_table.h - the pub/sub registry's table: names (channels, patterns or shard
 * channels) to the clients subscribed to each, in the order they subscribed. Names keep
 * the order in which they got their first subscriber (PUBSUB CHANNELS, the patterns a
 * message is matched against). A name without subscribers is removed, so that the table
 * holds only what someone listens to. Plain memory, no locking: the caller holds the
 * server's lock.
 */
#ifndef SHALE_PS_TABLE_H
#define SHALE_PS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;

typedef struct ps_entry {
    struct ps_entry *hnext;       /* the hash bucket's chain */
    struct ps_entry *prev, *next; /* the table's order */
    uint64_t hash;
    struct client **subs; /* subscribers, oldest first */
    size_t nsubs, cap;
    size_t len;
    char name[]; /* len bytes and a NUL */
} ps_entry;

typedef struct ps_table {
    ps_entry **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first add */
    size_t count;
    ps_entry *first, *last;
} ps_table;

/* The entry of name, or NULL. */
ps_entry *ps_find(const ps_table *t, const char *name, size_t len);
/* The entry of name, created (with no subscribers, last in order) when absent; NULL when
   memory runs out. */
ps_entry *ps_upsert(ps_table *t, const char *name, size_t len);
/* Appends c to e's subscribers. 0 or -ENOMEM. */
int ps_entry_add(ps_entry *e, struct client *c);
/* Takes c out of e's subscribers (the others keep their order); when none is left the
   entry leaves the table and is freed. */
void ps_entry_remove(ps_table *t, ps_entry *e, struct client *c);
/* Whether c subscribes to e (a search of e's subscribers). */
bool ps_entry_has(const ps_entry *e, const struct client *c);
/* Frees every entry (not t itself). */
void ps_table_free(ps_table *t);

#endif

/* ps_table.c - the pub/sub registry's hash table of names (ps_table.h). */
#include "ps_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: names are short and chosen by clients; the chains stay short at load <= 1. */
static uint64_t name_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

ps_entry *ps_find(const ps_table *t, const char *name, size_t len)
{
    if (!t->nbuckets)
        return NULL;
    uint64_t h = name_hash(name, len);
    for (ps_entry *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

/* Doubles the buckets (or makes the first 16). 0 or -ENOMEM. */
static int grow(ps_table *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 16;
    ps_entry **b = calloc(n, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (ps_entry *e = t->first; e; e = e->next) {
        size_t i = e->hash & (n - 1);
        e->hnext = b[i];
        b[i] = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return 0;
}

ps_entry *ps_upsert(ps_table *t, const char *name, size_t len)
{
    ps_entry *e = ps_find(t, name, len);
    if (e)
        return e;
    if (t->count >= t->nbuckets && grow(t))
        return NULL;
    e = calloc(1, sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->name, name, len);
    e->len = len;
    e->hash = name_hash(name, len);
    size_t i = e->hash & (t->nbuckets - 1);
    e->hnext = t->buckets[i];
    t->buckets[i] = e;
    e->prev = t->last;
    if (t->last)
        t->last->next = e;
    else
        t->first = e;
    t->last = e;
    t->count++;
    return e;
}

int ps_entry_add(ps_entry *e, struct client *c)
{
    if (e->nsubs == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        struct client **p = realloc(e->subs, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        e->subs = p;
        e->cap = cap;
    }
    e->subs[e->nsubs++] = c;
    return 0;
}

bool ps_entry_has(const ps_entry *e, const struct client *c)
{
    for (size_t i = 0; i < e->nsubs; i++)
        if (e->subs[i] == c)
            return true;
    return false;
}

static void unlink_entry(ps_table *t, ps_entry *e)
{
    ps_entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        t->first = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->last = e->prev;
    t->count--;
}

void ps_entry_remove(ps_table *t, ps_entry *e, struct client *c)
{
    for (size_t i = 0; i < e->nsubs; i++)
        if (e->subs[i] == c) {
            memmove(&e->subs[i], &e->subs[i + 1], (e->nsubs - i - 1) * sizeof *e->subs);
            e->nsubs--;
            break;
        }
    if (e->nsubs)
        return;
    unlink_entry(t, e);
    free(e->subs);
    free(e);
}

void ps_table_free(ps_table *t)
{
    ps_entry *e = t->first;
    while (e) {
        ps_entry *next = e->next;
        free(e->subs);
        free(e);
        e = next;
    }
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

/*
 * block_cache.c - sharded LRU cache (see block_cache.h). Each shard has a mutex, an
 * open-addressing-free chained hash table and a doubly linked LRU list of entries that
 * no handle references; referenced entries sit outside the list until released.
 */
#include "block_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cache_handle {
    uint64_t k1, k2;
    void *value;
    void (*deleter)(void *);
    size_t charge;
    uint32_t hash;
    int refs; /* handles + 1 while in the table */
    bool in_table;
    struct cache_handle *hnext;       /* hash chain */
    struct cache_handle *prev, *next; /* LRU list (only when refs == 1 and in_table) */
};

typedef struct shard {
    pthread_mutex_t mu;
    size_t capacity;
    size_t usage;
    cache_handle **table;
    size_t buckets; /* power of two */
    size_t count;
    cache_handle lru; /* sentinel: lru.next is the oldest */
} shard;

struct block_cache {
    shard *shards;
    int shard_bits;
    atomic_uint_fast64_t hits, misses, inserts, evictions;
    size_t capacity;
};

static uint32_t hash_key(uint64_t k1, uint64_t k2)
{
    uint64_t h = k1 * 0x9E3779B97F4A7C15ULL ^ (k2 + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

int block_cache_new(size_t capacity, int shard_bits, block_cache **out)
{
    *out = NULL;
    block_cache *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->shard_bits = shard_bits;
    int n = 1 << shard_bits;
    c->shards = calloc((size_t)n, sizeof(shard));
    if (!c->shards) {
        free(c);
        return -ENOMEM;
    }
    c->capacity = capacity;
    for (int i = 0; i < n; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->capacity = (capacity + (size_t)n - 1) / (size_t)n;
        s->buckets = 256;
        s->table = calloc(s->buckets, sizeof *s->table);
        s->lru.next = s->lru.prev = &s->lru;
        if (!s->table) {
            c->shard_bits = 0;
            block_cache_free(c);
            return -ENOMEM;
        }
    }
    *out = c;
    return 0;
}

static void lru_remove(cache_handle *e)
{
    e->next->prev = e->prev;
    e->prev->next = e->next;
    e->next = e->prev = NULL;
}

static void lru_append(shard *s, cache_handle *e)
{
    e->next = &s->lru;
    e->prev = s->lru.prev;
    e->prev->next = e;
    e->next->prev = e;
}

static void entry_free(cache_handle *e)
{
    if (e->deleter)
        e->deleter(e->value);
    free(e);
}

static cache_handle **find_slot(shard *s, uint64_t k1, uint64_t k2, uint32_t hash)
{
    cache_handle **p = &s->table[(hash >> 8) & (s->buckets - 1)];
    while (*p && ((*p)->k1 != k1 || (*p)->k2 != k2))
        p = &(*p)->hnext;
    return p;
}

static void grow(shard *s)
{
    size_t nb = s->buckets * 2;
    cache_handle **t = calloc(nb, sizeof *t);
    if (!t)
        return; /* keep the longer chains */
    for (size_t i = 0; i < s->buckets; i++) {
        cache_handle *e = s->table[i];
        while (e) {
            cache_handle *n = e->hnext;
            size_t b = (e->hash >> 8) & (nb - 1);
            e->hnext = t[b];
            t[b] = e;
            e = n;
        }
    }
    free(s->table);
    s->table = t;
    s->buckets = nb;
}

/* Drops the table's reference (mu held); returns true when the entry must be freed. */
static bool unref_locked(shard *s, cache_handle *e)
{
    e->refs--;
    if (e->refs == 0) {
        s->usage -= e->charge;
        return true;
    }
    if (e->refs == 1 && e->in_table)
        lru_append(s, e);
    return false;
}

static void remove_from_table(shard *s, cache_handle *e)
{
    cache_handle **p = find_slot(s, e->k1, e->k2, e->hash);
    if (*p == e)
        *p = e->hnext;
    e->in_table = false;
    s->count--;
    if (e->next)
        lru_remove(e);
}

/* Evicts unreferenced entries, oldest first, until the shard fits its capacity (mu held).
   Entries to free are chained on *to_free through hnext; returns how many went. */
static uint64_t evict_locked(shard *s, cache_handle **to_free)
{
    uint64_t n = 0;
    while (s->usage > s->capacity && s->lru.next != &s->lru) {
        cache_handle *v = s->lru.next;
        remove_from_table(s, v);
        if (unref_locked(s, v)) {
            v->hnext = *to_free;
            *to_free = v;
        }
        n++;
    }
    return n;
}

/* Runs the deleters of a chain built by evict_locked (outside the shard's mutex). */
static void free_chain(cache_handle *e)
{
    while (e) {
        cache_handle *n = e->hnext;
        entry_free(e);
        e = n;
    }
}

static inline shard *shard_of(block_cache *c, uint32_t hash)
{
    return &c->shards[c->shard_bits ? hash >> (32 - c->shard_bits) : 0];
}

cache_handle *block_cache_lookup(block_cache *c, uint64_t k1, uint64_t k2)
{
    uint32_t h = hash_key(k1, k2);
    shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    cache_handle *e = *find_slot(s, k1, k2, h);
    if (e) {
        if (e->refs == 1)
            lru_remove(e);
        e->refs++;
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(e ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return e;
}

cache_handle *block_cache_insert(block_cache *c, uint64_t k1, uint64_t k2, void *value,
                                 size_t charge, void (*deleter)(void *value))
{
    cache_handle *e = malloc(sizeof *e);
    if (!e) {
        if (deleter)
            deleter(value);
        return NULL;
    }
    uint32_t h = hash_key(k1, k2);
    *e = (cache_handle){.k1 = k1,
                        .k2 = k2,
                        .value = value,
                        .deleter = deleter,
                        .charge = charge,
                        .hash = h,
                        .refs = 2,
                        .in_table = true};
    shard *s = shard_of(c, h);
    cache_handle *to_free = NULL; /* chained through hnext */
    pthread_mutex_lock(&s->mu);
    cache_handle **slot = find_slot(s, k1, k2, h);
    cache_handle *old = *slot;
    if (old) {
        *slot = old->hnext;
        old->in_table = false;
        s->count--;
        if (old->next)
            lru_remove(old);
        if (unref_locked(s, old)) {
            old->hnext = to_free;
            to_free = old;
        }
    }
    e->hnext = NULL;
    *find_slot(s, k1, k2, h) = e;
    s->count++;
    s->usage += charge;
    if (s->count > s->buckets)
        grow(s);
    uint64_t evicted = evict_locked(s, &to_free);
    pthread_mutex_unlock(&s->mu);
    free_chain(to_free);
    atomic_fetch_add_explicit(&c->inserts, 1, memory_order_relaxed);
    if (evicted)
        atomic_fetch_add_explicit(&c->evictions, evicted, memory_order_relaxed);
    return e;
}

void *block_cache_value(const cache_handle *h)
{
    return h->value;
}

void block_cache_release(block_cache *c, cache_handle *h)
{
    shard *s = shard_of(c, h->hash);
    pthread_mutex_lock(&s->mu);
    bool dead = unref_locked(s, h);
    /* Over capacity (an entry was pinned while the cache filled): trim now. */
    cache_handle *to_free = NULL;
    if (!dead)
        evict_locked(s, &to_free);
    pthread_mutex_unlock(&s->mu);
    if (dead)
        entry_free(h);
    free_chain(to_free);
}

void block_cache_erase(block_cache *c, uint64_t k1, uint64_t k2)
{
    uint32_t h = hash_key(k1, k2);
    shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    cache_handle *e = *find_slot(s, k1, k2, h);
    bool dead = false;
    if (e) {
        remove_from_table(s, e);
        dead = unref_locked(s, e);
    }
    pthread_mutex_unlock(&s->mu);
    if (dead)
        entry_free(e);
}

void block_cache_set_capacity(block_cache *c, size_t capacity)
{
    int n = 1 << c->shard_bits;
    c->capacity = capacity;
    for (int i = 0; i < n; i++) {
        shard *s = &c->shards[i];
        cache_handle *to_free = NULL;
        pthread_mutex_lock(&s->mu);
        s->capacity = (capacity + (size_t)n - 1) / (size_t)n;
        evict_locked(s, &to_free);
        pthread_mutex_unlock(&s->mu);
        free_chain(to_free);
    }
}

void block_cache_get_stats(block_cache *c, block_cache_stats *out)
{
    out->hits = atomic_load(&c->hits);
    out->misses = atomic_load(&c->misses);
    out->inserts = atomic_load(&c->inserts);
    out->evictions = atomic_load(&c->evictions);
    out->capacity = c->capacity;
    size_t usage = 0;
    int n = 1 << c->shard_bits;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&c->shards[i].mu);
        usage += c->shards[i].usage;
        pthread_mutex_unlock(&c->shards[i].mu);
    }
    out->usage = usage;
}

void block_cache_free(block_cache *c)
{
    if (!c)
        return;
    int n = 1 << c->shard_bits;
    for (int i = 0; c->shards && i < n; i++) {
        shard *s = &c->shards[i];
        for (size_t b = 0; s->table && b < s->buckets; b++) {
            cache_handle *e = s->table[b];
            while (e) {
                cache_handle *nx = e->hnext;
                entry_free(e);
                e = nx;
            }
        }
        free(s->table);
        pthread_mutex_destroy(&s->mu);
    }
    free(c->shards);
    free(c);
}

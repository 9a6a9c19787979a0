/*
 * block_cache.c - sharded CLOCK cache (see block_cache.h).
 *
 * Each shard has a mutex, an open-addressing table of (hash, entry) slots with linear
 * probing and backward-shift deletion, and a clock hand that sweeps the slots when the
 * shard is over capacity. A hit only takes a reference and sets the entry's visited bit:
 * no list is relinked, so a lookup touches the slot array and the entry and nothing
 * else (the LRU list it replaces cost two more cache misses per hit, on the neighbours).
 * The hand evicts an unreferenced entry whose bit is clear and clears the bits it passes,
 * so an entry hit since the hand last came by survives one more round (RocksDB's
 * ClockCache, an approximation of LevelDB's LRU).
 *
 * refs counts the handles plus one while the entry is in the table. Lookups and
 * inserts, which add references, run under the shard's mutex; releases only decrement
 * (no lock), and whoever takes refs to zero frees the entry, so a handle stays valid
 * after its entry was evicted, erased or replaced.
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
    uint64_t hash;
    atomic_uint refs;        /* handles + 1 while in the table */
    atomic_bool visited;     /* hit since the clock hand last passed */
    cache_handle *free_next; /* chains entries to free outside the mutex */
};

typedef struct slot {
    uint64_t hash;   /* the entry's, so probing and shifting do not touch entries */
    cache_handle *e; /* NULL: empty */
} slot;

#define MIN_SLOTS 64u

typedef struct shard {
    pthread_mutex_t mu;
    slot *slots;
    size_t nslots; /* power of two, at most 3/4 full */
    size_t count;
    size_t hand; /* the clock hand: next slot the sweep looks at */
    /* Written under mu; read without it by block_cache_release's over-capacity check. */
    atomic_size_t usage, capacity;
    uint64_t hits, misses, inserts, evictions; /* under mu */
} __attribute__((aligned(64))) shard;

struct block_cache {
    shard *shards;
    int shard_bits;
    size_t capacity;
};

static uint64_t hash_key(uint64_t k1, uint64_t k2)
{
    uint64_t h = k1 * 0x9E3779B97F4A7C15ULL ^ (k2 + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return h;
}

/* The shard comes from the high bits, the slot from the low ones. */
static inline shard *shard_of(block_cache *c, uint64_t hash)
{
    return &c->shards[c->shard_bits ? hash >> (64 - c->shard_bits) : 0];
}

static size_t per_shard(size_t capacity, int shard_bits)
{
    size_t n = (size_t)1 << shard_bits;
    return capacity / n + (capacity % n != 0);
}

int block_cache_new(size_t capacity, int shard_bits, block_cache **out)
{
    *out = NULL;
    block_cache *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int n = 1 << shard_bits;
    c->shards = aligned_alloc(64, (size_t)n * sizeof(shard));
    if (!c->shards) {
        free(c);
        return -ENOMEM;
    }
    memset(c->shards, 0, (size_t)n * sizeof(shard));
    c->shard_bits = shard_bits;
    c->capacity = capacity;
    for (int i = 0; i < n; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        atomic_init(&s->usage, 0);
        atomic_init(&s->capacity, per_shard(capacity, shard_bits));
    }
    for (int i = 0; i < n; i++) {
        shard *s = &c->shards[i];
        s->nslots = MIN_SLOTS;
        s->slots = calloc(s->nslots, sizeof *s->slots);
        if (!s->slots) {
            block_cache_free(c);
            return -ENOMEM;
        }
    }
    *out = c;
    return 0;
}

static void entry_free(cache_handle *e)
{
    if (e->deleter)
        e->deleter(e->value);
    free(e);
}

/* Drops one reference; frees the entry at the last. */
static void unref(cache_handle *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        entry_free(e);
}

/* The slot holding the key, or the empty slot that ends its probe sequence (mu held). */
static size_t find_slot(const shard *s, uint64_t k1, uint64_t k2, uint64_t hash)
{
    size_t mask = s->nslots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const slot *sl = &s->slots[i];
        if (!sl->e || (sl->hash == hash && sl->e->k1 == k1 && sl->e->k2 == k2))
            return i;
    }
}

/* Doubles the slot array; on ENOMEM keeps the fuller one (inserts still find room,
   since the table grows before it is 3/4 full). */
static void grow(shard *s)
{
    size_t n = s->nslots * 2, mask = n - 1;
    slot *t = calloc(n, sizeof *t);
    if (!t)
        return;
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].e)
            continue;
        size_t j = s->slots[i].hash & mask;
        while (t[j].e)
            j = (j + 1) & mask;
        t[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = t;
    s->nslots = n;
    s->hand &= mask;
}

/* Empties slot i and shifts the rest of its cluster back, so that no probe sequence
   has a hole (mu held). Charges the shard for the entry's removal. */
static void remove_slot(shard *s, size_t i)
{
    size_t mask = s->nslots - 1;
    cache_handle *e = s->slots[i].e;
    atomic_store_explicit(&s->usage,
                          atomic_load_explicit(&s->usage, memory_order_relaxed) - e->charge,
                          memory_order_relaxed);
    s->count--;
    for (size_t j = (i + 1) & mask; s->slots[j].e; j = (j + 1) & mask) {
        size_t home = s->slots[j].hash & mask;
        /* j's entry may move to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i].e = NULL;
}

/*
 * Sweeps the clock hand until the shard fits its capacity (mu held): an entry no handle
 * references is evicted when its visited bit is clear, and loses its bit otherwise.
 * Two full turns visit every entry with its bit cleared, so the sweep ends even when
 * everything is referenced. Evicted entries are chained on *to_free.
 */
static void evict_locked(shard *s, cache_handle **to_free)
{
    size_t budget = 2 * s->nslots;
    while (atomic_load_explicit(&s->usage, memory_order_relaxed) >
               atomic_load_explicit(&s->capacity, memory_order_relaxed) &&
           s->count > 0 && budget-- > 0) {
        size_t i = s->hand;
        cache_handle *e = s->slots[i].e;
        /* refs == 1: only the table holds it, and no lookup can add one while mu is held */
        if (e && atomic_load_explicit(&e->refs, memory_order_acquire) == 1 &&
            !atomic_exchange_explicit(&e->visited, false, memory_order_relaxed)) {
            remove_slot(s, i); /* a later entry may now sit in slot i: look at it again */
            atomic_store_explicit(&e->refs, 0, memory_order_relaxed);
            e->free_next = *to_free;
            *to_free = e;
            s->evictions++;
            continue;
        }
        s->hand = (i + 1) & (s->nslots - 1);
    }
}

/* Runs the deleters of a chain built by evict_locked (outside the shard's mutex). */
static void free_chain(cache_handle *e)
{
    while (e) {
        cache_handle *n = e->free_next;
        entry_free(e);
        e = n;
    }
}

cache_handle *block_cache_lookup(block_cache *c, uint64_t k1, uint64_t k2)
{
    uint64_t h = hash_key(k1, k2);
    shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    cache_handle *e = s->slots[find_slot(s, k1, k2, h)].e;
    if (e) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        if (!atomic_load_explicit(&e->visited, memory_order_relaxed))
            atomic_store_explicit(&e->visited, true, memory_order_relaxed);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
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
    uint64_t h = hash_key(k1, k2);
    *e = (cache_handle){
        .k1 = k1, .k2 = k2, .value = value, .deleter = deleter, .charge = charge, .hash = h};
    atomic_init(&e->refs, 2);
    atomic_init(&e->visited, false); /* a block read once goes before one hit again */
    shard *s = shard_of(c, h);
    cache_handle *to_free = NULL, *old = NULL;
    pthread_mutex_lock(&s->mu);
    size_t i = find_slot(s, k1, k2, h);
    if (s->slots[i].e) {
        old = s->slots[i].e;
        remove_slot(s, i);
    } else if ((s->count + 1) * 4 > s->nslots * 3) {
        grow(s);
    }
    i = find_slot(s, k1, k2, h);
    s->slots[i] = (slot){h, e};
    s->count++;
    atomic_store_explicit(&s->usage, atomic_load_explicit(&s->usage, memory_order_relaxed) + charge,
                          memory_order_relaxed);
    s->inserts++;
    evict_locked(s, &to_free);
    pthread_mutex_unlock(&s->mu);
    if (old)
        unref(old);
    free_chain(to_free);
    return e;
}

void *block_cache_value(const cache_handle *h)
{
    return h->value;
}

void block_cache_release(block_cache *c, cache_handle *h)
{
    uint64_t hash = h->hash;
    unsigned before = atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel);
    if (before == 1) {
        entry_free(h); /* evicted, erased or replaced meanwhile: the last handle frees it */
        return;
    }
    /* Over capacity (entries were pinned while the cache filled): trim now. h may be
       gone by now, hence the hash read before the decrement. */
    shard *s = shard_of(c, hash);
    if (atomic_load_explicit(&s->usage, memory_order_relaxed) <=
        atomic_load_explicit(&s->capacity, memory_order_relaxed))
        return;
    cache_handle *to_free = NULL;
    pthread_mutex_lock(&s->mu);
    evict_locked(s, &to_free);
    pthread_mutex_unlock(&s->mu);
    free_chain(to_free);
}

void block_cache_erase(block_cache *c, uint64_t k1, uint64_t k2)
{
    uint64_t h = hash_key(k1, k2);
    shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    size_t i = find_slot(s, k1, k2, h);
    cache_handle *e = s->slots[i].e;
    if (e)
        remove_slot(s, i);
    pthread_mutex_unlock(&s->mu);
    if (e)
        unref(e);
}

void block_cache_set_capacity(block_cache *c, size_t capacity)
{
    int n = 1 << c->shard_bits;
    c->capacity = capacity;
    for (int i = 0; i < n; i++) {
        shard *s = &c->shards[i];
        cache_handle *to_free = NULL;
        pthread_mutex_lock(&s->mu);
        atomic_store_explicit(&s->capacity, per_shard(capacity, c->shard_bits),
                              memory_order_relaxed);
        evict_locked(s, &to_free);
        pthread_mutex_unlock(&s->mu);
        free_chain(to_free);
    }
}

void block_cache_get_stats(block_cache *c, block_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    out->capacity = c->capacity;
    int n = 1 << c->shard_bits;
    for (int i = 0; i < n; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        out->hits += s->hits;
        out->misses += s->misses;
        out->inserts += s->inserts;
        out->evictions += s->evictions;
        out->usage += atomic_load_explicit(&s->usage, memory_order_relaxed);
        pthread_mutex_unlock(&s->mu);
    }
}

void block_cache_free(block_cache *c)
{
    if (!c)
        return;
    int n = 1 << c->shard_bits;
    for (int i = 0; c->shards && i < n; i++) {
        shard *s = &c->shards[i];
        for (size_t j = 0; s->slots && j < s->nslots; j++)
            if (s->slots[j].e)
                entry_free(s->slots[j].e);
        free(s->slots);
        pthread_mutex_destroy(&s->mu);
    }
    free(c->shards);
    free(c);
}

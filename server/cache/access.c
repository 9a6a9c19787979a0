/* access.c - the in-memory LRU/LFU table (see access.h). Linear probing with backward
   shift deletion, so there are no tombstones to clean up. */
#include "access.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define MIN_CAP 1024u
/* An entry's last_s counts seconds from this long before the table was made, so that a
   key can be given an idle time longer than the server has run (RESTORE ... IDLETIME). */
#define IDLE_BIAS_S (1u << 30)

static uint64_t key_hash(uint32_t phys, const void *key, size_t klen)
{
    return XXH3_64bits_withSeed(key, klen, phys);
}

static uint64_t next_rand(access_table *t)
{
    /* xorshift64* */
    t->rnd ^= t->rnd >> 12;
    t->rnd ^= t->rnd << 25;
    t->rnd ^= t->rnd >> 27;
    return t->rnd * 2685821657736338717ull;
}

int access_init(access_table *t, uint64_t now_ms)
{
    memset(t, 0, sizeof *t);
    t->slots = calloc(MIN_CAP, sizeof *t->slots);
    if (!t->slots)
        return -ENOMEM;
    t->cap = MIN_CAP;
    t->bytes = MIN_CAP * sizeof *t->slots;
    t->start_ms = now_ms;
    t->rnd = now_ms | 1;
    return 0;
}

void access_free(access_table *t)
{
    for (size_t i = 0; t->slots && i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The slot holding (phys, key), or the empty slot where it would go. */
static size_t find(const access_table *t, uint64_t h, uint32_t phys, const void *key, size_t klen)
{
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const access_entry *e = &t->slots[i];
        if (!e->key || (e->hash == h && e->phys == phys && e->klen == klen &&
                        memcmp(e->key, key, klen) == 0))
            return i;
    }
}

static int resize(access_table *t, size_t cap)
{
    access_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    access_entry *old = t->slots;
    size_t old_cap = t->cap;
    t->slots = slots;
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            t->slots[find(t, old[i].hash, old[i].phys, old[i].key, old[i].klen)] = old[i];
    free(old);
    t->bytes = t->bytes - old_cap * sizeof *slots + cap * sizeof *slots;
    return 0;
}

static uint16_t minutes(const access_table *t, uint64_t now_ms)
{
    return (uint16_t)((now_ms - t->start_ms) / 60000u);
}

/* The counter after the decay owed since the last decrement (Redis's LFUDecrAndReturn). */
static unsigned decayed(const access_table *t, const access_entry *e, uint64_t now_ms,
                        long long decay_min)
{
    if (decay_min <= 0)
        return e->lfu;
    unsigned elapsed = (uint16_t)(minutes(t, now_ms) - e->lfu_min);
    unsigned periods = elapsed / (unsigned)decay_min;
    return periods > e->lfu ? 0 : e->lfu - periods;
}

static uint32_t now_biased_s(const access_table *t, uint64_t now_ms)
{
    return (uint32_t)((now_ms - t->start_ms) / 1000u + IDLE_BIAS_S);
}

/* (phys, key)'s entry, made (as a new key's) when it has none; NULL when memory is short. */
static access_entry *entry_of(access_table *t, uint32_t phys, const void *key, size_t klen,
                              uint64_t now_ms)
{
    if (!t->slots)
        return NULL;
    if ((t->used + 1) * 4 > t->cap * 3 && resize(t, t->cap * 2))
        return NULL; /* out of memory: the use is not recorded */
    uint64_t h = key_hash(phys, key, klen);
    access_entry *e = &t->slots[find(t, h, phys, key, klen)];
    if (!e->key) {
        char *k = malloc(klen ? klen : 1);
        if (!k)
            return NULL;
        memcpy(k, key, klen);
        *e = (access_entry){.key = k, .klen = (uint32_t)klen, .phys = phys, .hash = h,
                            .lfu = LFU_INIT_VAL, .lfu_min = minutes(t, now_ms)};
        t->used++;
        t->bytes += klen;
    }
    return e;
}

void access_touch(access_table *t, uint32_t phys, const void *key, size_t klen, uint64_t now_ms,
                  long long log_factor, long long decay_min)
{
    access_entry *e = entry_of(t, phys, key, klen, now_ms);
    if (!e)
        return;
    e->last_s = now_biased_s(t, now_ms);
    unsigned c = decayed(t, e, now_ms, decay_min);
    if (c < 255) {
        double base = c > LFU_INIT_VAL ? (double)(c - LFU_INIT_VAL) : 0;
        double p = 1.0 / (base * (double)log_factor + 1);
        if ((double)(next_rand(t) >> 11) / 9007199254740992.0 < p)
            c++;
    }
    e->lfu = (uint8_t)c;
    e->lfu_min = minutes(t, now_ms);
}

void access_get(access_table *t, uint32_t phys, const void *key, size_t klen, uint64_t now_ms,
                long long decay_min, uint64_t *idle_s, unsigned *lfu)
{
    const access_entry *e =
        t->slots ? &t->slots[find(t, key_hash(phys, key, klen), phys, key, klen)] : NULL;
    uint64_t now_s = (now_ms - t->start_ms) / 1000u;
    if (!e || !e->key) {
        *idle_s = now_s;
        *lfu = LFU_INIT_VAL;
        return;
    }
    *idle_s = now_biased_s(t, now_ms) - e->last_s;
    *lfu = decayed(t, e, now_ms, decay_min);
}

void access_set(access_table *t, uint32_t phys, const void *key, size_t klen, uint64_t now_ms,
                long long idle_s, int lfu)
{
    access_entry *e = entry_of(t, phys, key, klen, now_ms);
    if (!e)
        return;
    uint32_t now = now_biased_s(t, now_ms);
    idle_s = idle_s < 0 ? 0 : idle_s > IDLE_BIAS_S ? IDLE_BIAS_S : idle_s;
    e->last_s = now - (uint32_t)idle_s;
    e->lfu = (uint8_t)(lfu < 0 ? 0 : lfu > 255 ? 255 : lfu);
    e->lfu_min = minutes(t, now_ms);
}

/* Empties slot i and shifts the entries after it back (linear probing stays intact). */
static void remove_at(access_table *t, size_t i)
{
    size_t mask = t->cap - 1;
    free(t->slots[i].key);
    t->bytes -= t->slots[i].klen;
    t->used--;
    for (size_t j = (i + 1) & mask; t->slots[j].key; j = (j + 1) & mask) {
        size_t home = t->slots[j].hash & mask;
        /* j's entry may move to i when i lies cyclically in [home, j) */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    memset(&t->slots[i], 0, sizeof t->slots[i]);
}

void access_forget(access_table *t, uint32_t phys, const void *key, size_t klen)
{
    if (!t->slots || t->used == 0)
        return;
    size_t i = find(t, key_hash(phys, key, klen), phys, key, klen);
    if (t->slots[i].key)
        remove_at(t, i);
}

size_t access_sample(access_table *t, const access_entry **out, size_t n)
{
    size_t got = 0;
    if (!t->slots || t->used == 0)
        return 0;
    /* random probes; the table is at least a quarter full when it has grown */
    for (size_t tries = 0; got < n && tries < n * 64; tries++) {
        const access_entry *e = &t->slots[next_rand(t) & (t->cap - 1)];
        if (e->key)
            out[got++] = e;
    }
    return got;
}

void access_trim(access_table *t, size_t max_bytes)
{
    while (t->bytes > max_bytes && t->used > 0) {
        size_t victim = SIZE_MAX;
        for (int k = 0, tries = 0; k < 8 && tries < 1024; tries++) {
            size_t i = next_rand(t) & (t->cap - 1);
            if (!t->slots[i].key)
                continue;
            k++;
            if (victim == SIZE_MAX || t->slots[i].last_s < t->slots[victim].last_s)
                victim = i;
        }
        if (victim == SIZE_MAX)
            break;
        remove_at(t, victim);
        /* the slots are most of the memory of a sparse table: halve them when an eighth
           is used (a failed resize keeps the table as it was) */
        if (t->cap > MIN_CAP && t->used * 8 < t->cap)
            resize(t, t->cap / 2);
    }
}

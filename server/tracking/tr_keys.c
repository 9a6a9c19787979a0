/*
 * tr_keys.c - the table of tracked keys (tr_internal.h): a chained hash table from a key
 * name to the ids of the clients that read it (each id once), doubled as it grows, with a
 * random pick for the table's limit. Under the server's lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

#define FIRST_BUCKETS 64

static uint64_t key_hash(const char *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return h;
}

static tr_key **slot_of(tr_keys *t, const char *key, size_t klen)
{
    tr_key **at = &t->buckets[key_hash(key, klen) & (t->nbuckets - 1)];
    while (*at && !((*at)->klen == klen && memcmp((*at)->key, key, klen) == 0))
        at = &(*at)->next;
    return at;
}

int tr_keys_init(tr_keys *t)
{
    memset(t, 0, sizeof *t);
    t->buckets = calloc(FIRST_BUCKETS, sizeof *t->buckets);
    if (!t->buckets)
        return -ENOMEM;
    t->nbuckets = FIRST_BUCKETS;
    t->rnd = 0x9e3779b97f4a7c15ull;
    return 0;
}

void tr_key_free(tr_key *k)
{
    if (!k)
        return;
    free(k->ids);
    free(k);
}

void tr_keys_clear(tr_keys *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (tr_key *k = t->buckets[i], *next; k; k = next) {
            next = k->next;
            tr_key_free(k);
        }
        t->buckets[i] = NULL;
    }
    t->n = 0;
    t->items = 0;
}

void tr_keys_free(tr_keys *t)
{
    if (!t->buckets)
        return;
    tr_keys_clear(t);
    free(t->buckets);
    t->buckets = NULL;
}

/* Doubles the buckets once there are more keys than buckets (kept as is without memory). */
static void maybe_grow(tr_keys *t)
{
    if (t->n < t->nbuckets)
        return;
    size_t nb = t->nbuckets * 2;
    tr_key **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (tr_key *k = t->buckets[i], *next; k; k = next) {
            next = k->next;
            tr_key **at = &b[key_hash(k->key, k->klen) & (nb - 1)];
            k->next = *at;
            *at = k;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

static int add_id(tr_key *k, uint64_t id)
{
    for (size_t i = 0; i < k->nids; i++)
        if (k->ids[i] == id)
            return 0;
    if (k->nids == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 2;
        uint64_t *ids = realloc(k->ids, cap * sizeof *ids);
        if (!ids)
            return -ENOMEM;
        k->ids = ids;
        k->cap = cap;
    }
    k->ids[k->nids++] = id;
    return 1;
}

int tr_keys_add(tr_keys *t, const char *key, size_t klen, uint64_t id)
{
    tr_key **at = slot_of(t, key, klen);
    if (!*at) {
        tr_key *k = calloc(1, sizeof *k + klen);
        if (!k)
            return -ENOMEM;
        k->klen = klen;
        memcpy(k->key, key, klen);
        *at = k;
        t->n++;
    }
    tr_key *k = *at;
    int rc = add_id(k, id);
    if (rc < 0) {
        if (k->nids == 0) { /* just made */
            *at = k->next;
            t->n--;
            tr_key_free(k);
        }
        return rc;
    }
    t->items += (uint64_t)rc;
    maybe_grow(t);
    return 0;
}

/* Unlinks the entry at *at. */
static tr_key *unlink_at(tr_keys *t, tr_key **at)
{
    tr_key *k = *at;
    *at = k->next;
    k->next = NULL;
    t->n--;
    t->items -= k->nids;
    return k;
}

tr_key *tr_keys_take(tr_keys *t, const char *key, size_t klen)
{
    if (t->n == 0)
        return NULL;
    tr_key **at = slot_of(t, key, klen);
    return *at ? unlink_at(t, at) : NULL;
}

tr_key *tr_keys_take_random(tr_keys *t)
{
    if (t->n == 0)
        return NULL;
    t->rnd ^= t->rnd << 13; /* xorshift64 */
    t->rnd ^= t->rnd >> 7;
    t->rnd ^= t->rnd << 17;
    size_t start = (size_t)(t->rnd & (t->nbuckets - 1));
    for (size_t i = 0; i < t->nbuckets; i++) {
        tr_key **at = &t->buckets[(start + i) & (t->nbuckets - 1)];
        if (*at)
            return unlink_at(t, at);
    }
    return NULL;
}

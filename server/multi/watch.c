/*
 * watch.c - WATCH: the keys clients watch, and the key layer's listeners that mark a
 * client dirty when one changes (multi.h). Redis 7.0's rules, including its rules for a
 * key that had already expired when it was watched (the `expired` mark): its deletion,
 * by expiry or a command, is no change; FLUSHDB and SWAPDB follow touchAllWatchedKeysInDb.
 *
 * A table of watched keys, (database, key) -> the clients that watch it, and per client
 * the list of its entries. The key layer tells every write of a key's record or members
 * (ks_touch_fn) and every change of a whole database (ks_db_touch_fn); a write with no
 * watcher costs one lookup, and nothing at all while nobody watches.
 *
 * What is not Redis's: a write tells its watchers as it joins the command's batch, so a
 * command whose write then fails (an engine error) still marks them (EXEC answers nil);
 * a fifo database's engine dropping tables marks every watcher of that database, since
 * the keys it took went without a write.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multi.h"

typedef struct watched_key watched_key;

/* One client watching one key. */
typedef struct watch_entry {
    client *c;
    watched_key *wk;
    bool expired;                        /* the key had expired already at WATCH */
    struct watch_entry *prev_w, *next_w; /* the key's watchers */
    struct watch_entry *next_c;          /* the client's entries */
} watch_entry;

struct watched_key {
    int dbi;
    size_t klen;
    watch_entry *watchers;
    watched_key *next; /* the bucket's chain */
    char key[];
};

typedef struct watch_table {
    watched_key **buckets;
    size_t nbuckets, n;
} watch_table;

static watch_table *table_of(server *s)
{
    return (watch_table *)s->watches;
}

static uint64_t key_hash(int dbi, const void *key, size_t klen)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)dbi;
    const unsigned char *p = key;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static watched_key **slot_of(watch_table *t, int dbi, const void *key, size_t klen)
{
    watched_key **at = &t->buckets[key_hash(dbi, key, klen) & (t->nbuckets - 1)];
    while (*at && !((*at)->dbi == dbi && (*at)->klen == klen &&
                    memcmp((*at)->key, key, klen) == 0))
        at = &(*at)->next;
    return at;
}

/* Doubles the buckets once there are more keys than buckets (kept as is without memory). */
static void maybe_grow(watch_table *t)
{
    if (t->n < t->nbuckets)
        return;
    size_t nb = t->nbuckets * 2;
    watched_key **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (watched_key *k = t->buckets[i], *next; k; k = next) {
            next = k->next;
            watched_key **at = &b[key_hash(k->dbi, k->key, k->klen) & (nb - 1)];
            k->next = *at;
            *at = k;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

/* ---- the key layer's listeners ---- */

static void mark_dirty(client *c)
{
    c->mx->dirty_cas = true;
}

/* A write of (dbi, key): its watchers are dirty, but for a key that had expired at WATCH
   whose deletion is no change (Redis's touchWatchedKey). */
static void on_touch(void *ctx, int dbi, const void *key, size_t klen, bool deleted)
{
    watch_table *t = ctx;
    if (t->n == 0)
        return;
    watched_key *k = *slot_of(t, dbi, key, klen);
    for (watch_entry *w = k ? k->watchers : NULL; w; w = w->next_w) {
        if (w->expired) {
            /* deleted: the expired key is gone, no logical change; written while still
               there (Redis deletes an expired key before any write): left as Redis's
               loop leaves it, not dirty */
            if (deleted)
                w->expired = false;
            continue;
        }
        mark_dirty(w->c);
    }
}

/* The state of (dbi, key) without reaping it; a read error counts as there. */
static int peek(keyspace *ks, int dbi, const void *key, size_t klen)
{
    int state;
    return ks_peek(ks, dbi, key, klen, &state) ? KS_LIVE : state;
}

/* One watched key of a database emptied (other -1) or swapped with other: Redis's
   touchAllWatchedKeysInDb for it. */
static void touch_in_db(keyspace *ks, watched_key *k, int other)
{
    bool in_emptied = peek(ks, k->dbi, k->key, k->klen) != KS_ABSENT;
    int repl = other >= 0 ? peek(ks, other, k->key, k->klen) : KS_ABSENT;
    if (!in_emptied && repl == KS_ABSENT)
        return;
    for (watch_entry *w = k->watchers; w; w = w->next_w) {
        if (w->expired) {
            if (repl == KS_ABSENT) {
                w->expired = false; /* the expired key is gone: no logical change */
                continue;
            }
            if (repl == KS_EXPIRED)
                continue; /* an expired key stays an expired key */
        } else if (!in_emptied && repl == KS_EXPIRED) {
            w->expired = true; /* nothing replaced by an expired key */
            continue;
        }
        mark_dirty(w->c);
    }
}

static void on_db_touch(void *ctx, int dbi, int other)
{
    server *s = ctx;
    watch_table *t = table_of(s);
    if (t->n == 0)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (watched_key *k = t->buckets[i]; k; k = k->next) {
            if (k->dbi != dbi)
                continue;
            if (other == -2) { /* a fifo drop: any of them may be gone */
                for (watch_entry *w = k->watchers; w; w = w->next_w)
                    if (!w->expired)
                        mark_dirty(w->c);
                continue;
            }
            touch_in_db(&s->ks, k, other);
        }
}

static void on_touch_server(void *ctx, int dbi, const void *key, size_t klen, bool deleted)
{
    server *s = ctx;
    on_touch(table_of(s), dbi, key, klen, deleted);
}

int watch_table_new(server *s)
{
    watch_table *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->nbuckets = 64;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return -ENOMEM;
    }
    s->watches = t;
    s->ks.touch_fn = on_touch_server;
    s->ks.db_touch_fn = on_db_touch;
    s->ks.touch_ctx = s;
    return 0;
}

void watch_table_free(server *s)
{
    watch_table *t = table_of(s);
    if (!t)
        return;
    s->ks.touch_fn = NULL;
    s->ks.db_touch_fn = NULL;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (watched_key *k = t->buckets[i], *next; k; k = next) {
            next = k->next;
            for (watch_entry *w = k->watchers, *wn; w; w = wn) {
                wn = w->next_w;
                free(w);
            }
            free(k);
        }
    free(t->buckets);
    free(t);
    s->watches = NULL;
}

/* ---- a client's watches ---- */

int watch_key(server *s, client *c, const void *key, size_t klen)
{
    watch_table *t = table_of(s);
    multi_client *mx = c->mx;
    if (mx->dirty_cas)
        return 0; /* EXEC fails anyway */
    for (watch_entry *w = mx->watches; w; w = w->next_c)
        if (w->wk->dbi == c->db && w->wk->klen == klen && memcmp(w->wk->key, key, klen) == 0)
            return 0;
    int state;
    int rc = ks_peek(&s->ks, c->db, key, klen, &state);
    if (rc)
        return rc;
    watch_entry *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    watched_key **at = slot_of(t, c->db, key, klen);
    if (!*at) {
        watched_key *k = calloc(1, sizeof *k + klen);
        if (!k) {
            free(w);
            return -ENOMEM;
        }
        k->dbi = c->db;
        k->klen = klen;
        memcpy(k->key, key, klen);
        *at = k;
        t->n++;
    }
    watched_key *k = *at;
    w->c = c;
    w->wk = k;
    w->expired = state == KS_EXPIRED;
    w->next_w = k->watchers;
    if (k->watchers)
        k->watchers->prev_w = w;
    k->watchers = w;
    w->next_c = mx->watches;
    mx->watches = w;
    mx->nwatches++;
    maybe_grow(t);
    return 0;
}

/* Takes w out of its key's watchers, and the key out of the table when it was the last. */
static void unlink_entry(watch_table *t, watch_entry *w)
{
    watched_key *k = w->wk;
    if (w->prev_w)
        w->prev_w->next_w = w->next_w;
    else
        k->watchers = w->next_w;
    if (w->next_w)
        w->next_w->prev_w = w->prev_w;
    if (k->watchers)
        return;
    watched_key **at = slot_of(t, k->dbi, k->key, k->klen);
    *at = k->next;
    t->n--;
    free(k);
}

void watch_forget_all(server *s, client *c)
{
    multi_client *mx = c->mx;
    if (!mx)
        return;
    for (watch_entry *w = mx->watches, *next; w; w = next) {
        next = w->next_c;
        unlink_entry(table_of(s), w);
        free(w);
    }
    mx->watches = NULL;
    mx->nwatches = 0;
}

bool watch_any_expired(server *s, client *c)
{
    for (watch_entry *w = c->mx ? c->mx->watches : NULL; w; w = w->next_c)
        if (!w->expired && peek(&s->ks, w->wk->dbi, w->wk->key, w->wk->klen) == KS_EXPIRED)
            return true;
    return false;
}

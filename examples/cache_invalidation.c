/*
 * cache_invalidation.c - client-side caching with RESP3 client tracking: a reader keeps a
 * local copy of the keys it read and serves them without a round trip; the server tells it
 * (an "invalidate" push) when one changes, and it drops that copy. A writer thread changes
 * the keys meanwhile.
 *
 * The check: each value is "<key>:<version>", versions counting up per key. The writer
 * records the last version of each key the server acknowledged. Now and then the reader
 * notes those versions, then sends a PING and reads up to its PONG, dropping what the
 * pushes before it invalidate: a write acknowledged before the PING has its invalidation
 * queued before the PING runs, so it comes before the PONG. The reads after that barrier
 * (served from the local cache when they can) must never give an older version than the
 * noted one. The program prints its counts and exits 1 on a stale read.
 *
 *   build/examples/cache_invalidation [HOST:PORT [ROUNDS]]   (127.0.0.1:6379, 2000)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shale_client.h"

#define NKEYS 16
#define READS_PER_ROUND 32

static char host[256] = "127.0.0.1";
static int port = 6379;
static long rounds = 2000;

static atomic_long acked[NKEYS]; /* the last version of each key the server acknowledged */
static atomic_int writer_done;

/* The local cache: a value per key, or none. */
typedef struct cache {
    char *value[NKEYS];
    long hits, misses, invalidations, flushes;
} cache;

static shale_client *connect_or_die(int resp3)
{
    shale_client_options o;
    shale_client_options_default(&o);
    o.host = host;
    o.port = port;
    o.timeout_ms = 10000;
    o.resp3 = resp3;
    shale_client *c;
    if (shale_client_connect(&o, &c)) {
        fprintf(stderr, "cache_invalidation: %s\n", shale_client_errstr(c));
        exit(1);
    }
    return c;
}

static void die_reply(shale_client *c, shale_client_reply *r)
{
    fprintf(stderr, "cache_invalidation: %s\n", r ? r->str : shale_client_errstr(c));
    exit(1);
}

static int key_index(const char *name, size_t len)
{
    if (len < 2 || name[0] != 'k')
        return -1;
    int i = atoi(name + 1);
    return i >= 0 && i < NKEYS ? i : -1;
}

static long version_of(const char *value)
{
    const char *colon = value ? strchr(value, ':') : NULL;
    return colon ? atol(colon + 1) : -1;
}

/* ---- the writer ---- */

static void *writer(void *arg)
{
    (void)arg;
    shale_client *c = connect_or_die(0);
    unsigned seed = 7;
    long version[NKEYS] = {0};
    for (long i = 0; i < rounds * 4; i++) {
        int k = (int)(rand_r(&seed) % NKEYS);
        version[k]++;
        char value[64];
        snprintf(value, sizeof value, "k%d:%ld", k, version[k]);
        shale_client_reply *r = shale_client_command(c, "SET k%d %s", k, value);
        if (!r || r->type == SHALE_CLIENT_REPLY_ERROR)
            die_reply(c, r);
        shale_client_reply_free(r);
        atomic_store(&acked[k], version[k]); /* acknowledged: the reader must see it */
    }
    atomic_store(&writer_done, 1);
    shale_client_close(c);
    return NULL;
}

/* ---- the reader ---- */

static void drop(cache *ca, int k)
{
    free(ca->value[k]);
    ca->value[k] = NULL;
}

/* An invalidation push: its keys dropped, or every key (a null: FLUSHDB, FLUSHALL). */
static void on_push(cache *ca, const shale_client_reply *p)
{
    if (p->elements != 2 || strcmp(p->element[0]->str, "invalidate") != 0)
        return;
    const shale_client_reply *keys = p->element[1];
    if (keys->type == SHALE_CLIENT_REPLY_NIL) {
        for (int k = 0; k < NKEYS; k++)
            drop(ca, k);
        ca->flushes++;
        return;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        int k = key_index(keys->element[i]->str, keys->element[i]->len);
        if (k >= 0)
            drop(ca, k);
        ca->invalidations++;
    }
}

/* Sends the command and returns its reply, handling the pushes that come before it. */
static shale_client_reply *call(shale_client *c, cache *ca, const char *fmt, int k)
{
    if (shale_client_append(c, fmt, k) || shale_client_flush(c))
        die_reply(c, NULL);
    for (;;) {
        shale_client_reply *r;
        if (shale_client_get_reply(c, &r))
            die_reply(c, NULL);
        if (r->type != SHALE_CLIENT_REPLY_PUSH)
            return r;
        on_push(ca, r);
        shale_client_reply_free(r);
    }
}

/* A read through the cache: the local copy, else GET (tracked: the server will tell). */
static const char *read_key(shale_client *c, cache *ca, int k)
{
    if (ca->value[k]) {
        ca->hits++;
        return ca->value[k];
    }
    ca->misses++;
    shale_client_reply *r = call(c, ca, "GET k%d", k);
    if (r->type == SHALE_CLIENT_REPLY_ERROR)
        die_reply(c, r);
    /* a push for k may have come before the reply: this value is newer than it */
    ca->value[k] = r->type == SHALE_CLIENT_REPLY_STRING ? strdup(r->str) : strdup("k:0");
    shale_client_reply_free(r);
    return ca->value[k];
}

int main(int argc, char **argv)
{
    if (argc > 1 && sscanf(argv[1], "%255[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "usage: cache_invalidation [HOST:PORT [ROUNDS]]\n");
        return 2;
    }
    if (argc > 2)
        rounds = atol(argv[2]);
    shale_client *c = connect_or_die(1);
    cache ca = {0};
    shale_client_reply *r = call(c, &ca, "DEL k%d", 0);
    shale_client_reply_free(r);
    r = call(c, &ca, "CLIENT TRACKING ON", 0);
    if (r->type == SHALE_CLIENT_REPLY_ERROR)
        die_reply(c, r);
    shale_client_reply_free(r);

    pthread_t w;
    pthread_create(&w, NULL, writer, NULL);
    long stale = 0, checked = 0;
    unsigned seed = 11;
    while (!atomic_load(&writer_done)) {
        long noted[NKEYS];
        for (int k = 0; k < NKEYS; k++)
            noted[k] = atomic_load(&acked[k]);
        shale_client_reply_free(call(c, &ca, "PING", 0)); /* the barrier */
        for (int i = 0; i < READS_PER_ROUND; i++) {
            int k = (int)(rand_r(&seed) % NKEYS);
            long v = version_of(read_key(c, &ca, k));
            checked++;
            if (v < noted[k]) {
                stale++;
                fprintf(stderr, "stale: k%d served version %ld, %ld was acknowledged\n", k, v,
                        noted[k]);
            }
        }
    }
    pthread_join(w, NULL);
    printf("reads %ld (hits %ld, misses %ld), invalidations %ld, flushes %ld, stale %ld\n", checked,
           ca.hits, ca.misses, ca.invalidations, ca.flushes, stale);
    for (int k = 0; k < NKEYS; k++)
        drop(&ca, k);
    shale_client_close(c);
    return stale ? 1 : 0;
}

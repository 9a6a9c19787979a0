/*
 * cache.c - shale-bench --server=HOST:PORT --cache: a cache-aside load, the way a cache
 * tier in front of a slower system is used. Keys are drawn from a scrambled zipfian
 * distribution (YCSB's, theta 0.99) over --keyspace keys; --set-ratio of the requests
 * (0.1) are SETs with a TTL (an update), the rest GETs; a GET that misses is followed by
 * the SET that fills the cache (in the connection's next batch), as an application does
 * after reading the slower system. Prints the hit rate (GET hits / GETs), ops/s and
 * latency percentiles (a command's latency runs from its batch's send to its reply).
 * Any server speaking RESP works: the same load runs against redis-server.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "histogram.h"
#include "shale_client.h"

typedef struct cache_opts {
    char host[256];
    int port, threads, clients, pipeline, data_size, ttl;
    long requests, keyspace;
    double set_ratio, theta;
} cache_opts;

/* YCSB's zipfian generator (Gray et al.): constants computed once for n items. */
typedef struct zipf {
    long n;
    double theta, alpha, zetan, eta;
} zipf;

static void zipf_init(zipf *z, long n, double theta)
{
    double zeta2 = 1 + pow(0.5, theta), zetan = 0;
    for (long i = 1; i <= n; i++)
        zetan += 1 / pow((double)i, theta);
    z->n = n;
    z->theta = theta;
    z->alpha = 1 / (1 - theta);
    z->zetan = zetan;
    z->eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - zeta2 / zetan);
}

/* A rank 0..n-1 (0 the most popular) from u uniform in [0, 1). */
static long zipf_rank(const zipf *z, double u)
{
    double uz = u * z->zetan;
    if (uz < 1)
        return 0;
    if (uz < 1 + pow(0.5, z->theta))
        return 1;
    long r = (long)((double)z->n * pow(z->eta * u - z->eta + 1, z->alpha));
    return r < z->n ? r : z->n - 1;
}

typedef struct cworker {
    pthread_t th;
    const cache_opts *o;
    const zipf *z;
    long todo, done, gets, hits, sets, errors;
    uint64_t seed;
    histogram h;
} cworker;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The key of a rank, scrambled (FNV-1a) so that popular keys spread over the keyspace. */
static int key_of(const cache_opts *o, long rank, char *buf, size_t cap)
{
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < 8; i++) {
        h ^= (uint64_t)(rank >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    return snprintf(buf, cap, "cache:%012llu", (unsigned long long)(h % (uint64_t)o->keyspace));
}

typedef struct conn {
    shale_client *c;
    long fills[4096]; /* ranks whose GET missed: their SETs go in the next batch */
    int nfills;
    long sent_rank[4096];
    char sent_kind[4096]; /* 'g' GET, 's' SET */
    int inflight;
    double sent_at;
} conn;

static void append_set(cworker *w, conn *k, long rank, const char *val)
{
    char key[48], ttl[16];
    int kl = key_of(w->o, rank, key, sizeof key);
    int tl = snprintf(ttl, sizeof ttl, "%d", w->o->ttl);
    const char *argv[] = {"SET", key, val, "EX", ttl};
    size_t lens[] = {3, (size_t)kl, (size_t)w->o->data_size, 2, (size_t)tl};
    shale_client_appendv(k->c, 5, argv, lens);
    k->sent_kind[k->inflight] = 's';
    k->sent_rank[k->inflight++] = rank;
}

static void append_get(cworker *w, conn *k, long rank)
{
    char key[48];
    int kl = key_of(w->o, rank, key, sizeof key);
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, (size_t)kl};
    shale_client_appendv(k->c, 2, argv, lens);
    k->sent_kind[k->inflight] = 'g';
    k->sent_rank[k->inflight++] = rank;
}

static void *cworker_main(void *arg)
{
    cworker *w = arg;
    const cache_opts *o = w->o;
    conn *conns = calloc((size_t)o->clients, sizeof *conns);
    char *val = malloc((size_t)o->data_size + 1);
    for (int i = 0; i < o->data_size; i++)
        val[i] = (char)('a' + rnd(&w->seed) % 26); /* lz4 would make 'xxx' free */
    shale_client_options co;
    shale_client_options_default(&co);
    co.host = o->host;
    co.port = o->port;
    co.timeout_ms = 30000;
    for (int i = 0; i < o->clients; i++)
        if (shale_client_connect(&co, &conns[i].c)) {
            fprintf(stderr, "shale-bench --cache: %s\n", shale_client_errstr(conns[i].c));
            w->errors++;
            goto out;
        }
    hist_clear(&w->h);
    while (w->done < w->todo) {
        for (int i = 0; i < o->clients; i++) {
            conn *k = &conns[i];
            while (k->inflight < o->pipeline && k->nfills > 0)
                append_set(w, k, k->fills[--k->nfills], val);
            while (k->inflight < o->pipeline) {
                double u = (double)(rnd(&w->seed) >> 11) / 9007199254740992.0;
                long rank = zipf_rank(w->z, (double)(rnd(&w->seed) >> 11) / 9007199254740992.0);
                if (u < o->set_ratio)
                    append_set(w, k, rank, val);
                else
                    append_get(w, k, rank);
            }
            k->sent_at = now_us();
        }
        for (int i = 0; i < o->clients; i++) {
            conn *k = &conns[i];
            for (int j = 0; j < k->inflight; j++) {
                shale_client_reply *r;
                if (shale_client_get_reply(k->c, &r)) {
                    w->errors++;
                    goto out;
                }
                if (r->type == SHALE_CLIENT_REPLY_ERROR) {
                    if (w->errors++ == 0)
                        fprintf(stderr, "shale-bench --cache: error reply: %s\n", r->str);
                } else if (k->sent_kind[j] == 'g') {
                    w->gets++;
                    if (r->type == SHALE_CLIENT_REPLY_NIL) {
                        if (k->nfills < 4096)
                            k->fills[k->nfills++] = k->sent_rank[j];
                    } else {
                        w->hits++;
                    }
                } else {
                    w->sets++;
                }
                shale_client_reply_free(r);
            }
            double lat = now_us() - k->sent_at;
            for (int j = 0; j < k->inflight; j++)
                hist_add(&w->h, lat);
            w->done += k->inflight;
            k->inflight = 0;
        }
    }
out:
    for (int i = 0; i < o->clients; i++)
        shale_client_close(conns[i].c);
    free(conns);
    free(val);
    return NULL;
}

static int parse(cache_opts *o, int argc, char **argv)
{
    *o = (cache_opts){.port = 6379, .threads = 2, .clients = 25, .pipeline = 1,
                      .data_size = 1000, .ttl = 3600, .requests = 1000000, .keyspace = 250000,
                      .set_ratio = 0.1, .theta = 0.99};
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = strchr(a, '=');
        v = v ? v + 1 : "";
        if (strncmp(a, "--server=", 9) == 0) {
            const char *colon = strrchr(v, ':');
            if (colon) {
                snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - v), v);
                o->port = atoi(colon + 1);
            } else {
                snprintf(o->host, sizeof o->host, "%s", v);
            }
        } else if (strncmp(a, "--threads=", 10) == 0) {
            o->threads = atoi(v);
        } else if (strncmp(a, "--clients=", 10) == 0) {
            o->clients = atoi(v);
        } else if (strncmp(a, "--pipeline=", 11) == 0) {
            o->pipeline = atoi(v);
        } else if (strncmp(a, "--requests=", 11) == 0) {
            o->requests = atol(v);
        } else if (strncmp(a, "--keyspace=", 11) == 0) {
            o->keyspace = atol(v);
        } else if (strncmp(a, "--data-size=", 12) == 0) {
            o->data_size = atoi(v);
        } else if (strncmp(a, "--ttl=", 6) == 0) {
            o->ttl = atoi(v);
        } else if (strncmp(a, "--set-ratio=", 12) == 0) {
            o->set_ratio = atof(v);
        } else if (strncmp(a, "--zipf=", 7) == 0) {
            o->theta = atof(v);
        } else if (strcmp(a, "--cache") != 0) {
            fprintf(stderr, "usage: %s --server=HOST:PORT --cache [--threads=2] [--clients=25 "
                            "per thread] [--pipeline=1] [--requests=1000000] [--keyspace=250000] "
                            "[--data-size=1000] [--ttl=3600] [--set-ratio=0.1] [--zipf=0.99]\n",
                    argv[0]);
            return -1;
        }
    }
    if (o->threads < 1 || o->clients < 1 || o->pipeline < 1 || o->pipeline > 2048 ||
        o->keyspace < 2 || o->data_size < 1 || !(o->theta > 0 && o->theta < 1)) {
        fprintf(stderr, "shale-bench --cache: bad option value\n");
        return -1;
    }
    return 0;
}

int bench_cache_mode(int argc, char **argv)
{
    cache_opts o;
    if (parse(&o, argc, argv))
        return 2;
    zipf z;
    zipf_init(&z, o.keyspace, o.theta);
    cworker *w = calloc((size_t)o.threads, sizeof *w);
    double t0 = now_us();
    for (int i = 0; i < o.threads; i++) {
        w[i].o = &o;
        w[i].z = &z;
        w[i].todo = o.requests / o.threads;
        w[i].seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ (uint64_t)t0;
        pthread_create(&w[i].th, NULL, cworker_main, &w[i]);
    }
    histogram h;
    hist_clear(&h);
    long done = 0, gets = 0, hits = 0, sets = 0, errors = 0;
    for (int i = 0; i < o.threads; i++) {
        pthread_join(w[i].th, NULL);
        hist_merge(&h, &w[i].h);
        done += w[i].done;
        gets += w[i].gets;
        hits += w[i].hits;
        sets += w[i].sets;
        errors += w[i].errors;
    }
    double secs = (now_us() - t0) / 1e6;
    printf("cache-aside: %ld requests in %.2f s: %.0f ops/s, hit rate %.4f (%ld of %ld GETs), "
           "%ld SETs, p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, %ld errors\n",
           done, secs, (double)done / secs, gets ? (double)hits / (double)gets : 0, hits, gets,
           sets, hist_percentile(&h, 50) / 1000, hist_percentile(&h, 99) / 1000,
           hist_percentile(&h, 99.9) / 1000, errors);
    free(w);
    return errors ? 1 : 0;
}

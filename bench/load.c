/*
 * load.c - the server load shared by shale-bench --server and vs-hiredis (load.h).
 * Each thread drives its connections round robin: append `pipeline` commands to each,
 * then take their replies; a command's latency is from its batch's send to its reply,
 * as redis-benchmark measures with -P.
 */
#include "load.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "histogram.h"

typedef struct load_opts {
    char host[256];
    int port;
    int threads, clients, pipeline;
    long requests;
    long keyspace;
    int data_size;
    char tests[128];
} load_opts;

typedef struct worker {
    pthread_t th;
    const load_backend *b;
    const load_opts *o;
    const char *test;
    long todo;
    int nconn;
    histogram h;
    long done, errors;
    uint64_t seed;
} worker;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Appends the test's command for a random key. */
static int append_one(worker *w, void *conn, char *key, char *val)
{
    long k = (long)(next_rand(&w->seed) % (uint64_t)w->o->keyspace);
    /* redis-benchmark's keys: counters apart from the strings SET writes */
    size_t klen = (size_t)snprintf(key, 32, "%s:%012ld",
                                   strcmp(w->test, "incr") == 0 ? "counter" : "key", k);
    const char *argv[4];
    size_t lens[4];
    int argc;
    if (strcmp(w->test, "set") == 0) {
        argv[0] = "SET", argv[1] = key, argv[2] = val;
        lens[0] = 3, lens[1] = klen, lens[2] = (size_t)w->o->data_size;
        argc = 3;
    } else if (strcmp(w->test, "get") == 0) {
        argv[0] = "GET", argv[1] = key;
        lens[0] = 3, lens[1] = klen;
        argc = 2;
    } else if (strcmp(w->test, "incr") == 0) {
        argv[0] = "INCR", argv[1] = key;
        lens[0] = 4, lens[1] = klen;
        argc = 2;
    } else { /* hset */
        argv[0] = "HSET", argv[1] = "myhash", argv[2] = key, argv[3] = val;
        lens[0] = 4, lens[1] = 6, lens[2] = klen, lens[3] = (size_t)w->o->data_size;
        argc = 4;
    }
    return w->b->append(conn, argc, argv, lens);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    void **conns = calloc((size_t)w->nconn, sizeof *conns);
    char key[32];
    char *val = malloc((size_t)w->o->data_size + 1);
    memset(val, 'x', (size_t)w->o->data_size);
    for (int i = 0; i < w->nconn; i++)
        if (!(conns[i] = w->b->connect(w->o->host, w->o->port))) {
            w->errors++;
            goto out;
        }
    hist_clear(&w->h);
    int *inflight = calloc((size_t)w->nconn, sizeof *inflight);
    double *sent = calloc((size_t)w->nconn, sizeof *sent);
    while (w->done < w->todo) {
        for (int i = 0; i < w->nconn; i++) {
            long left = w->todo - w->done;
            int n = w->o->pipeline < left ? w->o->pipeline : (int)left;
            for (int j = 0; j < n; j++)
                if (append_one(w, conns[i], key, val))
                    w->errors++;
            inflight[i] = n;
            sent[i] = now_us();
            w->done += n;
            if (w->done >= w->todo)
                break;
        }
        for (int i = 0; i < w->nconn; i++) {
            for (int j = 0; j < inflight[i]; j++)
                if (w->b->reply(conns[i]))
                    w->errors++;
            if (inflight[i]) {
                double lat = now_us() - sent[i];
                for (int j = 0; j < inflight[i]; j++)
                    hist_add(&w->h, lat);
            }
            inflight[i] = 0;
        }
    }
    free(inflight);
    free(sent);
out:
    for (int i = 0; i < w->nconn; i++)
        if (conns[i])
            w->b->close(conns[i]);
    free(conns);
    free(val);
    return NULL;
}

static int parse(load_opts *o, int argc, char **argv)
{
    *o = (load_opts){.port = 6379, .threads = 1, .clients = 50, .pipeline = 1,
                     .requests = 200000, .keyspace = 100000, .data_size = 3};
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    snprintf(o->tests, sizeof o->tests, "set,get,hset,incr");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        if (!eq)
            return -1;
        const char *v = eq + 1;
        if (strncmp(a, "--server=", 9) == 0) {
            const char *colon = strrchr(v, ':');
            if (!colon)
                return -1;
            snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - v), v);
            o->port = atoi(colon + 1);
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
        } else if (strncmp(a, "--tests=", 8) == 0) {
            snprintf(o->tests, sizeof o->tests, "%s", v);
        } else {
            return -1;
        }
    }
    if (o->threads < 1 || o->clients < o->threads || o->pipeline < 1 || o->requests < 1 ||
        o->keyspace < 1 || o->data_size < 0)
        return -1;
    return 0;
}

int load_main(const load_backend *b, int argc, char **argv)
{
    load_opts o;
    if (parse(&o, argc, argv)) {
        fprintf(stderr, "usage: %s --server=HOST:PORT [--threads=1] [--clients=50] "
                        "[--pipeline=1] [--requests=200000] [--keyspace=100000] "
                        "[--data-size=3] [--tests=set,get,hset,incr]\n", argv[0]);
        return 2;
    }
    printf("%s: %s:%d, %d threads, %d clients, pipeline %d, %ld requests, %d-byte values\n",
           b->name, o.host, o.port, o.threads, o.clients, o.pipeline, o.requests, o.data_size);
    char tests[128];
    snprintf(tests, sizeof tests, "%s", o.tests);
    int rc = 0;
    for (char *save, *t = strtok_r(tests, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        worker *ws = calloc((size_t)o.threads, sizeof *ws);
        double start = now_us();
        for (int i = 0; i < o.threads; i++) {
            ws[i] = (worker){.b = b, .o = &o, .test = t, .todo = o.requests / o.threads,
                             .nconn = o.clients / o.threads + (i < o.clients % o.threads),
                             .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
            pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
        }
        histogram h;
        hist_clear(&h);
        long done = 0, errors = 0;
        for (int i = 0; i < o.threads; i++) {
            pthread_join(ws[i].th, NULL);
            hist_merge(&h, &ws[i].h);
            done += ws[i].done;
            errors += ws[i].errors;
        }
        double secs = (now_us() - start) / 1e6;
        for (char *p = t; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        printf("%-5s %10.0f ops/s  p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms%s\n", t,
               (double)done / secs, hist_percentile(&h, 50) / 1000, hist_percentile(&h, 99) / 1000,
               hist_percentile(&h, 99.9) / 1000, errors ? "  (errors!)" : "");
        if (errors) {
            fprintf(stderr, "%s: %ld errors in %s\n", b->name, errors, t);
            rc = 1;
        }
        free(ws);
    }
    return rc;
}

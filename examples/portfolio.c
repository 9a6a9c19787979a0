/*
 * portfolio.c - the shale client library in a small application: users and their holdings
 * in hashes, and a cache-aside read of a portfolio's value whose cache is filled by one
 * client only: on a miss, SET lock NX PX elects the one that computes (the slow part),
 * the others wait for the cache instead of all hitting the slow source (a stampede).
 *
 *   build/examples/portfolio [HOST:PORT]        (default 127.0.0.1:6379)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shale_client.h"

#define READERS 8

static char host[256] = "127.0.0.1";
static int port = 6379;

static shale_client *connect_or_die(void)
{
    shale_client_options o;
    shale_client_options_default(&o);
    o.host = host;
    o.port = port;
    o.timeout_ms = 5000;
    shale_client *c;
    if (shale_client_connect(&o, &c)) {
        fprintf(stderr, "portfolio: %s\n", shale_client_errstr(c));
        exit(1);
    }
    return c;
}

/* Runs a command whose reply does not matter beyond success. */
static void must(shale_client *c, shale_client_reply *r)
{
    if (!r || r->type == SHALE_CLIENT_REPLY_ERROR) {
        fprintf(stderr, "portfolio: %s\n", r ? r->str : shale_client_errstr(c));
        exit(1);
    }
    shale_client_reply_free(r);
}

static void load_user(shale_client *c)
{
    must(c, shale_client_command(c, "DEL user:42 holdings:42 prices cache:portfolio:42 "
                                    "lock:portfolio:42 stats:computations"));
    must(c, shale_client_command(c, "HSET user:42 name %s email %s", "Ada Lovelace",
                                 "ada@example.com"));
    must(c, shale_client_command(c, "HSET holdings:42 AAPL 10 MSFT 5 NVDA 2"));
    must(c, shale_client_command(c, "HSET prices AAPL 190 MSFT 410 NVDA 880"));
}

/* The slow source: sums holdings x prices, after a pause that stands for a database. */
static long long compute_value(shale_client *c)
{
    usleep(100 * 1000);
    must(c, shale_client_command(c, "INCR stats:computations"));
    shale_client_reply *h = shale_client_command(c, "HGETALL holdings:42");
    long long total = 0;
    for (size_t i = 0; h && i + 1 < h->elements; i += 2) {
        shale_client_reply *p = shale_client_command(c, "HGET prices %s", h->element[i]->str);
        if (p && p->type == SHALE_CLIENT_REPLY_STRING)
            total += atoll(h->element[i + 1]->str) * atoll(p->str);
        shale_client_reply_free(p);
    }
    shale_client_reply_free(h);
    return total;
}

/* Cache-aside read; returns the value or -1. */
static long long portfolio_value(shale_client *c, int me)
{
    char token[32];
    snprintf(token, sizeof token, "reader-%d-%ld", me, (long)getpid());
    for (int attempt = 0; attempt < 200; attempt++) {
        shale_client_reply *r = shale_client_command(c, "GET cache:portfolio:42");
        if (!r)
            return -1;
        if (r->type == SHALE_CLIENT_REPLY_STRING) { /* a hit */
            long long v = atoll(r->str);
            shale_client_reply_free(r);
            return v;
        }
        shale_client_reply_free(r);
        /* a miss: only the client that takes the lock computes */
        r = shale_client_command(c, "SET lock:portfolio:42 %s NX PX 2000", token);
        int got_lock = r && r->type == SHALE_CLIENT_REPLY_STATUS;
        shale_client_reply_free(r);
        if (got_lock) {
            long long v = compute_value(c);
            must(c, shale_client_command(c, "SET cache:portfolio:42 %lld PX 30000", v));
            /* release only our own lock (it may have expired and been taken since) */
            r = shale_client_command(c, "GET lock:portfolio:42");
            if (r && r->type == SHALE_CLIENT_REPLY_STRING && strcmp(r->str, token) == 0)
                must(c, shale_client_command(c, "DEL lock:portfolio:42"));
            shale_client_reply_free(r);
            return v;
        }
        usleep(10 * 1000); /* someone else computes: wait for the cache */
    }
    return -1;
}

typedef struct read_job {
    int id;
    long long value;
} read_job;

static void *reader(void *arg)
{
    read_job *j = arg;
    shale_client *c = connect_or_die();
    j->value = portfolio_value(c, j->id);
    shale_client_close(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        const char *colon = strrchr(argv[1], ':');
        if (!colon) {
            fprintf(stderr, "usage: portfolio [HOST:PORT]\n");
            return 2;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - argv[1]), argv[1]);
        port = atoi(colon + 1);
    }
    shale_client *c = connect_or_die();
    load_user(c);
    shale_client_reply *u = shale_client_command(c, "HGET user:42 name");
    printf("user 42: %s\n", u && u->str ? u->str : "?");
    shale_client_reply_free(u);

    /* READERS clients ask for the value at once on a cold cache */
    pthread_t th[READERS];
    read_job jobs[READERS];
    for (int i = 0; i < READERS; i++) {
        jobs[i] = (read_job){.id = i};
        pthread_create(&th[i], NULL, reader, &jobs[i]);
    }
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    shale_client_reply *n = shale_client_command(c, "GET stats:computations");
    int ok = 1;
    for (int i = 0; i < READERS; i++)
        ok &= jobs[i].value == jobs[0].value && jobs[0].value > 0;
    printf("portfolio value %lld, read by %d concurrent clients; computed %s time(s)\n", jobs[0].value,
           READERS, n && n->str ? n->str : "?");
    shale_client_reply_free(n);
    shale_client_close(c);
    return ok ? 0 : 1;
}

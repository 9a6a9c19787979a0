/*
 * vs-hiredis.c - the same work as shale-bench --server, through hiredis (Debian's
 * libhiredis-dev), for bench/vs-hiredis.sh; and with --reader, the parse speed of
 * hiredis's redisReader and of the shale client's reader on one recorded reply stream.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load.h"
#include "shale_client.h"

static void *hr_connect(const char *host, int port)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        fprintf(stderr, "vs-hiredis: %s\n", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static int hr_append(void *c, int argc, const char **argv, const size_t *lens)
{
    return redisAppendCommandArgv(c, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

static int hr_reply(void *c)
{
    void *r;
    if (redisGetReply(c, &r) != REDIS_OK)
        return -1;
    int bad = ((redisReply *)r)->type == REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return bad ? -1 : 0;
}

static void hr_close(void *c)
{
    redisFree(c);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A reply stream as a server sends it under a mixed load: status and integer replies,
   short and 1 KiB bulk strings, nils, and arrays of bulk strings (HGETALL, MGET). */
static char *record_stream(size_t *len, long *replies)
{
    size_t cap = 64u << 20, n = 0;
    char *s = malloc(cap);
    char big[1024];
    memset(big, 'v', sizeof big);
    long k = 0;
    while (n + 4096 < cap) {
        switch (k % 8) {
        case 0: n += (size_t)sprintf(s + n, "+OK\r\n"); break;
        case 1: n += (size_t)sprintf(s + n, ":%ld\r\n", k * 7919); break;
        case 2: n += (size_t)sprintf(s + n, "$3\r\nxxx\r\n"); break;
        case 3: n += (size_t)sprintf(s + n, "$-1\r\n"); break;
        case 4:
            n += (size_t)sprintf(s + n, "$1024\r\n");
            memcpy(s + n, big, sizeof big);
            n += sizeof big;
            n += (size_t)sprintf(s + n, "\r\n");
            break;
        case 5:
        case 6:
            n += (size_t)sprintf(s + n, "*10\r\n");
            for (int i = 0; i < 10; i++)
                n += (size_t)sprintf(s + n, "$8\r\nfield:%02d\r\n", i);
            break;
        default: n += (size_t)sprintf(s + n, ":1\r\n"); break;
        }
        k++;
    }
    *len = n;
    *replies = k;
    return s;
}

#define CHUNK 16384

static double time_hiredis(const char *s, size_t len, long expect)
{
    double t0 = now_s();
    redisReader *r = redisReaderCreate();
    long got = 0;
    for (size_t at = 0; at < len; at += CHUNK) {
        redisReaderFeed(r, s + at, len - at < CHUNK ? len - at : CHUNK);
        void *x;
        while (redisReaderGetReply(r, &x) == REDIS_OK && x) {
            freeReplyObject(x);
            got++;
        }
    }
    redisReaderFree(r);
    if (got != expect)
        fprintf(stderr, "vs-hiredis: redisReader read %ld of %ld replies\n", got, expect);
    return now_s() - t0;
}

static double time_shale(const char *s, size_t len, long expect)
{
    double t0 = now_s();
    shale_client_reader *r = shale_client_reader_new();
    long got = 0;
    for (size_t at = 0; at < len; at += CHUNK) {
        shale_client_reader_feed(r, s + at, len - at < CHUNK ? len - at : CHUNK);
        shale_client_reply *x;
        while (shale_client_reader_get_reply(r, &x) == 1) {
            shale_client_reply_free(x);
            got++;
        }
    }
    shale_client_reader_free(r);
    if (got != expect)
        fprintf(stderr, "vs-hiredis: shale reader read %ld of %ld replies\n", got, expect);
    return now_s() - t0;
}

static int reader_bench(void)
{
    size_t len;
    long replies;
    char *s = record_stream(&len, &replies);
    double best_h = 1e9, best_s = 1e9;
    for (int round = 0; round < 5; round++) { /* interleaved, best of five each */
        double h = time_hiredis(s, len, replies), x = time_shale(s, len, replies);
        best_h = h < best_h ? h : best_h;
        best_s = x < best_s ? x : best_s;
    }
    printf("reader: %.1f MiB, %ld replies in 16 KiB pieces\n", len / 1048576.0, replies);
    printf("redisReader        %8.0f MiB/s  %10.0f replies/s\n", len / 1048576.0 / best_h,
           replies / best_h);
    printf("shale_client_reader %7.0f MiB/s  %10.0f replies/s  (%.2fx)\n",
           len / 1048576.0 / best_s, replies / best_s, best_h / best_s);
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--reader") == 0)
        return reader_bench();
    static const load_backend b = {"hiredis", hr_connect, hr_append, hr_reply, hr_close};
    return load_main(&b, argc, argv);
}

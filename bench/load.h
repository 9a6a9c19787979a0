/*
 * load.h - a redis-benchmark-style load through a client library: threads, connections
 * per thread, a pipeline per connection, random keys; prints ops/s and p50/p99/p99.9 per
 * command. The client is a backend, so shale-bench --server (libshale-client) and
 * vs-hiredis (hiredis) run exactly the same work.
 */
#ifndef SHALE_BENCH_LOAD_H
#define SHALE_BENCH_LOAD_H

#include <stddef.h>

typedef struct load_backend {
    const char *name;
    /* A connection, or NULL (with a message on stderr). */
    void *(*connect)(const char *host, int port);
    /* Appends one command (nothing is sent yet). 0 or -1. */
    int (*append)(void *conn, int argc, const char **argv, const size_t *lens);
    /* Sends what is appended if needed and takes one reply. 0, or -1 on a client error
       or an error reply. */
    int (*reply)(void *conn);
    void (*close)(void *conn);
} load_backend;

/* Parses --server host:port --threads --clients --pipeline --requests --tests
   --keyspace --data-size from argv and runs the load. Returns a process exit code. */
int load_main(const load_backend *b, int argc, char **argv);

#endif

/*
 * fuzz_server.h - an in-process server that a fuzz target drives: one server with a real
 * engine in a temporary directory (in /dev/shm when there is one), made at the first
 * input and kept across inputs, as a long-lived server keeps its keyspace; removed, data
 * directory and all, at exit. Each input gets a client without a socket, whose commands
 * the target runs with command_dispatch.
 *
 * Not here: what a target feeds the server and what it checks of the replies beyond
 * "exactly one well-formed reply" (fuzz_check_one_reply).
 */
#ifndef SHALE_FUZZ_SERVER_H
#define SHALE_FUZZ_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

/* How a target wants its server; the rest of the configuration is the default. */
typedef struct fuzz_server_options {
    const char *name;               /* in the data directory's name: shale-fuzz-NAME-XXXXXX */
    long long busy_reply_threshold; /* ms before busy_handler is called during a script */
    void (*busy_handler)(server *s);
    uint64_t lua_memory_limit; /* 0: the default */
    bool debug_command;        /* enable-debug-command yes */
} fuzz_server_options;

/* The server, made at the first call with o (later calls return it and ignore o); aborts
   when it cannot be made. It is torn down at exit. */
server *fuzz_server(const fuzz_server_options *o);

/* Registers c, zeroed by the caller, as a new authenticated client speaking proto (2 or 3),
   from 127.0.0.1:1. */
void fuzz_client_connect(server *s, client *c, int proto);

/* The end of an input: a cron tick, c disconnected (a blocked client forgotten, as when
   its connection goes) and its buffers freed, the input's SCAN cursors dropped, a
   SHUTDOWN's stop flag cleared; every FUZZ_FLUSH_EVERY inputs the memtable flushed and
   the keyspace emptied with FLUSHALL, so that it stays small over a long run. */
#define FUZZ_FLUSH_EVERY 512
void fuzz_server_end_input(server *s, client *c);

/* Runs one request (RESP bytes) as a client of its own, its reply discarded: for the
   harness's own commands between inputs. */
void fuzz_server_run(server *s, const char *req, size_t len);

/* Traps unless out holds exactly one complete reply and nothing after it. */
void fuzz_check_one_reply(const resp_out *out);

#endif

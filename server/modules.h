/*
 * modules.h - the server's modules made and freed in one order: the command lock, the
 * access table (LRU/LFU), MULTI, client tracking, blocking commands, pub/sub and keyspace
 * notifications, MONITOR, CLIENT PAUSE, scripting and function libraries, and the tables
 * commands fill (SCAN cursors, command statistics, MIGRATE's connections). Shared by
 * start-up (main.c) and the tests and fuzz targets that run a server in process, so that
 * they open and close what the server does, in its order.
 *
 * Not here: the store (store.h, ks_open), replication (repl.h), the event loops.
 */
#ifndef SHALE_MODULES_H
#define SHALE_MODULES_H

#include "server.h"

/* The modules that need only memory, for nloops event loops: after ks_open (tracking and
   notifications hook into s->ks, which ks_open zeroes). 0 or -ENOMEM (then
   server_modules_free frees what was made). */
int server_modules_init(server *s, int nloops);
/* The modules read from the store (the function libraries): after ks_open. 0, -ENOMEM,
   -EINVAL when a stored library does not load, or a read error. */
int server_modules_load(server *s);
/* Frees every module (made or not). After the event loops and the threads that use them
   stopped, before the store closes (the libraries' engine is the store's). */
void server_modules_free(server *s);

#endif

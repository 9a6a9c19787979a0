/*
 * tracking.h - client-side caching as Redis 7.0 has it (its tracking.c): CLIENT TRACKING
 * and the invalidation messages it asks for.
 *
 * Default mode: the keys a tracking client reads (the keys of its read-only commands, after
 * they run, from their key specs) go into the tracking table, key -> the ids of the clients
 * that read it. A change of a key (every write the key layer tells: commands, lazy and
 * active expiry, eviction) sends each of them one invalidation and forgets the key; when
 * the table holds more than tracking-table-max-keys keys, random keys are invalidated
 * until it does not. OPTIN / OPTOUT with CLIENT CACHING decide which reads are tracked,
 * NOLOOP leaves out the changes the client makes itself. BCAST mode: no table; every
 * change of a key that starts with one of the client's prefixes is sent, the keys of a
 * prefix gathered over a command and sent as one message. FLUSHDB / FLUSHALL send every
 * tracking client a null (all keys are invalid) and empty the table, as Redis; SWAPDB
 * sends nothing, as Redis 7.0 (the table is keyed by name, not database); a fifo
 * database's dropped tables count as a flush (the keys went without a write).
 *
 * Messages: ">2 invalidate [keys]" pushes to a RESP3 client; with REDIRECT id, to that
 * client: a push when it speaks RESP3, else a message of the channel __redis__:invalidate
 * when it is subscribed to anything (RESP2 has no pushes), else nothing. A redirect
 * client gone: the tracking client is marked broken (TRACKINGINFO, CLIENT LIST R) and,
 * in RESP3, gets a tracking-redir-broken push. They go through pub/sub's delivery path
 * (pubsub_push): in order with the client's other messages, across event loops.
 *
 * When: the changes a command makes are gathered while it runs and sent after it (after
 * its commit, after its reply; EXEC's after the whole transaction), as Redis sends the
 * running client's own invalidations after its reply. Changes made outside a command
 * (active expiry, eviction before a command) are sent at once. Everything under the lock.
 */
#ifndef SHALE_TRACKING_H
#define SHALE_TRACKING_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "server.h"

/* Makes the tables and listens to the key layer (after multi_init: the watch table's
   listeners are kept and called first). 0 or -ENOMEM. */
int tracking_init(server *s);
void tracking_free(server *s);

/* ---- for the dispatcher (command.c) ---- */

/* Around one command's handler (nested: EXEC's commands inside EXEC's call): changes
   made in between are gathered. After the handler of cmd (its row, argv in c->cmd; NULL:
   a blocked command served again, which reads nothing to track): the keys of a
   read-only command go into c's table entries. */
void tracking_call_begin(server *s, client *c);
void tracking_call_end(server *s, client *c, const command *cmd);
/* A script run by caller (its EVAL in caller->cmd) ran a read-only command: as Redis
   7.0, the keys the script declared go into caller's table entries. */
void tracking_script_read(server *s, client *caller);
/* Around command_dispatch. After it (the command in c->cmd run, queued or refused, its
   reply final: done; not done: held by CLIENT PAUSE, to run again): sends what
   it gathered, ends CLIENT CACHING's one-command effect, keeps the table's limit. A
   command run outside them (a blocked client served) sends its own at its call's end. */
void tracking_before_command(server *s, client *c);
void tracking_after_command(server *s, client *c, bool done);
/* server_cron: the table's limit (Redis's trackingLimitUsedSlots). */
void tracking_cron(server *s);

/* ---- clients ---- */

/* CLIENT TRACKING OFF, RESET, a closed client: c's tracking off. */
void tracking_disable(server *s, client *c);
/* c is going away: off, and the clients that redirect to it are broken. */
void tracking_client_gone(server *s, client *c);
/* CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO (argv[1] one of them). */
void tracking_client_command(server *s, client *c);
/* Whether argv[1] of CLIENT is one of those, with their arity. */
bool tracking_is_subcommand(const client *c);
/* CLIENT LIST's letters t (tracking), R (broken redirect), B (BCAST), in that order, at
   p; returns the end. */
char *tracking_flags(const client *c, char *p);
/* CLIENT LIST's redir=: the redirect client id, 0 without, -1 when not tracking. */
long long tracking_redirect(const client *c);

/* ---- INFO ---- */

long long tracking_clients(server *s);
long long tracking_total_keys(server *s);
long long tracking_total_items(server *s);
long long tracking_total_prefixes(server *s);

#endif

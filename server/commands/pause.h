/*
 * pause.h - CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE, as Redis 7.0 does them.
 *
 * While a pause lasts, a command it covers is held before it runs: ALL covers every
 * command, WRITE the ones that may write or be replicated (Redis's write commands, and
 * PUBLISH, SPUBLISH, PFCOUNT, EVAL, EVALSHA, FCALL, whose flags say may_replicate, but
 * not a script call whose script declares no-writes; EXEC of a transaction that queued
 * one of these, as flagged when it was queued). The checks that
 * come first still answer at once (unknown command, wrong arity, NOAUTH, -MISCONF); a
 * monitor is never held. A held command is not consumed: it stays in its client's input
 * with what the client sent after it, the client shows flag b and counts in INFO
 * blocked_clients, and when the pause ends the held clients run their input again, in
 * the order they were held (per io thread; across threads each loop takes its own). A
 * second PAUSE keeps the longer end and the stricter mode, as Redis's pauseClients.
 *
 * The end: CLIENT UNPAUSE, or the timeout, which the event loops' timers see (the loop
 * sleeps until it, no polling); a loop ends the pause and wakes the others. Meanwhile
 * the data set stays as it is, as in Redis: expired keys read as absent but are not
 * deleted, lazily or by the cron (keyspace.h reap_paused); eviction is not reached (the
 * commands that add data are writes, held).
 *
 * Everything runs under the server's lock unless said otherwise.
 */
#ifndef SHALE_PAUSE_H
#define SHALE_PAUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "server.h"

enum pause_type { PAUSE_OFF = 0, PAUSE_WRITE = 1, PAUSE_ALL = 2 };

int pause_init(server *s, int nloops);
void pause_free(server *s);

/* CLIENT PAUSE: until end_ms (Unix ms; in the past: no pause), type WRITE or ALL. */
void pause_start(server *s, int type, uint64_t end_ms);
/* CLIENT UNPAUSE, or the timeout: held clients go back to their loops. */
void pause_end(server *s);

/* FAILOVER's pause (Redis's PAUSE_DURING_FAILOVER purpose): writes are held as by CLIENT
   PAUSE WRITE, with no end time, until pause_failover_end; CLIENT UNPAUSE and a CLIENT
   PAUSE's timeout do not end it (the clients they release are held again), and its end
   does not end a CLIENT PAUSE. Expiry waits while either lasts. */
void pause_failover_start(server *s);
void pause_failover_end(server *s);

/* Ends a pause whose time has passed (server_cron: a pause nobody's command ends lets
   expiry go on). */
void pause_expire(server *s, uint64_t now_ms);
/* Whether c's command cmd waits for the pause's end (ending a pause that timed out). */
bool pause_covers(server *s, const client *c, const command *cmd);
/* Whether c's command cmd may read (Redis's readonly flag, read on the subcommand's row):
   with command_may_replicate, what a monitor may not run. (A WRITE pause holds what
   command_may_replicate says.) */
bool pause_may_read(const client *c, const command *cmd);
/* Holds c (pause_covers said so): c->paused, in the held list. */
void pause_hold(server *s, client *c);
/* c disconnected: out of the held list. */
void pause_forget(server *s, client *c);
/* Clients held now (INFO blocked_clients counts them). */
long long pause_held_count(server *s);

/* ---- for the event loops (net_uring.c) ---- */

/* Loop `loop` has held clients to resume, or the pause's timeout has passed while
   clients are held. Any thread, without the lock. */
bool pause_has_work(server *s, int loop, uint64_t now_ms);
/* When the pause ends (Unix ms) while clients are held, else 0. Any thread. */
uint64_t pause_next_deadline(server *s);
/* FAILOVER's pause (Redis's PAUSE_DURING_FAILOVER purpose): writes are held as by CLIENT
   PAUSE WRITE, with no end time, until pause_failover_end; CLIENT UNPAUSE and a CLIENT
   PAUSE's timeout do not end it (the clients they release are held again), and its end
   does not end a CLIENT PAUSE. Expiry waits while either lasts. */
void pause_failover_start(server *s);
void pause_failover_end(server *s);

/* Ends a pause whose time has passed, and hands this loop's released clients to
   net_resume in the order they were held (lock held, on the loop's thread). */
void pause_run(server *s, int loop, uint64_t now_ms);

#endif

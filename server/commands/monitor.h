/*
 * monitor.h - MONITOR: clients that receive a line for every command the server runs, as
 * Redis 7.0 writes it: +<seconds>.<microseconds> [<db> <peer>] "arg" "arg"...\r\n, the
 * arguments quoted as Redis's sdscatrepr quotes them, a redacted argument (AUTH's
 * password...) as "(redacted)", a unix-socket client as [<db> unix:<socket path>].
 *
 * What is fed: every command that ran (an error it replied included), after it ran, with
 * the client's database as the command left it (SELECT 3 shows [3 ...]); not the
 * commands Redis leaves out: admin ones (CONFIG, CLIENT KILL, DEBUG...), those flagged
 * skip_monitor (EVAL, FCALL: their own commands would be fed instead), and those refused
 * before running (unknown, wrong arity, NOAUTH, held by CLIENT PAUSE).
 *
 * Delivery: commands run under the server's lock on any io thread, and a monitor belongs
 * to one loop, whose thread alone may touch its output buffer and round. So a line goes
 * to the monitor's own pending buffer (lock held), its loop is flagged and woken
 * (net_wake_loop, as blocking.c hands keys over), and that loop moves the pending lines
 * into the client's replies at the end of its round (monitor_run). Lines keep the order
 * the commands ran in; the monitor's own commands first take the lines pending before
 * them (monitor_before_command), so its replies and lines interleave as in Redis.
 *
 * A monitor stays one until RESET or until it disconnects (QUIT's own line is fed first).
 * It is never held by CLIENT PAUSE, and commands of it that touch the keyspace are
 * refused ("Replica can't interact with the keyspace", as Redis marks monitors replicas).
 * Everything here runs under the server's lock unless said otherwise.
 */
#ifndef SHALE_MONITOR_H
#define SHALE_MONITOR_H

#include <stdbool.h>

#include "command.h"
#include "server.h"

/* Creates the monitor list for nloops event loops. 0 or -ENOMEM. */
int monitor_init(server *s, int nloops);
void monitor_free(server *s);

/* MONITOR: c becomes a monitor (a no-op when it is one). -ENOMEM or 0. */
int monitor_start(server *s, client *c);
/* RESET, a disconnect: c is no monitor any more; its lines not yet delivered are dropped. */
void monitor_stop(server *s, client *c);
/* Whether c is a monitor (CLIENT LIST flag O). */
bool monitor_is(const client *c);

/* After c's command cmd ran: its line to every monitor, unless Redis would not feed it
   (see above). */
void monitor_feed(server *s, client *c, const command *cmd);
/* Feeds c's command whatever its flags: EVAL and EVALSHA (skip-monitor in Redis) feed
   themselves before their script's commands, as Redis's evalCommand does. */
void monitor_feed_line(server *s, client *c);
/* Before a monitor's own command runs (on its loop): the lines pending for it go first. */
void monitor_before_command(server *s, client *c);

/* ---- for the event loops (net_uring.c) ---- */

/* Lines wait for monitors of loop `loop`. Any thread, without the lock. */
bool monitor_has_work(server *s, int loop);
/* Moves them into those clients' replies (lock held, on the loop's thread). */
void monitor_run(server *s, int loop);

/* sdscatrepr: p[0..n) quoted, with \n \r \t \a \b \\ \" and \xHH for other bytes that
   are not printable ASCII. */
void monitor_repr(resp_out *o, const char *p, size_t n);

#endif

/*
 * blocking.h - clients blocked on keys: BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP (t_list.c)
 * and the sorted sets' BZPOPMIN BZPOPMAX BZMPOP, as Redis 7.0 serves them.
 *
 * A blocked client waits in the FIFO of each of its keys (per logical database). A write
 * that makes a waited-on key a non-empty list or sorted set (ks_put_collection,
 * ks_copy_value: pushes, LMOVE destinations, RENAME, COPY, MOVE, RESTORE, the STORE forms;
 * ks_swap: every waited-on key of the two databases) tells this module through the key
 * layer's listener; after the command that wrote it has committed, the waiters of that
 * key whose type is the key's type are served in arrival order: each one's command runs
 * again, for that key only. The first that finds the key empty (another client got there
 * first) stays blocked where it was, and so do the ones behind it. Waiters of the other
 * type are skipped, as Redis 7.0 skips them.
 *
 * Commands run on their client's own event loop, always: a waiter of another loop is
 * handed the key (that loop is woken and serves it, in order), and a waiter whose earlier
 * replies wait for a sync (sync-writes yes) is served once they are released. A woken
 * client's pop goes through the round machinery like any command: with sync-writes yes
 * its reply waits until the pop is durable. A client's pipelined commands wait behind its
 * blocked one. Timeouts are the event loops' timers (no engine read, no polling: the loop
 * sleeps until the earliest one); the reply is a null array (RESP2 *-1, RESP3 _), also
 * to CLIENT UNBLOCK ... TIMEOUT, and -UNBLOCKED to CLIENT UNBLOCK ... ERROR. A
 * disconnected client is forgotten. FLUSHALL/FLUSHDB leave waiters waiting.
 *
 * The API for a blocking command's handler (a sorted-set pop the same way with
 * KS_TYPE_ZSET):
 *
 *   void cmd_bzpopmin(server *s, client *c)
 *   {
 *       uint64_t deadline;
 *       if (!blocking_parse_timeout(c, &c->cmd.argv[c->cmd.argc - 1], &deadline))
 *           return;                                     // Redis's timeout errors replied
 *       for (int i = 1; i < c->cmd.argc - 1; i++) {
 *           if (!blocking_may_serve(c, &c->cmd.argv[i]))
 *               continue;                               // woken for another of its keys
 *           ... read the key: WRONGTYPE replied -> return; a non-empty sorted set: pop,
 *           ks_finish, reply -> return
 *       }
 *       blocking_wait(s, c, 1, c->cmd.argc - 2, KS_TYPE_ZSET, deadline, cmd_bzpopmin);
 *   }
 *
 * blocking_wait copies the arguments; later runs of the handler see them in c->cmd and
 * c->db as they were. A run that pops (or replies an error) ends the wait; a run that
 * calls blocking_wait again leaves it as it was. Everything here runs under the server's
 * lock.
 */
#ifndef SHALE_BLOCKING_H
#define SHALE_BLOCKING_H

#include <stdbool.h>
#include <stdint.h>

#include "resp.h"
#include "server.h"

/* ---- for blocking commands ---- */

/* Parses a timeout in seconds as Redis does (a float, 0 = forever, ceil to ms): false with
   "ERR timeout is not a float or out of range" or "ERR timeout is negative" replied.
   *deadline_ms: the Unix time in ms it ends, 0 for none. */
bool blocking_parse_timeout(client *c, const resp_arg *a, uint64_t *deadline_ms);
/* False when c's command runs again for a key it waits on and key is another one (the
   handler skips it); true otherwise. */
bool blocking_may_serve(const client *c, const resp_arg *key);
/*
 * Every key was empty: blocks c on argv[first .. first + nkeys) (repeats count once) in
 * c->db, waiting for a non-empty list or sorted set (type KS_TYPE_LIST or KS_TYPE_ZSET),
 * until deadline_ms (0: forever). fn is the handler that runs again when one becomes
 * ready. Nothing is replied now. Called from a run for a ready key, it leaves c blocked as
 * it was. Without memory it replies the error; on a server without the blocking table
 * (blocking_init not called: unit tests) it replies the timeout at once.
 */
void blocking_wait(server *s, client *c, int first, int nkeys, int type, uint64_t deadline_ms,
                   command_fn fn);

/* WAIT: blocks c until n replicas acknowledged seq (repl_count_acked), or until
   deadline_ms (0: forever), whose reply is the count then (also to CLIENT UNBLOCK ...
   TIMEOUT). Nothing is replied now (the count at once without memory). */
void blocking_wait_acks(server *s, client *c, long long n, uint64_t seq, uint64_t deadline_ms);
/* A replica's acknowledgement moved (any thread, no lock): the loops with clients in
   WAIT look again. */
void blocking_acks_changed(server *s);

/* ---- for the server ---- */

/* Creates the table for nloops event loops and listens to the key layer. 0 or -ENOMEM. */
int blocking_init(server *s, int nloops);
void blocking_free(server *s);
/* Clients blocked now (INFO blocked_clients). */
long long blocking_count(server *s);
/* Whether c waits (CLIENT LIST flag b). */
bool blocking_is_blocked(const client *c);
/* CLIENT UNBLOCK: ends c's wait with the timeout reply, or with -UNBLOCKED when error;
   false when c is not blocked. c's own loop replies (at once when it is this one). */
bool blocking_unblock(server *s, client *c, bool error);
/* c disconnected: out of every queue, its state freed. */
void blocking_forget(server *s, client *c);
/* After each command of c: serves the keys its command made ready (the waiters on c's
   loop; others are handed to theirs) and the unblocks asked for this loop. Cheap when
   there is nothing to do. */
void blocking_after_command(server *s, client *c);

/* ---- for the event loops (net_uring.c) ---- */

/* Work for loop `loop`: keys handed to it, unblocks of its clients, or a timeout at or
   before now. Any thread, without the lock. */
bool blocking_has_work(server *s, int loop, uint64_t now_ms);
/* When the loop's earliest timeout ends (Unix ms), 0 when none. Any thread. */
uint64_t blocking_next_deadline(server *s, int loop);
/* Does the loop's work (lock held, on the loop's thread). */
void blocking_run(server *s, int loop, uint64_t now_ms);
/* c's held replies were released while it is blocked: keys that became ready meanwhile
   are served now (any thread of c's loop, without the lock). */
void blocking_retry(server *s, client *c);

#endif

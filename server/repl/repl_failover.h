/*
 * repl_failover.h - FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] on a primary, as
 * Redis 7.0's coordinated failover: no write a client was told succeeded is lost.
 *
 * FAILOVER answers +OK at once and pauses writes (pause_failover_start: CLIENT PAUSE
 * WRITE's holding, a purpose of its own that CLIENT UNPAUSE does not end); a thread of
 * its own then waits until the target (or, without TO, any online replica) has
 * acknowledged the primary's last sequence, and hands over: it connects to the target
 * (AUTH with masteruser/masterauth when set) and sends REPLICAOF NO ONE (shale's way:
 * Redis sends PSYNC ... FAILOVER on a new link instead), and once that answered +OK this
 * node follows the target (as REPLICAOF host port) and the pause ends. The writes held
 * meanwhile run then, and get -READONLY from what is now a replica. The other replicas
 * are dropped by REPLICAOF and connect again to this node, which serves them as a replica
 * of the target: a chain, as after Redis's FAILOVER, which changes only the two nodes.
 *
 * TIMEOUT: a wait longer than that aborts (pause ends, still a primary), unless FORCE,
 * which hands over anyway (this node's records the target lacks are then dropped by its
 * full resync). FAILOVER ABORT cancels a failover until REPLICAOF NO ONE was sent.
 *
 * Lock held for every call unless said otherwise.
 */
#ifndef SHALE_REPL_FAILOVER_H
#define SHALE_REPL_FAILOVER_H

#include <stdbool.h>

#include "server.h"

typedef struct repl_failover_req {
    bool to;            /* TO host port */
    char host[256];
    long long port;
    bool force;         /* FORCE */
    long long timeout_ms; /* TIMEOUT (0: none) */
} repl_failover_req;

/* Starts a failover: NULL, or the error to reply (Redis's text, without the '-'). */
const char *repl_failover_start(server *s, const repl_failover_req *req);
/* FAILOVER ABORT: NULL, or the error to reply. */
const char *repl_failover_abort(server *s);
/* Whether a failover is under way (REPLICAOF and PSYNC are refused meanwhile). */
bool repl_failover_active(const server *s);
/* INFO's master_failover_state: no-failover, waiting-for-sync, failover-in-progress. */
const char *repl_failover_state(const server *s);
/* At shutdown (lock not held): aborts a failover that is waiting, and waits for its
   thread to end (a hand-over already told to the target finishes first). */
void repl_failover_stop(server *s);

#endif

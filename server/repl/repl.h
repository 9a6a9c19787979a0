/*
 * repl.h - replication as a client sees it: the node's run id, the replication id and
 * offset of its history, INFO replication and ROLE in Redis 7.0's spelling, and the
 * min-replicas-to-write check that refuses writes (-NOREPLICAS) while too few replicas
 * are good.
 *
 * Offsets are the main engine's sequence numbers (the last one a write took), not bytes
 * of a command stream as in Redis: shale's replicas apply the primary's log records with
 * the primary's numbers (docs/server.md, "Replication"), so an offset means the same on
 * every node of one history.
 *
 * Lock held for every call unless said otherwise.
 */
#ifndef SHALE_REPL_H
#define SHALE_REPL_H

#include <stdbool.h>
#include <stdint.h>

#include "server.h"

typedef struct repl_state repl_state;

/* s->repl: a new run id and replication id (random, 40 hex digits). 0 or -ENOMEM.
   repl_free(NULL state) is a no-op. */
int repl_init(server *s);
void repl_free(server *s);

/* INFO server's run_id: 40 hex digits, new at every start (Sentinel sees a restart). */
const char *repl_run_id(const server *s);
/* The offset of the node's history: the main engine's last sequence number. */
uint64_t repl_offset(server *s);

/* INFO's "# Replication" section, fields in Redis's order and spelling. */
void repl_info(server *s, resp_out *o);
/* ROLE's reply. */
void repl_role(server *s, client *c);

/* Whether enough replicas are good for a write: min-replicas-to-write and
   min-replicas-max-lag both set on a primary ask for that many replicas whose last
   acknowledgement is at most max-lag seconds old (Redis's checkGoodReplicasStatus). */
bool repl_enough_good_replicas(const server *s);
#define REPL_NOREPLICAS "NOREPLICAS Not enough good replicas to write."

#endif

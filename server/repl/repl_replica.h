/*
 * repl_replica.h - a replica's side of the link (docs/server.md, "Replication"): a thread
 * per link that connects to the primary's client port with blocking I/O and timeouts
 * (PING, AUTH, REPLCONF, PSYNC with the id of the history it follows and its last
 * sequence), applies each record under the server lock (a batch of records per hold,
 * server/types/ks_apply.h), acknowledges what it applied (REPLCONF ACK) and every
 * second, and connects again with a back-off when the link fails. REPLICAOF answers at
 * once; the thread does the rest.
 *
 * Lock held for every call unless said otherwise.
 */
#ifndef SHALE_REPL_REPLICA_H
#define SHALE_REPL_REPLICA_H

#include <stdbool.h>

#include "repl.h"
#include "server.h"

/* Whether this node is a replica (refuses writes, does not expire, evict or sweep). */
bool repl_is_replica(const server *s);
/* REPLICAOF host port: follows that primary from now on (its own replicas are dropped:
   they connect again and continue with the new history). 0, or -ENOMEM (nothing
   changed). */
int repl_replica_follow(server *s, const char *host, int port);
/* Whether the replica follows host:port (host compared without case, as Redis). */
bool repl_following(const server *s, const char *host, int port);
/* REPLICAOF NO ONE on a replica: a primary again, with a new replication id that
   remembers the one it followed up to its last sequence (master_replid2,
   second_repl_offset), so that its former siblings continue with it. */
void repl_replica_promote(server *s);
/* Whether the link is up (a replica serves PSYNC only then). */
bool repl_replica_link_up(server *s);
/* INFO replication's replica fields (role:slave ... replica_announced). */
void repl_replica_info(server *s, resp_out *o);
/* ROLE's slave form. */
void repl_replica_role(server *s, resp_out *o);
/* CLIENT LIST / KILL: fn on the link to the primary while it is up (repl.h,
   repl_peers_visit); 1 when fn dropped it (the link reconnects), else 0. */
long long repl_replica_visit(server *s, repl_peer_fn fn, void *arg);
/* At shutdown (lock not held): ends every link's thread and joins it. */
void repl_replica_stop(server *s);

#endif

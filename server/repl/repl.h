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

/* s->repl: a new run id and replication id (random, 40 hex digits), the backlog (sized
   by s->cfg.repl_backlog_size: call it before the engine opens, whose commit tap feeds
   it) and the replicas' registry. 0 or -ENOMEM. repl_free(NULL state) is a no-op and
   stops every replica's thread. */
int repl_init(server *s);
void repl_free(server *s);

/* Reads the history's ids from dir/repl-id (after the engine opened), or writes the new
   ones there when there is none, so that a restarted node continues its history. 0 or
   -errno. */
int repl_load_ids(server *s);

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
bool repl_enough_good_replicas(server *s);

/* CONFIG SET changed s->cfg: the backlog takes its new repl-backlog-size. */
void repl_config_changed(server *s);

/* Whether this node serves PSYNC now: a primary always, a replica while its link to
   its primary is up (else -NOMASTERLINK, as Redis). */
bool repl_can_serve_replicas(server *s);

/* The backlog the main engine's commit tap feeds (repl_backlog.h). */
struct repl_backlog *repl_backlog_of(server *s);
/* This history's replication id (40 hex digits). */
const char *repl_replid(const server *s);
/* PSYNC <replid> <seq>: whether the replica continues from the backlog (+CONTINUE):
   replid is this history's id, or the one it continues with seq at most where that one
   ended here, and the backlog holds what comes after seq; or replid is "?" with seq 0 or
   -1 (an empty replica) and the backlog holds this history from its first record. */
bool repl_psync_continues(server *s, const char *replid, long long seq);
/*
 * A replication link as CLIENT LIST and CLIENT KILL see it: Redis's clients of type
 * replica (flag S: a replica's connection to this primary) and master (flag M: this
 * replica's link to its primary). Neither is a client of the event loops (the link runs
 * on a thread of its own), so they are read from the replication module. The strings
 * belong to the module and last for the call of the visitor only.
 */
typedef struct repl_peer {
    uint64_t id;              /* a replica keeps its client's id from before PSYNC */
    const char *addr, *laddr; /* "ip:port" of the peer and of this node's side */
    int fd;
    uint64_t created_ms, last_ms; /* connected, last bytes from the peer (Unix ms) */
    const char *cmd;              /* its last command as CLIENT LIST names it */
    bool master;                  /* this node's link to its primary, else a replica */
} repl_peer;

/* Called for each link; true drops it (its connection is shut down: a replica connects
   again, a link to the primary reconnects; both then continue by partial sync). */
typedef bool (*repl_peer_fn)(const repl_peer *p, void *arg);

/* Calls fn for every link of this node: its link to its primary while up (not during
   the handshake or a full sync, as Redis has no master client then), then its replicas
   in the order they connected (not those already dropped). The number fn dropped. */
long long repl_peers_visit(server *s, repl_peer_fn fn, void *arg);

#define REPL_NOREPLICAS "NOREPLICAS Not enough good replicas to write."
#define REPL_READONLY "READONLY You can't write against a read only replica."

#endif

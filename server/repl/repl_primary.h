/*
 * repl_primary.h - a primary's replicas: what a connection says about itself before
 * PSYNC (REPLCONF), and, once PSYNC has decided, the sender thread that serves it
 * (docs/server.md, "Replication", the link).
 *
 * After PSYNC the connection leaves its event loop (net_uring.c hands its descriptor
 * over) for a thread of its own, which writes +CONTINUE (or runs the full sync, the seam
 * in repl_fullsync.h), then every record from the backlog as it comes (`*2 $3 rec
 * $<len> <batch>`), `*1 $4 ping` after a second without one, and reads the replica's
 * `REPLCONF ACK <seq>` from the same socket. A replica that falls out of the backlog (its
 * next record was overwritten), that stays silent for repl-timeout seconds, or whose
 * socket fails is dropped: it connects again and asks for what it lacks.
 *
 * The acknowledged offsets feed INFO (slaveN:, min_slaves_good_slaves), ROLE, WAIT and
 * min-replicas-to-write. The list of replicas has its own mutex: the sender threads never
 * take the server's lock.
 */
#ifndef SHALE_REPL_PRIMARY_H
#define SHALE_REPL_PRIMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "repl.h"
#include "repl_sync.h"
#include "server.h"

/* What a connection told with REPLCONF, and what its PSYNC decided (c->repl_link). */
typedef struct repl_link {
    long long listening_port; /* 0: not told */
    char ip[256];             /* REPLCONF ip-address ("": the peer's address) */
    bool capa_shale;          /* REPLCONF capa shale: a shale replica */
    repl_files have; /* REPLCONF have: the files the replica holds, for a full sync to keep */
    /* set by PSYNC */
    bool full;          /* a full sync (the seam), else +CONTINUE */
    char replid[41];    /* the history the replica continues (or receives) */
    uint64_t start;     /* continue after this sequence */
    long long timeout_s; /* repl-timeout then */
} repl_link;

/* c's link state, made at its first REPLCONF. NULL without memory. */
repl_link *repl_link_of(client *c);
void repl_link_free(repl_link *l);

/* The replicas' registry (in s->repl). 0 or -ENOMEM. */
int repl_primary_init(server *s);
/* Drops every replica and joins its thread (at shutdown; lock not held). */
void repl_primary_free(server *s);
/* Drops every replica (REPLICAOF host port: the node follows another one; lock held). */
void repl_primary_drop_all(server *s);

/*
 * Takes over the connection of a client whose PSYNC decided (net_uring.c, without the
 * lock): fd (now the sender thread's, which closes it), link (ownership passes too), the
 * client's replies not yet sent (pending, n bytes, copied) and input received after
 * PSYNC (copied: the replica's first acks). c: the client it was (read only, during the
 * call): its id, addresses and start stay the replica's in CLIENT LIST, as Redis's
 * replica is the client that sent PSYNC. A thread that cannot start closes the
 * connection (the replica tries again).
 */
void repl_primary_adopt(server *s, const client *c, int fd, repl_link *link,
                        const char *pending, size_t n, const char *input, size_t in_n);

/* A WAIT began to wait: senders pausing to gather records (COALESCE_US) send what
   they have now. Any thread. */
void repl_primary_hurry(server *s);
/* Replicas online that acknowledged seq or more (WAIT). Any thread. */
long long repl_count_acked(server *s, uint64_t seq);
/* Online replicas whose last ack is at most max_lag_s old (min-replicas-to-write). */
int repl_count_good(server *s, long long max_lag_s);
/* Replicas connected (INFO connected_slaves). */
int repl_count_replicas(server *s);
/* FAILOVER TO host port: the replica at host:port (its INFO address, host compared
   without case, as Redis's findReplica): -1 none, 0 not online, 1 online, with *ack its
   last acknowledged sequence. Any thread. */
int repl_primary_find(server *s, const char *host, long long port, uint64_t *ack);
/* FAILOVER without TO: an online replica that acknowledged seq (the first connected, as
   Redis takes the first of its list), its address in host (cap bytes) and *port; false
   when none has. Any thread. */
bool repl_primary_caught_up(server *s, uint64_t seq, char *host, size_t cap, long long *port);
/* CLIENT LIST / KILL: fn on each replica not yet dropped, in the order they connected
   (repl.h, repl_peers_visit). The number fn dropped: each is stopped as
   repl_primary_drop_all stops them all, and connects again. */
long long repl_primary_visit(server *s, repl_peer_fn fn, void *arg);
/* INFO's slaveN: lines. */
void repl_primary_info(server *s, resp_out *o);
/* ROLE's list of replicas: [ip, port, offset] each (an array header first). */
void repl_primary_role(server *s, resp_out *o);

#endif

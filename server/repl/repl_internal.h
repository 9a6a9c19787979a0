/*
 * repl_internal.h - the replication state the files of server/repl/ share (s->repl):
 * the history's ids, the backlog, the replicas of a primary. Not for other rooms: they
 * use repl.h, repl_primary.h.
 */
#ifndef SHALE_REPL_INTERNAL_H
#define SHALE_REPL_INTERNAL_H

#include <stdint.h>

#include "repl_backlog.h"
#include "server.h"

struct repl_replicas; /* repl_primary.c */
struct repl_follow;   /* repl_replica.c: one link to a primary */
struct repl_failover; /* repl_failover.c: FAILOVER under way */

struct repl_state {
    char run_id[41];
    char replid[41];  /* this history's id */
    char replid2[41]; /* the id of the history it continues (all zeros: none) */
    long long second_offset; /* where replid2's history ends here (-1: none) */
    int good_replicas; /* replicas acknowledged within min-replicas-max-lag */
    repl_backlog *backlog;           /* fed by the main engine's commit tap */
    struct repl_replicas *replicas;  /* a primary's replicas (repl_primary.c) */
    /* a replica (repl_replica.c): the primary it follows, and its link's thread */
    bool replica;
    char master_host[256];
    int master_port;
    struct repl_follow *follow;    /* the link now (NULL: a primary) */
    struct repl_follow *retired;   /* links asked to end, joined at shutdown */
    uint64_t down_since_ms;        /* the link went down then (0: never up) */
    struct repl_failover *failover; /* FAILOVER under way (NULL: none) */
    int failover_threads;           /* FAILOVER's threads not yet ended */
};

/* Writes the ids to dir/repl-id (atomically: a temporary file synced, renamed, the
   directory synced). 0 or -errno. repl.c. */
int repl_save_ids(server *s);
/* The wall clock in ms (INFO's ages, acks' times, timeouts). repl.c. */
uint64_t repl_now_ms(void);
/* 40 random hex digits and a NUL. repl.c. */
void repl_random_hex(char out[41]);

#endif

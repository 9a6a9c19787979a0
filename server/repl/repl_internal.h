/*
 * repl_internal.h - the replication state the files of server/repl/ share (s->repl):
 * the history's ids, the backlog, the replicas of a primary. Not for other rooms: they
 * use repl.h, repl_primary.h.
 */
#ifndef SHALE_REPL_INTERNAL_H
#define SHALE_REPL_INTERNAL_H

#include <stdint.h>

#include "repl_backlog.h"

struct repl_replicas; /* repl_primary.c */

struct repl_state {
    char run_id[41];
    char replid[41];  /* this history's id */
    char replid2[41]; /* the id of the history it continues (all zeros: none) */
    long long second_offset; /* where replid2's history ends here (-1: none) */
    int good_replicas; /* replicas acknowledged within min-replicas-max-lag */
    repl_backlog *backlog;           /* fed by the main engine's commit tap */
    struct repl_replicas *replicas;  /* a primary's replicas (repl_primary.c) */
};

#endif

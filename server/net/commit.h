/*
 * commit.h - the commit pipeline of sync-writes yes: one thread makes the log durable,
 * one sync at a time, while the event loops run the next rounds and hold their replies.
 * See commit.c for the design and net_uring.c (finish_round, release_held) for the loops'
 * side.
 */
#ifndef SHALE_SERVER_COMMIT_H
#define SHALE_SERVER_COMMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct server;

typedef struct commit_pipe {
    struct server *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* the thread waits here for a request */
    uint64_t wanted;    /* the highest write generation a loop waits for (mu) */
    uint64_t attempted; /* every generation up to here had its sync: it succeeded
                           (s->synced_gen) or failed (failed_gen) (mu) */
    uint64_t failed_gen; /* a sync covering the generations up to here failed (atomic,
                            stored after fail_rc and fail_unsynced) */
    int fail_rc;         /* the last failed sync's error */
    bool fail_unsynced;  /* it failed with sync-writes yes: -MISCONF, not an engine error */
    bool stop;           /* (mu) */
    uint64_t wake_at;      /* the thread gathers: wake it when wanted reaches this (mu) */
    uint64_t gather_want;  /* writes the next sync waits for (see gather) (mu) */
    uint64_t last_sync_us; /* how long it took (mu) */
    int nloops;
    int *wake_fd;   /* per loop: an eventfd whose read the loop's ring has armed */
    bool *notify;   /* per loop: it waits for the next sync's end (mu) */
    pthread_t thread;
    bool started;
} commit_pipe;

/* Creates the eventfds of nloops loops and starts the thread. 0 or -errno; on failure
   nothing is left to stop. */
int commit_start(commit_pipe *p, struct server *s, int nloops);
/* Ends the thread (after the sync in flight) and closes the eventfds. No-op when not
   started. */
void commit_stop(commit_pipe *p);

/* The eventfd loop `loop` reads to learn that a sync it asked for has ended. */
int commit_wake_fd(const commit_pipe *p, int loop);

/*
 * Loop `loop` holds replies that need every write up to `gen` durable: the thread syncs
 * (now, or right after the sync in flight) and then writes to the loop's eventfd. Returns
 * true when a sync that covers gen has already ended (the loop looks at once: no wake-up
 * will come for it unless it asks again).
 */
bool commit_request(commit_pipe *p, int loop, uint64_t gen);

/* Replies that need the writes up to gen durable: 1 when they are, -1 when the sync that
   covered them failed (*rc, *unsynced: how to reply), 0 while they wait. */
int commit_state(commit_pipe *p, uint64_t gen, int *rc, bool *unsynced);

#endif

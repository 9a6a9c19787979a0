/*
 * ps_internal.h - what the pub/sub room's files share: the registry's state, a client's
 * subscriptions and inbox, an event loop's list of clients with messages waiting.
 * pubsub.c keeps the subscriptions, ps_deliver.c publishes and delivers.
 */
#ifndef SHALE_PS_INTERNAL_H
#define SHALE_PS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ps_table.h"
#include "pubsub.h"

#define NKINDS 3

/* What one client subscribes to, and the messages that wait for its loop. */
typedef struct ps_client {
    ps_entry **names[NKINDS]; /* per kind, in the order subscribed */
    size_t n[NKINDS], cap[NKINDS];
    resp_out inbox;       /* messages published by other loops, not yet in c->out */
    bool queued;          /* in its loop's list of clients with an inbox to deliver */
    struct client *next_queued;
} ps_client;

/* c's state, NULL before its first subscription or push. Made under the server's lock by
   whatever thread first needs it (a push may come from another loop or the replication
   thread) and read by c's own loop without the lock: published with release, read with
   acquire. ps_client_make: made if missing (NULL without memory). */
static inline ps_client *ps_client_of(const client *c)
{
    return __atomic_load_n(&c->pubsub, __ATOMIC_ACQUIRE);
}
ps_client *ps_client_make(client *c);

/* An event loop's clients with messages waiting. has_work is read without the lock. */
typedef struct ps_loop {
    client *head, *tail;
    int has_work;
} ps_loop;

/* Messages to the client whose command runs, kept until its reply is written, each to be
   placed at its position in the client's reply buffer (pubsub_aside_place). */
typedef struct ps_aside {
    struct client *c; /* NULL: none kept */
    bool on;          /* what is published now is kept (a notification of c's command) */
    size_t at;        /* its position */
    resp_out bytes;   /* the messages, one after the other */
    struct ps_placed {
        size_t at, len;
    } *pos;
    size_t n, cap;
} ps_aside;

typedef struct pubsub {
    ps_table tables[NKINDS];
    ps_loop *loops;
    int nloops;
    resp_out frame, pframe; /* the message being published, built once per publish */
    ps_aside aside;         /* the running command's own notifications (pubsub_aside_*) */
    uint64_t published, delivered;
} pubsub;

/* Takes c out of its loop's list of clients with messages waiting (ps_deliver.c). */
void ps_unqueue(pubsub *p, client *c);

#endif

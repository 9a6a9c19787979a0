/*
 * pubsub.h - publish/subscribe as Redis 7.0 has it: the registry of channels, patterns and
 * shard channels with their subscribers, the fan-out of a message, and its delivery to
 * subscribers of every event loop.
 *
 * The registry: three tables (channels, patterns, shard channels) from a name to the
 * subscribers in the order they subscribed, and for each client the names it subscribed
 * to, in the same order. A message goes to the channel's subscribers in that order, then
 * to the subscribers of every pattern that matches (glob.h, in the order the patterns
 * were first subscribed); shard channels have no patterns. A shard channel is a channel of
 * its own namespace: shale has no cluster, so SPUBLISH reaches the SSUBSCRIBErs of the
 * name on this server, as a non-cluster Redis 7.0 does.
 *
 * Delivery: everything here runs under the server's lock. A subscriber owned by the
 * publishing thread's loop gets the message in its reply buffer at once (net_join_round
 * sends it with the loop's round). A subscriber of another loop gets it in its inbox: the
 * bytes wait there, in order, and its loop is woken (net_wake_loop) the first time it has
 * something; that loop moves them to the reply buffer (pubsub_deliver) and sends them.
 * The publisher never waits for another loop. A subscriber's inbox is emptied before each
 * of its own commands and before a message goes straight to its buffer, so what it
 * receives keeps the order in which things happened under the lock.
 *
 * Output limits: a subscribed client is of the class pubsub of client-output-buffer-limit
 * (the event loop applies the class's hard and soft limits when it sends, as for normal
 * clients). A subscriber whose buffered bytes pass the hard limit gets no more messages:
 * its loop closes it when the bytes reach its buffer, so a reader that stalls costs the
 * publisher nothing but the copy of what it can no longer take.
 */
#ifndef SHALE_PUBSUB_H
#define SHALE_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* The three namespaces, for subscribe/unsubscribe and the counts. */
enum pubsub_kind { PUBSUB_CHANNEL = 0, PUBSUB_PATTERN = 1, PUBSUB_SHARD = 2 };

/* ---- for the server ---- */

/* Creates the registry and the inboxes of nloops event loops. 0 or -ENOMEM. */
int pubsub_init(server *s, int nloops);
void pubsub_free(server *s);
/* c disconnected: out of every channel, pattern and shard channel, its inbox dropped. */
void pubsub_forget(server *s, client *c);
/* RESET: c leaves every channel, pattern and shard channel with no reply. */
void pubsub_reset_client(server *s, client *c);

/* ---- publishing (for commands, and for internal messages: keyspace notifications,
   client tracking's __redis__:invalidate) ---- */

/*
 * Publishes msg on channel (shard: on the shard channel) to every subscriber, as PUBLISH
 * (SPUBLISH) does; the lock held, from any thread that runs commands or cron. Returns
 * the number of subscribers reached (pattern subscribers counted once per matching
 * pattern), as Redis's reply counts them.
 */
long long pubsub_publish(server *s, const char *channel, size_t chlen, const char *msg,
                         size_t msglen, bool shard);

/*
 * Hands c one message that is not a channel's (client tracking's invalidations): frame is
 * a whole RESP frame, sent as it is, in order with c's messages and by the same path (its
 * reply buffer now, or its inbox when c is another loop's). Not cut at the pubsub hard
 * limit as messages are (a lost invalidation is a stale cache): c's output class limits
 * apply when its loop sends. The lock held. Whether c took it (false: without memory).
 */
bool pubsub_push(server *s, client *c, const char *frame, size_t len);

/*
 * The running command's own notifications (notify.c): Redis writes a keyspace event to
 * its subscribers when the command tells it, so the command's client, when subscribed,
 * gets it at that point of its reply (before a SET's +OK, inside EXEC's array). Between
 * pubsub_aside_begin and pubsub_aside_place the channel messages published to c (on its
 * own loop, its inbox empty) between pubsub_aside_at and pubsub_aside_stop are kept,
 * each with the position in c->out given to pubsub_aside_at (SIZE_MAX: the end), and
 * then placed there: past the buffer's end (a reply cut by CLIENT REPLY OFF/SKIP, or
 * SIZE_MAX) means at the end. Other messages (c's own PUBLISH, pubsub_push's
 * invalidations) go as always. The lock held, on c's loop.
 */
void pubsub_aside_begin(server *s, client *c);
void pubsub_aside_at(server *s, size_t at);
void pubsub_aside_stop(server *s);
void pubsub_aside_place(server *s, client *c);

/* ---- for commands (t_pubsub.c) ---- */

/* Subscribes c to name in kind's namespace and replies the confirmation (with c's count
   afterwards, as Redis: channels + patterns, or shard channels). 0 or -ENOMEM. */
int pubsub_subscribe(server *s, client *c, enum pubsub_kind kind, const char *name, size_t len);
/* Unsubscribes c from name (kind's namespace) and replies the confirmation (even when c
   was not subscribed to it). */
void pubsub_unsubscribe(server *s, client *c, enum pubsub_kind kind, const char *name,
                        size_t len);
/* Unsubscribes c from every name of kind, a confirmation for each, or one with a null name
   when there were none. */
void pubsub_unsubscribe_all(server *s, client *c, enum pubsub_kind kind);
/* Subscribers of name (kind CHANNEL or SHARD), patterns with subscribers. */
long long pubsub_numsub(server *s, enum pubsub_kind kind, const char *name, size_t len);
long long pubsub_count(server *s, enum pubsub_kind kind);
/* Calls emit for each name of kind with subscribers that matches the glob pat (NULL:
   every name), in the order they got their first subscriber. */
void pubsub_names(server *s, enum pubsub_kind kind, const char *pat, size_t plen,
                  void (*emit)(void *ctx, const char *name, size_t len), void *ctx);

/* ---- about one client (CLIENT LIST, the dispatcher, the event loops) ---- */

/* What c subscribes to in kind's namespace. */
long long pubsub_client_count(const client *c, enum pubsub_kind kind);
/* Bytes c's subscriptions and waiting messages take (used_memory's clients). */
size_t pubsub_client_bytes(const client *c);
/* c subscribes to something (Redis's CLIENT_PUBSUB): its output class is pubsub, it never
   times out, and in RESP2 it may run only the subscribed-mode commands. */
bool pubsub_client_subscribed(const client *c);

/* ---- for the event loops (net_uring.c) ---- */

/* Messages wait in inboxes of loop `loop`'s subscribers. Any thread, without the lock. */
bool pubsub_has_work(server *s, int loop);
/* Moves loop `loop`'s waiting messages into their subscribers' reply buffers (lock held,
   on the loop's thread). */
void pubsub_deliver(server *s, int loop);
/* Before c's command runs: what waits in its inbox goes to its buffer first (lock held, on
   c's loop). */
void pubsub_flush_inbox(server *s, client *c);

/* Published messages and deliveries to subscribers since start (metrics, INFO). */
uint64_t pubsub_published(server *s);
uint64_t pubsub_delivered(server *s);

#endif

/*
 * notify.h - keyspace notifications as Redis 7.0 sends them: a key event happened (a
 * command changed a key, a key expired or was evicted), and whoever listens is told on
 * the pub/sub channels __keyspace@<db>__:<key> (message: the event) and
 * __keyevent@<db>__:<event> (message: the key), as notify-keyspace-events selects.
 *
 * Commands call notify() where they know what happened; the events wait here until the
 * command's writes are committed (ks_finish) and are published then, in order, and are
 * dropped when its writes are (a failed commit). Inside EXEC they wait for the
 * transaction's commit (multi.c), and are all dropped when that fails. Expired keys and
 * new keys are told by the key layer (keyspace.h key_event_fn), evicted ones by evict.c.
 * With notifications off, notify() is one test of a flag word.
 *
 * Everything runs under the server's lock.
 */
#ifndef SHALE_NOTIFY_H
#define SHALE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "resp.h"
#include "server.h"

/* The classes: Redis's bits and letters (server.h's NOTIFY_*). */
#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC (1 << 2)   /* g */
#define NOTIFY_STRING (1 << 3)    /* $ */
#define NOTIFY_LIST (1 << 4)      /* l */
#define NOTIFY_SET (1 << 5)       /* s */
#define NOTIFY_HASH (1 << 6)      /* h */
#define NOTIFY_ZSET (1 << 7)      /* z */
#define NOTIFY_EXPIRED (1 << 8)   /* x */
#define NOTIFY_EVICTED (1 << 9)   /* e */
#define NOTIFY_STREAM (1 << 10)   /* t (shale has no streams: accepted, never sent) */
#define NOTIFY_KEY_MISS (1 << 11) /* m (not part of A, as in Redis) */
#define NOTIFY_MODULE (1 << 13)   /* d (no modules: accepted, never sent) */
#define NOTIFY_NEW (1 << 14)      /* n (not part of A, as in Redis) */
#define NOTIFY_ALL                                                                                 \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET |       \
     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

/* notify-keyspace-events: the letters as flags (Redis's keyspaceEventsStringToFlags), -1
   for a letter that is no class. */
int notify_parse_classes(const char *letters);
/* The flags as CONFIG GET shows them (keyspaceEventsFlagsToString): classes in Redis's
   order, or "A" alone for all of A's (n is then not shown, as in Redis), then K, E, m.
   buf of at least 16 bytes. */
void notify_format_classes(int flags, char *buf, size_t cap);
/* Redis's error for a letter that is no class. */
#define NOTIFY_CLASS_ERROR "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

/* Listens to the key layer's expiries. */
void notify_init(server *s);
/* Drops what waits (at exit). */
void notify_free(server *s);

/* Queues event (a static string) of class cls about (dbi, key) for publication after the
   commit. */
void notify_queue(server *s, int cls, const char *event, int dbi, const void *key, size_t klen);

/* The event, when notify-keyspace-events selects its class and a channel kind. */
static inline void notify(server *s, int cls, const char *event, int dbi, const void *key,
                          size_t klen)
{
    int f = (int)s->cfg.notify_keyspace_events;
    if ((f & cls) && (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)))
        notify_queue(s, cls, event, dbi, key, klen);
}
/* Whether an event of class cls would be sent (for a command that must look further to
   know which events it has). */
static inline bool notify_wanted(const server *s, int cls)
{
    int f = (int)s->cfg.notify_keyspace_events;
    return (f & cls) && (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT));
}
static inline void notify_arg(server *s, int cls, const char *event, int dbi, const resp_arg *key)
{
    notify(s, cls, event, dbi, key->p, key->len);
}

/* Forgets the "new" event of (dbi, key) the running command queued: a command that
   deletes and writes again a key Redis overwrites (SORT STORE). */
void notify_drop_new(server *s, int dbi, const void *key, size_t klen);
/* A STORE command's events (Redis's): event on dst when it wrote a non-empty result
   (over a key that was there: an overwrite, no "new" for it), else "del" when the empty
   result deleted a key that was there. */
static inline void notify_stored(server *s, int cls, const char *event, int dbi,
                                 const resp_arg *dst, uint64_t size, bool existed)
{
    if (size && existed)
        notify_drop_new(s, dbi, dst->p, dst->len);
    if (size)
        notify(s, cls, event, dbi, dst->p, dst->len);
    else if (existed)
        notify(s, NOTIFY_GENERIC, "del", dbi, dst->p, dst->len);
}
/* A command starts (command_call): a failed commit drops its events from here on. */
void notify_mark(server *s);
/*
 * Where the running command's own client, when subscribed, gets the events (Redis writes
 * them to its subscribers when the command tells them, so in the middle of its reply):
 * between notify_command_begin and notify_command_end (command_dispatch) an event goes to
 * c at the length c->out had when it was told, or after the command's reply when the
 * command called notify_reply_first before telling it (Redis's commands that reply
 * before they tell: LPUSH, HSET, EXPIRE...; a "new" event told earlier stays before).
 * Other subscribers get them when published, after the commit.
 */
void notify_command_begin(server *s, client *c);
void notify_command_end(server *s, client *c);
/* The running command's events told from now on go after its reply (where Redis's
   command calls addReply before notifyKeyspaceEvent). */
void notify_reply_first(server *s);
/* The running command's events told from now on go at c->out's offset `at` (Redis's
   ZPOPMIN tells between its reply's header and its members). */
void notify_reply_at(server *s, const client *c, size_t at);
/* The command's writes were dropped: so are its events. */
void notify_drop_command(server *s);
/* Publishes what waits, in order, unless a transaction (EXEC) is under way. */
void notify_flush(server *s);
/* EXEC's batch failed: every waiting event goes. */
void notify_drop_all(server *s);

#endif

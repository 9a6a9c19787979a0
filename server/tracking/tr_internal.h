/*
 * tr_internal.h - what the tracking room's files share: a client's tracking state, the
 * table of tracked keys (tr_keys.c), the BCAST prefixes, the state that ties them
 * (tracking.c: invalidation and messages; tr_command.c: the CLIENT subcommands).
 */
#ifndef SHALE_TR_INTERNAL_H
#define SHALE_TR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracking.h"

/* A byte string of its own (a prefix, a key waiting to be sent). */
typedef struct tr_str {
    char *p;
    size_t len;
} tr_str;

/* One client's tracking (c->tracking), made on first CLIENT TRACKING ON. */
typedef struct tr_client {
    bool on, bcast, optin, optout, caching, noloop, broken_redir;
    uint64_t redirect_id; /* 0: none */
    client *redir;        /* the client of redirect_id while it is connected */
    tr_str *prefixes;     /* BCAST's, sorted as Redis's radix tree lists them */
    size_t nprefixes, cap;
} tr_client;

/* ---- the table of tracked keys (tr_keys.c): key -> ids of the clients that read it ---- */

typedef struct tr_key {
    struct tr_key *next; /* the bucket's chain */
    uint64_t *ids;
    size_t nids, cap;
    size_t klen;
    char key[];
} tr_key;

typedef struct tr_keys {
    tr_key **buckets;
    size_t nbuckets, n; /* keys */
    uint64_t items;     /* ids over every key (INFO tracking_total_items) */
    uint64_t rnd;
} tr_keys;

int tr_keys_init(tr_keys *t);
void tr_keys_free(tr_keys *t);
/* Every key gone (a flush). */
void tr_keys_clear(tr_keys *t);
/* Adds id to key's clients. 0 or -ENOMEM. */
int tr_keys_add(tr_keys *t, const char *key, size_t klen, uint64_t id);
/* Takes key out of the table: the caller owns the entry (tr_key_free), NULL when absent. */
tr_key *tr_keys_take(tr_keys *t, const char *key, size_t klen);
/* Takes a key chosen at random out of the table (NULL when empty); owned as above. */
tr_key *tr_keys_take_random(tr_keys *t);
void tr_key_free(tr_key *k);

/* ---- BCAST prefixes ---- */

/* A key changed under a prefix, and who changed it last (NOLOOP). */
typedef struct tr_change {
    tr_str key;
    client *writer;
    size_t seq; /* the order made, among the prefix's changes */
} tr_change;

typedef struct tr_prefix {
    tr_str name;
    client **clients; /* in BCAST mode with this prefix */
    size_t nclients, ccap;
    tr_change *changes; /* since the last broadcast, in the order made */
    size_t nchanges, chcap;
} tr_prefix;

/* A message waiting for the end of the running command: an invalidation of key (null
   key.p: a flush, the null message) for target. */
typedef struct tr_pending {
    client *target;
    tr_str key;
    bool flush;
} tr_pending;

typedef struct tracking {
    tr_keys keys;
    tr_prefix *prefixes; /* sorted by name */
    size_t nprefixes, pcap;
    client **clients; /* tracking, sorted by id */
    size_t nclients, ccap;
    int depth;           /* commands running (EXEC's inside EXEC) */
    bool dispatching;    /* in command_dispatch: it sends what the command gathered */
    client *current;     /* the client whose command runs (NOLOOP) */
    uint64_t calls;      /* commands begun so far */
    uint64_t flush_call; /* the call that last sent a flush (FLUSHALL touches 16 dbs) */
    tr_pending *pending;
    size_t npending, pendcap;
    unsigned limit_rounds;  /* Redis's timeout_counter: effort grows while over the limit */
    ks_touch_fn prev_touch; /* the watch table's listeners, called first */
    ks_db_touch_fn prev_db_touch;
    void *prev_ctx;
} tracking;

/* ---- tracking.c, for tr_command.c ---- */

/* Turns c's tracking on with these options (checked already). 0 or -ENOMEM. */
int tr_enable(server *s, client *c, uint64_t redirect_id, client *redir, bool bcast, bool optin,
              bool optout, bool noloop, const tr_str *prefixes, size_t n);
/* The tracking client of id, or NULL. */
client *tr_client_by_id(tracking *t, uint64_t id);
/* bytes order of two strings as Redis's radix tree sorts them. */
int tr_str_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif

/*
 * multi.h - transactions as Redis 7.0 runs them: MULTI queues a client's commands, EXEC
 * runs them one after the other under the server's lock, as one batch of the key layer
 * (ks_txn_begin ... ks_txn_commit), so that a crash keeps all of them or none, and WATCH
 * makes EXEC fail (a null array) when a watched key changed since (watch.c). The
 * commands are in commands/t_multi.c.
 *
 * What EXEC does, in order: a watched key that changed, or one that expired since WATCH
 * (unless it had expired already then), answers a null array; a command refused while
 * queueing (unknown, wrong arity, not allowed in a transaction...) answers EXECABORT;
 * otherwise each command runs as it would alone (its statistics, its slowlog entry),
 * its reply, errors included, one element of EXEC's array; a command's error does not
 * undo the others. Blocking commands do not block: they answer as a timeout would. If
 * the batch cannot be written (an engine error, a -BUSY write stall), nothing of it is,
 * and EXEC answers "EXECABORT Transaction discarded because of: <the error>" instead of
 * the array. Everything here runs under the server's lock.
 */
#ifndef SHALE_MULTI_H
#define SHALE_MULTI_H

#include <stdbool.h>
#include <stddef.h>

#include "command.h"
#include "server.h"

/* One queued command: its row and a copy of its arguments (one allocation). */
typedef struct multi_queued {
    const command *cmd;
    int argc;
    resp_arg *argv; /* into the same allocation */
} multi_queued;

struct watch_entry;

/* A client's transaction state, made on first use (c->mx). */
typedef struct multi_client {
    bool active;     /* between MULTI and EXEC / DISCARD */
    bool dirty_exec; /* a command was refused while queueing: EXEC answers EXECABORT */
    bool dirty_cas;  /* a watched key changed: EXEC answers a null array */
    bool in_exec;    /* EXEC is running the queue */
    bool writes;        /* a queued command writes (multi_queue) */
    bool may_replicate; /* a queued command may write or be replicated */
    multi_queued *q;
    size_t n, cap;
    size_t argv_bytes; /* the queued commands' arguments: bytes and their resp_args */
    struct watch_entry *watches; /* its watched keys (watch.c) */
    size_t nwatches;
} multi_client;

/* Makes the watch table and listens to the key layer. 0 or -ENOMEM. */
int multi_init(server *s);
void multi_free(server *s);

/* ---- for the dispatcher (command.c) ---- */

/* Whether c is between MULTI and EXEC and cmd is one that gets queued (everything but
   EXEC, DISCARD, MULTI, WATCH, QUIT and RESET). */
bool multi_queues(const client *c, const command *cmd);
/* Queues c->cmd (cmd's row) and replies +QUEUED; without memory replies the error and
   flags the transaction. writes, may_replicate: the command's flags as Redis reads them
   when it is queued (command_writes, command_may_replicate), EXEC's then. */
void multi_queue(client *c, const command *cmd, bool writes, bool may_replicate);
/* A command was refused before it ran: inside MULTI, EXEC will answer EXECABORT. */
void multi_flag_error(client *c);
/* EXEC was refused before it ran (arity, auth, disk...), its error replied at out offset
   from: the transaction is discarded and the error becomes EXECABORT's, as Redis's. */
void multi_exec_refused(server *s, client *c, size_t from);
/* The row flags of c's queued commands, or'ed (0 outside MULTI). */
int multi_queued_flags(const client *c);
/* Whether one of c's queued commands writes, or may write or be replicated, as flagged
   when queued (false outside MULTI). */
bool multi_queued_writes(const client *c);
bool multi_queued_may_replicate(const client *c);
/* Whether a blocking command must answer at once rather than block (inside EXEC). */
bool multi_deny_blocking(const client *c);

/* ---- for the commands (t_multi.c) ---- */

/* MULTI: -1 when c is in one already. */
int multi_start(client *c);
/* Whether c is between MULTI and EXEC. */
bool multi_active(const client *c);
/* Memory the queued commands' arguments take (CLIENT LIST's multi-mem, as Redis's
   argv_len_sums); 0 outside MULTI. */
size_t multi_queued_bytes(const client *c);
/* Drops c's queue and its watches and leaves MULTI (DISCARD, EXEC, RESET). */
void multi_discard(server *s, client *c);
/* EXEC (c is in MULTI): replies and leaves MULTI. */
void multi_exec(server *s, client *c);

/* ---- for the connections ---- */

/* c is going away or RESET: its transaction and watches go. */
void multi_client_gone(server *s, client *c);

/* ---- watch.c ---- */

/* WATCH key in c's database (nothing when c is dirty already). 0 or -ENOMEM or a read
   error. */
int watch_key(server *s, client *c, const void *key, size_t klen);
/* UNWATCH: forgets c's watched keys (the caller clears dirty_cas). */
void watch_forget_all(server *s, client *c);
/* EXEC's check: a watched key that was live at WATCH and has expired since. */
bool watch_any_expired(server *s, client *c);
/* The watch table (opaque to others). */
int watch_table_new(server *s);
void watch_table_free(server *s);

#endif

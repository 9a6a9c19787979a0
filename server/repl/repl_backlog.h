/*
 * repl_backlog.h - the replication backlog: the newest log records of the main engine,
 * in memory, for replicas to continue from (docs/server.md, "Replication").
 *
 * The engine's commit tap (shale_options.commit_tap) copies every record here, in
 * sequence order, on whatever thread is the engine's write leader and without the server
 * lock: the backlog has its own mutex, and the tap only copies and signals. It keeps the
 * newest records whose bytes add up to at most repl-backlog-size, as Redis's backlog
 * keeps its newest bytes; the newest record is always kept, even when it alone is larger.
 *
 * Records are reference counted: a reader takes them (repl_backlog_next), sends them
 * without any lock, and drops it (repl_record_unref); the ring may drop it meanwhile.
 *
 * Not here: what the records mean (the replica's side, server/types/ks_apply.c), who
 * reads them (repl_primary.c).
 */
#ifndef SHALE_REPL_BACKLOG_H
#define SHALE_REPL_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One log record: an encoded write batch (write_batch.h) with sequences first..last. */
typedef struct repl_record {
    uint64_t first, last;
    size_t len;
    int refs; /* atomic */
    char rep[];
} repl_record;

typedef struct repl_backlog repl_backlog;

/* A backlog keeping up to limit bytes of records. NULL without memory. */
repl_backlog *repl_backlog_new(uint64_t limit);
/* Frees the backlog (records still referenced by readers live until unreferenced).
   NULL: no-op. Wakes nobody: stop the readers first. */
void repl_backlog_free(repl_backlog *b);
/* A full sync starts (hold) or ends (release): while one runs, the backlog keeps up to
   limit bytes (when above repl-backlog-size), so that the records after its checkpoint
   are still there when its files have been sent, as Redis keeps a syncing replica's
   output up to client-output-buffer-limit's replica limit. */
void repl_backlog_hold(repl_backlog *b, uint64_t limit);
void repl_backlog_release(repl_backlog *b);
/* repl-backlog-size changed: the oldest records go until the rest fits. */
void repl_backlog_set_limit(repl_backlog *b, uint64_t limit);

/* The commit tap (shale_options.commit_tap, ctx: the backlog): copies the record. A
   record that cannot be copied (no memory) empties the backlog: the replicas fall out of
   it and sync again, rather than miss a record. */
void repl_backlog_tap(void *ctx, const void *rep, size_t len);

/* INFO's figures: records held (0: none), the first sequence held (0 when none), and the
   bytes held. */
void repl_backlog_stats(repl_backlog *b, uint64_t *nrecords, uint64_t *first_seq,
                        uint64_t *bytes);

/* Whether a reader that holds everything up to seq can continue from the backlog: the
   record starting at seq + 1 is held, or seq is the last sequence tapped (nothing to send
   yet). last_seq is the engine's last sequence (shale_last_seq), for a backlog that holds
   nothing yet. */
bool repl_backlog_can_continue(repl_backlog *b, uint64_t seq, uint64_t last_seq);

/* Whether a reader at `after` can still continue (its next record is held, or has not
   come yet): false once the backlog dropped it. */
bool repl_backlog_holds_after(repl_backlog *b, uint64_t after);

/*
 * Up to max records from after + 1 on, in order, without waiting: those that add up to
 * max_bytes (at least one when any is there), under one lock (a sender under load takes
 * what came since its last send at once). Returns how many, each a reference the caller
 * drops with repl_record_unref; 0 when none has come yet (wait with repl_backlog_arm);
 * -ERANGE when the backlog no longer holds after + 1 (it was overwritten: the reader fell
 * behind) or went past it without such a record.
 */
int repl_backlog_next(repl_backlog *b, uint64_t after, repl_record **out, int max,
                      size_t max_bytes);
/* Drops every record: the store now holds everything up to seq and the backlog starts
   after it (a full sync put another store in place). */
void repl_backlog_reset(repl_backlog *b, uint64_t seq);
/* Wakes every armed waiter (their readers are asked to stop). */
void repl_backlog_wake(repl_backlog *b);

/* A reader that waits in poll() for a record and for its socket at once: an eventfd the
   tap writes to once when a record comes (the reader's own; it drains it). */
typedef struct repl_waiter {
    int fd;
    struct repl_waiter *next;
} repl_waiter;
/* Arms w for the next record after `after`: false when one is there already (read it
   instead). The tap writes to w->fd once and disarms it; repl_backlog_disarm disarms it
   when the wait ended otherwise (harmless when disarmed already). */
bool repl_backlog_arm(repl_backlog *b, uint64_t after, repl_waiter *w);
void repl_backlog_disarm(repl_backlog *b, repl_waiter *w);

void repl_record_unref(repl_record *r);

#endif

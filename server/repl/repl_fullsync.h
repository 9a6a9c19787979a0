/*
 * repl_fullsync.h - THE FULL-SYNC SEAM: where the transfer of a checkpoint over the link
 * plugs into the replication stream (docs/server.md, "Replication", the link, step 2).
 *
 * The stream (repl_primary.c, repl_replica.c) calls these; repl_fullsync.c does them
 * with the checkpoint (ks_engines_checkpoint), the transfer (repl_sync.h) and the swap
 * (repl_swap.h). A full sync that fails answers "-ERR full sync failed: ..." to the
 * replica, which drops the link and tries again later.
 */
#ifndef SHALE_REPL_FULLSYNC_H
#define SHALE_REPL_FULLSYNC_H

#include <stdint.h>

#include "repl_primary.h"
#include "server.h"

/*
 * Primary side, on the replica's sender thread, without the server lock: sends
 * `+FULLRESYNC <replid> <seq>` (replid: repl_replid(s), read under the lock) and a
 * checkpoint at seq over fd (blocking writes are fine; the socket is non-blocking, so
 * poll it), keeping the files link->have lists, then `*1 $3 end`. The checkpoint must be
 * taken so that the backlog (repl_backlog_of(s)) holds the records from seq + 1 on
 * (repl_backlog_can_continue(b, seq, ...)): the stream continues from there. 0 with *seq
 * set and the backlog held (repl_backlog_hold: the caller releases it once it has caught
 * up), or a negative error (nothing held; the link is dropped).
 */
int repl_fullsync_send(server *s, int fd, const repl_link *link, uint64_t *seq);

/*
 * Replica side, on the replication thread, without the server lock: the primary answered
 * `+FULLRESYNC <replid> <seq>` (the line given); receives the checkpoint from fd (rd
 * holds bytes read past that line) and swaps it in for the node's data (taking the server
 * lock for the swap). After it, shale_last_seq(s->db) is seq, s->db and s->ks are the
 * received store's (its engine opened with the same commit tap: repl_backlog_tap,
 * repl_backlog_of(s); the key layer's counts, mapping and function libraries loaded
 * from it), and the caller (repl_replica.c) then adopts replid, saves it, resets the
 * backlog to start after seq and streams the records from seq + 1. 0, -ENOTSUP (no full
 * sync in this build), or a negative error (the replica drops the link and tries
 * again; the node's data must then be the old store, whole, or the new one, whole).
 */
struct sync_reader;
int repl_fullsync_receive(server *s, int fd, struct sync_reader *rd, const char *replid,
                          uint64_t seq);

/* While a receive runs: the bytes it will read (0 until the primary said) and has read,
   for INFO's master_sync_* fields. Any thread. */
void repl_fullsync_progress(uint64_t *total, uint64_t *read);

/* REPLCONF have's command (RESP, *cmd malloc'ed, the caller's to free; NULL when the
   store has no file to keep) listing the files this store holds, before PSYNC; the list
   is kept for repl_fullsync_receive (one replication thread at a time calls these).
   0 or a negative error. */
int repl_fullsync_have(server *s, char **cmd, size_t *len);

#endif

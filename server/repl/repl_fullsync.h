/*
 * repl_fullsync.h - THE FULL-SYNC SEAM: where the transfer of a checkpoint over the link
 * plugs into the replication stream (docs/server.md, "Replication", the link, step 2).
 *
 * The stream (repl_primary.c, repl_replica.c) calls these; repl_fullsync_stub.c answers
 * -ENOTSUP until the full sync is built (branch replfull), which replaces that file.
 * Meanwhile a replica that needs a full sync gets "-ERR full sync failed: ..." from its
 * primary, drops the link and tries again later.
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
 * set, -ENOTSUP (no full sync in this build), or a negative error (the link is dropped).
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

/* What REPLCONF have lists before PSYNC (the files a replica holds), one argument string
   each into argv (up to cap, as "name" "size" "fingerprint" triples): the number written,
   0 when the replica keeps nothing (the stub), or a negative error. Called on the
   replication thread with the server lock held; the strings are the callee's and must
   stay valid after the lock is released, until the next call (the thread sends them
   without the lock). */
int repl_fullsync_have(server *s, const char **argv, int cap);

#endif

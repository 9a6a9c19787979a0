/*
 * repl_swap.h - a replica puts a received full sync (repl_sync.h: "<dir>.sync", complete)
 * in place of its data directory while the server runs, and a start-up that finds a swap
 * a crash interrupted finishes it or rolls it back.
 *
 * The directories: "<dir>" the data, "<dir>.sync" a complete received checkpoint,
 * "<dir>.sync.tmp" one being received, "<dir>.old" the data being replaced. A swap
 * exchanges "<dir>" and "<dir>.sync" (renameat2 RENAME_EXCHANGE; two renames through
 * "<dir>.old" where the file system has no exchange), syncs the parent directory, then
 * moves the old data to "<dir>.old" and removes it. At every point a crash leaves a
 * "<dir>" that is the old data or the new, or no "<dir>" and one of "<dir>.sync" (new,
 * complete) and "<dir>.old" (old), which repl_swap_recover renames back.
 *
 * Not the transfer (repl_sync.h) nor the link that decides when to swap.
 */
#ifndef SHALE_REPL_SWAP_H
#define SHALE_REPL_SWAP_H

#include <stdbool.h>

#include "server.h"

/*
 * At start-up, before the engine opens dir: "<dir>" present, the leftovers of a swap
 * ("<dir>.sync", "<dir>.sync.tmp", "<dir>.old") are removed (the swap had not happened,
 * or had); "<dir>" missing, "<dir>.sync" (complete by construction) or else "<dir>.old"
 * is renamed to "<dir>" and the parent synced. *what (may be NULL): what it did, for the
 * log ("" when nothing). 0 or -errno.
 */
int repl_swap_recover(const char *dir, const char **what);

/*
 * The directories' part of a swap: "<dir>.sync" becomes "<dir>" and the old "<dir>" ends
 * at "<dir>.old" (not removed), each step durable. exchange false: the two-rename path of
 * a file system without RENAME_EXCHANGE (tests take it on purpose). Sync points
 * "repl_swap:exchanged" / "repl_swap:renamed_old" and "repl_swap:renamed_new" mark the
 * steps. 0 or -errno (-ENOENT: no "<dir>.sync"); on failure before the first rename
 * nothing moved.
 */
int repl_swap_dirs(const char *dir, bool exchange);

/*
 * Replaces the server's data with "<cfg.dir>.sync" (lock held; the caller has stopped
 * the link and its sender threads). Waits for a BGSAVE and a reclaim in progress, closes
 * the keyspace's engines (the event loops' and the commit thread's syncs see no engine
 * meanwhile: ks_detach), swaps the directories (repl_swap_dirs), opens the new store
 * with the server's options and the keyspace over it (ks_attach), loads its function
 * libraries, resets the LRU/LFU table, tells WATCH and tracking that every database
 * changed (as FLUSHALL does) and removes the old data. SCAN cursors are positions, not
 * iterators: they go on over the new data. Errors: -ENOENT (no received directory), an
 * engine error opening the new store, -EINVAL (a library does not load), -errno: the old
 * data is then back in place and open. If even the old data cannot be opened again the
 * process exits (as Redis does when it cannot load after a full sync): a restart then
 * finds the directories consistent.
 */
int repl_swap(server *s);

#endif

/*
 * backup.h - BGSAVE's backup: a checkpoint of the whole data directory (every engine)
 * that replaces the previous one in backup-dir atomically. Not the engine's checkpoint
 * itself (shale_checkpoint) nor the offline tool (shale-tool backup).
 */
#ifndef SHALE_BACKUP_H
#define SHALE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

struct server;

/* Where backups go: backup-dir, or "<dir>.backup" when it is empty. -ENAMETOOLONG. */
int backup_dir_of(const struct server *s, char *out, size_t n);
/*
 * Makes "<backup-dir>.tmp" a checkpoint of every engine (ks_engines_checkpoint), then
 * swaps it with backup-dir in one rename (renameat2 RENAME_EXCHANGE; a plain rename when
 * there is none yet), syncs the parent directory and removes the previous backup. A
 * crash leaves backup-dir holding the old backup or the new one, never a mix; leftovers
 * of an interrupted run are removed by the next. *writes: the engines' sequences summed
 * at the checkpoint. Runs outside the command lock. 0 or -errno / a shale error code.
 */
int backup_make(struct server *s, uint64_t *writes);

#endif

/*
 * dirs.h - directory operations of the server's process (BGSAVE's backups, a replica's
 * full sync): removing a tree and naming a path's parent. Files themselves go through
 * the engine's file layer (engine/file.h: file_rename, file_sync_dir...), which tests can
 * make fail.
 */
#ifndef SHALE_DIRS_H
#define SHALE_DIRS_H

#include <stddef.h>

/* Removes a directory tree (files, one level of directories or more); absent is fine.
   0 or -errno. */
int dirs_remove_tree(const char *dir);
/* path's parent directory ("." for a bare name, "/" for a top-level one) into out. */
void dirs_parent_of(const char *path, char *out, size_t n);

#endif

/*
 * powerloss.h - file.c's hooks into the power-loss simulation (powerloss.c); the test
 * interface is in file.h (file_powerloss_track, file_powerloss_apply).
 */
#ifndef SHALE_POWERLOSS_H
#define SHALE_POWERLOSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POWERLOSS_NAME 48

/* One file's record, in the table the test provides. */
typedef struct powerloss_entry {
    char name[POWERLOSS_NAME]; /* base name in the store's directory */
    uint64_t written;          /* bytes written (end offset) */
    uint64_t durable;          /* bytes a power cut keeps */
    int used, seen;
} powerloss_entry;

/* A directory operation not yet made durable by a sync of the directory. */
enum powerloss_op_kind { PL_CREATE = 1, PL_RENAME, PL_UNLINK };

typedef struct powerloss_op {
    int kind;
    int has_ghost;              /* the file the op removed lives on as ghost */
    int pending;                /* recorded, the call not known to have returned */
    char dir[256];              /* the store's directory (for the ghost) */
    uint64_t seq;               /* order of the ops (a directory sync covers a prefix) */
    char name[POWERLOSS_NAME];  /* created or unlinked; for a rename, the old name */
    char to[POWERLOSS_NAME];    /* a rename's new name */
    char ghost[POWERLOSS_NAME]; /* in POWERLOSS_GHOSTS under the store's directory */
    uint64_t written, durable;  /* the removed file's record (unlink, or rename's victim) */
} powerloss_op;

/* Hard links to what unlinks and renames removed, so a power cut can bring it back. */
#define POWERLOSS_GHOSTS ".powerloss-ghosts"

bool powerloss_on(void);
void powerloss_opened(int fd, const char *path, bool created, bool truncated);
void powerloss_written(int fd, uint64_t end);
/* Returns the written end when a sync begins; powerloss_synced makes it durable. */
uint64_t powerloss_sync_begin(int fd);
void powerloss_synced(int fd, uint64_t written_at_start);
void powerloss_closed(int fd);
/* Directory operations. begin records the operation before the call is made (a kill
   between a call and its record must never leave a later operation recorded and an
   earlier one not), keeping what a rename or unlink removes as a ghost (a hard link);
   end says whether the call succeeded. begin returns a handle for end (0: none). */
uint64_t powerloss_create_begin(const char *path);
uint64_t powerloss_rename_begin(const char *from, const char *to);
uint64_t powerloss_unlink_begin(const char *path);
void powerloss_op_end(uint64_t handle, int kind, const char *path, const char *to, bool ok);
/* A directory sync: the ops recorded before begin are durable once it succeeded. */
uint64_t powerloss_dir_sync_begin(void);
void powerloss_dir_synced(const char *dir, uint64_t begin);

#endif

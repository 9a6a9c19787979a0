/*
 * powerloss.h - file.c's hooks into the power-loss simulation (powerloss.c); the test
 * interface is in file.h (file_powerloss_track, file_powerloss_apply).
 */
#ifndef SHALE_POWERLOSS_H
#define SHALE_POWERLOSS_H

#include <stdbool.h>
#include <stdint.h>

/* One file's record, in the table the test provides. */
typedef struct powerloss_entry {
    char name[48];    /* base name in the store's directory */
    uint64_t written; /* bytes written (end offset) */
    uint64_t durable; /* bytes a power cut keeps */
    int used, seen;
} powerloss_entry;

bool powerloss_on(void);
void powerloss_opened(int fd, const char *path, bool created, bool truncated);
void powerloss_written(int fd, uint64_t end);
/* Returns the written end when a sync begins; powerloss_synced makes it durable. */
uint64_t powerloss_sync_begin(int fd);
void powerloss_synced(int fd, uint64_t written_at_start);
void powerloss_closed(int fd);
void powerloss_renamed(const char *from, const char *to);
void powerloss_unlinked(const char *path);

#endif

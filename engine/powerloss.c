/*
 * powerloss.c - a power-loss simulation for tests (file.h): while tracking is on, every
 * file the engine writes has its written end and its durable end (the written end when
 * its last fsync/fdatasync began) recorded in a table the test provides, typically in
 * memory shared with a parent process. After the writer is killed, the parent cuts every
 * file back to its durable end (a file never synced to nothing): what a power cut
 * would have left of files that are only ever appended, as the engine's are.
 * Not modelled: a rename or unlink whose directory was not synced coming undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "powerloss.h"

#define MAX_FDS 4096

static powerloss_entry *table;
static size_t table_len;
static atomic_int tracking;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static powerloss_entry *by_fd[MAX_FDS];

void file_powerloss_track(void *shm, size_t bytes)
{
    pthread_mutex_lock(&mu);
    table = shm;
    table_len = bytes / sizeof *table;
    memset(table, 0, table_len * sizeof *table);
    atomic_store(&tracking, 1);
    pthread_mutex_unlock(&mu);
}

bool powerloss_on(void)
{
    return atomic_load_explicit(&tracking, memory_order_relaxed) != 0;
}

static powerloss_entry *find(const char *name, bool create)
{
    powerloss_entry *free_slot = NULL;
    for (size_t i = 0; i < table_len; i++) {
        if (table[i].used && strcmp(table[i].name, name) == 0)
            return &table[i];
        if (!table[i].used && !free_slot)
            free_slot = &table[i];
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
    free_slot->used = 1;
    return free_slot;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

void powerloss_opened(int fd, const char *path, bool created, bool truncated)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    powerloss_entry *e = find(base(path), true);
    if (e && (truncated || (created && e->written == 0 && e->durable == 0))) {
        e->written = e->durable = 0;
    } else if (e && !e->seen) {
        /* a file from before tracking began: durable as it is */
        off_t end = lseek(fd, 0, SEEK_END);
        e->written = e->durable = end > 0 ? (uint64_t)end : 0;
    }
    if (e)
        e->seen = 1;
    by_fd[fd] = e;
    pthread_mutex_unlock(&mu);
}

void powerloss_written(int fd, uint64_t end)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    powerloss_entry *e = by_fd[fd];
    if (e && end > e->written)
        e->written = end;
    pthread_mutex_unlock(&mu);
}

uint64_t powerloss_sync_begin(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return 0;
    pthread_mutex_lock(&mu);
    uint64_t w = by_fd[fd] ? by_fd[fd]->written : 0;
    pthread_mutex_unlock(&mu);
    return w;
}

void powerloss_synced(int fd, uint64_t written_at_start)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    powerloss_entry *e = by_fd[fd];
    if (e && written_at_start > e->durable)
        e->durable = written_at_start;
    pthread_mutex_unlock(&mu);
}

void powerloss_closed(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    by_fd[fd] = NULL;
    pthread_mutex_unlock(&mu);
}

void powerloss_renamed(const char *from, const char *to)
{
    pthread_mutex_lock(&mu);
    powerloss_entry *src = find(base(from), false);
    if (src) {
        powerloss_entry *dst = find(base(to), true);
        if (dst && dst != src) {
            dst->written = src->written;
            dst->durable = src->durable;
            dst->seen = 1;
            src->used = 0;
            for (int i = 0; i < MAX_FDS; i++)
                if (by_fd[i] == src)
                    by_fd[i] = dst;
        }
    }
    pthread_mutex_unlock(&mu);
}

void powerloss_unlinked(const char *path)
{
    pthread_mutex_lock(&mu);
    powerloss_entry *e = find(base(path), false);
    if (e)
        e->used = 0;
    pthread_mutex_unlock(&mu);
}

int file_powerloss_apply(const void *shm, size_t bytes, const char *dir)
{
    const powerloss_entry *t = shm;
    size_t n = bytes / sizeof *t;
    int cut = 0;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].used)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, t[i].name);
        uint64_t size;
        if (file_size_path(path, &size) != 0 || size <= t[i].durable)
            continue;
        if (truncate(path, (off_t)t[i].durable) == 0)
            cut++;
    }
    return cut;
}

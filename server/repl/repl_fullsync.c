/*
 * repl_fullsync.c - a full sync over the link (repl_fullsync.h). The primary checkpoints
 * its data directory beside it (hard links: cheap), holds the backlog so that the records
 * after the checkpoint are still there once the files are sent, and sends the files the
 * replica does not have (repl_sync.h). The replica receives them beside its own data
 * directory and swaps them in (repl_swap.h).
 */
#include "repl_fullsync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirs.h"
#include "keyspace.h"
#include "repl.h"
#include "repl_backlog.h"
#include "repl_swap.h"
#include "repl_sync.h"
#include "script.h"
#include "shale.h"
#include "sync_conn.h"

/* What a full sync holds the backlog to: Redis's client-output-buffer-limit for a
   replica (256mb hard), which bounds what it keeps for a replica while its RDB goes. */
#define FULLSYNC_HOLD (256ull << 20)

/* The files the replica listed in its last REPLCONF have, for the receive to check what
   the primary keeps: one replication thread at a time uses them. */
static repl_files listed;

/* INFO's master_sync_* figures while a receive runs. */
static repl_progress progress;

int repl_fullsync_have(server *s, char **cmd, size_t *len)
{
    *cmd = NULL;
    *len = 0;
    int rc = repl_files_list_have(s->cfg.dir, &listed);
    if (rc || listed.n == 0)
        return rc;
    return repl_have_format(&listed, REPL_HAVE_MAX, cmd, len);
}

/* "<dir>.fullsync-<pid>-<n>": a checkpoint's place beside the data directory (the same
   file system, so its files are links). */
static int checkpoint_dir(server *s, char *out, size_t cap)
{
    static unsigned long long count;
    unsigned long long n = __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    int k = snprintf(out, cap, "%s.fullsync-%ld-%llu", s->cfg.dir, (long)getpid(), n);
    return k < 0 || (size_t)k >= cap ? -ENAMETOOLONG : 0;
}

/* The checkpoint at *seq, and +FULLRESYNC naming it. */
static int start(server *s, int fd, const char *dir, int timeout_ms, uint64_t *seq)
{
    int rc = ks_engines_checkpoint(&s->ks, dir, false, NULL, seq);
    if (rc)
        return rc;
    if (!repl_backlog_can_continue(repl_backlog_of(s), *seq, shale_last_seq(s->ks.db)))
        return -ERANGE; /* (the backlog was emptied meanwhile: no memory for a record) */
    char line[128];
    pthread_mutex_lock(&s->lock);
    int n = snprintf(line, sizeof line, "+FULLRESYNC %s %llu\r\n", repl_replid(s),
                     (unsigned long long)*seq);
    pthread_mutex_unlock(&s->lock);
    return sync_write(fd, line, (size_t)n, timeout_ms);
}

int repl_fullsync_send(server *s, int fd, const repl_link *link, uint64_t *seq)
{
    *seq = 0;
    char dir[4096 + 64];
    int rc = checkpoint_dir(s, dir, sizeof dir);
    if (rc)
        return rc;
    int timeout_ms = (int)(link->timeout_s > 0 ? link->timeout_s * 1000 : 60000);
    repl_backlog *b = repl_backlog_of(s);
    repl_backlog_hold(b, FULLSYNC_HOLD); /* before the checkpoint takes its moment */
    rc = start(s, fd, dir, timeout_ms, seq);
    if (rc == 0) {
        fprintf(stderr, "shale-server: full sync: sending a checkpoint at sequence %llu "
                        "(the replica listed %zu files to keep)\n",
                (unsigned long long)*seq, link->have.n);
        rc = repl_send_checkpoint(fd, dir, &link->have, timeout_ms);
    }
    int drc = dirs_remove_tree(dir);
    if (drc && drc != -ENOENT)
        fprintf(stderr, "shale-server: removing the full sync's checkpoint %s: %s\n", dir,
                shale_strerror(drc));
    if (rc) {
        repl_backlog_release(b);
        *seq = 0;
    }
    return rc;
}

int repl_fullsync_receive(server *s, int fd, sync_reader *rd, const char *replid, uint64_t seq)
{
    (void)replid; /* the link adopts it once the data is in place */
    char dest[4096 + 16];
    int rc = repl_sync_dir_of(s->cfg.dir, dest, sizeof dest);
    if (rc)
        return rc;
    repl_recv_args a = {
        .fd = fd,
        .pre = rd->buf + rd->off,
        .pre_len = rd->len - rd->off,
        .data_dir = s->cfg.dir,
        .have = &listed,
        .dest = dest,
        .timeout_ms = (int)(s->cfg.repl_timeout > 0 ? s->cfg.repl_timeout * 1000 : 60000),
        .progress = &progress,
    };
    rd->off = rd->len = 0; /* the receive took those bytes */
    __atomic_store_n(&progress.total_bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&progress.read_bytes, 0, __ATOMIC_RELAXED);
    rc = repl_recv_checkpoint(&a);
    if (rc)
        return rc;
    uint64_t total, read;
    repl_fullsync_progress(&total, &read);
    fprintf(stderr, "shale-server: full sync: received a checkpoint at sequence %llu "
                    "(%llu bytes sent, the rest kept), swapping it in\n",
            (unsigned long long)seq, (unsigned long long)read);
    script_lock_idle(s); /* (a busy script lends the lock: not under its reads) */
    rc = repl_swap(s);
    uint64_t got = rc ? 0 : shale_last_seq(s->ks.db);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0 && got != seq) {
        fprintf(stderr, "shale-server: the full sync's store ends at sequence %llu, not %llu\n",
                (unsigned long long)got, (unsigned long long)seq);
        return -EPROTO;
    }
    return rc;
}

void repl_fullsync_progress(uint64_t *total, uint64_t *read)
{
    repl_progress_read(&progress, total, read);
}

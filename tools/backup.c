/*
 * backup.c - shale-tool backup DIR DEST: a copy of a store's directory (the main engine
 * and every fifo-<id> engine below it) that opens as the store did when the backup began,
 * made from outside the process, while a server may be writing to it.
 *
 * An engine whose lock is free is copied under its lock, in one pass. An engine a server
 * holds is copied without it (docs/tools.md has the argument): the logs are listed first,
 * then CURRENT and the manifest replayed read-only, which names the tables, value-log
 * segments and log position of a version; tables, segments and logs from that position
 * on are hard-linked (copied across file systems), the newest log copied up to its last
 * whole record, and a fresh manifest describing that version written. A store changes no
 * file it has finished, and deletes one only after a manifest record that no longer
 * needs it: a file gone when it is linked (a compaction, a flush, GC or a manifest
 * switch got there first) restarts the engine's pass, and nothing else can differ.
 *
 * What it is not: a checkpoint taken in the process (shale_checkpoint, BGSAVE), nor
 * incremental. Everything is built in "<DEST>.backup-tmp", synced, renamed to DEST.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"
#include "format.h"
#include "shale.h"
#include "shale_tool.h"
#include "version.h"
#include "vlog.h"
#include "wal.h"
#include "write_batch.h"

/* Passes over one engine before giving up on a store that changes faster than it is
   copied (each pass restarts only after a file vanished under it). */
#define MAX_PASSES 50

/* One engine's copy: where from and to, and what it took. */
typedef struct engine_copy {
    const char *src, *dst;
    bool online;    /* a server holds src: files may vanish (then -EAGAIN) */
    uint64_t *logs; /* log numbers listed before the manifest was read, sorted */
    int nlogs, cap_logs;
    progress pg;
    uint64_t files, linked, bytes, last_seq;
    char why[512]; /* why the manifest could not be read, when it could not */
} engine_copy;

static void on_bytes(void *arg, uint64_t n)
{
    engine_copy *e = arg;
    e->bytes += n;
    progress_add(&e->pg, n);
}

static int add_log(engine_copy *e, uint64_t number);

static int collect_log(const char *name, void *arg)
{
    uint64_t number;
    return file_name_parse(name, &number) == FILE_LOG ? add_log(arg, number) : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A file that vanished while a server runs: the pass starts again. */
static int vanished(const engine_copy *e, int rc)
{
    return e->online && rc == -ENOENT ? -EAGAIN : rc;
}

/* Links (or copies) number's file of kind table/log from src to dst. */
static int put_file(engine_copy *e, uint64_t number, bool table)
{
    char from[PATH_MAX], to[PATH_MAX];
    int (*name)(char *, size_t, const char *, uint64_t) = table ? file_name_table : file_name_log;
    if (name(from, sizeof from, e->src, number) < 0 || name(to, sizeof to, e->dst, number) < 0)
        return -ENAMETOOLONG;
    uint64_t size = 0;
    int rc = file_size_path(from, &size);
    if (rc == 0)
        rc = file_link_or_copy(from, to, on_bytes, e);
    if (rc == 1) { /* linked: no bytes copied, but that much backed up */
        e->linked++;
        progress_add(&e->pg, size);
        rc = 0;
    }
    e->files += rc == 0;
    return vanished(e, rc);
}

/* The newest log may still be written to: its records are read (checksums verified) up
   to the last whole one, and that prefix copied. A server's write reaches the file
   before its reply, so every write acknowledged before the read began is in it. A
   record that fails its check while the server runs may be one half written (a reader
   can see a later page of a write before an earlier one): the pass is tried again. */
static int copy_live_log(engine_copy *e, uint64_t number)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (file_name_log(from, sizeof from, e->src, number) < 0 ||
        file_name_log(to, sizeof to, e->dst, number) < 0)
        return -ENAMETOOLONG;
    wal_reader *r;
    int rc = wal_reader_open(from, number, &r);
    if (rc)
        return vanished(e, rc);
    slice rec;
    while ((rc = wal_reader_next(r, &rec)) == 1) {
        uint64_t seq;
        uint32_t count;
        if (batch_rep_header(rec, &seq, &count) == 0 && count && seq + count - 1 > e->last_seq)
            e->last_seq = seq + count - 1;
    }
    uint64_t end = wal_reader_valid_end(r);
    if (rc < 0) {
        fprintf(stderr, "shale-tool: %s: record at offset %" PRIu64 " fails its check (%s)%s\n",
                from, wal_reader_offset(r), shale_strerror(rc), e->online ? "; trying again" : "");
        rc = e->online && rc == SHALE_ECORRUPT ? -EAGAIN : rc;
    }
    wal_reader_close(r);
    if (rc == 0)
        rc = vanished(e, file_copy_prefix(from, to, end, on_bytes, e));
    e->files += rc == 0;
    return rc;
}

/* Appends number to e's log list (grown as needed). */
static int add_log(engine_copy *e, uint64_t number)
{
    if (e->nlogs == e->cap_logs) {
        int cap = e->cap_logs ? 2 * e->cap_logs : 16;
        uint64_t *p = realloc(e->logs, (size_t)cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        e->logs = p;
        e->cap_logs = cap;
    }
    e->logs[e->nlogs++] = number;
    return 0;
}

/* The logs to take: the listed ones from the version's log position on (a log made after
   the listing holds only later writes), and every segment of the version (the one at
   the log position may be newer than the listing). Sorted, each once. */
static int logs_to_take(engine_copy *e, const version_set *vs)
{
    int n = 0;
    for (int i = 0; i < e->nlogs; i++)
        if (e->logs[i] >= vs->log_number)
            e->logs[n++] = e->logs[i];
    e->nlogs = n;
    const version *v = vs->current;
    for (int i = 0; i < v->nsegs; i++) {
        int rc = add_log(e, v->segs[i]->number);
        if (rc)
            return rc;
    }
    qsort(e->logs, (size_t)e->nlogs, sizeof *e->logs, cmp_u64);
    n = 0;
    for (int i = 0; i < e->nlogs; i++)
        if (n == 0 || e->logs[n - 1] != e->logs[i])
            e->logs[n++] = e->logs[i];
    e->nlogs = n;
    return 0;
}

/* The files of vs's version: its tables, and the logs logs_to_take chose. */
static int put_version(engine_copy *e, const version_set *vs)
{
    const version *v = vs->current;
    int rc = 0;
    for (int l = 0; l < v->num_levels && rc == 0; l++)
        for (int i = 0; i < v->nfiles[l] && rc == 0; i++)
            rc = put_file(e, v->files[l][i]->number, true);
    /* Only the newest log can be written to: a store appends to no log once the next one
       exists, except the old log's last buffered records at the roll, which a link
       shares (the inode is the same) and a copy of the next pass takes. */
    for (int i = 0; i < e->nlogs && rc == 0; i++)
        rc = i == e->nlogs - 1 && e->logs[i] >= vs->log_number ? copy_live_log(e, e->logs[i])
                                                               : put_file(e, e->logs[i], false);
    return rc;
}

/* Bytes the pass will link or copy (for the progress display). */
static uint64_t version_bytes(const engine_copy *e, const version_set *vs)
{
    const version *v = vs->current;
    uint64_t total = 0, size;
    char path[PATH_MAX];
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            total += v->files[l][i]->file_size;
    for (int i = 0; i < e->nlogs; i++)
        if (file_name_log(path, sizeof path, e->src, e->logs[i]) > 0 &&
            file_size_path(path, &size) == 0)
            total += size;
    return total;
}

/* One pass: dst (absent) filled with the engine as of now. -EAGAIN: try again. */
static int copy_pass(engine_copy *e, const char *name)
{
    e->nlogs = 0;
    e->files = e->linked = e->bytes = e->last_seq = 0;
    int rc = file_list_dir(e->src, collect_log, e);
    if (rc)
        return rc;
    static shale_options o;
    shale_options_default(&o);
    version_set *vs = NULL;
    e->why[0] = '\0';
    rc = version_set_new(e->src, &o, &vs);
    if (rc == 0)
        rc = version_set_recover(vs, e->why, sizeof e->why);
    if (rc && !e->why[0])
        snprintf(e->why, sizeof e->why, "%s", shale_strerror(rc));
    if (rc && e->online)
        rc = -EAGAIN; /* CURRENT named a manifest replaced meanwhile: read them again */
    if (rc == 0)
        rc = logs_to_take(e, vs);
    if (rc == 0)
        rc = file_mkdir(e->dst);
    if (rc == 0) {
        e->last_seq = vs->last_seq;
        progress_start(&e->pg, name, version_bytes(e, vs));
        rc = put_version(e, vs);
        progress_end(&e->pg);
    }
    if (rc == 0)
        rc = version_set_write_manifest_in(vs, vs->current, e->dst, vs->manifest_number,
                                           vs->log_number, vs->log_offset, vs->last_seq);
    if (vs)
        version_set_free(vs);
    return rc;
}

/* Copies the engine in src to dst (absent), under src's lock when it is free. */
static int copy_engine(const char *src, const char *dst, const char *name)
{
    char lock[PATH_MAX];
    if (file_name_lock(lock, sizeof lock, src) < 0)
        return -ENAMETOOLONG;
    int lfd = -1;
    int rc = file_lock(lock, &lfd);
    if (rc && rc != SHALE_EBUSY)
        return rc;
    engine_copy e = {.src = src, .dst = dst, .online = rc == SHALE_EBUSY};
    rc = -EAGAIN;
    for (int pass = 0; pass < MAX_PASSES && rc == -EAGAIN; pass++) {
        if (pass > 0) {
            file_remove_tree(dst);
            nanosleep(&(struct timespec){0, 10000000L * pass}, NULL);
        }
        rc = copy_pass(&e, name);
    }
    if (e.why[0] && rc)
        fprintf(stderr, "shale-tool: %s: the manifest cannot be read: %s\n", src, e.why);
    else if (rc == -EAGAIN)
        fprintf(stderr, "shale-tool: %s changed under every one of %d passes\n", src, MAX_PASSES);
    if (rc == 0)
        printf("%s: %" PRIu64 " files (%" PRIu64 " linked, %" PRIu64 " bytes copied), "
               "sequences up to %" PRIu64 "%s\n",
               name, e.files, e.linked, e.bytes, e.last_seq,
               e.online ? " (copied while a server ran)" : "");
    free(e.logs);
    file_unlock(lfd);
    return rc;
}

typedef struct tree_copy {
    const char *src, *dst;
    int rc;
} tree_copy;

/* Each fifo-<id> directory: an engine of its own. */
static int copy_fifo(const char *name, void *arg)
{
    tree_copy *t = arg;
    if (strncmp(name, TOOL_FIFO_PREFIX, strlen(TOOL_FIFO_PREFIX)) != 0)
        return 0;
    char src[PATH_MAX], dst[PATH_MAX];
    if (snprintf(src, sizeof src, "%s/%s", t->src, name) >= (int)sizeof src ||
        snprintf(dst, sizeof dst, "%s/%s", t->dst, name) >= (int)sizeof dst)
        return -ENAMETOOLONG;
    if (tool_is_store(src) != 1)
        return 0;
    return copy_engine(src, dst, name);
}

static int backup(const char *dir, const char *dest)
{
    char tmp[PATH_MAX], parent[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.backup-tmp", dest) >= (int)sizeof tmp ||
        tool_parent_dir(dest, parent, sizeof parent))
        return -ENAMETOOLONG;
    int rc = file_remove_tree(tmp); /* a crashed backup's */
    if (rc && rc != -ENOENT)
        return rc;
    rc = copy_engine(dir, tmp, "backup");
    tree_copy t = {dir, tmp, 0};
    if (rc == 0)
        rc = file_list_dir(dir, copy_fifo, &t);
    if (rc == 0)
        rc = file_sync_tree(tmp);
    if (rc == 0)
        rc = file_rename(tmp, dest);
    if (rc == 0)
        return file_sync_dir(parent);
    file_remove_tree(tmp);
    return rc;
}

int tool_backup(int argc, char **argv)
{
    const char *usage = "usage: shale-tool backup DIR DEST\n"
                        "Copies the store in DIR (its fifo-<id> databases too) to DEST, which\n"
                        "must not exist, while a server may run on DIR: hard links where DEST\n"
                        "is on the same file system, copies otherwise. The backup holds every\n"
                        "write acknowledged before the command started. Exit 0 done, 4 failed.\n";
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return TOOL_OK;
    }
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        fputs(usage, stderr);
        return TOOL_USAGE;
    }
    const char *dir = argv[1], *dest = argv[2];
    if (tool_is_store(dir) != 1) {
        fprintf(stderr, "shale-tool: %s is not a shale store (no CURRENT file)\n", dir);
        return TOOL_FAILED;
    }
    if (file_exists(dest) != 0) {
        fprintf(stderr, "shale-tool: %s exists: a backup goes to a new directory\n", dest);
        return TOOL_FAILED;
    }
    int rc = backup(dir, dest);
    if (rc) {
        fprintf(stderr, "shale-tool: backup of %s failed: %s (%s is not made)\n", dir,
                shale_strerror(rc), dest);
        return TOOL_FAILED;
    }
    printf("backup of %s in %s: done\n", dir, dest);
    return TOOL_OK;
}

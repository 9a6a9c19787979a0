/*
 * restore.c - shale-tool restore [--force] [--link] BACKUP DIR: puts a backup (of
 * shale-tool backup, BGSAVE or shale_checkpoint) in place as DIR's store.
 *
 * The backup is checked first as `shale-tool check` does (a damaged one is refused, the
 * damage printed). DIR must not be in use (its lock is held throughout) and must be
 * absent or empty unless --force. The copy is built in "<DIR>.restore-tmp", every file
 * and directory synced, then swapped with DIR in one renameat2(RENAME_EXCHANGE) (a
 * rename when DIR is absent): a crash leaves DIR as it was or as restored. The old
 * contents end up in "<DIR>.old-<unix time>", kept for the operator to delete once the
 * restored store is known good.
 *
 * What it is not: a merge. DIR's old store is set aside whole, never mixed with the new.
 */
#include <errno.h>
#include <fcntl.h>
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

typedef struct restore_job {
    bool link;
    progress pg;
    uint64_t files, linked, bytes, total;
} restore_job;

typedef struct tree_walk {
    const char *src, *dst;
    restore_job *job;
} tree_walk;

static void on_bytes(void *arg, uint64_t n)
{
    restore_job *j = arg;
    j->bytes += n;
    progress_add(&j->pg, n);
}

/* What a restore takes from a store's directory: its data files; fifo-<id> directories
   hold stores of their own. LOCK, LOG (the engine's messages) and temporaries stay. */
static bool is_data(const char *name, bool *dir)
{
    uint64_t number;
    enum file_type t = file_name_parse(name, &number);
    *dir = t == FILE_UNKNOWN && strncmp(name, TOOL_FIFO_PREFIX, strlen(TOOL_FIFO_PREFIX)) == 0;
    return *dir || t == FILE_TABLE || t == FILE_LOG || t == FILE_MANIFEST || t == FILE_CURRENT;
}

static int walk(const char *src, const char *dst, restore_job *j,
                int (*fn)(const char *name, void *arg));

/* Adds a file's size to the total (the first walk). */
static int size_one(const char *name, void *arg)
{
    tree_walk *w = arg;
    bool dir;
    char path[PATH_MAX];
    uint64_t size = 0;
    if (!is_data(name, &dir))
        return 0;
    if (snprintf(path, sizeof path, "%s/%s", w->src, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    if (dir)
        return walk(path, NULL, w->job, size_one);
    int rc = file_size_path(path, &size);
    w->job->total += size;
    return rc;
}

/* Links (tables and logs, with --link) or copies one entry, directories entry by entry. */
static int put_one(const char *name, void *arg)
{
    tree_walk *w = arg;
    bool dir;
    char from[PATH_MAX], to[PATH_MAX];
    if (!is_data(name, &dir))
        return 0;
    if (snprintf(from, sizeof from, "%s/%s", w->src, name) >= (int)sizeof from ||
        snprintf(to, sizeof to, "%s/%s", w->dst, name) >= (int)sizeof to)
        return -ENAMETOOLONG;
    if (dir) {
        int rc = file_mkdir(to);
        return rc ? rc : walk(from, to, w->job, put_one);
    }
    uint64_t number, size = 0;
    enum file_type t = file_name_parse(name, &number);
    int rc = file_size_path(from, &size);
    /* CURRENT and the manifest are always copied: the restored store replaces them by
       rename, but a copy keeps the backup's own untouched whatever it does. */
    if (rc == 0 && w->job->link && (t == FILE_TABLE || t == FILE_LOG))
        rc = file_link_or_copy(from, to, on_bytes, w->job);
    else if (rc == 0)
        rc = file_copy_prefix(from, to, UINT64_MAX, on_bytes, w->job);
    if (rc == 1) {
        w->job->linked++;
        progress_add(&w->job->pg, size);
        rc = 0;
    }
    w->job->files += rc == 0;
    return rc;
}

static int walk(const char *src, const char *dst, restore_job *j,
                int (*fn)(const char *name, void *arg))
{
    tree_walk w = {src, dst, j};
    return file_list_dir(src, fn, &w);
}

/* Whether dir holds anything but the LOCK file taking its lock made: 1, 0 or -errno. */
static int not_empty(const char *name, void *arg)
{
    (void)arg;
    return strcmp(name, "LOCK") != 0;
}

/* Puts tmp in dir's place; dir's old contents (when dir existed) end up in aside. */
static int swap_in(const char *tmp, const char *dir, bool existed, const char *aside)
{
    if (!existed)
        return file_rename(tmp, dir);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0)
        return file_rename(tmp, aside); /* tmp's name now holds the old contents */
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* No exchange on this file system: two renames; a crash between them leaves no DIR,
       the old contents in aside and the restored store in tmp. */
    int rc = file_rename(dir, aside);
    return rc ? rc : file_rename(tmp, dir);
}

typedef struct target {
    const char *dir;
    bool existed, empty;
    int lock_fd;
} target;

/* Locks DIR when it exists and learns whether it is empty: TOOL_OK or an exit code. */
static int examine_target(target *t)
{
    t->lock_fd = -1;
    int rc = file_exists(t->dir);
    t->existed = rc == 1;
    t->empty = true;
    if (rc < 0) {
        fprintf(stderr, "shale-tool: cannot use %s: %s\n", t->dir, shale_strerror(rc));
        return TOOL_FAILED;
    }
    if (!t->existed)
        return TOOL_OK;
    rc = tool_lock(t->dir, &t->lock_fd);
    if (rc)
        return rc;
    rc = file_list_dir(t->dir, not_empty, NULL);
    if (rc < 0) {
        fprintf(stderr, "shale-tool: cannot read %s: %s\n", t->dir, shale_strerror(rc));
        return TOOL_FAILED;
    }
    t->empty = rc == 0;
    return TOOL_OK;
}

/* Copies backup into tmp and swaps it in as t->dir: 0 or a negative code. */
static int restore(const char *backup, target *t, const char *tmp, const char *aside,
                   restore_job *j)
{
    char parent[PATH_MAX];
    int rc = tool_parent_dir(t->dir, parent, sizeof parent);
    if (rc == 0)
        rc = file_remove_tree(tmp); /* a crashed restore's */
    if (rc && rc != -ENOENT)
        return rc;
    rc = walk(backup, NULL, j, size_one);
    if (rc == 0)
        rc = file_mkdir(tmp);
    if (rc)
        return rc;
    progress_start(&j->pg, "restore", j->total);
    rc = walk(backup, tmp, j, put_one);
    progress_end(&j->pg);
    if (rc == 0)
        rc = file_sync_tree(tmp);
    if (rc == 0)
        rc = swap_in(tmp, t->dir, t->existed, aside);
    if (rc) {
        file_remove_tree(tmp);
        return rc;
    }
    if (t->existed && t->empty)
        file_remove_tree(aside); /* an empty directory (and the LOCK made to hold it) */
    return file_sync_dir(parent);
}

static const char usage[] =
    "usage: shale-tool restore [--force] [--link] BACKUP DIR\n"
    "Checks BACKUP as 'check' does (a damaged one is refused), then copies it into DIR,\n"
    "which must not be in use and must be absent or empty; --force sets a non-empty DIR\n"
    "aside as DIR.old-<time> (kept). --link hard-links tables and logs instead of copying\n"
    "them where BACKUP is on the same file system. Exit 0 done, 1 the backup is damaged,\n"
    "2 bad arguments, 3 DIR or BACKUP in use, 4 DIR not empty or the restore failed.\n";

int tool_restore(int argc, char **argv)
{
    restore_job j = {0};
    bool force = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (strcmp(argv[i], "--link") == 0)
            j.link = true;
        else if (strcmp(argv[i], "--help") == 0)
            return fputs(usage, stdout), TOOL_OK;
        else
            return fputs(usage, stderr), TOOL_USAGE;
    }
    if (argc - i != 2)
        return fputs(usage, stderr), TOOL_USAGE;
    const char *backup = argv[i];
    target t = {.dir = argv[i + 1]};
    if (tool_is_store(backup) != 1) {
        fprintf(stderr, "shale-tool: %s is not a backup of a store (no CURRENT file)\n", backup);
        return TOOL_FAILED;
    }
    int rc = tool_check_tree(backup);
    if (rc == TOOL_DAMAGED)
        fprintf(stderr, "shale-tool: %s is damaged (see the DAMAGED lines): not restored\n",
                backup);
    if (rc)
        return rc;
    rc = examine_target(&t);
    if (rc == TOOL_OK && !t.empty && !force) {
        fprintf(stderr,
                "shale-tool: %s is not empty: restore into a new or empty directory, "
                "or add --force to set its contents aside\n",
                t.dir);
        rc = TOOL_FAILED;
    }
    char tmp[PATH_MAX], aside[PATH_MAX];
    if (rc == TOOL_OK && (snprintf(tmp, sizeof tmp, "%s.restore-tmp", t.dir) >= (int)sizeof tmp ||
                          snprintf(aside, sizeof aside, "%s.old-%lld", t.dir,
                                   (long long)time(NULL)) >= (int)sizeof aside)) {
        fprintf(stderr, "shale-tool: %s: name too long\n", t.dir);
        rc = TOOL_FAILED;
    }
    if (rc == TOOL_OK) {
        int err = restore(backup, &t, tmp, aside, &j);
        if (err) {
            fprintf(stderr, "shale-tool: restore into %s failed: %s (%s is as it was)\n", t.dir,
                    shale_strerror(err), t.dir);
            rc = TOOL_FAILED;
        }
    }
    file_unlock(t.lock_fd);
    if (rc)
        return rc;
    printf("restored %s into %s: %" PRIu64 " files (%" PRIu64 " linked, %" PRIu64
           " bytes copied)\n",
           backup, t.dir, j.files, j.linked, j.bytes);
    if (t.existed && !t.empty)
        printf("the previous contents of %s are in %s\n", t.dir, aside);
    return TOOL_OK;
}

/*
 * file_copy.c - whole files and directory trees through file.c (so faults can be
 * injected): a prefix of a file copied, a hard link or a copy where the file system
 * refuses links, a tree synced or removed. Checkpoints and shale-tool's backup and
 * restore build directories with them.
 *
 * What it is not: a general file manager. Trees are what a store's directory holds:
 * plain files and directories of plain files (fifo-<id>); nothing is followed through a
 * symbolic link.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "file.h"
#include "format.h"
#include "shale.h"

#define COPY_CHUNK (1u << 20)

int file_copy_prefix(const char *from, const char *to, uint64_t len, file_progress_fn on_bytes,
                     void *arg)
{
    int in, out;
    int rc = file_open_read(from, &in);
    if (rc)
        return rc;
    rc = file_open_write(to, true, &out);
    if (rc) {
        file_close(in);
        return rc;
    }
    char *chunk = malloc(COPY_CHUNK);
    if (!chunk)
        rc = -ENOMEM;
    for (uint64_t off = 0; rc == 0 && off < len;) {
        size_t want = len - off < COPY_CHUNK ? (size_t)(len - off) : COPY_CHUNK;
        ssize_t n = file_pread(in, chunk, want, off);
        if (n < 0)
            rc = (int)n;
        else if (n == 0 && len != UINT64_MAX)
            rc = SHALE_ECORRUPT; /* shorter than what was written to it */
        else if (n == 0)
            break;
        else
            rc = file_write(out, chunk, (size_t)n);
        off += n > 0 ? (uint64_t)n : 0;
        if (rc == 0 && n > 0 && on_bytes)
            on_bytes(arg, (uint64_t)n);
    }
    free(chunk);
    file_close(in);
    int crc = file_close(out);
    return rc ? rc : crc;
}

int file_link_or_copy(const char *from, const char *to, file_progress_fn on_bytes, void *arg)
{
    int rc = file_link(from, to);
    if (rc == 0)
        return 1;
    if (rc == -EXDEV || rc == -EPERM || rc == -EMLINK || rc == -ENOTSUP || rc == -ENOSYS)
        rc = file_copy_prefix(from, to, UINT64_MAX, on_bytes, arg);
    return rc;
}

typedef struct tree_op {
    const char *dir;
    int (*fn)(const char *path);
} tree_op;

static int on_each(const char *name, void *arg)
{
    const tree_op *t = arg;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", t->dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    return t->fn(path);
}

static int sync_file(const char *path)
{
    int fd;
    int rc = file_open_read(path, &fd);
    if (rc)
        return rc;
    rc = file_fsync(fd); /* a link shares the inode: this syncs the linked file too */
    int crc = file_close(fd);
    return rc ? rc : crc;
}

int file_sync_tree(const char *dir)
{
    tree_op t = {dir, file_sync_tree};
    int rc = file_list_dir(dir, on_each, &t);
    if (rc == -ENOTDIR)
        return sync_file(dir);
    return rc ? rc : file_sync_dir(dir);
}

int file_remove_tree(const char *dir)
{
    int rc = file_unlink(dir);
    if (rc != -EISDIR)
        return rc;
    tree_op t = {dir, file_remove_tree};
    rc = file_list_dir(dir, on_each, &t);
    return rc ? rc : file_rmdir(dir);
}

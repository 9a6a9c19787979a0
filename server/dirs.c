/*
 * dirs.c - directory operations of the server's process (dirs.h).
 */
#include "dirs.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -errno;
}

int dirs_remove_tree(const char *dir)
{
    if (access(dir, F_OK) != 0)
        return errno == ENOENT ? 0 : -errno;
    int rc = nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc < 0 ? -errno : rc;
}

void dirs_parent_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (slash == path)
        snprintf(out, n, "/");
    else if (slash)
        snprintf(out, n, "%.*s", (int)(slash - path), path);
    else
        snprintf(out, n, ".");
}

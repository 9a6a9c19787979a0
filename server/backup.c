/*
 * backup.c - BGSAVE's backup (backup.h): every engine checkpointed into a temporary
 * directory beside backup-dir, then swapped in with one rename.
 */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dirs.h"
#include "keyspace.h"
#include "server.h"

int backup_dir_of(const server *s, char *out, size_t n)
{
    int len = s->cfg.backup_dir[0] ? snprintf(out, n, "%s", s->cfg.backup_dir)
                                   : snprintf(out, n, "%s.backup", s->cfg.dir);
    return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Puts tmp in dest's place; the old dest (if any) ends up under tmp's name. */
static int swap_in(const char *tmp, const char *dest)
{
    if (access(dest, F_OK) != 0)
        return rename(tmp, dest) == 0 ? 0 : -errno;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_EXCHANGE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* A file system without the exchange: two renames; a crash between them leaves the
       old backup under "<backup-dir>.old" and the new one under its temporary name. */
    char old[4096 + 8];
    snprintf(old, sizeof old, "%s.old", dest);
    int rc = dirs_remove_tree(old);
    if (rc == 0 && rename(dest, old) != 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = -errno;
    if (rc == 0 && rename(old, tmp) != 0)
        rc = -errno;
    return rc;
}

int backup_make(server *s, uint64_t *writes)
{
    char dest[4096], tmp[4096 + 8], parent[4096];
    int rc = backup_dir_of(s, dest, sizeof dest);
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    dirs_parent_of(dest, parent, sizeof parent);
    rc = dirs_remove_tree(tmp); /* an interrupted run's, or the backup before the last */
    if (rc == 0)
        rc = ks_engines_checkpoint(&s->ks, tmp, true, writes, NULL);
    if (rc == 0)
        rc = swap_in(tmp, dest);
    if (rc == 0)
        rc = sync_dir(parent);
    dirs_remove_tree(tmp); /* the previous backup, or what a failure left */
    return rc;
}

/*
 * repl_swap.c - a received full sync put in place of the data directory (repl_swap.h):
 * the directories exchanged crash-safely, the store closed and opened again under the
 * running server, and the start-up recovery of a swap a crash interrupted.
 */
#include "repl_swap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "dirs.h"
#include "file.h"
#include "functions.h"
#include "repl_sync.h"
#include "store.h"
#include "sync_point.h"

#define SWAP_PATH 4200

typedef struct swap_paths {
    char dir[SWAP_PATH], sync[SWAP_PATH], tmp[SWAP_PATH], old[SWAP_PATH], parent[SWAP_PATH];
} swap_paths;

static int paths_of(const char *dir, swap_paths *p)
{
    int n = snprintf(p->dir, sizeof p->dir, "%s", dir);
    if (n <= 0 || (size_t)n >= 4096)
        return -ENAMETOOLONG;
    while (n > 1 && p->dir[n - 1] == '/') /* "data/" names the same directory */
        p->dir[--n] = '\0';
    int rc = repl_sync_dir_of(p->dir, p->sync, sizeof p->sync);
    if (rc)
        return rc;
    snprintf(p->tmp, sizeof p->tmp, "%s.tmp", p->sync);
    snprintf(p->old, sizeof p->old, "%s.old", p->dir);
    dirs_parent_of(p->dir, p->parent, sizeof p->parent);
    return 0;
}

static bool present(const char *path)
{
    return access(path, F_OK) == 0;
}

/* ---- the directories ---- */

/* A step after the new data is in place failed: the swap stands (a crash would leave
   the old data or the new, both whole; the next start or sync removes the leftovers). */
static void note_late_failure(const char *step, int rc)
{
    if (rc)
        fprintf(stderr, "shale-server: full sync: %s: %s (the new data is in place)\n", step,
                shale_strerror(rc));
}

/* "<dir>.sync" <-> "<dir>" in one step; -EINVAL/-ENOSYS where there is no exchange. */
static int exchange_dirs(const swap_paths *p)
{
    if (renameat2(AT_FDCWD, p->sync, AT_FDCWD, p->dir, RENAME_EXCHANGE) != 0)
        return -errno;
    note_late_failure("syncing the parent directory", file_sync_dir(p->parent));
    SYNC_POINT("repl_swap:exchanged");
    /* the old data, now at "<dir>.sync", moves to "<dir>.old": a recovery that finds
       "<dir>" removes both names alike */
    int rc = dirs_remove_tree(p->old);
    rc = rc ? rc : file_rename(p->sync, p->old);
    rc = rc ? rc : file_sync_dir(p->parent);
    note_late_failure("moving the old data aside", rc);
    return 0;
}

/* The same in two renames, the first made durable before the second. */
static int rename_dirs(const swap_paths *p)
{
    int rc = dirs_remove_tree(p->old);
    rc = rc ? rc : file_rename(p->dir, p->old);
    if (rc)
        return rc;
    rc = file_sync_dir(p->parent);
    if (rc == 0) {
        SYNC_POINT("repl_swap:renamed_old");
        rc = file_rename(p->sync, p->dir);
    }
    if (rc) {
        file_rename(p->old, p->dir); /* back as it was (or the next start does it) */
        return rc;
    }
    note_late_failure("syncing the parent directory", file_sync_dir(p->parent));
    SYNC_POINT("repl_swap:renamed_new");
    return 0;
}

int repl_swap_dirs(const char *dir, bool exchange)
{
    swap_paths p;
    int rc = paths_of(dir, &p);
    if (rc)
        return rc;
    if (!present(p.sync))
        return -ENOENT;
    if (exchange) {
        rc = exchange_dirs(&p);
        if (rc != -EINVAL && rc != -ENOSYS)
            return rc;
    }
    return rename_dirs(&p);
}

/* Puts "<dir>.old" back in place of a new "<dir>" that would not open. */
static int swap_back(const swap_paths *p)
{
    int rc = dirs_remove_tree(p->sync);
    rc = rc ? rc : file_rename(p->dir, p->sync); /* the new data, removed below */
    rc = rc ? rc : file_rename(p->old, p->dir);
    rc = rc ? rc : file_sync_dir(p->parent);
    dirs_remove_tree(p->sync);
    return rc;
}

int repl_swap_recover(const char *dir, const char **what)
{
    const char *did = "";
    swap_paths p;
    int rc = paths_of(dir, &p);
    if (rc == 0 && present(p.dir)) {
        if (present(p.sync) || present(p.tmp) || present(p.old))
            did = "removed a full sync's leftovers";
        rc = dirs_remove_tree(p.tmp);
        rc = rc ? rc : dirs_remove_tree(p.sync);
        rc = rc ? rc : dirs_remove_tree(p.old);
    } else if (rc == 0 && (present(p.sync) || present(p.old))) {
        bool finish = present(p.sync);
        did = finish ? "finished a full sync's swap a crash interrupted"
                     : "rolled back a full sync's swap a crash interrupted";
        rc = file_rename(finish ? p.sync : p.old, p.dir);
        rc = rc ? rc : file_sync_dir(p.parent);
        rc = rc ? rc : dirs_remove_tree(p.old);
        rc = rc ? rc : dirs_remove_tree(p.tmp);
    }
    if (what)
        *what = did;
    return rc;
}

/* ---- the server's store ---- */

/* Closes the keyspace's engines and the main engine; what failed is told, not fatal: the
   data is being replaced. */
static void close_store(server *s)
{
    int rc = ks_detach(&s->ks);
    int mrc = shale_close(s->db);
    s->db = NULL;
    if (rc || mrc)
        fprintf(stderr, "shale-server: full sync: closing the replaced store: %s\n",
                shale_strerror(rc ? rc : mrc));
}

/* Opens the store at cfg.dir as start-up does, the keyspace over it and its libraries. */
static int open_store(server *s)
{
    shale_options o, fifo;
    server_store_options(s, &o, &fifo);
    s->ks.fifo_options = fifo;
    shale_db *db = NULL;
    int rc = shale_open(s->cfg.dir, &o, &db);
    if (rc)
        return rc;
    s->db = db;
    rc = ks_attach(&s->ks, db);
    if (rc == 0) /* in the same functions' state: the loops read it without the lock */
        rc = functions_reload(s);
    if (rc) {
        close_store(s);
        return rc;
    }
    caps_refresh(s);
    return 0;
}

/* What the server kept about the replaced data: key accesses, counters, watchers. */
static void forget_old_data(server *s)
{
    access_free(&s->access);
    if (access_init(&s->access, ks_now_ms()))
        fprintf(stderr, "shale-server: full sync: out of memory for the LRU/LFU table\n");
    s->bgsave.seq_at_save = ks_engines_writes(&s->ks);
    s->caps.pending_disk = s->caps.pending_memory = 0;
    for (int i = 0; s->ks.db_touch_fn && i < KS_DBS; i++)
        s->ks.db_touch_fn(s->ks.touch_ctx, i, -1); /* WATCH fails, tracking invalidates */
}

int repl_swap(server *s)
{
    swap_paths p;
    int rc = paths_of(s->cfg.dir, &p);
    if (rc)
        return rc;
    if (!present(p.sync))
        return -ENOENT;
    server_bgsave_wait(s);
    caps_stop(s);
    close_store(s);
    SYNC_POINT("repl_swap:closed");
    rc = repl_swap_dirs(s->cfg.dir, true);
    if (rc == 0) {
        rc = open_store(s);
        if (rc && swap_back(&p) != 0) {
            fprintf(stderr, "shale-server: full sync: the new data does not open (%s) and the "
                            "old cannot be put back: exiting\n", shale_strerror(rc));
            exit(1);
        }
    }
    if (rc) {
        int orc = s->db ? 0 : open_store(s); /* the old data, in place again */
        if (orc) {
            fprintf(stderr, "shale-server: full sync failed (%s) and the old data does not "
                            "open again (%s): exiting\n", shale_strerror(rc), shale_strerror(orc));
            exit(1);
        }
        forget_old_data(s);
        return rc;
    }
    forget_old_data(s);
    int drc = dirs_remove_tree(p.old);
    if (drc)
        fprintf(stderr, "shale-server: full sync: cannot remove %s (%s): the next start does\n",
                p.old, shale_strerror(drc));
    return 0;
}

/*
 * checkpoint.c - shale_checkpoint: an openable copy of the store as of one moment, made
 * while it runs (RocksDB's Checkpoint). Tables and closed logs are immutable, so they are
 * hard-linked (copied where the file system refuses links); the active log is copied up
 * to a record boundary taken as the write leader; a fresh manifest describes the version
 * of that moment. Nothing is built under dest itself: a temporary directory beside it is
 * filled, every file and the directory synced, and then renamed to dest, so a crash
 * leaves either no dest or a whole one.
 *
 * What it is not: an incremental or remote backup (shale-tool backup works from outside
 * the process; replication streams a checkpoint's files).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "file.h"
#include "format.h"
#include "sync_point.h"
#include "vlog.h"

/* The store as of the barrier: what the checkpoint holds. */
typedef struct ckpt_plan {
    version *v; /* referenced: its tables and segments stay until the unref */
    uint64_t log_number, log_offset, manifest_last_seq;
    uint64_t active_log, active_size; /* the active log's records end there */
    uint64_t manifest_number;         /* taken from the store's numbers: unused there */
    uint64_t last_seq;
} ckpt_plan;

/* Runs as the write leader (mu held): no write is between its log append and its
   visibility, so the active log ends at a record boundary holding exactly last_seq. */
static int take_plan(shale_db *db, void *arg)
{
    ckpt_plan *p = arg;
    if (atomic_load(&db->bg_error))
        return SHALE_EFAILED; /* the log may end in a failed write's remains */
    int rc = wal_writer_flush(db->wal->w); /* manual_wal_flush: buffered records */
    if (rc)
        return rc;
    version_set *vs = db->vs;
    p->v = vs->current;
    version_ref(p->v);
    p->log_number = vs->log_number;
    p->log_offset = vs->log_offset;
    p->manifest_last_seq = vs->last_seq;
    p->active_log = db->wal->number;
    p->active_size = wal_writer_size(db->wal->w);
    p->manifest_number = version_set_new_file_number(vs);
    p->last_seq = atomic_load_explicit(&db->last_seq, memory_order_acquire);
    return 0;
}

/* A hard link, or a whole copy where the file system has none to give. */
static int link_or_copy(const char *from, const char *to)
{
    SYNC_POINT("checkpoint:file");
    int rc = file_link_or_copy(from, to, NULL, NULL);
    return rc < 0 ? rc : 0;
}

typedef struct ckpt_job {
    shale_db *db;
    const char *tmp;
    ckpt_plan *plan;
    int rc;
} ckpt_job;

/* Logs from the plan's log number to the active one: replayed by the checkpoint's open. */
static int put_log(const char *name, void *arg)
{
    ckpt_job *j = arg;
    uint64_t number;
    if (file_name_parse(name, &number) != FILE_LOG || number < j->plan->log_number ||
        number > j->plan->active_log)
        return 0; /* older logs that are segments come from the version; newer: later */
    char from[PATH_MAX], to[PATH_MAX];
    if (file_name_log(from, sizeof from, j->db->dir, number) < 0 ||
        file_name_log(to, sizeof to, j->tmp, number) < 0)
        return -ENAMETOOLONG;
    if (number == j->plan->active_log) {
        SYNC_POINT("checkpoint:file");
        return file_copy_prefix(from, to, j->plan->active_size, NULL, NULL);
    }
    return link_or_copy(from, to); /* closed: finished at its roll */
}

/* Links (or copies) the store's table or log `number` into the checkpoint. */
static int put_numbered(ckpt_job *j, uint64_t number, bool table)
{
    char from[PATH_MAX], to[PATH_MAX];
    int (*name)(char *, size_t, const char *, uint64_t) = table ? file_name_table : file_name_log;
    if (name(from, sizeof from, j->db->dir, number) < 0 ||
        name(to, sizeof to, j->tmp, number) < 0)
        return -ENAMETOOLONG;
    return link_or_copy(from, to);
}

/* The version's tables, and its segments older than the logs put_log takes. */
static int put_version_files(ckpt_job *j)
{
    const version *v = j->plan->v;
    int rc = 0;
    for (int l = 0; l < v->num_levels && rc == 0; l++)
        for (int i = 0; i < v->nfiles[l] && rc == 0; i++)
            rc = put_numbered(j, v->files[l][i]->number, true);
    for (int i = 0; i < v->nsegs && rc == 0; i++)
        if (v->segs[i]->number < j->plan->log_number)
            rc = put_numbered(j, v->segs[i]->number, false);
    return rc;
}

/* Fills tmp with the store as of the barrier; *seq its last sequence. */
static int fill(shale_db *db, const char *tmp, uint64_t *seq)
{
    ckpt_plan plan = {0};
    db_pin_file_deletions(db);
    int rc = db_write_barrier(db, take_plan, &plan);
    SYNC_POINT("checkpoint:planned");
    ckpt_job j = {db, tmp, &plan, 0};
    if (rc == 0)
        rc = put_version_files(&j);
    if (rc == 0)
        rc = file_list_dir(db->dir, put_log, &j);
    db_unpin_file_deletions(db); /* every file is linked or copied: the store may go on */
    SYNC_POINT("checkpoint:linked");
    if (rc == 0)
        rc = version_set_write_manifest_in(db->vs, plan.v, tmp, plan.manifest_number,
                                           plan.log_number, plan.log_offset,
                                           plan.manifest_last_seq);
    version_unref(plan.v);
    if (rc == 0)
        rc = file_sync_tree(tmp);
    if (rc == 0)
        *seq = plan.last_seq;
    return rc;
}

/* The directory holding path ("." for a bare name) into out. */
static int parent_of(const char *path, char *out, size_t n)
{
    const char *s = strrchr(path, '/');
    int len = s == path ? snprintf(out, n, "/")
              : s       ? snprintf(out, n, "%.*s", (int)(s - path), path)
                        : snprintf(out, n, ".");
    return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int shale_checkpoint(shale_db *db, const char *dest, uint64_t *seq)
{
    if (seq)
        *seq = 0;
    if (!db || !dest || !*dest || !seq)
        return -EINVAL;
    char tmp[PATH_MAX], parent[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.checkpoint-tmp", dest) >= (int)sizeof tmp ||
        parent_of(dest, parent, sizeof parent))
        return -ENAMETOOLONG;
    int rc = file_exists(dest);
    if (rc)
        return rc > 0 ? -EEXIST : rc;
    rc = file_remove_tree(tmp); /* left by a crash during an earlier checkpoint */
    if (rc && rc != -ENOENT)
        return rc;
    rc = file_mkdir(tmp);
    if (rc)
        return rc;
    uint64_t last = 0;
    rc = fill(db, tmp, &last);
    SYNC_POINT("checkpoint:filled");
    if (rc == 0)
        rc = file_rename(tmp, dest);
    if (rc) {
        file_remove_tree(tmp);
        return rc;
    }
    SYNC_POINT("checkpoint:renamed");
    rc = file_sync_dir(parent);
    if (rc)
        return rc; /* dest is whole, but a power cut may still take its name */
    db_log(db, "checkpoint %s holds sequences up to %" PRIu64, dest, last);
    *seq = last;
    return 0;
}

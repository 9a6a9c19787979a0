/*
 * manifest.c - persistence of the version set: the MANIFEST file (version edits framed as
 * WAL records, see wal.h) and CURRENT, which names the live manifest and is replaced
 * atomically. Recovery replays the manifest named by CURRENT.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "format.h"
#include "shale.h"
#include "version.h"
#include "vlog.h"
#include "wal.h"

/* A manifest larger than this is rewritten as a snapshot on the next edit. */
#define MANIFEST_ROLL_SIZE (64u << 20)

int version_set_new(const char *dir, const shale_options *opts, version_set **out)
{
    *out = NULL;
    version_set *vs = calloc(1, sizeof *vs);
    if (!vs)
        return -ENOMEM;
    vs->dir = strdup(dir);
    vs->opts = opts;
    vs->next_file_number = 2;
    pthread_mutex_init(&vs->obsolete_mu, NULL);
    pthread_cond_init(&vs->manifest_cv, NULL);
    version_edit empty;
    edit_init(&empty);
    int rc = vs->dir ? version_apply(vs, NULL, &empty, &vs->current) : -ENOMEM;
    if (rc) {
        version_set_free(vs);
        return rc;
    }
    *out = vs;
    return 0;
}

void version_set_free(version_set *vs)
{
    if (!vs)
        return;
    version_unref(vs->current);
    wal_writer_close(vs->manifest);
    pthread_mutex_destroy(&vs->obsolete_mu);
    pthread_cond_destroy(&vs->manifest_cv);
    free(vs->obsolete);
    free(vs->obsolete_logs);
    free(vs->dir);
    free(vs);
}

uint64_t version_set_new_file_number(version_set *vs)
{
    return __atomic_fetch_add(&vs->next_file_number, 1, __ATOMIC_RELAXED);
}

int version_set_take_obsolete(version_set *vs, uint64_t **numbers, int *n)
{
    pthread_mutex_lock(&vs->obsolete_mu);
    *numbers = vs->obsolete;
    *n = vs->n_obsolete;
    vs->obsolete = NULL;
    vs->n_obsolete = vs->cap_obsolete = 0;
    pthread_mutex_unlock(&vs->obsolete_mu);
    return 0;
}

int version_set_take_obsolete_logs(version_set *vs, uint64_t **numbers, int *n)
{
    pthread_mutex_lock(&vs->obsolete_mu);
    *numbers = vs->obsolete_logs;
    *n = vs->n_obsolete_logs;
    vs->obsolete_logs = NULL;
    vs->n_obsolete_logs = vs->cap_obsolete_logs = 0;
    pthread_mutex_unlock(&vs->obsolete_mu);
    return 0;
}

int version_set_recover(version_set *vs, char *why, size_t whylen)
{
    char path[PATH_MAX];
    char *current = NULL;
    size_t len;
    int rc = file_name_current(path, sizeof path, vs->dir);
    if (rc < 0)
        return rc;
    rc = file_read_all(path, &current, &len);
    if (rc)
        return rc;
    if (len < 2 || current[len - 1] != '\n' || strncmp(current, "MANIFEST-", 9) != 0) {
        snprintf(why, whylen, "%s: malformed CURRENT file", path);
        free(current);
        return SHALE_ECORRUPT;
    }
    current[len - 1] = '\0';
    uint64_t number;
    if (file_name_parse(current, &number) != FILE_MANIFEST) {
        snprintf(why, whylen, "%s: malformed CURRENT file", path);
        free(current);
        return SHALE_ECORRUPT;
    }
    free(current);
    rc = file_name_manifest(path, sizeof path, vs->dir, number);
    if (rc < 0)
        return rc;

    wal_reader *r;
    rc = wal_reader_open(path, number, &r);
    if (rc) {
        snprintf(why, whylen, "%s: cannot open manifest named by CURRENT: %s", path,
                 shale_strerror(rc));
        return rc == -ENOENT ? SHALE_ECORRUPT : rc;
    }
    version *v = NULL;
    rc = version_apply(vs, NULL, &(version_edit){0}, &v);
    bool have_log = false, have_next = false, have_seq = false;
    slice rec;
    int n;
    while (rc == 0 && (n = wal_reader_next(r, &rec)) != 0) {
        if (n < 0) {
            rc = n;
            snprintf(why, whylen, "%s: %s at offset %llu", path, shale_strerror(rc),
                     (unsigned long long)wal_reader_offset(r));
            break;
        }
        version_edit e;
        rc = edit_decode(rec, &e);
        if (rc) {
            snprintf(why, whylen, "%s: undecodable version edit at offset %llu", path,
                     (unsigned long long)wal_reader_offset(r));
            break;
        }
        for (int i = 0; i < e.n_added && !rc; i++)
            if (e.added[i].level >= vs->opts->num_levels) {
                snprintf(why, whylen, "%s: table %llu at level %d beyond num_levels %d", path,
                         (unsigned long long)e.added[i].f->number, e.added[i].level,
                         vs->opts->num_levels);
                rc = -EINVAL;
            }
        version *nv = NULL;
        if (!rc)
            rc = version_apply(vs, v, &e, &nv);
        if (!rc) {
            version_apply_vlog_counters(nv, &e);
            version_unref(v);
            v = nv;
            if (e.has_log_number) {
                vs->log_number = e.log_number;
                vs->log_offset = e.log_offset;
                have_log = true;
            }
            if (e.has_next_file) {
                vs->next_file_number = e.next_file_number;
                have_next = true;
            }
            if (e.has_last_seq) {
                vs->last_seq = e.last_seq;
                have_seq = true;
            }
        }
        edit_destroy(&e);
    }
    /* A torn tail needs nothing: a manifest record is synced before its edit takes
       effect, so a torn record is an edit that never happened. */
    wal_reader_close(r);
    if (rc == 0 && (!have_log || !have_next || !have_seq)) {
        snprintf(why, whylen, "%s: manifest lacks log number, next file or last sequence", path);
        rc = SHALE_ECORRUPT;
    }
    if (rc) {
        version_unref(v);
        return rc;
    }
    /* File numbers at or above next_file_number must not be handed out again. */
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            if (v->files[l][i]->number >= vs->next_file_number)
                vs->next_file_number = v->files[l][i]->number + 1;
    if (number >= vs->next_file_number)
        vs->next_file_number = number + 1;
    version_unref(vs->current);
    vs->current = v;
    vs->manifest_number = number;
    /* Replay builds a version per edit from freshly decoded file metadata, so a table an
       edit moved between levels drops its old metadata's last reference there: that is
       not a deleted table. Files truly left over are found by the open's directory sweep. */
    pthread_mutex_lock(&vs->obsolete_mu);
    vs->n_obsolete = 0;
    vs->n_obsolete_logs = 0;
    pthread_mutex_unlock(&vs->obsolete_mu);
    return 0;
}

/* Encodes the whole state (v's files, segments and the counters) as one edit; pending
   is the edit v was built from when its counters are not yet in v's segments. */
static int snapshot_edit(version_set *vs, version *v, const version_edit *pending,
                         uint64_t log_number, uint64_t log_offset, uint64_t last_seq, buf *out)
{
    version_edit e;
    edit_init(&e);
    e.has_log_number = e.has_next_file = e.has_last_seq = true;
    e.log_number = log_number;
    e.log_offset = log_offset;
    e.last_seq = last_seq;
    int rc = 0;
    for (int l = 0; l < v->num_levels && !rc; l++)
        for (int i = 0; i < v->nfiles[l] && !rc; i++)
            rc = edit_add_file(&e, l, v->files[l][i]);
    for (int i = 0; i < v->nsegs && !rc; i++) {
        const vlog_segment *s = v->segs[i];
        vlog_delta d = {s->number,         atomic_load(&s->pointed),
                        atomic_load(&s->discarded), atomic_load(&s->exp_pointed),
                        atomic_load(&s->exp_discarded), atomic_load(&s->exp_max)};
        rc = edit_vlog_add(&e, &d);
    }
    for (int i = 0; pending && i < pending->n_vlog && !rc; i++)
        if (version_segment(v, pending->vlog[i].number))
            rc = edit_vlog_add(&e, &pending->vlog[i]);
    /* Taken last, so it covers the manifest's own number below. */
    e.next_file_number = __atomic_load_n(&vs->next_file_number, __ATOMIC_RELAXED) + 1;
    if (!rc)
        rc = edit_encode(&e, out);
    edit_destroy(&e);
    return rc;
}

struct keep_manifest {
    const version_set *vs;
    uint64_t keep;
};

static int remove_manifest(const char *name, void *arg)
{
    const struct keep_manifest *k = arg;
    uint64_t number;
    if (file_name_parse(name, &number) != FILE_MANIFEST || number == k->keep)
        return 0;
    char path[PATH_MAX];
    if (file_name_manifest(path, sizeof path, k->vs->dir, number) > 0)
        file_unlink(path);
    return 0;
}

/* Once CURRENT durably names manifest `keep`, every other manifest is garbage: the one
   it replaced, and those an earlier failed directory sync had to leave behind. */
static void remove_other_manifests(version_set *vs, uint64_t keep)
{
    struct keep_manifest k = {vs, keep};
    file_list_dir(vs->dir, remove_manifest, &k);
}

/* Starts a new manifest holding v's state, points CURRENT at it and drops the old one. */
static int write_snapshot_of(version_set *vs, version *v, const version_edit *pending,
                             uint64_t log_number, uint64_t log_offset, uint64_t last_seq)
{
    char path[PATH_MAX], cur[PATH_MAX], tmp[PATH_MAX];
    buf rec = {0};
    int rc = snapshot_edit(vs, v, pending, log_number, log_offset, last_seq, &rec);
    if (rc)
        return rc;
    uint64_t number = version_set_new_file_number(vs);
    if (file_name_manifest(path, sizeof path, vs->dir, number) < 0 ||
        file_name_current(cur, sizeof cur, vs->dir) < 0 ||
        file_name_temp(tmp, sizeof tmp, vs->dir, number) < 0) {
        buf_free(&rec);
        return -ENAMETOOLONG;
    }
    wal_writer *w;
    rc = wal_writer_open(path, number, 0, &w);
    if (rc) {
        buf_free(&rec);
        return rc;
    }
    slice part = buf_slice(&rec);
    rc = wal_writer_append(w, &part, 1);
    if (!rc)
        rc = wal_writer_sync(w);
    buf_free(&rec);
    char content[64];
    int clen = snprintf(content, sizeof content, "MANIFEST-%06llu\n", (unsigned long long)number);
    bool replaced = false;
    if (!rc)
        rc = file_replace_atomic(cur, tmp, content, (size_t)clen, &replaced);
    if (rc && !replaced) {
        wal_writer_close(w);
        file_unlink(path);
        return rc;
    }
    wal_writer_close(vs->manifest);
    vs->manifest_number = number;
    if (rc) {
        /* CURRENT names the new manifest, but the directory sync after the rename failed:
           a power cut may bring either name back, so both manifests stay (RocksDB keeps
           the new one too). The caller treats the edit as failed, so nothing more is
           appended to this manifest: the next edit starts another from a snapshot. */
        wal_writer_close(w);
        vs->manifest = NULL;
        return rc;
    }
    vs->manifest = w;
    remove_other_manifests(vs, number);
    return 0;
}

int version_set_write_manifest_in(version_set *vs, version *v, const char *dir, uint64_t number,
                                  uint64_t log_number, uint64_t log_offset, uint64_t last_seq)
{
    char path[PATH_MAX], cur[PATH_MAX], tmp[PATH_MAX];
    if (file_name_manifest(path, sizeof path, dir, number) < 0 ||
        file_name_current(cur, sizeof cur, dir) < 0 ||
        file_name_temp(tmp, sizeof tmp, dir, number) < 0)
        return -ENAMETOOLONG;
    buf rec = {0};
    int rc = snapshot_edit(vs, v, NULL, log_number, log_offset, last_seq, &rec);
    if (rc)
        return rc;
    wal_writer *w;
    rc = wal_writer_open(path, number, 0, &w);
    if (rc == 0) {
        slice part = buf_slice(&rec);
        rc = wal_writer_append(w, &part, 1);
        if (rc == 0)
            rc = wal_writer_sync(w);
        int crc = wal_writer_close(w);
        if (rc == 0)
            rc = crc;
    }
    buf_free(&rec);
    char content[64];
    int clen = snprintf(content, sizeof content, "MANIFEST-%06llu\n", (unsigned long long)number);
    if (rc == 0)
        rc = file_replace_atomic(cur, tmp, content, (size_t)clen, NULL);
    return rc;
}

int version_set_write_snapshot(version_set *vs)
{
    return write_snapshot_of(vs, vs->current, NULL, vs->log_number, vs->log_offset, vs->last_seq);
}

int version_set_log_and_apply(version_set *vs, version_edit *e, pthread_mutex_t *mu)
{
    while (vs->manifest_busy)
        pthread_cond_wait(&vs->manifest_cv, mu);
    vs->manifest_busy = true;

    if (!e->has_log_number) {
        e->has_log_number = true;
        e->log_number = vs->log_number;
        e->log_offset = vs->log_offset;
    }
    if (!e->has_last_seq || e->last_seq < vs->last_seq) {
        e->has_last_seq = true;
        e->last_seq = vs->last_seq;
    }
    e->has_next_file = true;
    e->next_file_number = __atomic_load_n(&vs->next_file_number, __ATOMIC_RELAXED);

    version *nv = NULL;
    int rc = version_apply(vs, vs->current, e, &nv);
    buf rec = {0};
    if (!rc)
        rc = edit_encode(e, &rec);
    bool roll = vs->manifest == NULL || wal_writer_size(vs->manifest) > MANIFEST_ROLL_SIZE;
    pthread_mutex_unlock(mu);

    /* The tables an edit adds were synced, but their names are durable only once the
       directory is: without this a power cut can lose a table the synced manifest lists
       (RocksDB syncs the directory after writing tables, before the manifest edit). */
    int drc = !rc && e->n_added > 0 ? file_sync_dir(vs->dir) : 0;
    if (!rc && !drc && roll) {
        rc = write_snapshot_of(vs, nv, e, e->log_number, e->log_offset, e->last_seq);
    } else if (!rc && !drc) {
        slice part = buf_slice(&rec);
        rc = wal_writer_append(vs->manifest, &part, 1);
        if (!rc)
            rc = wal_writer_sync(vs->manifest);
    }
    buf_free(&rec);

    pthread_mutex_lock(mu);
    if (rc && !roll && vs->manifest) {
        /* The file may now end in a partial record: never append after it. The next
           edit starts a new manifest from a snapshot instead. */
        wal_writer_close(vs->manifest);
        vs->manifest = NULL;
    }
    if (!rc)
        rc = drc; /* nothing was written: the manifest goes on as it was */
    if (!rc) {
        version *old = vs->current;
        version_apply_vlog_counters(nv, e);
        for (int i = 0; i < e->n_vlog_deleted; i++) {
            vlog_segment *s = version_segment(old, e->vlog_deleted[i]);
            if (s)
                atomic_store(&s->obsolete, true);
        }
        vs->current = nv;
        nv = NULL;
        vs->log_number = e->log_number;
        vs->log_offset = e->log_offset;
        vs->last_seq = e->last_seq;
        version_unref(old);
    }
    version_unref(nv);
    vs->manifest_busy = false;
    pthread_cond_broadcast(&vs->manifest_cv);
    return rc;
}

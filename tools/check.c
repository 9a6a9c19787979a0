/*
 * check.c - shale-tool check DIR: reads every file of a store (and of each fifo-<id>
 * database below it), verifying every checksum, without opening (and so without
 * changing) the store: CURRENT and the manifest it names, every table (footer, index,
 * filter, each data block), every write-ahead log and value-log segment (each record),
 * and every value pointer a table holds (the value it points to is read and its
 * checksum verified). Prints one line per problem with the file and, where known, the
 * offset; exits 1 when anything is damaged.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "format.h"
#include "iterator.h"
#include "shale.h"
#include "shale_tool.h"
#include "table_cache.h"
#include "table_reader.h"
#include "version.h"
#include "vlog.h"
#include "wal.h"

typedef struct checker {
    const char *dir;
    int damaged;
    progress pg;
    version_set *vs; /* the manifest's view, NULL when it could not be read */
    table_cache *logs; /* segments' read descriptors (NULL: one open per pointer) */
    uint64_t pointers; /* value pointers verified */
} checker;

static void damage(checker *ck, const char *file, const char *fmt, const char *what)
{
    ck->damaged++;
    printf("DAMAGED %s: ", file);
    printf(fmt, what);
    printf("\n");
}

/* Reads the value a table's pointer names and verifies its checksum. A pointer into a
   segment the manifest no longer lists is an older version GC made unreachable. */
static void check_pointer(checker *ck, const char *table_name, slice raw)
{
    vptr p;
    if (vptr_decode(raw, &p)) {
        damage(ck, table_name, "%s", "holds a malformed value pointer");
        return;
    }
    vlog_segment *s = ck->vs ? version_segment(ck->vs->current, p.segment) : NULL;
    if (!s)
        return;
    char *v = NULL;
    int rc = vlog_segment_read(s, ck->logs, &p, &v);
    free(v);
    ck->pointers++;
    if (rc) {
        char msg[200];
        snprintf(msg, sizeof msg, "the value at offset %" PRIu64 " (%u bytes) that table %s "
                 "points to fails its check: %s", p.offset, p.len, table_name, shale_strerror(rc));
        char seg[32];
        snprintf(seg, sizeof seg, "%06" PRIu64 ".log", p.segment);
        damage(ck, seg, "%s", msg);
    }
}

/* Reads every entry of a table; every block read checks its checksum. */
static void check_table(checker *ck, const char *name, uint64_t number, uint64_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", ck->dir, name);
    int fd;
    int rc = file_open_read(path, &fd);
    table *t = NULL;
    if (rc == 0)
        rc = table_open(fd, number, size, NULL, &t);
    if (rc) {
        damage(ck, name, "cannot open the table: %s", shale_strerror(rc));
        return;
    }
    iter *it = table_iter_new(t, false);
    uint64_t n = 0;
    if (it) {
        for (iter_seek_to_first(it); iter_valid(it); iter_next(it)) {
            n++;
            slice k = iter_key(it);
            if (k.len >= TRAILER_SIZE && ikey_kind(k) == KIND_VPTR)
                check_pointer(ck, name, iter_value(it));
        }
        rc = iter_status(it);
        iter_free(it);
    } else {
        rc = -ENOMEM;
    }
    const table_props *p = table_get_props(t);
    if (rc)
        damage(ck, name, "a data block is unreadable or fails its checksum: %s",
               shale_strerror(rc));
    else if (p && p->num_entries != n) {
        char msg[128];
        snprintf(msg, sizeof msg, "holds %" PRIu64 " entries, its properties say %" PRIu64, n,
                 p->num_entries);
        damage(ck, name, "%s", msg);
    }
    table_close(t);
}

static void check_log(checker *ck, const char *name, uint64_t number)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", ck->dir, name);
    wal_reader *r;
    int rc = wal_reader_open(path, number, &r);
    if (rc) {
        damage(ck, name, "cannot open the log: %s", shale_strerror(rc));
        return;
    }
    slice rec;
    uint64_t n = 0;
    while ((rc = wal_reader_next(r, &rec)) == 1)
        n++;
    /* A flushed segment was cut at its last record and synced: it cannot end torn. */
    bool segment = ck->vs && number < ck->vs->log_number &&
                   version_segment(ck->vs->current, number) != NULL;
    if (rc == 0 && segment && wal_reader_had_torn_tail(r)) {
        char msg[160];
        snprintf(msg, sizeof msg, "value-log segment ends in a damaged record at offset %" PRIu64
                 " after %" PRIu64 " intact records", wal_reader_valid_end(r), n);
        damage(ck, name, "%s", msg);
    } else if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "record at offset %" PRIu64 " is damaged (%s); %" PRIu64
                 " records before it are intact", wal_reader_offset(r), shale_strerror(rc), n);
        damage(ck, name, "%s", msg);
    } else if (wal_reader_had_torn_tail(r)) {
        printf("note    %s: %" PRIu64 " records up to offset %" PRIu64 "; the rest is "
               "preallocated space or a write cut short by a crash (not damage)\n",
               name, n, wal_reader_valid_end(r));
    }
    wal_reader_close(r);
}

/* CURRENT and the manifest: replayed as recovery does, then every table it lists must
   exist with its recorded size. */
static void check_manifest(checker *ck)
{
    static shale_options o;
    shale_options_default(&o);
    char why[512] = "";
    int rc = version_set_new(ck->dir, &o, &ck->vs);
    if (rc == 0)
        rc = version_set_recover(ck->vs, why, sizeof why);
    if (rc) {
        damage(ck, "CURRENT/MANIFEST", "the manifest cannot be read: %s",
               why[0] ? why : shale_strerror(rc));
        if (ck->vs)
            version_set_free(ck->vs);
        ck->vs = NULL;
        return;
    }
    version *v = ck->vs->current;
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++) {
            file_meta *f = v->files[l][i];
            char path[PATH_MAX];
            file_name_table(path, sizeof path, ck->dir, f->number);
            uint64_t size;
            const char *base = strrchr(path, '/') + 1;
            if (file_size_path(path, &size)) {
                char msg[64];
                snprintf(msg, sizeof msg, "listed in the manifest (level %d) but missing", l);
                damage(ck, base, "%s", msg);
            } else if (size != f->file_size) {
                char msg[128];
                snprintf(msg, sizeof msg, "%" PRIu64 " bytes, the manifest says %" PRIu64, size,
                         f->file_size);
                damage(ck, base, "%s", msg);
            }
        }
    for (int i = 0; i < v->nsegs; i++) {
        uint64_t size;
        if (file_size_path(v->segs[i]->path, &size))
            damage(ck, strrchr(v->segs[i]->path, '/') + 1, "%s",
                   "a value-log segment the manifest lists is missing");
    }
}

/* check of one engine's directory (the usage's exit codes). */
static int check_store(const char *dir)
{
    checker ck = {.dir = dir};
    int lfd;
    int rc = tool_lock(ck.dir, &lfd);
    if (rc)
        return rc;
    DIR *d = opendir(ck.dir);
    if (!d) {
        fprintf(stderr, "shale-tool: cannot read %s: %s\n", ck.dir, strerror(errno));
        file_unlock(lfd);
        return TOOL_FAILED;
    }
    table_cache_new(ck.dir, 64, NULL, &ck.logs); /* without it (ENOMEM): slower, same result */
    /* one pass to size the work, one to do it */
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t n, size;
        enum file_type t = file_name_parse(e->d_name, &n);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", ck.dir, e->d_name);
        if ((t == FILE_TABLE || t == FILE_LOG) && file_size_path(path, &size) == 0)
            total += size;
    }
    check_manifest(&ck);
    progress_start(&ck.pg, "check", total);
    rewinddir(d);
    uint64_t tables = 0, logs = 0;
    while ((e = readdir(d))) {
        uint64_t number, size = 0;
        enum file_type t = file_name_parse(e->d_name, &number);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", ck.dir, e->d_name);
        if (t != FILE_TABLE && t != FILE_LOG)
            continue;
        file_size_path(path, &size);
        if (t == FILE_TABLE) {
            tables++;
            check_table(&ck, e->d_name, number, size);
            if (ck.vs && !version_has_file(ck.vs->current, number))
                printf("note    %s: not in the manifest (left by an interrupted flush or "
                       "compaction; deleted at the next open)\n", e->d_name);
        } else {
            logs++;
            check_log(&ck, e->d_name, number);
        }
        progress_add(&ck.pg, size);
    }
    progress_end(&ck.pg);
    closedir(d);
    if (ck.vs)
        version_set_free(ck.vs);
    table_cache_free(ck.logs);
    file_unlock(lfd);
    printf("%s: %" PRIu64 " tables, %" PRIu64 " logs, %" PRIu64 " value pointers, manifest %s: "
           "%s\n", ck.dir, tables, logs, ck.pointers, ck.damaged ? "checked" : "ok",
           ck.damaged ? "DAMAGED" : "no damage found");
    return ck.damaged ? TOOL_DAMAGED : TOOL_OK;
}

typedef struct tree_check {
    const char *dir;
    int worst;
} tree_check;

/* Each fifo-<id> database below the main one: a store of its own. */
static int check_fifo(const char *name, void *arg)
{
    tree_check *t = arg;
    char sub[PATH_MAX];
    if (strncmp(name, TOOL_FIFO_PREFIX, strlen(TOOL_FIFO_PREFIX)) != 0 ||
        snprintf(sub, sizeof sub, "%s/%s", t->dir, name) >= (int)sizeof sub ||
        tool_is_store(sub) != 1)
        return 0;
    int rc = check_store(sub);
    if (rc > t->worst)
        t->worst = rc; /* TOOL_DAMAGED < TOOL_BUSY < TOOL_FAILED */
    return 0;
}

int tool_check_tree(const char *dir)
{
    tree_check t = {dir, check_store(dir)};
    if (t.worst == TOOL_OK || t.worst == TOOL_DAMAGED)
        file_list_dir(dir, check_fifo, &t);
    return t.worst;
}

int tool_check(int argc, char **argv)
{
    int rc = tool_usage(argc, argv,
                        "usage: shale-tool check DIR\n"
                        "Reads every file of the store (and of each fifo-<id> database below it)\n"
                        "without changing it and verifies every checksum; prints 'DAMAGED file:\n"
                        "what' per problem. Exit 0 when all is well, 1 when something is\n"
                        "damaged, 3 when the store is in use, 4 when a directory cannot be read.\n");
    return rc >= 0 ? rc : tool_check_tree(argv[1]);
}

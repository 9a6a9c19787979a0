/*
 * repair.c - shale-tool repair DIR: rebuilds the manifest from the tables that can be
 * read, for a store whose CURRENT or manifest is lost or damaged. Every table is read in
 * full (every checksum); a readable one joins level 0 (ordered by its sequence numbers,
 * so newer data still wins), an unreadable one is moved to DIR/lost/ and named. The
 * logs stay and are replayed at the next open (entries a table already holds are read
 * twice, harmlessly: same key, same sequence). Then a new manifest and CURRENT are
 * written; old manifests are deleted at the next open. `shale-tool compact` afterwards
 * turns the (possibly many) level-0 tables into sorted levels.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"
#include "format.h"
#include "iterator.h"
#include "range_del.h"
#include "shale.h"
#include "shale_tool.h"
#include "table_reader.h"
#include "version.h"

/* Reads a whole table and fills f from it. 0, or the error that made it unreadable. */
/* Widens f's key and sequence ranges by the table's range tombstones (issue 17): a
   table's range includes every key they reach (format.h, range_del_sentinel_trailer). */
static int add_range_dels(table *t, file_meta *f)
{
    const rdel_list *l = table_range_dels(t);
    int rc = 0;
    buf k = {0};
    for (int i = 0; l && rc == 0 && i < l->n; i++) {
        const rdel_frag *fr = &l->frags[i];
        f->num_range_dels += fr->nseqs;
        if (fr->seqs[0] > f->max_seq)
            f->max_seq = fr->seqs[0];
        if (fr->seqs[fr->nseqs - 1] < f->min_seq)
            f->min_seq = fr->seqs[fr->nseqs - 1];
        k.len = 0;
        rc = ikey_append(&k, fr->begin, fr->seqs[0], KIND_RANGE_DELETE);
        if (rc == 0 &&
            (f->smallest.len == 0 || ikey_compare(buf_slice(&k), buf_slice(&f->smallest)) < 0))
            rc = buf_set(&f->smallest, k.data, k.len);
        k.len = 0;
        if (rc == 0)
            rc = buf_append(&k, fr->end.data, fr->end.len) |
                 put_fixed64(&k, range_del_sentinel_trailer());
        if (rc == 0 &&
            (f->largest.len == 0 || ikey_compare(buf_slice(&k), buf_slice(&f->largest)) > 0))
            rc = buf_set(&f->largest, k.data, k.len);
    }
    buf_free(&k);
    return rc ? -ENOMEM : 0;
}

static int scan_table(const char *dir, uint64_t number, file_meta *f)
{
    char path[PATH_MAX];
    file_name_table(path, sizeof path, dir, number);
    uint64_t size;
    int fd, rc = file_size_path(path, &size);
    table *t = NULL;
    if (rc == 0)
        rc = file_open_read(path, &fd);
    if (rc == 0)
        rc = table_open(fd, number, size, NULL, &t);
    if (rc)
        return rc;
    iter *it = table_iter_new(t, false);
    rc = it ? 0 : -ENOMEM;
    f->number = number;
    f->file_size = size;
    f->min_seq = UINT64_MAX;
    for (iter_seek_to_first(it); rc == 0 && iter_valid(it); iter_next(it)) {
        slice k = iter_key(it);
        parsed_ikey pk;
        rc = ikey_parse(k, &pk);
        if (rc)
            break;
        if (f->num_entries == 0)
            rc = buf_set(&f->smallest, k.data, k.len);
        rc = rc ? rc : buf_set(&f->largest, k.data, k.len);
        f->num_entries++;
        f->num_deletes += pk.kind == KIND_DELETE;
        if (pk.seq < f->min_seq)
            f->min_seq = pk.seq;
        if (pk.seq > f->max_seq)
            f->max_seq = pk.seq;
    }
    if (rc == 0 && it)
        rc = iter_status(it);
    iter_free(it);
    const table_props *p = table_get_props(t);
    f->max_expire_at_ms = p ? p->max_expire_at_ms : UINT64_MAX;
    f->num_live_keys = p ? p->num_live_keys : UINT64_MAX;
    if (rc == 0)
        rc = add_range_dels(t, f);
    table_close(t);
    if (rc == 0 && f->num_entries == 0 && f->num_range_dels == 0)
        rc = SHALE_ECORRUPT; /* the engine never writes an empty table */
    return rc;
}

static void move_to_lost(const char *dir, const char *name)
{
    char lost[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    snprintf(lost, sizeof lost, "%s/lost", dir);
    mkdir(lost, 0755);
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(to, sizeof to, "%s/%s", lost, name);
    if (rename(from, to))
        fprintf(stderr, "shale-tool: cannot move %s to lost/: %s\n", name, strerror(errno));
}

int tool_repair(int argc, char **argv)
{
    int rc = tool_usage(argc, argv,
                        "usage: shale-tool repair DIR\n"
                        "Rebuilds the manifest from every table that reads back whole (unreadable\n"
                        "ones go to DIR/lost/); the logs are replayed at the next open. Run\n"
                        "'shale-tool compact DIR' afterwards.\n");
    if (rc >= 0)
        return rc;
    const char *dir = argv[1];
    int lfd;
    rc = tool_lock(dir, &lfd);
    if (rc)
        return rc;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "shale-tool: cannot read %s: %s\n", dir, strerror(errno));
        file_unlock(lfd);
        return TOOL_FAILED;
    }
    static shale_options o;
    shale_options_default(&o);
    version_set *vs;
    rc = version_set_new(dir, &o, &vs);
    version_edit e;
    edit_init(&e);
    uint64_t max_number = 1, min_log = UINT64_MAX, last_seq = 0;
    int good = 0, lost = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        uint64_t number;
        enum file_type t = file_name_parse(de->d_name, &number);
        if (t == FILE_UNKNOWN || t == FILE_LOCK || t == FILE_CURRENT)
            continue;
        if (number > max_number)
            max_number = number;
        if (t == FILE_LOG && number < min_log)
            min_log = number;
        if (t != FILE_TABLE)
            continue;
        file_meta *f = file_meta_new();
        if (!f) {
            rc = -ENOMEM;
            break;
        }
        int trc = scan_table(dir, number, f);
        if (trc == 0) {
            rc = edit_add_file(&e, 0, f);
            if (f->max_seq > last_seq)
                last_seq = f->max_seq;
            good++;
        } else {
            printf("lost    %s: %s (moved to lost/)\n", de->d_name, shale_strerror(trc));
            move_to_lost(dir, de->d_name);
            lost++;
        }
        file_meta_unref(f, NULL);
    }
    closedir(d);
    if (rc == 0) {
        vs->next_file_number = max_number + 1;
        vs->last_seq = last_seq;
        e.has_log_number = true;
        e.log_number = min_log == UINT64_MAX ? max_number + 1 : min_log;
        vs->log_number = e.log_number;
        e.has_last_seq = true;
        e.last_seq = last_seq;
        pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&mu);
        rc = version_set_log_and_apply(vs, &e, &mu); /* no manifest yet: writes a new one */
        pthread_mutex_unlock(&mu);
    }
    edit_destroy(&e);
    version_set_free(vs);
    file_unlock(lfd);
    if (rc) {
        fprintf(stderr, "shale-tool: repair of %s failed: %s\n", dir, shale_strerror(rc));
        return TOOL_FAILED;
    }
    printf("repaired %s: %d tables in level 0, %d unreadable moved to lost/; logs from %s on "
           "are replayed at the next open\n", dir, good, lost,
           min_log == UINT64_MAX ? "(none)" : "the oldest");
    return TOOL_OK;
}

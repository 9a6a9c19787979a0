/*
 * powerloss.c - a power-loss simulation for tests (file.h). While tracking is on, the
 * writer's file layer records, in a table the test provides (typically memory shared with
 * a parent process):
 *   - per file, its written end and its durable end (the written end when its last
 *     fsync/fdatasync began);
 *   - every create, rename and unlink that no directory sync has covered yet, in order;
 *     what an unlink or a rename removed stays reachable as a hard link (a ghost) in
 *     POWERLOSS_GHOSTS under the store's directory until a directory sync makes the
 *     operation durable.
 * After the writer is killed, the parent applies a power cut (file_powerloss_apply): it
 * undoes the directory operations a power cut may lose (newest first), then cuts or
 * zeroes the unsynced bytes of each file, by mode (file.h): the worst case, or random
 * outcomes where writeback persisted some files' bytes and not others', in any order.
 * Files are only ever appended (or written whole and then synced), as the engine's are;
 * a truncate is not modelled (the engine syncs what it truncates before relying on it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "powerloss.h"

#define MAX_FDS 4096
#define MAGIC 0x706c6f73u /* "plos" */

/* The shared table: this header, then the file records, then the operation log. */
typedef struct table_header {
    uint32_t magic;
    uint32_t n_entries; /* room for file records */
    uint32_t ops_cap;   /* room for operations */
    uint32_t n_ops;     /* unsynced operations, oldest first */
    uint32_t ops_dropped;
} table_header;

static table_header *hdr;
static powerloss_entry *table;
static powerloss_op *ops;
static atomic_int tracking;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static powerloss_entry *by_fd[MAX_FDS];
static uint64_t next_seq = 1;  /* the next operation's number */
static unsigned ghost_counter; /* ghost names */

/* Splits bytes between the header, file records (a quarter) and operations. */
static void layout(const void *shm, size_t bytes, table_header **h, powerloss_entry **e,
                   powerloss_op **o, uint32_t *n_entries, uint32_t *ops_cap)
{
    char *p = (char *)shm;
    size_t rest = bytes > sizeof(table_header) ? bytes - sizeof(table_header) : 0;
    *n_entries = (uint32_t)(rest / 4 / sizeof(powerloss_entry));
    *ops_cap = (uint32_t)((rest - *n_entries * sizeof(powerloss_entry)) / sizeof(powerloss_op));
    *h = (table_header *)p;
    *e = (powerloss_entry *)(p + sizeof(table_header));
    *o = (powerloss_op *)(p + sizeof(table_header) + *n_entries * sizeof(powerloss_entry));
}

void file_powerloss_track(void *shm, size_t bytes)
{
    pthread_mutex_lock(&mu);
    memset(shm, 0, bytes);
    uint32_t ne, oc;
    layout(shm, bytes, &hdr, &table, &ops, &ne, &oc);
    hdr->magic = MAGIC;
    hdr->n_entries = ne;
    hdr->ops_cap = oc;
    next_seq = 1;
    atomic_store(&tracking, 1);
    pthread_mutex_unlock(&mu);
}

bool powerloss_on(void)
{
    return atomic_load_explicit(&tracking, memory_order_relaxed) != 0;
}

static powerloss_entry *find_in(powerloss_entry *t, size_t n, const char *name, bool create)
{
    powerloss_entry *free_slot = NULL;
    for (size_t i = 0; i < n; i++) {
        if (t[i].used && strcmp(t[i].name, name) == 0)
            return &t[i];
        if (!t[i].used && !free_slot)
            free_slot = &t[i];
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
    free_slot->used = 1;
    return free_slot;
}

static powerloss_entry *find(const char *name, bool create)
{
    return find_in(table, hdr->n_entries, name, create);
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The ghost directory beside path: "<dir of path>/POWERLOSS_GHOSTS". */
static void ghost_dir_of(const char *path, char *out, size_t n)
{
    const char *s = strrchr(path, '/');
    if (s)
        snprintf(out, n, "%.*s/%s", (int)(s - path), path, POWERLOSS_GHOSTS);
    else
        snprintf(out, n, "%s", POWERLOSS_GHOSTS);
}

static void ghost_path(const char *path, const char *ghost, char *out, size_t n)
{
    char gdir[PATH_MAX];
    ghost_dir_of(path, gdir, sizeof gdir);
    snprintf(out, n, "%s/%s", gdir, ghost);
}

/* Records an operation (mu held). Without room it counts as durable at once. */
static void record(const powerloss_op *op, const char *any_path)
{
    if (hdr->n_ops >= hdr->ops_cap) {
        hdr->ops_dropped++;
        if (op->has_ghost) {
            char g[PATH_MAX];
            ghost_path(any_path, op->ghost, g, sizeof g);
            unlink(g);
        }
        return;
    }
    ops[hdr->n_ops] = *op;
    ops[hdr->n_ops].seq = next_seq++;
    hdr->n_ops++;
}

void powerloss_opened(int fd, const char *path, bool created, bool truncated)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    powerloss_entry *e = find(base(path), true);
    if (e && (truncated || created)) {
        e->written = e->durable = 0;
    } else if (e && !e->seen) {
        /* a file from before tracking began: durable as it is */
        off_t end = lseek(fd, 0, SEEK_END);
        e->written = e->durable = end > 0 ? (uint64_t)end : 0;
    }
    if (e)
        e->seen = 1;
    by_fd[fd] = e;
    if (created) {
        powerloss_op op = {.kind = PL_CREATE};
        snprintf(op.name, sizeof op.name, "%s", base(path));
        record(&op, path);
    }
    pthread_mutex_unlock(&mu);
}

void powerloss_written(int fd, uint64_t end)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    powerloss_entry *e = by_fd[fd];
    if (e && end > e->written)
        e->written = end;
    pthread_mutex_unlock(&mu);
}

uint64_t powerloss_sync_begin(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return 0;
    pthread_mutex_lock(&mu);
    uint64_t w = by_fd[fd] ? by_fd[fd]->written : 0;
    pthread_mutex_unlock(&mu);
    return w;
}

void powerloss_synced(int fd, uint64_t written_at_start)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    powerloss_entry *e = by_fd[fd];
    if (e && written_at_start > e->durable)
        e->durable = written_at_start;
    pthread_mutex_unlock(&mu);
}

void powerloss_closed(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&mu);
    by_fd[fd] = NULL;
    pthread_mutex_unlock(&mu);
}

void powerloss_keep_ghost(const char *path, char *ghost, size_t n)
{
    ghost[0] = '\0';
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    char gdir[PATH_MAX], g[PATH_MAX];
    ghost_dir_of(path, gdir, sizeof gdir);
    if (mkdir(gdir, 0755) != 0 && errno != EEXIST)
        return;
    pthread_mutex_lock(&mu);
    unsigned id = ++ghost_counter;
    pthread_mutex_unlock(&mu);
    char name[POWERLOSS_NAME];
    snprintf(name, sizeof name, "%u.%s", id, base(path));
    snprintf(g, sizeof g, "%s/%s", gdir, name);
    if (link(path, g) == 0)
        snprintf(ghost, n, "%s", name);
}

/* The record of the file an operation removes: its entry, or (a file never written
   while tracking) its whole size, durable. */
static void victim_state(powerloss_entry *e, const char *path, const char *ghost,
                         powerloss_op *op)
{
    if (e) {
        op->written = e->written;
        op->durable = e->durable;
        return;
    }
    char g[PATH_MAX];
    ghost_path(path, ghost, g, sizeof g);
    uint64_t size = 0;
    if (ghost[0] && file_size_path(g, &size) != 0)
        size = 0;
    op->written = op->durable = size;
}

void powerloss_renamed(const char *from, const char *to, const char *ghost, bool ok)
{
    char g[PATH_MAX];
    if (!ok) {
        if (ghost[0]) {
            ghost_path(to, ghost, g, sizeof g);
            unlink(g);
        }
        return;
    }
    pthread_mutex_lock(&mu);
    powerloss_op op = {.kind = PL_RENAME, .has_ghost = ghost[0] != '\0'};
    snprintf(op.name, sizeof op.name, "%s", base(from));
    snprintf(op.to, sizeof op.to, "%s", base(to));
    snprintf(op.ghost, sizeof op.ghost, "%s", ghost);
    powerloss_entry *dst = find(base(to), false);
    victim_state(dst, to, ghost, &op);
    powerloss_entry *src = find(base(from), false);
    if (src) {
        if (dst && dst != src)
            dst->used = 0;
        snprintf(src->name, sizeof src->name, "%s", base(to));
    } else if (dst) {
        dst->used = 0; /* the new content predates tracking: durable as it is */
    }
    record(&op, to);
    pthread_mutex_unlock(&mu);
}

void powerloss_unlinked(const char *path, const char *ghost, bool ok)
{
    char g[PATH_MAX];
    if (!ok) {
        if (ghost[0]) {
            ghost_path(path, ghost, g, sizeof g);
            unlink(g);
        }
        return;
    }
    pthread_mutex_lock(&mu);
    powerloss_op op = {.kind = PL_UNLINK, .has_ghost = ghost[0] != '\0'};
    snprintf(op.name, sizeof op.name, "%s", base(path));
    snprintf(op.ghost, sizeof op.ghost, "%s", ghost);
    powerloss_entry *e = find(base(path), false);
    victim_state(e, path, ghost, &op);
    if (e)
        e->used = 0;
    record(&op, path);
    pthread_mutex_unlock(&mu);
}

uint64_t powerloss_dir_sync_begin(void)
{
    pthread_mutex_lock(&mu);
    uint64_t s = next_seq;
    pthread_mutex_unlock(&mu);
    return s;
}

void powerloss_dir_synced(const char *dir, uint64_t begin)
{
    pthread_mutex_lock(&mu);
    uint32_t k = 0;
    while (k < hdr->n_ops && ops[k].seq < begin) {
        if (ops[k].has_ghost) { /* a durable operation's victim is gone for good */
            char g[PATH_MAX];
            snprintf(g, sizeof g, "%s/%s/%s", dir, POWERLOSS_GHOSTS, ops[k].ghost);
            unlink(g);
        }
        k++;
    }
    memmove(ops, ops + k, (hdr->n_ops - k) * sizeof *ops);
    hdr->n_ops -= k;
    pthread_mutex_unlock(&mu);
}

/* ---- the power cut (in the parent) ---- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t *s, uint64_t n)
{
    return n ? rnd(s) % n : 0;
}

static void join(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* Undoes one operation in dir, keeping the file records t in step. */
static void undo(const powerloss_op *op, const char *dir, powerloss_entry *t, size_t nt)
{
    char a[PATH_MAX], b[PATH_MAX], g[PATH_MAX];
    snprintf(g, sizeof g, "%s/%s/%s", dir, POWERLOSS_GHOSTS, op->ghost);
    powerloss_entry *e;
    switch (op->kind) {
    case PL_CREATE:
        join(a, sizeof a, dir, op->name);
        unlink(a);
        if ((e = find_in(t, nt, op->name, false)))
            e->used = 0;
        break;
    case PL_UNLINK:
        join(a, sizeof a, dir, op->name);
        if (op->has_ghost && rename(g, a) == 0 && (e = find_in(t, nt, op->name, true))) {
            e->written = op->written;
            e->durable = op->durable;
            e->seen = 1;
        }
        break;
    case PL_RENAME:
        join(a, sizeof a, dir, op->name);
        join(b, sizeof b, dir, op->to);
        if (rename(b, a) == 0) {
            powerloss_entry *old = find_in(t, nt, op->name, false);
            if (old)
                old->used = 0;
            if ((e = find_in(t, nt, op->to, false)))
                snprintf(e->name, sizeof e->name, "%s", op->name);
        }
        if (op->has_ghost && rename(g, b) == 0 && (e = find_in(t, nt, op->to, true))) {
            e->written = op->written;
            e->durable = op->durable;
            e->seen = 1;
        }
        break;
    }
}

static int zero_range(const char *path, uint64_t from, uint64_t to)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    static const char zeros[65536];
    int rc = 0;
    while (from < to && rc == 0) {
        size_t n = to - from > sizeof zeros ? sizeof zeros : (size_t)(to - from);
        ssize_t w = pwrite(fd, zeros, n, (off_t)from);
        if (w <= 0)
            rc = -EIO;
        else
            from += (uint64_t)w;
    }
    close(fd);
    return rc;
}

/* Cuts one file's unsynced bytes as mode says; returns 1 when the file changed. */
static int cut_file(const char *dir, const powerloss_entry *e, enum file_powerloss_mode mode,
                    uint64_t *rs, file_powerloss_stats *st)
{
    char path[PATH_MAX];
    join(path, sizeof path, dir, e->name);
    uint64_t size;
    if (file_size_path(path, &size) != 0 || size <= e->durable)
        return 0;
    /* Bytes past the recorded written end are unsynced too: a kill can land between a
       write and its record (and a preallocated tail reads as zeros anyway). */
    uint64_t lo = e->durable, hi = size;
    uint64_t keep = lo;
    if (mode != FILE_POWERLOSS_WORST) {
        switch (below(rs, 4)) {
        case 0:
            keep = lo;
            break;
        case 1:
            keep = hi;
            break;
        default:
            keep = lo + below(rs, hi - lo + 1);
        }
    }
    if (mode == FILE_POWERLOSS_HOLES && keep > lo && below(rs, 2) == 0) {
        /* a middle range lost, the bytes after it kept */
        uint64_t a = lo + below(rs, keep - lo);
        uint64_t b = a + 1 + below(rs, keep - a);
        if (zero_range(path, a, b) == 0)
            st->files_holed++;
    }
    if (keep > lo)
        st->files_partial++;
    if (keep >= size || (keep >= hi && mode != FILE_POWERLOSS_WORST))
        return keep > lo;
    st->files_cut++;
    /* the lost end: gone, or (the size made durable, the data not) zeros */
    if (mode != FILE_POWERLOSS_WORST && below(rs, 2) == 0)
        return zero_range(path, keep, hi) == 0 ? 1 : 0;
    return truncate(path, (off_t)keep) == 0 ? 1 : 0;
}

static void remove_ghosts(const char *dir)
{
    char gdir[PATH_MAX], p[PATH_MAX];
    join(gdir, sizeof gdir, dir, POWERLOSS_GHOSTS);
    DIR *d = opendir(gdir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", gdir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(gdir);
}

int file_powerloss_apply(const void *shm, size_t bytes, const char *dir,
                         enum file_powerloss_mode mode, uint64_t seed, file_powerloss_stats *st)
{
    file_powerloss_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    table_header *h;
    powerloss_entry *e0;
    powerloss_op *o;
    uint32_t ne, oc;
    layout(shm, bytes, &h, &e0, &o, &ne, &oc);
    if (h->magic != MAGIC)
        return 0;
    /* a private copy of the file records: undoing operations renames them */
    powerloss_entry *t = malloc((size_t)h->n_entries * sizeof *t);
    if (!t)
        return -1;
    memcpy(t, e0, (size_t)h->n_entries * sizeof *t);
    uint64_t rs = seed * 0x9e3779b97f4a7c15ull + 0x1234567ull;
    if (!rs)
        rs = 1;
    uint32_t n = h->n_ops;
    uint32_t kept = mode == FILE_POWERLOSS_WORST ? 0 : (uint32_t)below(&rs, (uint64_t)n + 1);
    for (uint32_t i = n; i > kept; i--)
        undo(&o[i - 1], dir, t, h->n_entries);
    st->ops_undone = (int)(n - kept);
    st->ops_kept = (int)kept;
    st->ops_dropped = (int)h->ops_dropped;
    remove_ghosts(dir); /* the kept operations' victims are gone for good */
    int changed = st->ops_undone;
    for (uint32_t i = 0; i < h->n_entries; i++)
        if (t[i].used)
            changed += cut_file(dir, &t[i], mode, &rs, st);
    free(t);
    return changed;
}

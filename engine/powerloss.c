/*
 * powerloss.c - a power-loss simulation for tests (file.h). While tracking is on, the
 * writer's file layer records, in a table the test provides (typically memory shared with
 * a parent process):
 *   - per file, its written end and its durable end (the written end when its last
 *     fsync/fdatasync began);
 *   - every create, rename and unlink that no directory sync has covered yet, in order;
 *     what an unlink or a rename removed stays reachable as a hard link (a ghost) in
 *     POWERLOSS_GHOSTS under the store's directory until a directory sync makes the
 *     operation durable. An operation is recorded before its call and marked done
 *     after: a kill between the two must never leave a later operation recorded and an
 *     earlier one not (the power cut checks whether a pending one happened).
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
    uint64_t reserved; /* keeps the records after the header 8-byte aligned */
} table_header;
_Static_assert(sizeof(table_header) % 8 == 0 && sizeof(powerloss_entry) % 8 == 0,
               "the table's records must stay 8-byte aligned");

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

/* Records an operation (mu held) and returns its number; without room it counts as
   durable at once (0). */
static uint64_t record(const powerloss_op *op)
{
    if (hdr->n_ops >= hdr->ops_cap) {
        hdr->ops_dropped++;
        if (op->has_ghost) {
            char g[PATH_MAX];
            snprintf(g, sizeof g, "%s/%s/%s", op->dir, POWERLOSS_GHOSTS, op->ghost);
            unlink(g);
        }
        return 0;
    }
    powerloss_op *o = &ops[hdr->n_ops++];
    *o = *op;
    o->seq = next_seq++;
    o->pending = 1;
    return o->seq;
}

static powerloss_op *op_by_seq(uint64_t seq)
{
    for (uint32_t i = hdr->n_ops; seq && i > 0; i--)
        if (ops[i - 1].seq == seq)
            return &ops[i - 1];
    return NULL;
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

/* Keeps path as a ghost (a hard link) and names it in ghost; empty when path is no
   regular file or the link fails. */
static void keep_ghost(const char *path, char *ghost, size_t n)
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
static void victim_state(const char *name, powerloss_op *op)
{
    powerloss_entry *e = find(name, false);
    if (e) {
        op->written = e->written;
        op->durable = e->durable;
        return;
    }
    char g[PATH_MAX];
    snprintf(g, sizeof g, "%s/%s/%s", op->dir, POWERLOSS_GHOSTS, op->ghost);
    uint64_t size = 0;
    if (op->has_ghost && file_size_path(g, &size) != 0)
        size = 0;
    op->written = op->durable = size;
}

static void dir_of(const char *path, char *out, size_t n)
{
    const char *s = strrchr(path, '/');
    if (s)
        snprintf(out, n, "%.*s", (int)(s - path), path);
    else
        snprintf(out, n, ".");
}

static uint64_t begin_op(int kind, const char *path, const char *to, bool ghost)
{
    powerloss_op op = {.kind = kind};
    dir_of(path, op.dir, sizeof op.dir);
    snprintf(op.name, sizeof op.name, "%s", base(path));
    if (to)
        snprintf(op.to, sizeof op.to, "%s", base(to));
    if (ghost) {
        keep_ghost(to ? to : path, op.ghost, sizeof op.ghost);
        op.has_ghost = op.ghost[0] != '\0';
    }
    pthread_mutex_lock(&mu);
    if (ghost)
        victim_state(to ? op.to : op.name, &op);
    uint64_t seq = record(&op);
    pthread_mutex_unlock(&mu);
    return seq;
}

uint64_t powerloss_create_begin(const char *path)
{
    return begin_op(PL_CREATE, path, NULL, false);
}

uint64_t powerloss_rename_begin(const char *from, const char *to)
{
    return begin_op(PL_RENAME, from, to, true);
}

uint64_t powerloss_unlink_begin(const char *path)
{
    return begin_op(PL_UNLINK, path, NULL, true);
}

/* What a done operation changes in the file records (mu held). */
static void op_done(int kind, const char *name, const char *to)
{
    powerloss_entry *src, *dst;
    switch (kind) {
    case PL_RENAME:
        src = find(name, false);
        dst = find(to, false);
        if (dst && dst != src)
            dst->used = 0; /* replaced */
        if (src)
            snprintf(src->name, sizeof src->name, "%s", to);
        break;
    case PL_UNLINK:
        if ((src = find(name, false)))
            src->used = 0;
        break;
    }
}

void powerloss_op_end(uint64_t handle, int kind, const char *path, const char *to, bool ok)
{
    pthread_mutex_lock(&mu);
    powerloss_op *op = op_by_seq(handle);
    if (ok) {
        if (op)
            op->pending = 0;
        op_done(kind, base(path), to ? base(to) : NULL);
    } else if (op) {
        /* the call failed: nothing happened */
        if (op->has_ghost) {
            char g[PATH_MAX];
            snprintf(g, sizeof g, "%s/%s/%s", op->dir, POWERLOSS_GHOSTS, op->ghost);
            unlink(g);
        }
        uint32_t i = (uint32_t)(op - ops);
        memmove(ops + i, ops + i + 1, (hdr->n_ops - i - 1) * sizeof *ops);
        hdr->n_ops--;
    }
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
    /* an operation whose call was under way at the kill: undone only if it happened */
    if (op->pending) {
        join(a, sizeof a, dir, op->name);
        bool exists = access(a, F_OK) == 0;
        if (op->kind == PL_CREATE ? !exists : exists)
            return;
    }
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

/*
 * repl_recv.c - the replica's side of a full sync's transfer (repl_sync.h): the files
 * received into "<dest>.tmp", checked, made durable, and only then renamed to dest.
 *
 * Every file goes through the engine's file layer (engine/file.h), so tests can make any
 * write, sync or rename fail. A kept file is linked from the data directory at the moment
 * "keep" arrives and then checked against what the replica listed: the replica's engine
 * may have deleted or changed it since (a compaction, its active log), and a sync that
 * then fails with -ESTALE is retried with a new list.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "dirs.h"
#include "file.h"
#include "repl_sync.h"
#include "repl_wire.h"
#include "shale.h"

#define RECV_CHUNK (1u << 20)
#define PATH_CAP (4096 + REPL_NAME_MAX + 16)

typedef struct receiver {
    const repl_recv_args *a;
    repl_wire w;
    char tmp[PATH_CAP]; /* "<dest>.tmp" */
    char *buf;          /* RECV_CHUNK bytes */
    XXH3_state_t *h;
} receiver;

/* ---- the framing: "*<n>", "$<len>" + bytes, ":<int>" ---- */

static int read_prefixed(receiver *r, char type, int64_t *v)
{
    char line[64];
    size_t len;
    int rc = wire_read_line(&r->w, line, sizeof line, &len);
    if (rc)
        return rc;
    if (len < 2 || line[0] != type)
        return -EPROTO;
    char *end;
    errno = 0;
    long long x = strtoll(line + 1, &end, 10);
    if (errno || *end || x < 0)
        return -EPROTO;
    *v = x;
    return 0;
}

/* A bulk string of at most cap-1 bytes into s, NUL-terminated. */
static int read_bulk(receiver *r, char *s, size_t cap, size_t *len)
{
    int64_t n;
    int rc = read_prefixed(r, '$', &n);
    if (rc)
        return rc;
    if ((uint64_t)n >= cap)
        return -EPROTO;
    char crlf[2];
    rc = wire_read(&r->w, s, (size_t)n);
    rc = rc ? rc : wire_read(&r->w, crlf, 2);
    if (rc)
        return rc;
    if (crlf[0] != '\r' || crlf[1] != '\n')
        return -EPROTO;
    s[n] = '\0';
    *len = (size_t)n;
    return 0;
}

/* A message's array header and its first element, the verb. */
static int read_verb(receiver *r, int64_t *argc, char *verb, size_t cap)
{
    size_t len;
    int rc = read_prefixed(r, '*', argc);
    return rc ? rc : *argc < 1 ? -EPROTO : read_bulk(r, verb, cap, &len);
}

/* A file name argument, checked. */
static int read_name(receiver *r, char *name)
{
    size_t len;
    int rc = read_bulk(r, name, REPL_NAME_MAX + 1, &len);
    return rc ? rc : repl_name_valid(name, len) ? 0 : -EPROTO;
}

/* ---- files ---- */

/* Makes the directory a name's file goes in (one level: "fifo-<id>/"). */
static int make_parent(receiver *r, const char *name)
{
    const char *slash = strchr(name, '/');
    if (!slash)
        return 0;
    char dir[PATH_CAP];
    snprintf(dir, sizeof dir, "%s/%.*s", r->tmp, (int)(slash - name), name);
    return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* size bytes from the wire into fd, hashed and counted. */
static int copy_content(receiver *r, int fd, uint64_t size)
{
    XXH3_64bits_reset(r->h);
    for (uint64_t got = 0; got < size;) {
        size_t want = size - got < RECV_CHUNK ? (size_t)(size - got) : RECV_CHUNK;
        int rc = wire_read(&r->w, r->buf, want);
        rc = rc ? rc : file_write(fd, r->buf, want);
        if (rc)
            return rc;
        XXH3_64bits_update(r->h, r->buf, want);
        got += want;
        if (r->a->progress)
            __atomic_add_fetch(&r->a->progress->read_bytes, want, __ATOMIC_RELAXED);
    }
    return 0;
}

/* "*2 $3 sum $16 <hex>" after a file's bytes: SHALE_ECORRUPT when it is not theirs. */
static int check_sum(receiver *r)
{
    int64_t argc;
    char verb[8], hex[17];
    size_t len;
    int rc = read_verb(r, &argc, verb, sizeof verb);
    if (rc == 0 && (argc != 2 || strcmp(verb, "sum") != 0))
        rc = -EPROTO;
    rc = rc ? rc : read_bulk(r, hex, sizeof hex, &len);
    if (rc)
        return rc;
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64, (uint64_t)XXH3_64bits_digest(r->h));
    return len == 16 && memcmp(hex, want, 16) == 0 ? 0 : SHALE_ECORRUPT;
}

/* "file <name> <size>": the bytes into a new file, synced, then its checksum. */
static int recv_file(receiver *r)
{
    char name[REPL_NAME_MAX + 1];
    int64_t size;
    int rc = read_name(r, name);
    rc = rc ? rc : read_prefixed(r, ':', &size);
    rc = rc ? rc : make_parent(r, name);
    if (rc)
        return rc;
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", r->tmp, name);
    if (file_exists(path) != 0)
        return -EPROTO; /* sent twice */
    int fd;
    rc = file_open_write(path, true, &fd);
    if (rc)
        return rc;
    rc = copy_content(r, fd, (uint64_t)size);
    rc = rc ? rc : file_fsync(fd);
    int crc = file_close(fd);
    rc = rc ? rc : crc;
    return rc ? rc : check_sum(r);
}

/* "keep <name>": the replica's own copy, linked in, must still be what it listed. */
static int recv_keep(receiver *r)
{
    char name[REPL_NAME_MAX + 1];
    int rc = read_name(r, name);
    rc = rc ? rc : make_parent(r, name);
    if (rc)
        return rc;
    const repl_file *had = repl_files_find(r->a->have, name);
    if (!had)
        return -EPROTO; /* the primary keeps what the replica never listed */
    char from[PATH_CAP], to[PATH_CAP];
    snprintf(from, sizeof from, "%s/%s", r->a->data_dir, name);
    snprintf(to, sizeof to, "%s/%s", r->tmp, name);
    if (file_exists(to) != 0)
        return -EPROTO;
    rc = file_link_or_copy(from, to, NULL, NULL);
    if (rc == 0) /* copied, not linked: the copy must be as durable as a received file */
        rc = file_sync_tree(to);
    if (rc < 0)
        return rc == -ENOENT ? -ESTALE : rc;
    uint64_t size, fp;
    rc = repl_fingerprint_path(to, &size, &fp);
    if (rc)
        return rc;
    return size == had->size && fp == had->fingerprint ? 0 : -ESTALE;
}

/* ---- the whole stream ---- */

static int recv_total(receiver *r)
{
    int64_t argc, total;
    char verb[8];
    int rc = read_verb(r, &argc, verb, sizeof verb);
    if (rc == 0 && (argc != 2 || strcmp(verb, "total") != 0))
        rc = -EPROTO;
    rc = rc ? rc : read_prefixed(r, ':', &total);
    if (rc == 0 && r->a->progress) {
        __atomic_store_n(&r->a->progress->read_bytes, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&r->a->progress->total_bytes, (uint64_t)total, __ATOMIC_RELAXED);
    }
    return rc;
}

static int recv_files(receiver *r)
{
    int rc = recv_total(r);
    while (rc == 0) {
        int64_t argc;
        char verb[8];
        rc = read_verb(r, &argc, verb, sizeof verb);
        if (rc)
            break;
        if (argc == 3 && strcmp(verb, "file") == 0)
            rc = recv_file(r);
        else if (argc == 2 && strcmp(verb, "keep") == 0)
            rc = recv_keep(r);
        else if (argc == 1 && strcmp(verb, "end") == 0)
            return 0;
        else
            rc = -EPROTO;
    }
    return rc;
}

/* fsyncs tmp's subdirectories, then tmp: every file's entry is durable. */
static int sync_dirs(receiver *r)
{
    DIR *d = opendir(r->tmp);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[PATH_CAP];
        snprintf(sub, sizeof sub, "%s/%s", r->tmp, e->d_name);
        rc = file_sync_dir(sub);
    }
    closedir(d);
    return rc ? rc : file_sync_dir(r->tmp);
}

/* Renames tmp to dest and makes the rename durable. */
static int publish(receiver *r)
{
    char parent[PATH_CAP];
    dirs_parent_of(r->a->dest, parent, sizeof parent);
    int rc = file_rename(r->tmp, r->a->dest);
    return rc ? rc : file_sync_dir(parent);
}

static int receiver_open(receiver *r, const repl_recv_args *a)
{
    memset(r, 0, sizeof *r);
    r->a = a;
    int n = snprintf(r->tmp, sizeof r->tmp, "%s.tmp", a->dest);
    if (n < 0 || (size_t)n >= sizeof r->tmp - REPL_NAME_MAX - 2)
        return -ENAMETOOLONG;
    r->buf = malloc(RECV_CHUNK);
    r->h = XXH3_createState();
    if (!r->buf || !r->h)
        return -ENOMEM;
    int rc = dirs_remove_tree(a->dest);
    rc = rc ? rc : dirs_remove_tree(r->tmp);
    if (rc == 0 && mkdir(r->tmp, 0755) != 0)
        rc = -errno;
    return rc;
}

int repl_recv_checkpoint(const repl_recv_args *a)
{
    receiver r;
    int rc = receiver_open(&r, a);
    if (rc == 0) {
        rc = wire_open(&r.w, a->fd, a->timeout_ms, a->pre, a->pre_len);
        if (rc == 0) {
            rc = recv_files(&r);
            wire_close(&r.w);
        }
        rc = rc ? rc : sync_dirs(&r);
        rc = rc ? rc : publish(&r);
    }
    if (rc && r.tmp[0])
        dirs_remove_tree(r.tmp);
    XXH3_freeState(r.h);
    free(r.buf);
    return rc;
}

/*
 * repl_send.c - the primary's side of a full sync's transfer (repl_sync.h): every file of
 * a checkpoint directory, or "keep" for those the replica already has, each followed by
 * the checksum of what was sent.
 *
 * The bytes are read once, hashed and written in 1 MiB pieces rather than sent with
 * sendfile(2): the checksum needs them read anyway, and a checkpoint's files are in the
 * page cache (links of the store's own files, or just copied).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "file.h"
#include "repl_sync.h"
#include "repl_wire.h"

#define SEND_CHUNK (1u << 20)

/* One file to send: kept (the replica has it) or sent in full. */
typedef struct send_item {
    char name[REPL_NAME_MAX + 1];
    uint64_t size;
    int keep;
} send_item;

typedef struct send_plan {
    send_item *v;
    size_t n, cap;
    uint64_t total; /* bytes of the files sent in full */
} send_plan;

/* Whether the replica's listed copy of name is this file: same size and fingerprint. */
static int replica_has(const repl_files *have, const char *name, const char *path,
                       uint64_t size)
{
    const repl_file *h = repl_files_find(have, name);
    uint64_t sz, fp;
    return h && h->size == size && repl_fingerprint_path(path, &sz, &fp) == 0 && sz == size &&
           fp == h->fingerprint;
}

static int plan_add(send_plan *p, const char *name, uint64_t size, int keep)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        send_item *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    send_item *e = &p->v[p->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->size = size;
    e->keep = keep;
    if (!keep)
        p->total += size;
    return 0;
}

/* A walk of one directory level of a checkpoint (plan_level). */
typedef struct plan_walk {
    const char *dir, *sub;
    const repl_files *have;
    send_plan *p;
} plan_walk;

static int plan_level(const char *dir, const char *sub, const repl_files *have, send_plan *p);

/* One entry of the level: a file is planned, a directory at the top walked. */
static int plan_entry(const char *entry, void *arg)
{
    plan_walk *w = arg;
    char name[REPL_NAME_MAX + 2];
    int n = snprintf(name, sizeof name, "%s%s%s", w->sub, *w->sub ? "/" : "", entry);
    if (n < 0 || !repl_name_valid(name, (size_t)n))
        return -ENAMETOOLONG;
    char file[4096 + 2 * REPL_NAME_MAX + 4];
    snprintf(file, sizeof file, "%s/%s", w->dir, name);
    struct stat st;
    if (stat(file, &st) != 0)
        return -errno;
    if (S_ISDIR(st.st_mode) && !*w->sub)
        return plan_level(w->dir, name, w->have, w->p);
    if (S_ISREG(st.st_mode))
        return plan_add(w->p, name, (uint64_t)st.st_size,
                        replica_has(w->have, name, file, (uint64_t)st.st_size));
    return -EINVAL; /* a checkpoint holds files and one level of directories */
}

/* Adds the regular files of dir/sub (and, at the top, of its subdirectories) to p. */
static int plan_level(const char *dir, const char *sub, const repl_files *have, send_plan *p)
{
    char path[4096 + REPL_NAME_MAX + 2];
    snprintf(path, sizeof path, "%s%s%s", dir, *sub ? "/" : "", sub);
    plan_walk w = {dir, sub, have, p};
    return file_list_dir(path, plan_entry, &w);
}

static int send_header(repl_wire *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_header(repl_wire *w, const char *fmt, ...)
{
    char buf[REPL_NAME_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof buf ? -EINVAL : wire_write(w, buf, (size_t)n);
}

/* The file's size bytes, then its checksum. */
static int send_content(repl_wire *w, const char *path, uint64_t size, char *buf,
                        XXH3_state_t *h)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    XXH3_64bits_reset(h);
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t want = size - off < SEND_CHUNK ? (size_t)(size - off) : SEND_CHUNK;
        ssize_t k = pread(fd, buf, want, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO; /* shorter than it was: not a checkpoint's file */
            break;
        }
        XXH3_64bits_update(h, buf, (size_t)k);
        rc = wire_write(w, buf, (size_t)k);
        off += (uint64_t)k;
    }
    close(fd);
    return rc ? rc
              : send_header(w, "*2\r\n$3\r\nsum\r\n$16\r\n%016" PRIx64 "\r\n",
                            (uint64_t)XXH3_64bits_digest(h));
}

static int send_item_to(repl_wire *w, const char *dir, const send_item *it, char *buf,
                        XXH3_state_t *h)
{
    size_t len = strlen(it->name);
    if (it->keep)
        return send_header(w, "*2\r\n$4\r\nkeep\r\n$%zu\r\n%s\r\n", len, it->name);
    int rc = send_header(w, "*3\r\n$4\r\nfile\r\n$%zu\r\n%s\r\n:%" PRIu64 "\r\n", len, it->name,
                         it->size);
    char path[4096 + REPL_NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", dir, it->name);
    return rc ? rc : send_content(w, path, it->size, buf, h);
}

int repl_send_checkpoint(int fd, const char *dir, const repl_files *have, int timeout_ms)
{
    send_plan p = {0};
    int rc = plan_level(dir, "", have, &p);
    char *buf = rc ? NULL : malloc(SEND_CHUNK);
    XXH3_state_t *h = buf ? XXH3_createState() : NULL;
    if (rc == 0 && !h)
        rc = -ENOMEM;
    repl_wire w;
    int wrc = rc ? rc : wire_open(&w, fd, timeout_ms, NULL, 0);
    if (rc == 0 && wrc == 0) {
        rc = send_header(&w, "*2\r\n$5\r\ntotal\r\n:%" PRIu64 "\r\n", p.total);
        for (size_t i = 0; rc == 0 && i < p.n; i++)
            rc = send_item_to(&w, dir, &p.v[i], buf, h);
        rc = rc ? rc : wire_write(&w, "*1\r\n$3\r\nend\r\n", 13);
        wire_close(&w);
    }
    XXH3_freeState(h);
    free(buf);
    free(p.v);
    return rc ? rc : wrc;
}

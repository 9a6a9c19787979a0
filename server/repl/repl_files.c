/*
 * repl_files.c - the files a full sync talks about (repl_sync.h): fingerprints, the
 * replica's list of what it has (REPLCONF have: listed, formatted, parsed) and the check
 * of every name that comes over the wire.
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

#include "repl_sync.h"

void repl_files_free(repl_files *f)
{
    if (!f)
        return;
    free(f->v);
    f->v = NULL;
    f->n = f->cap = 0;
}

const repl_file *repl_files_find(const repl_files *f, const char *name)
{
    for (size_t i = 0; f && i < f->n; i++)
        if (strcmp(f->v[i].name, name) == 0)
            return &f->v[i];
    return NULL;
}

static int files_add(repl_files *f, const char *name, size_t len, uint64_t size, uint64_t fp)
{
    if (len > REPL_NAME_MAX)
        return -ENAMETOOLONG;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        repl_file *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    repl_file *e = &f->v[f->n++];
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->size = size;
    e->fingerprint = fp;
    return 0;
}

int repl_fingerprint_fd(int fd, uint64_t *size, uint64_t *fp)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    uint64_t sz = (uint64_t)st.st_size;
    size_t tail = sz < REPL_FINGERPRINT_TAIL ? (size_t)sz : REPL_FINGERPRINT_TAIL;
    char *buf = malloc(tail ? tail : 1);
    if (!buf)
        return -ENOMEM;
    size_t got = 0;
    while (got < tail) {
        ssize_t k = pread(fd, buf + got, tail - got, (off_t)(sz - tail + got));
        if (k <= 0) {
            free(buf);
            return k < 0 && errno != EINTR ? -errno : k == 0 ? -EIO : -EINTR;
        }
        got += (size_t)k;
    }
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(sz >> (8 * i));
    XXH3_state_t *h = XXH3_createState();
    int rc = h ? 0 : -ENOMEM;
    if (h) {
        XXH3_64bits_reset(h);
        XXH3_64bits_update(h, le, sizeof le);
        XXH3_64bits_update(h, buf, tail);
        *fp = XXH3_64bits_digest(h);
        *size = sz;
        XXH3_freeState(h);
    }
    free(buf);
    return rc;
}

int repl_fingerprint_path(const char *path, uint64_t *size, uint64_t *fp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = repl_fingerprint_fd(fd, size, fp);
    close(fd);
    return rc;
}

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && strcmp(name + n - k, suffix) == 0;
}

/* "fifo-<digits>": a fifo database's engine directory (keyspace.h). */
static int is_fifo_dir_name(const char *name)
{
    if (strncmp(name, "fifo-", 5) != 0 || !name[5])
        return 0;
    for (const char *p = name + 5; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

/* Adds the tables and logs of dir/sub (sub "" for dir itself) to out. */
static int list_level(const char *dir, const char *sub, repl_files *out, int depth)
{
    char path[4096 + REPL_NAME_MAX + 2];
    snprintf(path, sizeof path, "%s%s%s", dir, *sub ? "/" : "", sub);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char name[REPL_NAME_MAX + 2];
        int n = snprintf(name, sizeof name, "%s%s%s", sub, *sub ? "/" : "", e->d_name);
        if (n < 0 || n > REPL_NAME_MAX)
            continue;
        if (depth == 0 && is_fifo_dir_name(e->d_name)) {
            rc = list_level(dir, name, out, 1);
            continue;
        }
        if (!has_suffix(e->d_name, ".sst") && !has_suffix(e->d_name, ".log"))
            continue;
        char file[sizeof path + REPL_NAME_MAX + 2];
        snprintf(file, sizeof file, "%s/%s", dir, name);
        uint64_t size, fp;
        int frc = repl_fingerprint_path(file, &size, &fp);
        if (frc == -ENOENT)
            continue; /* deleted meanwhile: not had */
        rc = frc ? frc : files_add(out, name, (size_t)n, size, fp);
    }
    closedir(d);
    return rc;
}

int repl_files_list_have(const char *dir, repl_files *out)
{
    repl_files_free(out);
    int rc = list_level(dir, "", out, 0);
    if (rc)
        repl_files_free(out);
    return rc;
}

static int larger_first(const void *a, const void *b)
{
    const repl_file *x = a, *y = b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : strcmp(x->name, y->name);
}

/* Appends a bulk string to buf at *off (room checked by the caller's sizing). */
static void put_bulk(char *buf, size_t *off, const char *s, size_t len)
{
    *off += (size_t)sprintf(buf + *off, "$%zu\r\n", len);
    memcpy(buf + *off, s, len);
    *off += len;
    memcpy(buf + *off, "\r\n", 2);
    *off += 2;
}

int repl_have_format(const repl_files *f, size_t max_files, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t n = f ? f->n : 0;
    if (max_files > REPL_HAVE_MAX)
        max_files = REPL_HAVE_MAX;
    repl_file *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    if (n)
        memcpy(v, f->v, n * sizeof *v);
    qsort(v, n, sizeof *v, larger_first);
    if (n > max_files)
        n = max_files;
    /* per file at most: three "$NNN\r\n" headers, the name, 20 + 16 digits, three CRLFs */
    size_t cap = 64 + n * (3 * 8 + REPL_NAME_MAX + 20 + 16 + 3 * 2);
    char *buf = malloc(cap);
    if (!buf) {
        free(v);
        return -ENOMEM;
    }
    size_t off = (size_t)sprintf(buf, "*%zu\r\n", 2 + 3 * n);
    put_bulk(buf, &off, "REPLCONF", 8);
    put_bulk(buf, &off, "have", 4);
    for (size_t i = 0; i < n; i++) {
        char num[32];
        put_bulk(buf, &off, v[i].name, strlen(v[i].name));
        put_bulk(buf, &off, num, (size_t)sprintf(num, "%" PRIu64, v[i].size));
        put_bulk(buf, &off, num, (size_t)sprintf(num, "%016" PRIx64, v[i].fingerprint));
    }
    free(v);
    *out = buf;
    *len = off;
    return 0;
}

/* A decimal uint64 of exactly len bytes. */
static int parse_u64(const char *p, size_t len, int base, uint64_t *out)
{
    if (len == 0 || len > (base == 16 ? 16u : 20u))
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = p[i] >= '0' && p[i] <= '9'                ? p[i] - '0'
                : base == 16 && p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
                                                           : -1;
        if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return -EINVAL;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 0;
}

int repl_have_parse(const resp_arg *args, size_t n, repl_files *out)
{
    if (n % 3 != 0 || out->n + n / 3 > REPL_HAVE_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i += 3) {
        uint64_t size, fp;
        if (!repl_name_valid(args[i].p, args[i].len) ||
            parse_u64(args[i + 1].p, args[i + 1].len, 10, &size) ||
            args[i + 2].len != 16 || parse_u64(args[i + 2].p, args[i + 2].len, 16, &fp))
            return -EINVAL;
        int rc = files_add(out, args[i].p, args[i].len, size, fp);
        if (rc)
            return rc;
    }
    return 0;
}

int repl_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > REPL_NAME_MAX || name[0] == '/')
        return 0;
    int slashes = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && (unsigned char)name[i] < 0x20)
            return 0; /* NUL, CR, LF and the like */
        if (i < len && name[i] != '/')
            continue;
        size_t part = i - start;
        if (part == 0 || (part == 1 && name[start] == '.') ||
            (part == 2 && name[start] == '.' && name[start + 1] == '.'))
            return 0;
        if (i < len && ++slashes > 1)
            return 0;
        start = i + 1;
    }
    return 1;
}

void repl_progress_read(const repl_progress *p, uint64_t *total, uint64_t *read)
{
    *total = __atomic_load_n(&p->total_bytes, __ATOMIC_RELAXED);
    *read = __atomic_load_n(&p->read_bytes, __ATOMIC_RELAXED);
}

int repl_sync_dir_of(const char *dir, char *out, size_t n)
{
    int len = snprintf(out, n, "%s.sync", dir);
    return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

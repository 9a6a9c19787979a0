/* testutil.c - see testutil.h. */
#include "testutil.h"

#include "shale.h"

#include <errno.h>
#include <dirent.h>
#include <stdbool.h>
#include <limits.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *tu_tempdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/shale-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        abort();
    }
    return strdup(path);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmdir_free(char *dir)
{
    if (!dir)
        return;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

uint64_t tu_seed(void)
{
    static uint64_t seed;
    static int done;
    if (!done) {
        const char *s = getenv("SHALE_SEED");
        if (s && *s) {
            seed = strtoull(s, NULL, 0);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
        }
        if (seed == 0)
            seed = 1;
        fprintf(stderr, "SHALE_SEED=%" PRIu64 "\n", seed);
        done = 1;
    }
    return seed;
}

uint64_t tu_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t tu_rand_below(uint64_t *state, uint64_t n)
{
    return n ? tu_rand(state) % n : 0;
}

int tu_flip_byte(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -errno;
    unsigned char c;
    int rc = 0;
    if (pread(fd, &c, 1, (off_t)offset) != 1) {
        rc = -EIO;
    } else {
        c ^= 0x5a;
        if (pwrite(fd, &c, 1, (off_t)offset) != 1)
            rc = -EIO;
    }
    close(fd);
    return rc;
}

int tu_truncate(const char *path, uint64_t size)
{
    return truncate(path, (off_t)size) == 0 ? 0 : -errno;
}

int64_t tu_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    return st.st_size;
}

int tu_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY);
    if (in < 0)
        return -errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        return -errno;
    }
    char b[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, b, sizeof b)) > 0) {
        if (write(out, b, (size_t)n) != n) {
            rc = -EIO;
            break;
        }
    }
    if (n < 0)
        rc = -errno;
    close(in);
    close(out);
    return rc;
}

void tu_random_bytes(char *out, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t j = 0; j < len; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[j] = (char)(x >> 32);
    }
}

uint64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tu_small_options(shale_options *o)
{
    shale_options_default(o);
    o->memtable_size = 256 * 1024;
    o->table_size = 128 * 1024;
    o->base_level_size = 512 * 1024;
    o->block_cache_size = 1 << 20;
}

shale_db *tu_open(const char *dir, const shale_options *o)
{
    shale_db *db = NULL;
    int rc = shale_open(dir, o, &db);
    if (rc)
        fprintf(stderr, "shale_open(%s): %s\n", dir, shale_strerror(rc));
    return rc ? NULL : db;
}

/* Copies dir's files into img in the order that keeps the copy usable while background
   flushes and compactions run: CURRENT and the manifest first (tables they name may
   vanish after: then the copy is retried), then tables, then logs. 0 or -errno. */
static int copy_store(const char *dir, const char *img)
{
    static const char *const order[] = {"CURRENT", "MANIFEST-", ".sst", ".log"};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        DIR *d = opendir(dir);
        if (!d)
            return -errno;
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d))) {
            const char *n = e->d_name;
            size_t len = strlen(n), olen = strlen(order[o]);
            bool match = order[o][0] == '.' ? len > olen && strcmp(n + len - olen, order[o]) == 0
                                            : strncmp(n, order[o], olen) == 0;
            if (!match)
                continue;
            char from[PATH_MAX], to[PATH_MAX];
            snprintf(from, sizeof from, "%s/%s", dir, n);
            snprintf(to, sizeof to, "%s/%s", img, n);
            rc = tu_copy_file(from, to);
        }
        closedir(d);
        if (rc)
            return rc;
    }
    return 0;
}

char *tu_crash_image(const char *dir)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        char *img = tu_tempdir("crash");
        int rc = copy_store(dir, img);
        if (rc == 0)
            return img;
        tu_rmdir_free(img);
        if (rc != -ENOENT) /* anything else is a real failure */
            return NULL;
        usleep(20 * 1000);
    }
    return NULL;
}

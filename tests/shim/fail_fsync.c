/*
 * fail_fsync.c - an LD_PRELOAD shim for tests: fdatasync, fsync and syncfs fail with EIO
 * while the file named by SHALE_FAIL_FSYNC exists (a test starts the process, then arms
 * the failure by creating the file and lifts it by removing it). Each failed call is
 * counted on stderr, so a test's log shows that the failure was really injected.
 * SHALE_SLOW_FSYNC_MS=N makes every fdatasync that does not fail take N ms longer (a slow
 * disk: a test can then tell a reply sent before its sync ended from one sent after).
 *
 * Built as build/tests/libfail_fsync.so; used by tests/integration/server_sync_failure.py and
 * server_commit_pipeline.py.
 * Not a part of any shipped binary.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int armed(void)
{
    const char *path = getenv("SHALE_FAIL_FSYNC");
    return path && *path && access(path, F_OK) == 0;
}

static int fail(const char *what, int fd)
{
    fprintf(stderr, "fail_fsync: %s(%d) fails with EIO\n", what, fd);
    errno = EIO;
    return -1;
}

/* The next definition of name after this library (libc's, or a sanitizer's). */
static void *next(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "fail_fsync: no %s to call\n", name);
        abort();
    }
    return f;
}

static void slow_down(void)
{
    const char *ms = getenv("SHALE_SLOW_FSYNC_MS");
    long n = ms ? atol(ms) : 0;
    if (n > 0) {
        struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int fdatasync(int fd)
{
    if (armed())
        return fail("fdatasync", fd);
    slow_down();
    int (*real)(int) = (int (*)(int))next("fdatasync");
    return real(fd);
}

int fsync(int fd)
{
    if (armed())
        return fail("fsync", fd);
    int (*real)(int) = (int (*)(int))next("fsync");
    return real(fd);
}

int syncfs(int fd)
{
    if (armed())
        return fail("syncfs", fd);
    int (*real)(int) = (int (*)(int))next("syncfs");
    return real(fd);
}

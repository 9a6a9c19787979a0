/*
 * file.c - the engine's only door to the operating system's file calls (see file.h),
 * with fault injection for tests: the nth call of a kind can be made to fail.
 */
#include "file.h"
#include "powerloss.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shale.h"

/* ---- fault injection ---- */

typedef struct fault {
    atomic_uint_fast64_t countdown; /* 0: disarmed; n: the nth call from now fails */
    int err;
    bool partial;
    bool sticky;
    atomic_bool tripped; /* sticky and already failed once */
} fault;

static atomic_int faults_armed;
static fault faults[FILE_OP_COUNT];
static atomic_uint_fast64_t op_counts[FILE_OP_COUNT];

void file_fault_arm(enum file_op op, uint64_t nth, int err, bool partial, bool sticky)
{
    fault *f = &faults[op];
    f->err = err;
    f->partial = partial;
    f->sticky = sticky;
    atomic_store(&f->tripped, false);
    atomic_store(&f->countdown, nth ? nth : 1);
    atomic_fetch_add(&faults_armed, 1);
}

void file_fault_clear(void)
{
    for (int i = 0; i < FILE_OP_COUNT; i++) {
        atomic_store(&faults[i].countdown, 0);
        atomic_store(&faults[i].tripped, false);
    }
    atomic_store(&faults_armed, 0);
}

uint64_t file_op_count(enum file_op op)
{
    return atomic_load(&op_counts[op]);
}

/* Counts a call and returns the injected error (negative) for it, or 0. */
static int fault_check(enum file_op op, bool *partial)
{
    atomic_fetch_add_explicit(&op_counts[op], 1, memory_order_relaxed);
    if (partial)
        *partial = false;
    if (atomic_load_explicit(&faults_armed, memory_order_relaxed) == 0)
        return 0;
    fault *f = &faults[op];
    if (atomic_load(&f->tripped))
        return -f->err;
    uint64_t c = atomic_load(&f->countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&f->countdown, &c, c - 1)) {
            if (c == 1) {
                if (f->sticky)
                    atomic_store(&f->tripped, true);
                if (partial)
                    *partial = f->partial;
                return -f->err;
            }
            return 0;
        }
    }
    return 0;
}

/* ---- opening ---- */

static int open_flags(const char *path, int flags, int *fd)
{
    int rc = fault_check(FILE_OP_OPEN, NULL);
    if (rc)
        return rc;
    int f = -1;
    /* the power-loss model must know whether this open creates a directory entry */
    bool tracked = powerloss_on() && (flags & (O_WRONLY | O_RDWR));
    bool created = tracked && (flags & O_CREAT) && access(path, F_OK) != 0;
    uint64_t op = created ? powerloss_create_begin(path) : 0;
    do
        f = open(path, flags | O_CLOEXEC, 0644);
    while (f < 0 && errno == EINTR);
    int err = f < 0 ? -errno : 0;
    if (created)
        powerloss_op_end(op, PL_CREATE, path, NULL, f >= 0);
    if (f < 0)
        return err;
    *fd = f;
    if (tracked)
        powerloss_opened(f, path, created, (flags & O_TRUNC) != 0);
    return 0;
}

int file_open_read(const char *path, int *fd)
{
    return open_flags(path, O_RDONLY, fd);
}

int file_open_write(const char *path, bool truncate, int *fd)
{
    return open_flags(path, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND), fd);
}

int file_open_rw(const char *path, int *fd)
{
    return open_flags(path, O_RDWR | O_CREAT, fd);
}

int file_close(int fd)
{
    if (fd < 0)
        return 0;
    if (powerloss_on())
        powerloss_closed(fd);
    /* Linux closes the descriptor even when close fails; never retry. */
    return close(fd) == 0 || errno == EINTR ? 0 : -errno;
}

/* ---- reading and writing ---- */

ssize_t file_pread(int fd, void *buf, size_t n, uint64_t off)
{
    int rc = fault_check(FILE_OP_READ, NULL);
    if (rc)
        return rc;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

static int write_all(int fd, const void *buf, size_t n, bool positioned, uint64_t off)
{
    bool partial;
    int rc = fault_check(FILE_OP_WRITE, &partial);
    if (rc) {
        if (partial && n > 1) {
            ssize_t w = positioned ? pwrite(fd, buf, n / 2, (off_t)off) : write(fd, buf, n / 2);
            (void)w;
        }
        return rc;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = positioned ? pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done))
                               : write(fd, (const char *)buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)w;
    }
    if (powerloss_on()) {
        off_t end = positioned ? (off_t)(off + n) : lseek(fd, 0, SEEK_CUR);
        if (end > 0)
            powerloss_written(fd, (uint64_t)end);
    }
    return 0;
}

int file_write(int fd, const void *buf, size_t n)
{
    return write_all(fd, buf, n, false, 0);
}

int file_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
    return write_all(fd, buf, n, true, off);
}

/* writev, or pwritev at off when positioned: a positioned write skips the file offset's
   lock that every write() on a descriptor shared by threads takes (fdget_pos). */
static int writev_all(int fd, const struct iovec *iov_in, int iovcnt, bool positioned, uint64_t off)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov_in[i].iov_len;
    const uint64_t end_off = off + total;
    bool partial;
    int rc = fault_check(FILE_OP_WRITE, &partial);
    if (rc) {
        if (partial && iovcnt > 0 && total > 1) {
            /* a torn write: the first half of the bytes reach the file */
            size_t left = total / 2;
            for (int i = 0; i < iovcnt && left; i++) {
                size_t n = iov_in[i].iov_len < left ? iov_in[i].iov_len : left;
                ssize_t w = positioned ? pwrite(fd, iov_in[i].iov_base, n, (off_t)off)
                                       : write(fd, iov_in[i].iov_base, n);
                if (w <= 0)
                    break;
                left -= (size_t)w;
                off += (uint64_t)w;
            }
        }
        return rc;
    }
    struct iovec local[16];
    struct iovec *iov = iovcnt <= 16 ? local : malloc((size_t)iovcnt * sizeof *iov);
    if (!iov)
        return -ENOMEM;
    memcpy(iov, iov_in, (size_t)iovcnt * sizeof *iov);
    struct iovec *cur = iov;
    int cnt = iovcnt;
    rc = 0;
    while (total > 0) {
        int c = cnt > IOV_MAX ? IOV_MAX : cnt;
        ssize_t w = positioned ? pwritev(fd, cur, c, (off_t)off) : writev(fd, cur, c);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        total -= (size_t)w;
        off += (uint64_t)w;
        while (cnt > 0 && (size_t)w >= cur->iov_len) {
            w -= (ssize_t)cur->iov_len;
            cur++;
            cnt--;
        }
        if (cnt > 0 && w > 0) {
            cur->iov_base = (char *)cur->iov_base + w;
            cur->iov_len -= (size_t)w;
        }
    }
    if (iov != local)
        free(iov);
    if (rc == 0 && powerloss_on()) {
        off_t end = positioned ? (off_t)end_off : lseek(fd, 0, SEEK_CUR);
        if (end > 0)
            powerloss_written(fd, (uint64_t)end);
    }
    return rc;
}

int file_writev(int fd, const struct iovec *iov, int iovcnt)
{
    return writev_all(fd, iov, iovcnt, false, 0);
}

int file_pwritev(int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    return writev_all(fd, iov, iovcnt, true, off);
}

int file_fdatasync(int fd)
{
    int rc = fault_check(FILE_OP_SYNC, NULL);
    if (rc)
        return rc;
    uint64_t w = powerloss_on() ? powerloss_sync_begin(fd) : 0;
    if (fdatasync(fd) != 0)
        return -errno;
    if (powerloss_on())
        powerloss_synced(fd, w);
    return 0;
}

int file_fsync(int fd)
{
    int rc = fault_check(FILE_OP_SYNC, NULL);
    if (rc)
        return rc;
    uint64_t w = powerloss_on() ? powerloss_sync_begin(fd) : 0;
    if (fsync(fd) != 0)
        return -errno;
    if (powerloss_on())
        powerloss_synced(fd, w);
    return 0;
}

int file_sync_dir(const char *dir)
{
    int rc = fault_check(FILE_OP_SYNC, NULL);
    int drc = fault_check(FILE_OP_SYNC_DIR, NULL); /* counted even when rc fails it */
    if (rc || drc)
        return rc ? rc : drc;
    uint64_t begin = powerloss_on() ? powerloss_dir_sync_begin() : 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    if (rc == 0 && powerloss_on())
        powerloss_dir_synced(dir, begin);
    return rc;
}

int file_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

int file_size_path(const char *path, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

int file_truncate(int fd, uint64_t size)
{
    return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

int file_preallocate(int fd, uint64_t off, uint64_t len)
{
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    if (errno == EOPNOTSUPP || errno == ENOSYS)
        return 0;
    return -errno;
}

int file_seek(int fd, uint64_t off)
{
    return lseek(fd, (off_t)off, SEEK_SET) == (off_t)off ? 0 : -errno;
}

int file_allocate(int fd, uint64_t len)
{
    int rc = fault_check(FILE_OP_WRITE, NULL); /* a full disk shows here first */
    if (rc)
        return rc;
    if (fallocate(fd, 0, 0, (off_t)len) == 0)
        return 0;
    if (errno == EOPNOTSUPP || errno == ENOSYS)
        return 0;
    return -errno;
}

void file_advise_dontneed(int fd, uint64_t off, uint64_t len)
{
    posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
}

/* ---- names ---- */

int file_rename(const char *from, const char *to)
{
    int rc = fault_check(FILE_OP_RENAME, NULL);
    if (rc)
        return rc;
    bool tracked = powerloss_on();
    uint64_t op = tracked ? powerloss_rename_begin(from, to) : 0;
    rc = rename(from, to) == 0 ? 0 : -errno;
    if (tracked)
        powerloss_op_end(op, PL_RENAME, from, to, rc == 0);
    return rc;
}

int file_unlink(const char *path)
{
    int rc = fault_check(FILE_OP_UNLINK, NULL);
    if (rc)
        return rc;
    bool tracked = powerloss_on();
    uint64_t op = tracked ? powerloss_unlink_begin(path) : 0;
    rc = unlink(path) == 0 ? 0 : -errno;
    if (tracked)
        powerloss_op_end(op, PL_UNLINK, path, NULL, rc == 0);
    return rc;
}

/* Not modelled by the power-loss table (links and directories are made only by
   checkpoints, which sync everything they make before the rename that publishes it). */
int file_link(const char *from, const char *to)
{
    int rc = fault_check(FILE_OP_OPEN, NULL); /* it creates a name, as an open may */
    if (rc)
        return rc;
    return link(from, to) == 0 ? 0 : -errno;
}

int file_rmdir(const char *path)
{
    int rc = fault_check(FILE_OP_UNLINK, NULL);
    if (rc)
        return rc;
    return rmdir(path) == 0 ? 0 : -errno;
}

int file_exists(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : -errno;
}

int file_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int file_list_dir(const char *dir, int (*fn)(const char *name, void *arg), void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = fn(e->d_name, arg);
    }
    closedir(d);
    return rc;
}

int file_lock(const char *path, int *fd)
{
    int f = -1;
    int rc = open_flags(path, O_RDWR | O_CREAT, &f);
    if (rc)
        return rc;
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? SHALE_EBUSY : -errno;
        close(f);
        return rc;
    }
    *fd = f;
    return 0;
}

void file_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

int file_read_all(const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = -1;
    int rc = file_open_read(path, &fd);
    if (rc)
        return rc;
    uint64_t size;
    rc = file_size(fd, &size);
    if (rc == 0 && size > (64u << 20))
        rc = -EFBIG;
    char *p = rc ? NULL : malloc((size_t)size + 1);
    if (rc == 0 && !p)
        rc = -ENOMEM;
    if (rc == 0) {
        ssize_t n = file_pread(fd, p, (size_t)size, 0);
        if (n < 0) {
            rc = (int)n;
        } else {
            p[n] = '\0';
            *data = p;
            *len = (size_t)n;
            p = NULL;
        }
    }
    free(p);
    close(fd);
    return rc;
}

int file_replace_atomic(const char *path, const char *tmp_path, const void *data, size_t len,
                        bool *replaced)
{
    if (replaced)
        *replaced = false;
    int fd = -1;
    int rc = file_open_write(tmp_path, true, &fd);
    if (rc)
        return rc;
    rc = file_write(fd, data, len);
    if (rc == 0)
        rc = file_fsync(fd);
    int crc = file_close(fd);
    if (rc == 0)
        rc = crc;
    if (rc == 0)
        rc = file_rename(tmp_path, path);
    if (rc) {
        unlink(tmp_path);
        return rc;
    }
    if (replaced)
        *replaced = true;
    /* the directory entry itself must be durable */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    return file_sync_dir(dir);
}

/*
 * file.h - the engine's only door to the operating system's file calls. Everything that
 * opens, reads, writes, syncs, renames or deletes a file goes through here, so that tests
 * can make the n-th call of a kind fail (fault injection, see file_fault_*).
 *
 * All functions return 0 (or a byte count where stated) or -errno. Short reads and
 * writes are retried internally; a read that meets end of file early returns the bytes
 * read so far.
 */
#ifndef SHALE_FILE_H
#define SHALE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opening and closing. Writable files are created with mode 0644. */
int file_open_read(const char *path, int *fd);
int file_open_write(const char *path, bool truncate, int *fd); /* O_WRONLY|O_CREAT[|O_TRUNC] */
int file_open_rw(const char *path, int *fd);                   /* O_RDWR|O_CREAT */
int file_close(int fd);

/* Reads up to n bytes at off; returns the byte count (< n only at end of file) or -errno. */
ssize_t file_pread(int fd, void *buf, size_t n, uint64_t off);
/* Writes all n bytes at the current position (append) / at off. 0 or -errno. */
int file_write(int fd, const void *buf, size_t n);
int file_pwrite(int fd, const void *buf, size_t n, uint64_t off);
/* A write of several buffers at once (one writev when possible), at the current position
   / at off (pwritev: no lock on the file offset, which appends by one thread need not
   take). 0 or -errno. */
struct iovec;
int file_writev(int fd, const struct iovec *iov, int iovcnt);
int file_pwritev(int fd, const struct iovec *iov, int iovcnt, uint64_t off);

int file_fdatasync(int fd);
int file_fsync(int fd);
/* Makes a rename or create in dir durable. */
int file_sync_dir(const char *dir);

int file_size(int fd, uint64_t *size);
int file_size_path(const char *path, uint64_t *size);
int file_truncate(int fd, uint64_t size);
/* Moves the file offset that file_writev appends at. */
int file_seek(int fd, uint64_t off);
/* Reserves space (fallocate, falling back to nothing where unsupported). */
int file_preallocate(int fd, uint64_t off, uint64_t len);
/* Allocates [0, len) and sets the file size to at least len (fallocate mode 0); the new
   range reads as zeros. Where fallocate is unsupported, does nothing and returns 0.
   Counts as a FILE_OP_WRITE for fault injection (it is where a full disk shows first). */
int file_allocate(int fd, uint64_t len);
/* Tells the kernel the range will not be read again soon (for compaction inputs). */
void file_advise_dontneed(int fd, uint64_t off, uint64_t len);

int file_rename(const char *from, const char *to);
int file_unlink(const char *path);
int file_exists(const char *path); /* 1, 0 or -errno */
/* A hard link to from named to (-EXDEV across file systems, -EPERM where the file
   system has no links). Counts as a FILE_OP_OPEN for fault injection. */
int file_link(const char *from, const char *to);
/* Removes an empty directory. Counts as a FILE_OP_UNLINK. */
int file_rmdir(const char *path);
int file_mkdir(const char *path);  /* 0 also when it exists as a directory */

/* Whole files and trees (file_copy.c). on_bytes (may be NULL) hears of every chunk
   copied: a progress display. */
typedef void (*file_progress_fn)(void *arg, uint64_t bytes);
/* Copies the first len bytes of from into a new file to (UINT64_MAX: all of it), not
   synced. SHALE_ECORRUPT when from is shorter than len. */
int file_copy_prefix(const char *from, const char *to, uint64_t len, file_progress_fn on_bytes,
                     void *arg);
/* A hard link to from named to, or a whole copy where the file system has no link to give
   (another file system, or none at all): 1 linked, 0 copied, or -errno. */
int file_link_or_copy(const char *from, const char *to, file_progress_fn on_bytes, void *arg);
/* fsyncs every file below dir, then every directory after its entries (dir may also be
   a plain file: it is synced). */
int file_sync_tree(const char *dir);
/* Removes dir and everything below it (or a plain file): -ENOENT when absent. */
int file_remove_tree(const char *dir);

/*
 * Calls fn(name, arg) for each entry of dir except "." and "..". fn returns 0 to go on
 * or a code to stop (returned). The names are not sorted.
 */
int file_list_dir(const char *dir, int (*fn)(const char *name, void *arg), void *arg);

/* Takes an exclusive flock on path (creating it). SHALE_EBUSY when another holds it. */
int file_lock(const char *path, int *fd);
void file_unlock(int fd);

/* Reads a whole small file into a malloc'ed NUL-terminated buffer (caller frees). */
int file_read_all(const char *path, char **data, size_t *len);
/*
 * Writes data to path atomically and durably: temp file, write, fsync, rename, fsync of
 * the directory. tmp_path names the temporary file. *replaced (may be NULL) tells whether
 * the rename happened: when the directory sync after it fails, path already holds the new
 * data but a power cut may still bring the old back, so the caller must keep whatever
 * either version refers to.
 */
int file_replace_atomic(const char *path, const char *tmp_path, const void *data, size_t len,
                        bool *replaced);

/* ---- Fault injection (for tests; costs one relaxed atomic load per call otherwise) ---- */

enum file_op {
    FILE_OP_OPEN = 0, /* every open/create */
    FILE_OP_READ,
    FILE_OP_WRITE,
    FILE_OP_SYNC, /* fsync, fdatasync, sync_dir */
    FILE_OP_RENAME,
    FILE_OP_UNLINK,
    FILE_OP_SYNC_DIR, /* a directory sync only (also counted and failed as FILE_OP_SYNC) */
    FILE_OP_COUNT
};

/*
 * Arms a fault: the nth call (1 = the next one) of kind op from now fails with -err.
 * For FILE_OP_WRITE with partial=true, the failing call first writes half its bytes
 * (a torn write). sticky=true: every call after the nth fails too, until cleared.
 */
void file_fault_arm(enum file_op op, uint64_t nth, int err, bool partial, bool sticky);
/* Disarms every fault. */
void file_fault_clear(void);
/* Calls of kind op made since the process started (to size a fault sweep). */
uint64_t file_op_count(enum file_op op);

/* ---- Power-loss simulation (for tests; powerloss.c) ----
 * file_powerloss_track: from now on, record in the table at shm (bytes long; shared with a
 * parent process, say) how far each written file was written and synced, and every
 * create, rename and unlink in the store's directory that no directory sync has yet made
 * durable (what an unlink or a rename removed is kept as a hard link meanwhile).
 * file_powerloss_apply: after the writer died, does to dir what a power cut would have
 * done, by mode:
 *   WORST: every unsynced byte is lost (each file cut to its synced end) and every
 *          directory operation not yet synced is undone (a created file vanishes, a
 *          renamed one gets its old name back, an unlinked one returns);
 *   REORDER: writeback in any order across files: each file keeps a random part of its
 *          unsynced bytes (none, all, or up to a random byte; the lost end either cut off
 *          or read as zeros), independently of the others, so a newer log may survive
 *          while an older one loses its tail; the directory keeps a random prefix of its
 *          unsynced operations (a journal commits them in order);
 *   HOLES: as REORDER, and a file may also lose a range in the middle of its unsynced
 *          bytes while keeping bytes after it (writeback out of order within a file).
 * seed drives the random choices. Returns the number of files changed; st (may be NULL)
 * says what was lost and kept. */
enum file_powerloss_mode { FILE_POWERLOSS_WORST, FILE_POWERLOSS_REORDER, FILE_POWERLOSS_HOLES };
typedef struct file_powerloss_stats {
    int files_cut;     /* files that lost unsynced bytes */
    int files_partial; /* of those, files that kept some of their unsynced bytes */
    int files_holed;   /* files that lost a middle range and kept bytes after it */
    int ops_undone;    /* directory operations a power cut undid */
    int ops_kept;      /* unsynced directory operations that survived */
    int ops_dropped;   /* operations the table had no room for (treated as durable) */
} file_powerloss_stats;
void file_powerloss_track(void *shm, size_t bytes);
int file_powerloss_apply(const void *shm, size_t bytes, const char *dir,
                         enum file_powerloss_mode mode, uint64_t seed, file_powerloss_stats *st);

#endif

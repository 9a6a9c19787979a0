/*
 * repl_sync.h - a full sync's transfer of files: a checkpoint of the primary's data
 * directory sent over a connected socket, file by file, and received into a directory
 * beside the replica's data directory (docs/server.md, "Replication", the full sync's
 * stream). Also the fingerprints a replica lists (REPLCONF have) so that the primary
 * skips the files it already has.
 *
 * Not the link (handshake, PSYNC, the record stream: repl_link), nor the swap of the
 * server's data for the received directory (repl_swap.h). Every call is blocking on a
 * socket the caller owns; the socket is made non-blocking for the call's duration (its
 * flags restored after) and every wait is bounded by timeout_ms of silence: a dead peer
 * gets -ETIMEDOUT. Nothing here takes the server lock or touches the server; the
 * functions may run on any thread.
 */
#ifndef SHALE_REPL_SYNC_H
#define SHALE_REPL_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "resp.h"

/* A file's name relative to the data directory: "000012.sst" or "fifo-3/000012.sst". */
#define REPL_NAME_MAX 255
/* The most files a REPLCONF have lists (the largest first): bounds the command's size to
   a few MiB whatever the directory holds. */
#define REPL_HAVE_MAX 65536
/* The fingerprint reads this much of a file's end. */
#define REPL_FINGERPRINT_TAIL (64u << 10)

typedef struct repl_file {
    char name[REPL_NAME_MAX + 1];
    uint64_t size;
    uint64_t fingerprint;
} repl_file;

/* A list of files; owned by its holder (repl_files_free). */
typedef struct repl_files {
    repl_file *v;
    size_t n, cap;
} repl_files;

void repl_files_free(repl_files *f);
/* The entry named name, or NULL. */
const repl_file *repl_files_find(const repl_files *f, const char *name);

/*
 * A file's fingerprint: xxh3-64 of its size (8 bytes, little-endian) followed by its last
 * min(size, 64 KiB) bytes. Cheap on a large table and, with the size, tells apart two
 * files of one number (a store's file numbers name one file forever, but a replica's own
 * numbers are not its primary's). *size and *fp are the file's. 0 or -errno.
 */
int repl_fingerprint_fd(int fd, uint64_t *size, uint64_t *fp);
int repl_fingerprint_path(const char *path, uint64_t *size, uint64_t *fp);

/*
 * The files of data directory dir that a primary's checkpoint may share with it: its
 * tables and logs (*.sst, *.log) and those of its fifo-<id> subdirectories, each with its
 * size and fingerprint, into *out (freed and reset first; owned by the caller). An absent
 * dir gives an empty list. 0, -ENOMEM or -errno.
 */
int repl_files_list_have(const char *dir, repl_files *out);

/*
 * "REPLCONF have <name> <size> <fingerprint> ..." as a RESP command (size in decimal,
 * fingerprint in 16 lowercase hex digits) for at most max_files of f's files (at most
 * REPL_HAVE_MAX), the largest first. *out: a malloc'd buffer of *len bytes, the caller's
 * to free; NULL on failure. 0 or -ENOMEM.
 */
int repl_have_format(const repl_files *f, size_t max_files, char **out, size_t *len);
/*
 * The primary's side: REPLCONF have's arguments after "have" (triples) appended to *out
 * (owned by the caller). -EINVAL (not triples, a bad size or fingerprint, a name that
 * repl_name_valid refuses, more than REPL_HAVE_MAX files), -ENOMEM.
 */
int repl_have_parse(const resp_arg *args, size_t n, repl_files *out);

/* Whether name may name a file of a data directory: 1..REPL_NAME_MAX bytes, relative, at
   most one directory level, no "." or ".." component, no empty component, no control
   byte. Every name received is checked with it. */
int repl_name_valid(const char *name, size_t len);

/* A receive's progress, read by INFO on another thread while the receive runs
   (master_sync_total_bytes, _read_bytes, _left_bytes, _perc): atomics. total is the bytes
   of the files sent in full (kept files are not counted); known once the stream's first
   message arrived, 0 before. */
typedef struct repl_progress {
    uint64_t total_bytes;
    uint64_t read_bytes;
} repl_progress;
void repl_progress_read(const repl_progress *p, uint64_t *total, uint64_t *read);

/*
 * The primary's side: sends every file of checkpoint directory dir (made by
 * ks_engines_checkpoint: its files and those of any fifo-<id> subdirectory; a full
 * sync's checkpoint has none, as fifo databases are not replicated), in the
 * full sync's framing: "total", then per file "file" + the bytes + "sum", or "keep" for a
 * file that `have` (the replica's REPLCONF have; may be NULL) lists with the same size
 * and fingerprint, then "end". The bytes go with sendfile(2). timeout_ms: the longest the
 * socket may refuse to take bytes (repl-timeout). 0, -ETIMEDOUT, -EPIPE/-ECONNRESET (the
 * peer left), -ENOMEM, -errno. The socket's contents are undefined after a failure: the
 * caller closes it.
 */
int repl_send_checkpoint(int fd, const char *dir, const repl_files *have, int timeout_ms);

/* The replica's side of a receive; pre/pre_len: bytes the caller already read from the
   socket past +FULLRESYNC's line (they come first); may be 0. */
typedef struct repl_recv_args {
    int fd;
    const void *pre;
    size_t pre_len;
    const char *data_dir;   /* the replica's data directory: where kept files are */
    const repl_files *have; /* what the replica listed (kept files are checked against it) */
    const char *dest;       /* the received directory's final name (repl_sync_dir_of) */
    int timeout_ms;         /* repl-timeout: the longest silence */
    repl_progress *progress; /* may be NULL */
} repl_recv_args;

/*
 * Receives a full sync's files into "<dest>.tmp" (removed first, with any dest a former
 * run left), each file's size and checksum verified, kept files hard-linked (copied where
 * links fail) from data_dir and their size and fingerprint checked against `have`, every
 * file and directory fsynced, then renames it to dest and fsyncs dest's parent: dest
 * exists only complete. Reads nothing past "end" (the records follow it). Errors:
 * SHALE_ECORRUPT (a checksum or size differs), -EPROTO (a malformed or unexpected
 * message, a refused name, a kept file not listed), -ESTALE (a kept file changed or went
 * away since it was listed: sync again with a new list), -ETIMEDOUT, -ECONNRESET (the peer
 * closed), -errno; "<dest>.tmp" is removed and dest absent after a failure.
 */
int repl_recv_checkpoint(const repl_recv_args *a);

/* "<dir>.sync": where a replica receives a full sync, beside its data directory (the
   name repl_swap and the start-up recovery know). -ENAMETOOLONG. */
int repl_sync_dir_of(const char *dir, char *out, size_t n);

#endif

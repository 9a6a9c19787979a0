/*
 * testutil.h - helpers shared by the cmocka unit tests: temporary directories, seeded
 * randomness (the seed is printed and taken from SHALE_SEED), file byte surgery, and
 * small stores (options that make flushes and compactions happen on little data).
 */
#ifndef SHALE_TESTUTIL_H
#define SHALE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $TMPDIR (or /tmp); static buffer per call slot is not used:
   the returned string is malloc'ed, free it with tu_rmdir_free. Aborts on failure. */
char *tu_tempdir(const char *tag);
/* Removes the directory tree and frees the path. */
void tu_rmdir_free(char *dir);

/* The test seed: SHALE_SEED from the environment or the clock; printed once. */
uint64_t tu_seed(void);
/* xorshift64* random numbers from a state seeded with tu_seed(). */
uint64_t tu_rand(uint64_t *state);
/* Uniform in [0, n). */
uint64_t tu_rand_below(uint64_t *state, uint64_t n);

/* File surgery for corruption tests. Each returns 0 or -errno. */
int tu_flip_byte(const char *path, uint64_t offset);
int tu_truncate(const char *path, uint64_t size);
int64_t tu_file_size(const char *path);
/* Copies src to dst (whole file). */
int tu_copy_file(const char *src, const char *dst);

/* What a crash of the process would leave of the store in dir: a copy of its files in a
   new temporary directory (free with tu_rmdir_free), CURRENT and the manifest first,
   then tables, then logs, retried when background work deletes a file meanwhile. NULL
   when it cannot be made. */
char *tu_crash_image(const char *dir);

/* len bytes that lz4 cannot shrink, from a seed (the same seed gives the same bytes): a
   value's size in the value log stays as written. */
void tu_random_bytes(char *out, size_t len, uint64_t seed);

/* Wall-clock milliseconds (what expiry times are measured in). */
uint64_t tu_now_ms(void);

struct shale_options;
struct shale_db;
/* Defaults with 256 KiB memtables, 128 KiB tables, a 512 KiB L1 and a 1 MiB cache. */
void tu_small_options(struct shale_options *o);
/* Opens dir; prints why and returns NULL when it fails. */
struct shale_db *tu_open(const char *dir, const struct shale_options *o);

#endif

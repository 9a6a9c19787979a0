/*
 * sha1.h - SHA-1 (FIPS 180-4) over a buffer, as scripts are named by: the lower-case hex
 * digest of a script's body is its id for EVALSHA, and redis.sha1hex returns it. Not a
 * streaming API: scripts are hashed whole.
 */
#ifndef SHALE_SHA1_H
#define SHALE_SHA1_H

#include <stddef.h>
#include <stdint.h>

/* The 20-byte digest of p[0..n). */
void sha1_digest(const void *p, size_t n, uint8_t out[20]);
/* The digest as 40 lower-case hex digits and a NUL. */
void sha1_hex(const void *p, size_t n, char out[41]);

#endif

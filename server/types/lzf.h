/*
 * lzf.h - LZF decompression (the format of Marc Lehmann's liblzf, which Redis uses for
 * compressed strings in RDB files and DUMP payloads). A stream is a sequence of runs:
 *
 *   000LLLLL + L+1 literal bytes
 *   LLLOOOOO OOOOOOOO             copy L+2 bytes from O+1 bytes back (L 1..6)
 *   111OOOOO LLLLLLLL OOOOOOOO    copy L+9 bytes from O+1 bytes back
 *
 * A copy may overlap its own output (a run of one byte repeated).
 */
#ifndef SHALE_LZF_H
#define SHALE_LZF_H

#include <stddef.h>

/* Decompresses in[0..inlen) into out[0..outlen). Returns the bytes written, or 0 when
   the input is malformed or needs more than outlen bytes (liblzf's contract: a caller
   that knows the decompressed length compares it with the result). */
size_t lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen);

#endif

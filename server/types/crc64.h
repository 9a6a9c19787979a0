/*
 * crc64.h - the CRC-64 of Redis's DUMP payloads and RDB files: CRC-64/Jones (polynomial
 * 0xad93d23594c935a9, reflected input and output, initial value 0, no final xor). The
 * check value of "123456789" is 0xe9c6d914c4b8d9ca.
 */
#ifndef SHALE_CRC64_H
#define SHALE_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of p[0..n) continuing from crc (0 to start). Thread-safe. */
uint64_t crc64_jones(uint64_t crc, const void *p, size_t n);

#endif

/* crc64.c - CRC-64/Jones, slicing by 8 bytes (crc64.h). */
#include "crc64.h"

#include <pthread.h>

/* The polynomial with its bits reversed: the CRC is reflected, so bits go LSB first. */
#define POLY_REFLECTED 0x95ac9329ac4bc9b5ull

/* table[0] is the byte-at-a-time table; table[k][b] is the CRC of b followed by k zero
   bytes, so eight input bytes fold in with eight lookups. */
static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int i = 0; i < 8; i++)
            c = c & 1 ? (c >> 1) ^ POLY_REFLECTED : c >> 1;
        table[0][b] = c;
    }
    for (unsigned b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = table[0][table[k - 1][b] & 0xff] ^ (table[k - 1][b] >> 8);
}

uint64_t crc64_jones(uint64_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, table_build);
    const unsigned char *s = p;
    for (; n >= 8; n -= 8, s += 8) {
        uint64_t w = crc ^ ((uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                            (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                            (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56);
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
              table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    }
    for (; n; n--, s++)
        crc = table[0][(crc ^ *s) & 0xff] ^ (crc >> 8);
    return crc;
}

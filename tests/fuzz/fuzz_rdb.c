/*
 * fuzz_rdb.c - RESTORE's payload decoder (server/types/rdb_read.c and the blob readers
 * of rdb_pack.c) on arbitrary values. The input is a payload without its footer (type
 * byte and value): the target appends RDB version 10 and the right CRC-64, so every
 * input reaches the parser, and also checks the input as a whole payload (the footer
 * check). A decode is a value or a clean error, never a crash, a read outside the
 * input or an allocation far beyond its size; a value that decodes must encode, and
 * its encoding must decode and encode again to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"
#include "rdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* encode(v), then decode and encode that again: the same bytes. */
static void check_round_trip(const rdb_value *v)
{
    char *a, *b;
    size_t al, bl;
    if (rdb_encode(v, &a, &al) != 0)
        __builtin_trap(); /* a decoded value always has a payload */
    rdb_value w;
    if (rdb_decode(a, al, &w) != 0)
        __builtin_trap();
    if (rdb_encode(&w, &b, &bl) != 0 || bl != al || memcmp(a, b, al) != 0)
        __builtin_trap();
    free(a);
    free(b);
    rdb_value_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rdb_value v;
    if (rdb_decode(data, size, &v) == 0) /* the input as a whole payload */
        check_round_trip(&v);
    rdb_value_free(&v);

    uint8_t *p = malloc(size + 10);
    if (!p)
        return 0;
    if (size)
        memcpy(p, data, size);
    p[size] = 10;
    p[size + 1] = 0;
    uint64_t crc = crc64_jones(0, p, size + 2);
    for (int i = 0; i < 8; i++)
        p[size + 2 + i] = (uint8_t)(crc >> (8 * i));
    int rc = rdb_decode(p, size + 10, &v);
    if (rc == 0)
        check_round_trip(&v);
    else if (rc != RDB_EFORMAT && rc != RDB_ECHECKSUM)
        __builtin_trap(); /* -ENOMEM: an input this small must not need that much */
    rdb_value_free(&v);
    free(p);
    return 0;
}

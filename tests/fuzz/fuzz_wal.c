/* fuzz_wal.c - the write-ahead log reader (and the batch decoder, compressed values
   included) on an arbitrary file: records or a clean error, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "wal.h"
#include "write_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *arg, const batch_entry *e)
{
    (*(size_t *)arg) += e->key.len + e->value.len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    if (fuzz_write_file(path, data, size))
        return 0;
    wal_reader *r;
    if (wal_reader_open(path, 2, &r) == 0) {
        slice rec;
        size_t bytes = 0;
        while (wal_reader_next(r, &rec) == 1)
            batch_rep_iterate_entries(rec, count, &bytes);
        wal_reader_close(r);
    }
    unlink(path);
    return 0;
}

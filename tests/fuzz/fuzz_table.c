/* fuzz_table.c - the table reader on an arbitrary file: open, iterate, seek, point reads
   and range-tombstone lookups give entries or SHALE_ECORRUPT, never a crash. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "format.h"
#include "fuzz_file.h"
#include "iterator.h"
#include "range_del.h"
#include "table_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    if (fuzz_write_file(path, data, size))
        return 0;
    int fd = open(path, O_RDONLY);
    table *t = NULL;
    if (fd >= 0 && table_open(fd, 7, size, NULL, &t) == 0) {
        iter *it = table_iter_new(t, false);
        if (it) {
            int n = 0;
            for (iter_seek_to_first(it); iter_valid(it) && n < 100000; iter_next(it))
                n++;
            buf k = {0};
            ikey_append(&k, slice_make("m", 1), 1, KIND_FOR_SEEK);
            iter_seek(it, buf_slice(&k));
            buf_free(&k);
            iter_free(it);
        }
        /* the range tombstones (format version 2) answer lookups */
        rdel_list_cover(table_range_dels(t), slice_make("m", 1), UINT64_MAX >> 8);
        table_close(t); /* closes fd */
    } else if (fd >= 0) {
        close(fd);
    }
    unlink(path);
    return 0;
}

/* fuzz_file.h - for fuzz targets whose code under test reads a file. */
#ifndef SHALE_FUZZ_FILE_H
#define SHALE_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes data to a new temporary file; its name into path (64 bytes). 0 or -1. */
static inline int fuzz_write_file(char *path, const uint8_t *data, size_t size)
{
    snprintf(path, 64, "%s/shale-fuzz-XXXXXX", "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    return done == size ? 0 : -1;
}

#endif

/* error.c - names for shale's error codes and for -errno. */
#include <stdlib.h>
#include <string.h>

#include "shale.h"

const char *shale_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case SHALE_ENOTFOUND:
        return "not found";
    case SHALE_ECORRUPT:
        return "corruption: a checksum or structure check failed";
    case SHALE_EBUSY:
        return "the database is locked by another process or handle";
    case SHALE_ESTALL:
        return "write stalled longer than write_stall_timeout_ms";
    case SHALE_EFAILED:
        return "an earlier write failed; writes are refused until shale_resume or a reopen";
    case SHALE_EVERSION:
        return "unsupported file format version";
    case SHALE_ENOREWRITE:
        return "no value-log segment reaches the discard ratio";
    case SHALE_ECLOSING:
        return "the database is closing";
    case SHALE_ENOTSUP:
        return "not supported";
    case SHALE_ESEQ:
        return "the record's first sequence is not above the store's last sequence";
    }
    if (code < 0 && code > -4096)
        return strerror(-code); /* glibc: thread-safe for known codes, static strings */
    return "unknown error";
}

void shale_free(void *p)
{
    free(p);
}

/*
 * slice.h - a borrowed byte range, the currency of the engine's internal interfaces.
 * A slice never owns its bytes; whoever hands one out says how long they live.
 */
#ifndef SHALE_SLICE_H
#define SHALE_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct slice {
    const char *data;
    size_t len;
} slice;

static inline slice slice_make(const void *data, size_t len)
{
    slice s = {(const char *)data, len};
    return s;
}

static inline slice slice_from_str(const char *s)
{
    return slice_make(s, strlen(s));
}

/* memcmp order, shorter first on a common prefix. */
static inline int slice_compare(slice a, slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.data, b.data, n) : 0;
    if (r != 0)
        return r;
    return (a.len > b.len) - (a.len < b.len);
}

static inline int slice_equal(slice a, slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* A growable owned byte buffer (malloc). buf_free releases it; zero-initialised is empty. */
typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf;

int buf_reserve(buf *b, size_t extra); /* 0 or -ENOMEM */
int buf_append(buf *b, const void *p, size_t n);
int buf_set(buf *b, const void *p, size_t n);
void buf_free(buf *b);
static inline slice buf_slice(const buf *b)
{
    return slice_make(b->data, b->len);
}

#endif

/*
 * coding.c - varint encoding and the growable byte buffer. Fixed-width helpers are
 * inline in coding.h. Decoders are bounds-checked: corrupt input yields an error, never
 * a read past the end.
 */
#include "coding.h"

#include <errno.h>
#include <stdlib.h>

#include "shale.h"

char *encode_varint32(char *p, uint32_t v)
{
    return encode_varint64(p, v);
}

char *encode_varint64(char *p, uint64_t v)
{
    unsigned char *q = (unsigned char *)p;
    while (v >= 0x80) {
        *q++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *q++ = (unsigned char)v;
    return (char *)q;
}

int varint_length(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

const char *decode_varint64(const char *p, const char *limit, uint64_t *v)
{
    uint64_t result = 0;
    for (unsigned shift = 0; shift <= 63 && p < limit; shift += 7) {
        uint64_t byte = (unsigned char)*p++;
        result |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = result;
            return p;
        }
    }
    return NULL;
}

const char *decode_varint32(const char *p, const char *limit, uint32_t *v)
{
    /* Fast path: one byte. */
    if (p < limit && !((unsigned char)*p & 0x80)) {
        *v = (unsigned char)*p;
        return p + 1;
    }
    uint32_t result = 0;
    for (unsigned shift = 0; shift <= 28 && p < limit; shift += 7) {
        uint32_t byte = (unsigned char)*p++;
        result |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = result;
            return p;
        }
    }
    return NULL;
}

int buf_reserve(buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_set(buf *b, const void *p, size_t n)
{
    b->len = 0;
    return buf_append(b, p, n);
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int put_fixed32(buf *b, uint32_t v)
{
    char tmp[4];
    encode_fixed32(tmp, v);
    return buf_append(b, tmp, 4);
}

int put_fixed64(buf *b, uint64_t v)
{
    char tmp[8];
    encode_fixed64(tmp, v);
    return buf_append(b, tmp, 8);
}

int put_varint32(buf *b, uint32_t v)
{
    char tmp[5];
    return buf_append(b, tmp, (size_t)(encode_varint32(tmp, v) - tmp));
}

int put_varint64(buf *b, uint64_t v)
{
    char tmp[10];
    return buf_append(b, tmp, (size_t)(encode_varint64(tmp, v) - tmp));
}

int put_length_prefixed(buf *b, slice s)
{
    int rc = put_varint64(b, s.len);
    return rc ? rc : buf_append(b, s.data, s.len);
}

int get_varint32(slice *in, uint32_t *v)
{
    const char *p = decode_varint32(in->data, in->data + in->len, v);
    if (!p)
        return SHALE_ECORRUPT;
    in->len -= (size_t)(p - in->data);
    in->data = p;
    return 0;
}

int get_varint64(slice *in, uint64_t *v)
{
    const char *p = decode_varint64(in->data, in->data + in->len, v);
    if (!p)
        return SHALE_ECORRUPT;
    in->len -= (size_t)(p - in->data);
    in->data = p;
    return 0;
}

int get_fixed32(slice *in, uint32_t *v)
{
    if (in->len < 4)
        return SHALE_ECORRUPT;
    *v = decode_fixed32(in->data);
    in->data += 4;
    in->len -= 4;
    return 0;
}

int get_fixed64(slice *in, uint64_t *v)
{
    if (in->len < 8)
        return SHALE_ECORRUPT;
    *v = decode_fixed64(in->data);
    in->data += 8;
    in->len -= 8;
    return 0;
}

int get_length_prefixed(slice *in, slice *out)
{
    uint64_t n;
    int rc = get_varint64(in, &n);
    if (rc)
        return rc;
    if (n > in->len)
        return SHALE_ECORRUPT;
    *out = slice_make(in->data, (size_t)n);
    in->data += n;
    in->len -= (size_t)n;
    return 0;
}

/*
 * vlog.c - value pointers and value-log segments (see vlog.h): reading a value with one
 * pread and its checksum, and the segment's space accounting.
 */
#include "vlog.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#include "coding.h"
#include "file.h"
#include "format.h"
#include "shale.h"
#include "table_cache.h"
#include "version.h"

size_t vptr_encode(char *out, const vptr *p)
{
    char *q = encode_varint64(out, p->expire_at_ms);
    q = encode_varint64(q, p->segment);
    q = encode_varint64(q, p->offset);
    q = encode_varint32(q, p->len);
    encode_fixed32(q, p->checksum);
    q = encode_varint32(q + 4, p->stored_len);
    return (size_t)(q - out);
}

int vptr_decode(slice v, vptr *p)
{
    const char *q = v.data, *end = v.data + v.len;
    q = decode_varint64(q, end, &p->expire_at_ms);
    q = q ? decode_varint64(q, end, &p->segment) : NULL;
    q = q ? decode_varint64(q, end, &p->offset) : NULL;
    q = q ? decode_varint32(q, end, &p->len) : NULL;
    if (!q || end - q < 4)
        return SHALE_ECORRUPT;
    p->checksum = decode_fixed32(q);
    q = decode_varint32(q + 4, end, &p->stored_len);
    return q == end ? 0 : SHALE_ECORRUPT;
}

vlog_segment *vlog_segment_new(const char *dir, uint64_t number)
{
    vlog_segment *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    char path[PATH_MAX];
    if (file_name_log(path, sizeof path, dir, number) < 0 || !(s->path = strdup(path))) {
        free(s);
        return NULL;
    }
    s->number = number;
    atomic_init(&s->refs, 1);
    return s;
}

void vlog_segment_ref(vlog_segment *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void vlog_segment_unref(vlog_segment *s, version_set *vs)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (vs && atomic_load(&s->obsolete))
        version_set_add_obsolete_log(vs, s->number);
    free(s->path);
    free(s);
}

/* Reads p's stored bytes into v (and stored, when compressed) and checks them. */
static int read_value(int fd, const vptr *p, char *v, char *stored)
{
    size_t want = p->stored_len ? p->stored_len : p->len;
    ssize_t n = file_pread(fd, stored, want, p->offset);
    if (n < 0)
        return (int)n;
    if ((size_t)n != want)
        return SHALE_ECORRUPT;
    if (p->stored_len &&
        (p->stored_len > INT32_MAX || p->len > INT32_MAX ||
         LZ4_decompress_safe(stored, v, (int)p->stored_len, (int)p->len) != (int)p->len))
        return SHALE_ECORRUPT;
    return checksum32(v, p->len) == p->checksum ? 0 : SHALE_ECORRUPT;
}

/* The segment's descriptor through tc (*h to release), or one of its own (*own). */
static int segment_fd(vlog_segment *s, table_cache *tc, cache_handle **h, int *own)
{
    int rc;
    *h = NULL;
    *own = -1;
    if (tc) {
        rc = table_cache_find_log(tc, s->number, h);
        if (rc == 0)
            return table_cache_log_fd(*h);
    } else {
        rc = file_open_read(s->path, own);
        if (rc == 0)
            return *own;
    }
    return rc == -ENOENT ? SHALE_ECORRUPT : rc; /* a segment the version lists is gone */
}

int vlog_segment_read(vlog_segment *s, table_cache *tc, const vptr *p, char **out)
{
    *out = NULL;
    char *v = malloc((size_t)p->len + 1);
    char *stored = p->stored_len ? malloc(p->stored_len) : v;
    if (!v || !stored) {
        free(v);
        if (stored != v)
            free(stored);
        return -ENOMEM;
    }
    cache_handle *h;
    int own;
    int fd = segment_fd(s, tc, &h, &own);
    int rc = fd < 0 ? fd : read_value(fd, p, v, stored);
    if (h)
        table_cache_release(tc, h);
    if (own >= 0)
        file_close(own);
    if (stored != v)
        free(stored);
    if (rc) {
        free(v);
        return rc;
    }
    v[p->len] = '\0';
    *out = v;
    return 0;
}

uint64_t vlog_segment_file_size(vlog_segment *s)
{
    uint64_t size = 0;
    if (file_size_path(s->path, &size))
        return 0;
    return size;
}

uint64_t vlog_segment_live(const vlog_segment *s, uint64_t now_ms)
{
    uint64_t pointed = atomic_load(&s->pointed), dead = atomic_load(&s->discarded);
    uint64_t exp_max = atomic_load(&s->exp_max);
    if (exp_max && exp_max <= now_ms) {
        uint64_t ep = atomic_load(&s->exp_pointed), ed = atomic_load(&s->exp_discarded);
        if (ep > ed)
            dead += ep - ed;
    }
    return pointed > dead ? pointed - dead : 0;
}

double vlog_segment_garbage(vlog_segment *s, uint64_t now_ms, uint64_t *size, uint64_t *live)
{
    *size = vlog_segment_file_size(s);
    *live = vlog_segment_live(s, now_ms);
    if (*size == 0 || *live >= *size)
        return 0.0;
    return (double)(*size - *live) / (double)*size;
}

/*
 * batch_decode.c - the public reader of an encoded write batch (shale_batch_rep_iterate,
 * shale_batch_rep_range, shale.h): write_batch.c's decoder with the engine's kinds turned into the public ones
 * and an expiring value's expiry taken off its front.
 */
#include <errno.h>

#include "coding.h"
#include "format.h"
#include "write_batch.h"

typedef struct decode_ctx {
    int (*fn)(void *arg, uint64_t seq, shale_entry_kind kind, const void *key, size_t klen,
              const void *val, size_t vlen, uint64_t expire_at_ms);
    void *arg;
} decode_ctx;

static int one_entry(void *arg, const batch_entry *e)
{
    decode_ctx *d = arg;
    const char *v = e->value.data;
    size_t vlen = e->value.len;
    switch (e->kind) {
    case KIND_DELETE:
        return d->fn(d->arg, e->seq, SHALE_ENTRY_DELETE, e->key.data, e->key.len, NULL, 0, 0);
    case KIND_VALUE:
        return d->fn(d->arg, e->seq, SHALE_ENTRY_PUT, e->key.data, e->key.len, v, vlen, 0);
    case KIND_EXPIRING:
        if (vlen < 8)
            return SHALE_ECORRUPT;
        return d->fn(d->arg, e->seq, SHALE_ENTRY_PUT, e->key.data, e->key.len, v + 8,
                     vlen - 8, decode_fixed64(v));
    case KIND_RANGE_DELETE:
        return d->fn(d->arg, e->seq, SHALE_ENTRY_RANGE_DELETE, e->key.data, e->key.len, v,
                     vlen, 0);
    default: /* a value-log pointer is never in a batch */
        return SHALE_ECORRUPT;
    }
}

int shale_batch_rep_iterate(const void *rep, size_t len,
                            int (*fn)(void *arg, uint64_t seq, shale_entry_kind kind,
                                      const void *key, size_t klen, const void *val,
                                      size_t vlen, uint64_t expire_at_ms),
                            void *arg)
{
    if (!rep || !fn)
        return -EINVAL;
    decode_ctx d = {fn, arg};
    return batch_rep_iterate_entries((slice){.data = rep, .len = len}, one_entry, &d);
}

int shale_batch_rep_range(const void *rep, size_t len, uint64_t *first, uint64_t *last)
{
    uint64_t seq;
    uint32_t count;
    if (!rep || batch_rep_header((slice){.data = rep, .len = len}, &seq, &count) || count == 0)
        return 0;
    *first = seq;
    *last = seq + count - 1;
    return 1;
}

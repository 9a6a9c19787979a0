/*
 * table_builder.c - writes a sorted table (layout in format.h and docs/format.md):
 * data blocks | filter block | properties block | index block | footer.
 * Output is buffered and written in large chunks through file.c.
 */
#include "table_builder.h"

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "file.h"
#include "format.h"

#define OUT_BUFFER (256u << 10)

struct table_builder {
    int fd;
    size_t block_size;
    bool lz4;
    int bits_per_key;
    uint64_t offset; /* bytes produced (written + buffered) */
    buf out;         /* not yet written */
    block_builder data, index;
    block_builder rdel; /* range tombstones: (begin, seq, KIND_RANGE_DELETE) -> end */
    buf rdel_key;
    buf last_key;
    bool pending_index;
    block_handle pending;
    uint64_t *hashes;
    size_t n_hashes, cap_hashes;
    buf compressed;
    table_props props;
    int status;
    bool finished;
};

int table_builder_new(const shale_options *o, int fd, table_builder **out)
{
    *out = NULL;
    table_builder *tb = calloc(1, sizeof *tb);
    if (!tb)
        return -ENOMEM;
    tb->fd = fd;
    tb->block_size = o->block_size;
    tb->lz4 = o->compression == SHALE_COMPRESSION_LZ4;
    tb->bits_per_key = o->bloom_bits_per_key;
    block_builder_init(&tb->data, o->block_restart_interval);
    block_builder_init(&tb->index, 1);
    block_builder_init(&tb->rdel, o->block_restart_interval);
    tb->props.min_seq = UINT64_MAX;
    *out = tb;
    return 0;
}

static int flush_out(table_builder *tb)
{
    if (tb->out.len == 0)
        return 0;
    int rc = file_write(tb->fd, tb->out.data, tb->out.len);
    tb->out.len = 0;
    return rc;
}

static int emit(table_builder *tb, const void *p, size_t n)
{
    int rc = buf_append(&tb->out, p, n);
    if (rc)
        return rc;
    tb->offset += n;
    return tb->out.len >= OUT_BUFFER ? flush_out(tb) : 0;
}

/* Writes contents (lz4 when allowed and worth it) plus the trailer; sets *h. */
static int write_block(table_builder *tb, slice raw, bool compress, block_handle *h)
{
    slice contents = raw;
    char type = BLOCK_RAW;
    if (compress && tb->lz4 && raw.len > 64) {
        int bound = LZ4_compressBound((int)raw.len);
        if (buf_reserve(&tb->compressed, (size_t)bound + 5))
            return -ENOMEM;
        char *p = encode_varint32(tb->compressed.data, (uint32_t)raw.len);
        size_t hdr = (size_t)(p - tb->compressed.data);
        int n = LZ4_compress_default(raw.data, p, (int)raw.len, bound);
        if (n > 0 && (size_t)n + hdr < raw.len - raw.len / 8) {
            contents = slice_make(tb->compressed.data, (size_t)n + hdr);
            type = BLOCK_LZ4;
        }
    }
    h->offset = tb->offset;
    h->size = contents.len;
    char trailer[BLOCK_TRAILER_SIZE];
    trailer[0] = type;
    encode_fixed32(trailer + 1, block_checksum(contents.data, contents.len, type));
    int rc = emit(tb, contents.data, contents.len);
    if (rc == 0)
        rc = emit(tb, trailer, sizeof trailer);
    return rc;
}

static int flush_data_block(table_builder *tb)
{
    if (block_builder_empty(&tb->data))
        return 0;
    slice raw = block_builder_finish(&tb->data);
    int rc = write_block(tb, raw, true, &tb->pending);
    block_builder_reset(&tb->data);
    if (rc)
        return rc;
    tb->pending_index = true;
    tb->props.num_data_blocks++;
    tb->props.data_bytes += tb->pending.size + BLOCK_TRAILER_SIZE;
    return 0;
}

static int add_index_entry(table_builder *tb, slice key)
{
    char v[20];
    char *p = encode_varint64(v, tb->pending.offset);
    p = encode_varint64(p, tb->pending.size);
    tb->pending_index = false;
    return block_builder_add(&tb->index, key, slice_make(v, (size_t)(p - v)));
}

/* A short internal key k with last <= k < next (LevelDB's FindShortestSeparator). */
static int separator(slice last, slice next, buf *out)
{
    slice a = ikey_user_key(last), b = ikey_user_key(next);
    size_t n = a.len < b.len ? a.len : b.len, i = 0;
    while (i < n && a.data[i] == b.data[i])
        i++;
    if (i < n) {
        unsigned char c = (unsigned char)a.data[i];
        if (c < 0xff && c + 1 < (unsigned char)b.data[i]) {
            out->len = 0;
            if (buf_append(out, a.data, i + 1))
                return -ENOMEM;
            out->data[i] = (char)(c + 1);
            return put_fixed64(out, pack_trailer(MAX_SEQUENCE, KIND_FOR_SEEK));
        }
    }
    return buf_set(out, last.data, last.len);
}

int table_builder_add(table_builder *tb, slice ikey, slice value)
{
    if (tb->status)
        return tb->status;
    int rc = 0;
    buf sep = {0};
    if (tb->pending_index) {
        rc = separator(buf_slice(&tb->last_key), ikey, &sep);
        if (rc == 0)
            rc = add_index_entry(tb, buf_slice(&sep));
        buf_free(&sep);
        if (rc)
            return tb->status = rc;
    }
    slice ukey = ikey_user_key(ikey);
    if (tb->bits_per_key > 0 && (tb->props.num_entries == 0 ||
                                 !slice_equal(ukey, ikey_user_key(buf_slice(&tb->last_key))))) {
        if (tb->n_hashes == tb->cap_hashes) {
            size_t cap = tb->cap_hashes ? tb->cap_hashes * 2 : 1024;
            uint64_t *p = realloc(tb->hashes, cap * sizeof *p);
            if (!p)
                return tb->status = -ENOMEM;
            tb->hashes = p;
            tb->cap_hashes = cap;
        }
        tb->hashes[tb->n_hashes++] = bloom_hash(ukey);
    }
    int kind = ikey_kind(ikey);
    /* the first (newest) entry of its user key in the table, and not a tombstone */
    bool live_key =
        kind != KIND_DELETE &&
        (tb->props.num_entries == 0 || !slice_equal(ukey, ikey_user_key(buf_slice(&tb->last_key))));
    rc = block_builder_add(&tb->data, ikey, value);
    if (rc == 0)
        rc = buf_set(&tb->last_key, ikey.data, ikey.len);
    if (rc)
        return tb->status = rc;
    table_props *p = &tb->props;
    uint64_t seq = ikey_seq(ikey);
    p->num_live_keys += live_key;
    p->num_entries++;
    p->raw_key_bytes += ikey.len;
    p->raw_value_bytes += value.len;
    if (seq < p->min_seq)
        p->min_seq = seq;
    if (seq > p->max_seq)
        p->max_seq = seq;
    if (kind == KIND_DELETE) {
        p->num_deletes++;
    } else {
        /* entry_expiry reads a pointer's expiry as the varint it starts with (vlog.h);
           read as a fixed64 it made every pointer look expiring, and a table of pointers
           look expired at 0 (#15.3). No expiry: the table never expires as a whole. */
        uint64_t e = entry_expiry(kind, value);
        if (e == 0)
            e = UINT64_MAX;
        if (e > p->max_expire_at_ms)
            p->max_expire_at_ms = e;
    }
    if (block_builder_size_estimate(&tb->data) >= tb->block_size) {
        rc = flush_data_block(tb);
        if (rc)
            return tb->status = rc;
    }
    return 0;
}

int table_builder_add_range_del(table_builder *tb, slice begin, slice end, uint64_t seq)
{
    if (tb->status)
        return tb->status;
    tb->rdel_key.len = 0;
    if (ikey_append(&tb->rdel_key, begin, seq, KIND_RANGE_DELETE) ||
        block_builder_add(&tb->rdel, buf_slice(&tb->rdel_key), end))
        return tb->status = -ENOMEM;
    table_props *p = &tb->props;
    p->num_range_dels++;
    if (seq < p->min_seq)
        p->min_seq = seq;
    if (seq > p->max_seq)
        p->max_seq = seq;
    return 0;
}

/* Properties block: varint32 field count, then that many varint64 fields in this order
   (the range-deletion fields only when the table has some). */
static int encode_props(const table_props *p, buf *out)
{
    uint64_t f[] = {p->num_entries,      p->num_deletes,     p->raw_key_bytes,  p->raw_value_bytes,
                    p->data_bytes,       p->num_data_blocks, p->min_seq,        p->max_seq,
                    p->max_expire_at_ms, p->num_live_keys,   p->num_range_dels, p->range_del_offset,
                    p->range_del_size};
    uint32_t n = p->num_range_dels ? 13 : 10;
    int rc = put_varint32(out, n);
    for (uint32_t i = 0; i < n; i++)
        rc |= put_varint64(out, f[i]);
    return rc ? -ENOMEM : 0;
}

int table_builder_finish(table_builder *tb)
{
    if (tb->status)
        return tb->status;
    int rc = flush_data_block(tb);
    if (rc == 0 && tb->pending_index)
        rc = add_index_entry(tb, buf_slice(&tb->last_key));
    if (tb->props.num_entries == 0 && tb->props.num_range_dels == 0)
        tb->props.min_seq = 0;
    block_handle filter = {0, 0}, props = {0, 0}, index = {0, 0};
    buf tmp = {0};
    if (rc == 0 && tb->bits_per_key > 0) {
        rc = bloom_build(tb->hashes, tb->n_hashes, tb->bits_per_key, &tmp);
        if (rc == 0)
            rc = write_block(tb, buf_slice(&tmp), false, &filter);
    }
    if (rc == 0 && tb->props.num_range_dels) {
        block_handle rd;
        rc = write_block(tb, block_builder_finish(&tb->rdel), true, &rd);
        tb->props.range_del_offset = rd.offset;
        tb->props.range_del_size = rd.size;
    }
    if (rc == 0) {
        tmp.len = 0;
        rc = encode_props(&tb->props, &tmp);
        if (rc == 0)
            rc = write_block(tb, buf_slice(&tmp), false, &props);
    }
    buf_free(&tmp);
    if (rc == 0)
        rc = write_block(tb, block_builder_finish(&tb->index), false, &index);
    if (rc == 0) {
        char footer[TABLE_FOOTER_SIZE];
        char *p = footer;
        block_handle hs[3] = {index, filter, props};
        for (int i = 0; i < 3; i++) {
            encode_fixed64(p, hs[i].offset);
            encode_fixed64(p + 8, hs[i].size);
            p += BLOCK_HANDLE_SIZE;
        }
        /* a table with range tombstones is version 2: a reader that would ignore them
           must refuse it instead */
        encode_fixed32(p, tb->props.num_range_dels ? TABLE_FORMAT_VERSION_RANGE_DEL
                                                   : TABLE_FORMAT_VERSION);
        encode_fixed32(p + 4, checksum32(footer, 52));
        encode_fixed64(p + 8, TABLE_MAGIC);
        rc = emit(tb, footer, sizeof footer);
    }
    if (rc == 0)
        rc = flush_out(tb);
    tb->finished = true;
    return tb->status = rc;
}

uint64_t table_builder_file_size(const table_builder *tb)
{
    return tb->offset;
}

uint64_t table_builder_num_entries(const table_builder *tb)
{
    return tb->props.num_entries;
}

const table_props *table_builder_props(const table_builder *tb)
{
    return &tb->props;
}

void table_builder_free(table_builder *tb)
{
    if (!tb)
        return;
    block_builder_destroy(&tb->data);
    block_builder_destroy(&tb->index);
    block_builder_destroy(&tb->rdel);
    buf_free(&tb->rdel_key);
    buf_free(&tb->last_key);
    buf_free(&tb->out);
    buf_free(&tb->compressed);
    free(tb->hashes);
    free(tb);
}

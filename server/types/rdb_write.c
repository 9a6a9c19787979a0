/*
 * rdb_write.c - a value as the DUMP payload Redis 7.0 would write for it (rdb.h), with
 * Redis's default encoding limits and no LZF: a string as an integer encoding when it is
 * a small integer; a hash as a listpack while small, else field by field; a list as
 * quicklist 2 nodes of listpacks, split where RPUSHes of its elements would split them;
 * a set as an intset while it holds few integers, else member by member; a sorted set as
 * a listpack while small, else as zset 2 (binary doubles, highest score first).
 *
 * Where Redis's own bytes depend on the value's history (a hash's insertion order, a
 * hashtable's order, an intset's width after removals), this writes what a value built
 * from scratch in shale's member order would have.
 */
#include "crc64.h"
#include "rdb.h"
#include "rdb_pack.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENC_INT8 0xc0
#define ENC_INT16 0xc1
#define ENC_INT32 0xc2
#define QUICKLIST_PLAIN 1
#define QUICKLIST_PACKED 2
#define QUICKLIST_LARGE (1u << 30) /* an element this large gets a node of its own */
#define QUICKLIST_NODE_OVERHEAD 8  /* Redis's estimate of an entry's bytes past its length */

/* A length: 6 bits, 14 bits, or 0x80 + be32 / 0x81 + be64. */
static void put_len(rdb_buf *b, uint64_t len)
{
    if (len < 64) {
        rdb_buf_byte(b, (unsigned)len);
    } else if (len < 16384) {
        rdb_buf_byte(b, 0x40 | (unsigned)(len >> 8));
        rdb_buf_byte(b, (unsigned)len & 0xff);
    } else {
        int bytes = len <= UINT32_MAX ? 4 : 8;
        rdb_buf_byte(b, bytes == 4 ? 0x80 : 0x81);
        for (int i = bytes - 1; i >= 0; i--)
            rdb_buf_byte(b, (unsigned)(len >> (8 * i)) & 0xff);
    }
}

/* A string: as an 8, 16 or 32-bit integer when it is one written Redis's way, else its
   length and bytes. */
static void put_string(rdb_buf *b, const void *p, size_t n)
{
    int64_t v;
    if (n <= 11 && rdb_parse_int(p, n, &v) && v >= INT32_MIN && v <= INT32_MAX) {
        int bytes = v >= -128 && v <= 127 ? 1 : v >= -32768 && v <= 32767 ? 2 : 4;
        rdb_buf_byte(b, bytes == 1 ? ENC_INT8 : bytes == 2 ? ENC_INT16 : ENC_INT32);
        rdb_buf_le(b, (uint64_t)v, bytes);
        return;
    }
    put_len(b, n);
    rdb_buf_put(b, p, n);
}

/* Writes a finished listpack as a string and frees it. */
static int put_listpack(rdb_buf *b, rdb_lp *lp)
{
    int rc = rdb_lp_finish(lp);
    if (rc == 0)
        put_string(b, lp->b.p, lp->b.len);
    rdb_buf_free(&lp->b);
    return rc;
}

/* How Redis writes a score into a sorted set's listpack: an integer when the double is
   one (-0 too) within +-2^62, else d2string's "inf", "-inf" or %.17g. */
static size_t score_string(double d, char *buf, size_t cap)
{
    int n;
    if (isinf(d))
        n = snprintf(buf, cap, d < 0 ? "-inf" : "inf");
    else if (d >= (double)(-INT64_MAX / 2) && d <= (double)(INT64_MAX / 2) &&
             (double)(long long)d == d)
        n = snprintf(buf, cap, "%lld", (long long)d);
    else
        n = snprintf(buf, cap, "%.17g", d);
    return (size_t)n;
}

static bool fits_listpack(const rdb_value *v, size_t max_entries, size_t max_len)
{
    if (v->enc != RDB_ENC_AUTO)
        return v->enc == RDB_ENC_COMPACT;
    if (rdb_value_members(v) > max_entries)
        return false;
    for (size_t i = 0; i < v->n; i++) {
        size_t n;
        rdb_value_item(v, i, &n);
        if (n > max_len)
            return false;
    }
    return true;
}

static int write_hash(rdb_buf *b, const rdb_value *v)
{
    size_t n;
    if (fits_listpack(v, RDB_HASH_LISTPACK_ENTRIES, RDB_HASH_LISTPACK_VALUE)) {
        rdb_buf_byte(b, RDB_TYPE_HASH_LISTPACK);
        rdb_lp lp;
        rdb_lp_init(&lp);
        for (size_t i = 0; i < v->n; i++) {
            const char *p = rdb_value_item(v, i, &n);
            rdb_lp_add(&lp, p, n);
        }
        return put_listpack(b, &lp);
    }
    rdb_buf_byte(b, RDB_TYPE_HASH);
    put_len(b, rdb_value_members(v));
    for (size_t i = 0; i < v->n; i++) {
        const char *p = rdb_value_item(v, i, &n);
        put_string(b, p, n);
    }
    return 0;
}

/* The list's nodes: an element joins the last listpack while the node stays within
   Redis's 8 KiB (its estimate: the node's bytes + the element's length + 8), else it
   starts a new one; a huge element is a plain node of its own. */
static int write_list(rdb_buf *b, const rdb_value *v)
{
    rdb_buf nodes = {0};
    uint64_t count = 0;
    rdb_lp lp;
    bool open = false;
    int rc = 0;
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        size_t n;
        const char *p = rdb_value_item(v, i, &n);
        bool large = n >= QUICKLIST_LARGE;
        if (open && (large || rdb_lp_bytes(&lp) + n + QUICKLIST_NODE_OVERHEAD >
                                  RDB_LIST_NODE_BYTES)) {
            put_len(&nodes, QUICKLIST_PACKED);
            rc = put_listpack(&nodes, &lp);
            open = false;
        }
        if (large) {
            put_len(&nodes, QUICKLIST_PLAIN);
            put_string(&nodes, p, n);
            count++;
            continue;
        }
        if (!open) {
            rdb_lp_init(&lp);
            open = true;
            count++;
        }
        rdb_lp_add(&lp, p, n);
    }
    if (open) {
        put_len(&nodes, QUICKLIST_PACKED);
        int r = put_listpack(&nodes, &lp);
        rc = rc ? rc : r;
    }
    rc = rc ? rc : nodes.err;
    if (rc == 0) {
        rdb_buf_byte(b, RDB_TYPE_LIST_QUICKLIST_2);
        put_len(b, count);
        rdb_buf_put(b, nodes.p, nodes.len);
    }
    rdb_buf_free(&nodes);
    return rc;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The set's members as sorted integers (malloc'ed) when it is an intset in Redis:
   every member an integer, and at most 512 of them unless v->enc says it is an intset.
   NULL otherwise (or out of memory). */
static int64_t *set_as_ints(const rdb_value *v)
{
    if (v->enc == RDB_ENC_BIG || (v->enc == RDB_ENC_AUTO && v->n > RDB_SET_INTSET_ENTRIES))
        return NULL;
    int64_t *ints = malloc(v->n * sizeof *ints);
    for (size_t i = 0; ints && i < v->n; i++) {
        size_t n;
        const char *p = rdb_value_item(v, i, &n);
        if (!rdb_parse_int(p, n, &ints[i])) {
            free(ints);
            return NULL;
        }
    }
    if (ints)
        qsort(ints, v->n, sizeof *ints, cmp_int64);
    return ints;
}

static int write_set(rdb_buf *b, const rdb_value *v)
{
    int64_t *ints = set_as_ints(v);
    if (ints) {
        for (size_t i = 1; i < v->n; i++)
            if (ints[i] == ints[i - 1]) {
                free(ints);
                return -EINVAL; /* a member twice: not a set */
            }
        rdb_buf blob = {0};
        rdb_intset_write(&blob, ints, v->n);
        free(ints);
        rdb_buf_byte(b, RDB_TYPE_SET_INTSET);
        put_string(b, blob.p, blob.len);
        int rc = blob.err;
        rdb_buf_free(&blob);
        return rc;
    }
    rdb_buf_byte(b, RDB_TYPE_SET);
    put_len(b, v->n);
    for (size_t i = 0; i < v->n; i++) {
        size_t n;
        const char *p = rdb_value_item(v, i, &n);
        put_string(b, p, n);
    }
    return 0;
}

/* A sorted set's order: by score, then by member bytes (shorter first on a tie). */
static int cmp_member(const void *a, const void *b, void *ctx)
{
    const rdb_value *v = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = v->score[i], y = v->score[j];
    if (x != y)
        return x < y ? -1 : 1;
    size_t il, jl;
    const char *ip = rdb_value_item(v, i, &il), *jp = rdb_value_item(v, j, &jl);
    int c = memcmp(ip, jp, il < jl ? il : jl);
    return c ? c : (il > jl) - (il < jl);
}

static int write_zset(rdb_buf *b, const rdb_value *v)
{
    size_t *order = malloc(v->n * sizeof *order);
    if (!order)
        return -ENOMEM;
    for (size_t i = 0; i < v->n; i++)
        order[i] = i;
    qsort_r(order, v->n, sizeof *order, cmp_member, (void *)v);
    int rc = 0;
    size_t n;
    if (fits_listpack(v, RDB_ZSET_LISTPACK_ENTRIES, RDB_ZSET_LISTPACK_VALUE)) {
        rdb_buf_byte(b, RDB_TYPE_ZSET_LISTPACK);
        rdb_lp lp;
        rdb_lp_init(&lp);
        for (size_t i = 0; i < v->n; i++) {
            const char *p = rdb_value_item(v, order[i], &n);
            char score[64];
            rdb_lp_add(&lp, p, n);
            rdb_lp_add(&lp, score, score_string(v->score[order[i]], score, sizeof score));
        }
        rc = put_listpack(b, &lp);
    } else {
        rdb_buf_byte(b, RDB_TYPE_ZSET_2);
        put_len(b, v->n);
        for (size_t i = v->n; i-- > 0;) { /* highest first, as Redis walks its skiplist */
            const char *p = rdb_value_item(v, order[i], &n);
            put_string(b, p, n);
            uint64_t bits;
            memcpy(&bits, &v->score[order[i]], sizeof bits);
            rdb_buf_le(b, bits, 8);
        }
    }
    free(order);
    return rc;
}

int rdb_encode(const rdb_value *v, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (v->err)
        return v->err;
    if (v->n == 0 || (v->type == KS_TYPE_HASH && v->n % 2) ||
        (v->type == KS_TYPE_STRING && v->n != 1))
        return -EINVAL;
    rdb_buf b = {0};
    int rc = 0;
    size_t n;
    switch (v->type) {
    case KS_TYPE_STRING: {
        const char *p = rdb_value_item(v, 0, &n);
        rdb_buf_byte(&b, RDB_TYPE_STRING);
        put_string(&b, p, n);
        break;
    }
    case KS_TYPE_HASH: rc = write_hash(&b, v); break;
    case KS_TYPE_LIST: rc = write_list(&b, v); break;
    case KS_TYPE_SET: rc = write_set(&b, v); break;
    case KS_TYPE_ZSET: rc = write_zset(&b, v); break;
    default: rc = -EINVAL;
    }
    rdb_buf_le(&b, RDB_VERSION, 2);
    rdb_buf_le(&b, crc64_jones(0, b.p, b.len), 8);
    rc = rc ? rc : b.err;
    if (rc) {
        rdb_buf_free(&b);
        return rc;
    }
    *out = b.p;
    *outlen = b.len;
    return 0;
}

int rdb_encode_functions(const char *const *codes, const size_t *lens, size_t n, char **out,
                         size_t *outlen)
{
    rdb_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        rdb_buf_byte(&b, RDB_OPCODE_FUNCTION2);
        put_string(&b, codes[i], lens[i]);
    }
    rdb_buf_le(&b, RDB_VERSION, 2);
    rdb_buf_le(&b, crc64_jones(0, b.p, b.len), 8);
    if (b.err) {
        int rc = b.err;
        rdb_buf_free(&b);
        return rc;
    }
    *out = b.p;
    *outlen = b.len;
    return 0;
}

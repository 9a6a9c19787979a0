/*
 * rdb_read.c - a DUMP payload into a value (rdb.h). Every length is checked against the
 * bytes that remain before anything is allocated for it (an LZF string's stated length
 * against what its compressed bytes can expand to), every packed blob is walked in full
 * (rdb_pack.c), and a member named twice is refused through a hash set of the members
 * seen, so no payload can make RESTORE crash, loop, or allocate far beyond its own size.
 *
 * As in Redis, the reader's bytes are the whole payload: a value may run into the
 * footer (Redis reads the payload as one buffer once its CRC is right), and bytes left
 * after the value are ignored.
 */
#include "crc64.h"
#include "lzf.h"
#include "rdb.h"
#include "rdb_pack.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define FOOTER 10 /* version:le16 | crc64:le64 */
#define LZF_MAX_RATIO 132 /* a 2-byte back reference writes at most 264 bytes (9 + 255) */
#define QUICKLIST_PLAIN 1
#define QUICKLIST_PACKED 2

typedef struct reader {
    const unsigned char *p, *end;
} reader;

/* One string read from the payload: into the payload itself, a number's digits in num,
   or an LZF string's bytes in owned (malloc'ed). */
typedef struct rstring {
    const char *p;
    size_t n;
    char *owned;
    char num[24];
} rstring;

static size_t left(const reader *r)
{
    return (size_t)(r->end - r->p);
}

static int read_bytes(reader *r, size_t n, const unsigned char **out)
{
    if (n > left(r))
        return RDB_EFORMAT;
    *out = r->p;
    r->p += n;
    return 0;
}

/* A length, or (*special set) an encoding number for a string's 11xxxxxx forms. */
static int read_len(reader *r, uint64_t *len, bool *special)
{
    const unsigned char *b;
    if (read_bytes(r, 1, &b))
        return RDB_EFORMAT;
    *special = false;
    switch (b[0] >> 6) {
    case 0: *len = b[0] & 0x3f; return 0;
    case 1: {
        const unsigned char *c;
        if (read_bytes(r, 1, &c))
            return RDB_EFORMAT;
        *len = (uint64_t)(b[0] & 0x3f) << 8 | c[0];
        return 0;
    }
    case 3:
        *special = true;
        *len = b[0] & 0x3f;
        return 0;
    }
    int bytes = b[0] == 0x80 ? 4 : b[0] == 0x81 ? 8 : 0;
    const unsigned char *c;
    if (!bytes || read_bytes(r, (size_t)bytes, &c))
        return RDB_EFORMAT;
    *len = 0;
    for (int i = 0; i < bytes; i++)
        *len = *len << 8 | c[i];
    return 0;
}

/* A count of things that take at least one byte each: no more than the bytes left. */
static int read_count(reader *r, uint64_t *n)
{
    bool special;
    if (read_len(r, n, &special))
        return RDB_EFORMAT;
    /* Redis reads an 11xxxxxx byte here as a 6-bit length too */
    return *n > left(r) ? RDB_EFORMAT : 0;
}

static int read_lzf(reader *r, rstring *s)
{
    uint64_t clen, len;
    bool special;
    const unsigned char *c;
    if (read_len(r, &clen, &special) || special || read_len(r, &len, &special) || special ||
        read_bytes(r, clen, &c))
        return RDB_EFORMAT;
    if (len / LZF_MAX_RATIO > clen)
        return RDB_EFORMAT; /* it cannot expand that far */
    s->owned = malloc(len ? len : 1);
    if (!s->owned)
        return -ENOMEM;
    if (lzf_decompress(c, clen, s->owned, len) != len)
        return RDB_EFORMAT;
    s->p = s->owned;
    s->n = len;
    return 0;
}

/* A string: raw, an 8/16/32-bit integer (given as its decimal digits), or LZF. Free
   with rstring_free, even on failure. */
static int read_string(reader *r, rstring *s)
{
    memset(s, 0, sizeof *s);
    uint64_t len;
    bool special;
    const unsigned char *b;
    if (read_len(r, &len, &special))
        return RDB_EFORMAT;
    if (!special) {
        if (read_bytes(r, len, &b))
            return RDB_EFORMAT;
        s->p = (const char *)b;
        s->n = len;
        return 0;
    }
    if (len == 3)
        return read_lzf(r, s);
    if (len > 2)
        return RDB_EFORMAT;
    int bytes = 1 << len;
    if (read_bytes(r, (size_t)bytes, &b))
        return RDB_EFORMAT;
    uint64_t u = 0;
    for (int i = bytes - 1; i >= 0; i--)
        u = u << 8 | b[i];
    uint64_t m = 1ull << (8 * bytes - 1);
    int64_t v = (int64_t)((u ^ m) - m);
    s->n = rdb_format_int(v, s->num);
    s->p = s->num;
    return 0;
}

static void rstring_free(rstring *s)
{
    free(s->owned);
    s->owned = NULL;
}

/* ---- members named twice ---- */

typedef struct dupset {
    size_t *slot; /* item index + 1, 0 empty */
    size_t cap, used;
    uint64_t seed;
} dupset;

static uint64_t dup_seed(void)
{
    static uint64_t seed; /* per process, so that no payload is built to collide */
    if (!seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = ((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec) | 1;
    }
    return seed;
}

static int dup_grow(dupset *d, const rdb_value *v)
{
    size_t cap = d->cap ? d->cap * 2 : 64;
    size_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    for (size_t i = 0; i < d->cap; i++) {
        if (!d->slot[i])
            continue;
        size_t n;
        const char *p = rdb_value_item(v, d->slot[i] - 1, &n);
        size_t h = (size_t)XXH3_64bits_withSeed(p, n, d->seed) & (cap - 1);
        while (slot[h])
            h = (h + 1) & (cap - 1);
        slot[h] = d->slot[i];
    }
    free(d->slot);
    d->slot = slot;
    d->cap = cap;
    return 0;
}

/* Adds item i of v: 0, RDB_EFORMAT when an equal item was added before, or -ENOMEM. */
static int dup_add(dupset *d, const rdb_value *v, size_t i)
{
    if (!d->seed)
        d->seed = dup_seed();
    if ((d->used + 1) * 2 > d->cap) {
        int rc = dup_grow(d, v);
        if (rc)
            return rc;
    }
    size_t n, m;
    const char *p = rdb_value_item(v, i, &n);
    size_t h = (size_t)XXH3_64bits_withSeed(p, n, d->seed) & (d->cap - 1);
    for (; d->slot[h]; h = (h + 1) & (d->cap - 1)) {
        const char *q = rdb_value_item(v, d->slot[h] - 1, &m);
        if (m == n && memcmp(p, q, n) == 0)
            return RDB_EFORMAT;
    }
    d->slot[h] = i + 1;
    d->used++;
    return 0;
}

/* ---- collecting elements into the value ---- */

/* What the elements of a packed blob or a run of strings become. */
typedef struct sink {
    rdb_value *v;
    dupset dups;
    bool check_dups; /* sets, and the names of hash fields and sorted set members */
    bool pairs;      /* elements alternate name, value (hash) or member, score (zset) */
    bool odd;        /* a name was added, its value or score comes next */
    size_t pending;  /* that name's item (zset: its member waits for its score) */
    char *zmember;   /* a sorted set member waiting for its score (malloc'ed) */
    size_t zlen;
} sink;

/* A score written as text: all of it must be a number, and not NaN. */
static int parse_score(const char *p, size_t n, bool whole, double *out)
{
    char buf[256];
    if (n == 0 || n >= sizeof buf)
        return RDB_EFORMAT;
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end;
    *out = strtod(buf, &end);
    if (end == buf || (whole && end != buf + n) || isnan(*out))
        return RDB_EFORMAT;
    return 0;
}

static int sink_element(void *ctx, const char *p, size_t n)
{
    sink *k = ctx;
    rdb_value *v = k->v;
    if (v->type == KS_TYPE_ZSET) {
        if (!k->odd) {
            free(k->zmember);
            k->zmember = malloc(n ? n : 1);
            if (!k->zmember)
                return -ENOMEM;
            memcpy(k->zmember, p, n);
            k->zlen = n;
            k->odd = true;
            return 0;
        }
        double score;
        int rc = parse_score(p, n, true, &score);
        rc = rc ? rc : rdb_value_add_scored(v, k->zmember, k->zlen, score);
        k->odd = false;
        return rc ? rc : dup_add(&k->dups, v, v->n - 1);
    }
    int rc = rdb_value_add(v, p, n);
    if (rc)
        return rc;
    bool is_name = !k->pairs || !k->odd;
    if (k->pairs)
        k->odd = !k->odd;
    return k->check_dups && is_name ? dup_add(&k->dups, v, v->n - 1) : 0;
}

static void sink_init(sink *k, rdb_value *v, bool pairs, bool check_dups)
{
    memset(k, 0, sizeof *k);
    k->v = v;
    k->pairs = pairs;
    k->check_dups = check_dups;
}

/* Ends the collection: a pair left half-done, or nothing at all, is malformed. */
static int sink_end(sink *k, int rc)
{
    free(k->zmember);
    free(k->dups.slot);
    if (rc == 0 && (k->odd || k->v->n == 0))
        rc = RDB_EFORMAT;
    return rc;
}

/* ---- each RDB type ---- */

/* count strings (hash: count pairs; zset: members with a score, binary or text). */
static int read_strings(reader *r, rdb_value *v, int rdbtype)
{
    uint64_t count;
    if (read_count(r, &count) || count == 0)
        return RDB_EFORMAT;
    bool hash = rdbtype == RDB_TYPE_HASH, zset = v->type == KS_TYPE_ZSET;
    sink k;
    sink_init(&k, v, hash, v->type != KS_TYPE_LIST);
    int rc = 0;
    for (uint64_t i = 0; i < count * (hash ? 2 : 1) && rc == 0; i++) {
        rstring s;
        rc = read_string(r, &s);
        if (rc == 0 && zset) {
            double score = 0;
            const unsigned char *b;
            if (rdbtype == RDB_TYPE_ZSET_2) {
                rc = read_bytes(r, 8, &b);
                uint64_t bits = 0;
                for (int j = 7; rc == 0 && j >= 0; j--)
                    bits = bits << 8 | b[j];
                memcpy(&score, &bits, sizeof score);
            } else if ((rc = read_bytes(r, 1, &b)) == 0) {
                const unsigned char *t;
                if (b[0] >= 253)
                    score = b[0] == 255 ? -INFINITY : b[0] == 254 ? INFINITY : NAN;
                else if ((rc = read_bytes(r, b[0], &t)) == 0)
                    rc = parse_score((const char *)t, b[0], false, &score);
            }
            if (rc == 0 && isnan(score))
                rc = RDB_EFORMAT;
            rc = rc ? rc : rdb_value_add_scored(v, s.p, s.n, score);
            rc = rc ? rc : dup_add(&k.dups, v, v->n - 1);
        } else if (rc == 0) {
            rc = sink_element(&k, s.p, s.n);
        }
        rstring_free(&s);
    }
    return sink_end(&k, rc);
}

typedef int (*blob_reader)(const unsigned char *p, size_t n, rdb_emit emit, void *ctx);

/* One string holding a packed blob, read by `read` into the sink. */
static int read_blob(reader *r, blob_reader read, sink *k)
{
    rstring s;
    int rc = read_string(r, &s);
    rc = rc ? rc : read((const unsigned char *)s.p, s.n, sink_element, k);
    rstring_free(&s);
    return rc;
}

static int read_packed(reader *r, rdb_value *v, blob_reader read, bool pairs)
{
    sink k;
    sink_init(&k, v, pairs, v->type != KS_TYPE_LIST);
    return sink_end(&k, read_blob(r, read, &k));
}

/* Quicklist nodes: ziplists (RDB type 14), or listpacks and plain elements (18). An
   empty node is skipped, as Redis skips it; a node of no bytes is malformed. */
static int read_quicklist(reader *r, rdb_value *v, bool v2)
{
    uint64_t nodes;
    if (read_count(r, &nodes) || nodes == 0)
        return RDB_EFORMAT;
    sink k;
    sink_init(&k, v, false, false);
    int rc = 0;
    for (uint64_t i = 0; i < nodes && rc == 0; i++) {
        uint64_t container = QUICKLIST_PACKED;
        bool special;
        if (v2 && (read_len(r, &container, &special) ||
                   (container != QUICKLIST_PACKED && container != QUICKLIST_PLAIN))) {
            rc = RDB_EFORMAT;
            break;
        }
        rstring s;
        rc = read_string(r, &s);
        if (rc == 0 && s.n == 0)
            rc = RDB_EFORMAT;
        else if (rc == 0 && container == QUICKLIST_PLAIN)
            rc = rdb_value_add(v, s.p, s.n);
        else if (rc == 0)
            rc = (v2 ? rdb_listpack_read : rdb_ziplist_read)((const unsigned char *)s.p, s.n,
                                                              sink_element, &k);
        rstring_free(&s);
    }
    return sink_end(&k, rc);
}

/* The value of RDB type `type`. */
static int read_value(reader *r, int type, rdb_value *v)
{
    switch (type) {
    case RDB_TYPE_STRING: {
        v->type = KS_TYPE_STRING;
        rstring s;
        int rc = read_string(r, &s);
        rc = rc ? rc : rdb_value_add(v, s.p, s.n);
        rstring_free(&s);
        return rc;
    }
    case RDB_TYPE_LIST: v->type = KS_TYPE_LIST; return read_strings(r, v, type);
    case RDB_TYPE_SET: v->type = KS_TYPE_SET; return read_strings(r, v, type);
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2: v->type = KS_TYPE_ZSET; return read_strings(r, v, type);
    case RDB_TYPE_HASH: v->type = KS_TYPE_HASH; return read_strings(r, v, type);
    case RDB_TYPE_HASH_ZIPMAP:
        v->type = KS_TYPE_HASH;
        return read_packed(r, v, rdb_zipmap_read, true);
    case RDB_TYPE_LIST_ZIPLIST:
        v->type = KS_TYPE_LIST;
        return read_packed(r, v, rdb_ziplist_read, false);
    case RDB_TYPE_SET_INTSET:
        v->type = KS_TYPE_SET;
        return read_packed(r, v, rdb_intset_read, false);
    case RDB_TYPE_ZSET_ZIPLIST:
        v->type = KS_TYPE_ZSET;
        return read_packed(r, v, rdb_ziplist_read, true);
    case RDB_TYPE_HASH_ZIPLIST:
        v->type = KS_TYPE_HASH;
        return read_packed(r, v, rdb_ziplist_read, true);
    case RDB_TYPE_HASH_LISTPACK:
        v->type = KS_TYPE_HASH;
        return read_packed(r, v, rdb_listpack_read, true);
    case RDB_TYPE_ZSET_LISTPACK:
        v->type = KS_TYPE_ZSET;
        return read_packed(r, v, rdb_listpack_read, true);
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        v->type = KS_TYPE_LIST;
        return read_quicklist(r, v, type == RDB_TYPE_LIST_QUICKLIST_2);
    default: return RDB_EFORMAT; /* modules, streams, and bytes that are no type */
    }
}

/* The encoding a payload of RDB type `type` holds its value in (rdb_value.enc). */
static int payload_encoding(int type)
{
    switch (type) {
    case RDB_TYPE_SET:
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_HASH: return RDB_ENC_BIG;
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK: return RDB_ENC_COMPACT;
    default: return RDB_ENC_AUTO;
    }
}

int rdb_check(const void *p, size_t n)
{
    if (n < FOOTER)
        return RDB_ECHECKSUM;
    const unsigned char *f = (const unsigned char *)p + n - FOOTER;
    if ((f[0] | f[1] << 8) > RDB_VERSION)
        return RDB_ECHECKSUM;
    uint64_t crc = 0;
    for (int i = 7; i >= 0; i--)
        crc = crc << 8 | f[2 + i];
    return crc64_jones(0, p, n - 8) == crc ? 0 : RDB_ECHECKSUM;
}

int rdb_decode(const void *p, size_t n, rdb_value *v)
{
    rdb_value_init(v, 0);
    int rc = rdb_check(p, n);
    if (rc)
        return rc;
    reader r = {p, (const unsigned char *)p + n};
    const unsigned char *t;
    if (read_bytes(&r, 1, &t))
        return RDB_EFORMAT;
    rc = read_value(&r, t[0], v);
    v->enc = payload_encoding(t[0]);
    return rc ? rc : v->err;
}

int rdb_decode_functions(const void *p, size_t n, rdb_function_fn fn, void *ctx,
                         const char **err)
{
    int rc = rdb_check(p, n);
    if (rc)
        return rc;
    reader r = {p, (const unsigned char *)p + n - FOOTER};
    while (rc == 0 && left(&r) > 0) {
        const unsigned char *t;
        if (read_bytes(&r, 1, &t)) {
            *err = "can not read data type";
            return RDB_EFORMAT;
        }
        if (t[0] != RDB_OPCODE_FUNCTION2) {
            *err = "given type is not a function";
            return RDB_EFORMAT;
        }
        rstring code;
        if (read_string(&r, &code)) {
            rstring_free(&code);
            *err = "Failed loading library payload";
            return RDB_EFORMAT;
        }
        rc = fn(ctx, code.p, code.n);
        rstring_free(&code);
    }
    return rc;
}

/* rdb_pack.c - listpack, intset, ziplist and zipmap blobs (rdb_pack.h). */
#include "rdb_pack.h"
#include "rdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the buffer ---- */

void rdb_buf_put(rdb_buf *b, const void *p, size_t n)
{
    if (b->err)
        return;
    if (n > b->cap - b->len || !b->p) {
        if (n > SIZE_MAX / 4 - b->len) {
            b->err = -ENOMEM;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->err = -ENOMEM;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void rdb_buf_byte(rdb_buf *b, unsigned c)
{
    unsigned char x = (unsigned char)c;
    rdb_buf_put(b, &x, 1);
}

void rdb_buf_le(rdb_buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    rdb_buf_put(b, x, (size_t)bytes);
}

void rdb_buf_free(rdb_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static uint64_t le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Sign-extends the low `bits` bits of v. */
static int64_t sign_extend(uint64_t v, int bits)
{
    uint64_t m = 1ull << (bits - 1);
    v &= bits == 64 ? ~0ull : (1ull << bits) - 1;
    return (int64_t)((v ^ m) - m);
}

/* ---- integers as Redis writes them ---- */

bool rdb_parse_int(const char *p, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = p[0] == '-';
    if (i == n || p[i] < '1' || p[i] > '9')
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (p[0] == '-') {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

size_t rdb_format_int(int64_t v, char *buf)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}

/* ---- listpack ----
 * total_bytes:le32 | count:le16 (65535: count it) | entries | 0xff
 * entry: encoding (+ data) | back length of encoding + data (1..5 bytes, read backwards)
 */

#define LP_HEADER 6
#define LP_EOF 0xff
#define LP_COUNT_UNKNOWN 65535

/* The back length of an entry of l bytes: 7 bits a byte, its most significant group
   first, every byte but the first with its top bit set (so it reads from the end). */
static size_t lp_backlen(uint64_t l, unsigned char *out)
{
    /* Redis's thresholds, one below each power of 128 past the first */
    static const uint64_t limit[] = {128, 16383, 2097151, 268435455};
    size_t n = 1;
    while (n < 5 && l >= limit[n - 1])
        n++;
    for (size_t i = 0; i < n; i++) {
        out[i] = (unsigned char)((l >> (7 * (n - 1 - i))) & 127);
        if (i > 0)
            out[i] |= 128;
    }
    return n;
}

void rdb_lp_init(rdb_lp *w)
{
    memset(w, 0, sizeof *w);
    unsigned char hdr[LP_HEADER] = {0};
    rdb_buf_put(&w->b, hdr, sizeof hdr);
}

/* The encoding of integer v (Redis's smallest that holds it): bytes into enc. */
static size_t lp_int_encoding(int64_t v, unsigned char *enc)
{
    if (v >= 0 && v <= 127) {
        enc[0] = (unsigned char)v;
        return 1;
    }
    if (v >= -4096 && v <= 4095) {
        uint64_t u = (uint64_t)v & 0x1fff;
        enc[0] = (unsigned char)(0xc0 | u >> 8);
        enc[1] = (unsigned char)u;
        return 2;
    }
    static const struct {
        int64_t lo, hi;
        unsigned char tag;
        int bytes;
    } wide[] = {{-32768, 32767, 0xf1, 2},
                {-8388608, 8388607, 0xf2, 3},
                {INT32_MIN, INT32_MAX, 0xf3, 4},
                {INT64_MIN, INT64_MAX, 0xf4, 8}};
    for (size_t i = 0;; i++)
        if (v >= wide[i].lo && v <= wide[i].hi) {
            enc[0] = wide[i].tag;
            for (int b = 0; b < wide[i].bytes; b++)
                enc[1 + b] = (unsigned char)((uint64_t)v >> (8 * b));
            return 1 + (size_t)wide[i].bytes;
        }
}

/* The header of a string element of n bytes. */
static size_t lp_str_encoding(size_t n, unsigned char *enc)
{
    if (n < 64) {
        enc[0] = (unsigned char)(0x80 | n);
        return 1;
    }
    if (n < 4096) {
        enc[0] = (unsigned char)(0xe0 | n >> 8);
        enc[1] = (unsigned char)n;
        return 2;
    }
    enc[0] = 0xf0;
    for (int b = 0; b < 4; b++)
        enc[1 + b] = (unsigned char)(n >> (8 * b));
    return 5;
}

void rdb_lp_add(rdb_lp *w, const void *p, size_t n)
{
    unsigned char enc[9], back[5];
    int64_t v;
    size_t el;
    uint64_t entry;
    if (rdb_parse_int(p, n, &v)) {
        el = lp_int_encoding(v, enc);
        entry = el;
        rdb_buf_put(&w->b, enc, el);
    } else {
        if ((uint64_t)n > UINT32_MAX) {
            w->b.err = -E2BIG;
            return;
        }
        el = lp_str_encoding(n, enc);
        entry = el + n;
        rdb_buf_put(&w->b, enc, el);
        rdb_buf_put(&w->b, p, n);
    }
    rdb_buf_put(&w->b, back, lp_backlen(entry, back));
    w->count++;
}

size_t rdb_lp_bytes(const rdb_lp *w)
{
    return w->b.len + 1;
}

int rdb_lp_finish(rdb_lp *w)
{
    rdb_buf_byte(&w->b, LP_EOF);
    if (w->b.err)
        return w->b.err;
    if (w->b.len > UINT32_MAX)
        return -E2BIG;
    uint64_t count = w->count < LP_COUNT_UNKNOWN ? w->count : LP_COUNT_UNKNOWN;
    for (int b = 0; b < 4; b++)
        w->b.p[b] = (char)(w->b.len >> (8 * b));
    w->b.p[4] = (char)count;
    w->b.p[5] = (char)(count >> 8);
    return 0;
}

/* Decodes the entry at p (at most `room` bytes before the end byte): its string or
   integer, and its size without the back length. False when it does not fit or its
   encoding is not one. */
static bool lp_entry(const unsigned char *p, size_t room, const unsigned char **s, size_t *sl,
                     int64_t *iv, bool *is_int, size_t *size)
{
    unsigned c = p[0];
    size_t hdr = 0, len = 0;
    *is_int = true;
    if (c < 0x80) {
        *iv = c;
        *size = 1;
        return true;
    }
    if ((c & 0xe0) == 0xc0) { /* 13-bit integer */
        if (room < 2)
            return false;
        *iv = sign_extend((uint64_t)(c & 0x1f) << 8 | p[1], 13);
        *size = 2;
        return true;
    }
    if (c >= 0xf1 && c <= 0xf4) {
        static const int bytes[] = {2, 3, 4, 8};
        int b = bytes[c - 0xf1];
        if (room < 1 + (size_t)b)
            return false;
        *iv = sign_extend(le(p + 1, b), 8 * b);
        *size = 1 + (size_t)b;
        return true;
    }
    *is_int = false;
    if ((c & 0xc0) == 0x80) {
        hdr = 1;
        len = c & 0x3f;
    } else if ((c & 0xf0) == 0xe0) {
        if (room < 2)
            return false;
        hdr = 2;
        len = (size_t)(c & 0x0f) << 8 | p[1];
    } else if (c == 0xf0) {
        if (room < 5)
            return false;
        hdr = 5;
        len = (size_t)le(p + 1, 4);
    } else {
        return false; /* 0xf5..0xfe: no such encoding; 0xff: the end, too early */
    }
    if (len > room - hdr)
        return false;
    *s = p + hdr;
    *sl = len;
    *size = hdr + len;
    return true;
}

/* Emits an element given as a string or an integer. */
static int emit_element(rdb_emit emit, void *ctx, const unsigned char *s, size_t sl,
                        int64_t iv, bool is_int)
{
    if (!is_int)
        return emit(ctx, (const char *)s, sl);
    char buf[24];
    return emit(ctx, buf, rdb_format_int(iv, buf));
}

int rdb_listpack_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx)
{
    if (n < LP_HEADER + 1 || le(p, 4) != n || p[n - 1] != LP_EOF)
        return RDB_EFORMAT;
    uint64_t want = le(p + 4, 2), count = 0;
    size_t at = LP_HEADER, end = n - 1;
    while (at < end) {
        const unsigned char *s = NULL;
        size_t sl = 0, size;
        int64_t iv = 0;
        bool is_int;
        if (!lp_entry(p + at, end - at, &s, &sl, &iv, &is_int, &size))
            return RDB_EFORMAT;
        unsigned char back[5];
        size_t bl = lp_backlen(size, back);
        if (bl > end - at - size || memcmp(p + at + size, back, bl) != 0)
            return RDB_EFORMAT;
        int rc = emit_element(emit, ctx, s, sl, iv, is_int);
        if (rc)
            return rc;
        at += size + bl;
        count++;
    }
    if (want != LP_COUNT_UNKNOWN && want != count)
        return RDB_EFORMAT;
    return 0;
}

/* ---- intset ----
 * width:le32 (2, 4 or 8) | count:le32 | count integers of that width, little-endian,
 * ascending
 */

void rdb_intset_write(rdb_buf *b, const int64_t *v, size_t n)
{
    int width = 2;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < INT32_MIN || v[i] > INT32_MAX)
            width = 8;
        else if ((v[i] < INT16_MIN || v[i] > INT16_MAX) && width < 4)
            width = 4;
    }
    rdb_buf_le(b, (uint64_t)width, 4);
    rdb_buf_le(b, n, 4);
    for (size_t i = 0; i < n; i++)
        rdb_buf_le(b, (uint64_t)v[i], width);
}

int rdb_intset_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx)
{
    if (n < 8)
        return RDB_EFORMAT;
    uint64_t width = le(p, 4), count = le(p + 4, 4);
    if ((width != 2 && width != 4 && width != 8) || count == 0 || count * width != n - 8)
        return RDB_EFORMAT;
    int64_t prev = 0;
    for (uint64_t i = 0; i < count; i++) {
        int64_t v = sign_extend(le(p + 8 + i * width, (int)width), (int)(8 * width));
        if (i > 0 && v <= prev)
            return RDB_EFORMAT; /* sorted, no repeats */
        prev = v;
        char buf[24];
        int rc = emit(ctx, buf, rdb_format_int(v, buf));
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- ziplist (Redis before 7.0) ----
 * total_bytes:le32 | tail_offset:le32 | count:le16 (65535: count it) | entries | 0xff
 * entry: previous entry's size (1 byte, or 0xfe + le32) | encoding (+ data)
 */

#define ZL_HEADER 10

/* Decodes the entry at p (room bytes before the end byte): previous size, value, and
   the entry's whole size. */
static bool zl_entry(const unsigned char *p, size_t room, uint64_t *prevlen,
                     const unsigned char **s, size_t *sl, int64_t *iv, bool *is_int,
                     size_t *size)
{
    size_t at;
    if (p[0] < 0xfe) {
        *prevlen = p[0];
        at = 1;
    } else if (p[0] == 0xfe) {
        if (room < 5)
            return false;
        *prevlen = le(p + 1, 4);
        at = 5;
    } else {
        return false;
    }
    if (at >= room)
        return false;
    unsigned c = p[at];
    size_t hdr, len;
    *is_int = false;
    switch (c >> 6) {
    case 0:
        hdr = 1;
        len = c & 0x3f;
        break;
    case 1:
        if (room - at < 2)
            return false;
        hdr = 2;
        len = (size_t)(c & 0x3f) << 8 | p[at + 1];
        break;
    case 2:
        if (c != 0x80 || room - at < 5)
            return false;
        hdr = 5;
        len = (size_t)p[at + 1] << 24 | (size_t)p[at + 2] << 16 | (size_t)p[at + 3] << 8 |
              p[at + 4];
        break;
    default: {
        int bytes;
        *is_int = true;
        if (c >= 0xf1 && c <= 0xfd) { /* 4-bit immediate 0..12 */
            *iv = (int64_t)(c & 0x0f) - 1;
            *size = at + 1;
            return true;
        }
        switch (c) {
        case 0xfe: bytes = 1; break;
        case 0xc0: bytes = 2; break;
        case 0xf0: bytes = 3; break;
        case 0xd0: bytes = 4; break;
        case 0xe0: bytes = 8; break;
        default: return false;
        }
        if (room - at < 1 + (size_t)bytes)
            return false;
        *iv = sign_extend(le(p + at + 1, bytes), 8 * bytes);
        *size = at + 1 + (size_t)bytes;
        return true;
    }
    }
    if (room - at - hdr < len)
        return false;
    *s = p + at + hdr;
    *sl = len;
    *size = at + hdr + len;
    return true;
}

int rdb_ziplist_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx)
{
    if (n < ZL_HEADER + 1 || le(p, 4) != n || p[n - 1] != 0xff)
        return RDB_EFORMAT;
    uint64_t tail = le(p + 4, 4), want = le(p + 8, 2), count = 0, prevsize = 0;
    size_t at = ZL_HEADER, end = n - 1, last = 0;
    while (at < end) {
        const unsigned char *s = NULL;
        size_t sl = 0, size;
        int64_t iv = 0;
        bool is_int;
        uint64_t prevlen;
        if (!zl_entry(p + at, end - at, &prevlen, &s, &sl, &iv, &is_int, &size) ||
            prevlen != prevsize)
            return RDB_EFORMAT;
        int rc = emit_element(emit, ctx, s, sl, iv, is_int);
        if (rc)
            return rc;
        last = at;
        prevsize = size;
        at += size;
        count++;
    }
    if ((count && tail != last) || (want != 65535 && want != count))
        return RDB_EFORMAT;
    return 0;
}

/* ---- zipmap (Redis 2.4 hashes) ----
 * count:u8 (254: count it) | entries | 0xff
 * entry: len | field | len | free:u8 | value | free unused bytes
 * len: 1 byte below 254, or 254 + le32
 */

static bool zm_len(const unsigned char *p, size_t room, size_t *len, size_t *used)
{
    if (room < 1 || p[0] == 0xff)
        return false;
    if (p[0] < 254) {
        *len = p[0];
        *used = 1;
        return true;
    }
    if (room < 5)
        return false;
    *len = (size_t)le(p + 1, 4);
    *used = 5;
    return true;
}

int rdb_zipmap_read(const unsigned char *p, size_t n, rdb_emit emit, void *ctx)
{
    if (n < 2 || p[n - 1] != 0xff)
        return RDB_EFORMAT;
    size_t at = 1, end = n - 1, count = 0;
    while (p[at] != 0xff) {
        size_t fl, vl, u;
        if (!zm_len(p + at, end - at, &fl, &u) || fl > end - at - u)
            return RDB_EFORMAT;
        const unsigned char *f = p + at + u;
        at += u + fl;
        if (!zm_len(p + at, end - at, &vl, &u) || end - at - u < 1)
            return RDB_EFORMAT;
        size_t free_bytes = p[at + u];
        at += u + 1;
        if (vl > end - at || free_bytes > end - at - vl)
            return RDB_EFORMAT;
        int rc = emit(ctx, (const char *)f, fl);
        rc = rc ? rc : emit(ctx, (const char *)p + at, vl);
        if (rc)
            return rc;
        at += vl + free_bytes;
        count++;
        if (at > end)
            return RDB_EFORMAT;
    }
    if (count == 0 || (p[0] != 254 && p[0] != count))
        return RDB_EFORMAT;
    return 0;
}

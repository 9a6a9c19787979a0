/*
 * test_rdb.c - Redis's DUMP payloads (server/types/rdb*.c, crc64.c, lzf.c): the CRC's
 * check value; the encoder's bytes against payloads redis-server 7.0.15 produced for the
 * same values (DUMP with rdbcompression no; facts captured as hex, or as the length and
 * CRC footer of larger ones); the decoder on Redis-made payloads, LZF-compressed ones
 * among them, and on the older encodings (ziplist, zipmap, quicklist 1, text doubles)
 * that Redis 7.0 still accepts, each checked to load in redis-server 7.0.15 to the same
 * value; round trips of random values; and refusals: bad footers, unknown types, empty
 * or repeated members, and every byte of valid payloads flipped or cut (with the CRC
 * fixed, so the parser is reached), which must fail cleanly or decode, never crash.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc64.h"
#include "lzf.h"
#include "rdb.h"
#include "testutil.h"

/* ---- helpers ---- */

/* Hex to bytes (malloc'ed); spaces are skipped. */
static unsigned char *unhex(const char *h, size_t *n)
{
    unsigned char *b = malloc(strlen(h) / 2 + 1);
    assert_non_null(b);
    size_t len = 0;
    for (; *h; h++) {
        if (*h == ' ')
            continue;
        unsigned x = 0;
        assert_true(h[1] && sscanf(h, "%2x", &x) == 1); /* whole bytes only */
        b[len++] = (unsigned char)x;
        h++;
    }
    *n = len;
    return b;
}

/* A value from NUL-terminated items (a sorted set's take scores from sc). */
static void value_of(rdb_value *v, int type, const char *const *items, size_t n,
                     const double *sc)
{
    rdb_value_init(v, type);
    for (size_t i = 0; i < n; i++) {
        if (type == KS_TYPE_ZSET)
            assert_int_equal(rdb_value_add_scored(v, items[i], strlen(items[i]), sc[i]), 0);
        else
            assert_int_equal(rdb_value_add(v, items[i], strlen(items[i])), 0);
    }
}

static void assert_encodes_to(const rdb_value *v, const char *hex)
{
    size_t wl;
    unsigned char *want = unhex(hex, &wl);
    char *got;
    size_t gl;
    assert_int_equal(rdb_encode(v, &got, &gl), 0);
    if (gl != wl || memcmp(got, want, wl) != 0) {
        fprintf(stderr, "want %s\ngot  ", hex);
        for (size_t i = 0; i < gl; i++)
            fprintf(stderr, "%02x", (unsigned char)got[i]);
        fprintf(stderr, "\n");
        fail();
    }
    free(got);
    free(want);
}

/* Whether two values hold the same items (a set's and a hash's in any order is not
   needed here: the decoder keeps the payload's order). */
static void assert_same_value(const rdb_value *a, const rdb_value *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        size_t al, bl;
        const char *ap = rdb_value_item(a, i, &al), *bp = rdb_value_item(b, i, &bl);
        assert_int_equal(al, bl);
        assert_memory_equal(ap, bp, al);
        if (a->type == KS_TYPE_ZSET)
            assert_true(a->score[i] == b->score[i] ||
                        (isnan(a->score[i]) && isnan(b->score[i])));
    }
}

static void assert_decodes_to(const char *hex, const rdb_value *want)
{
    size_t n;
    unsigned char *p = unhex(hex, &n);
    rdb_value got;
    assert_int_equal(rdb_decode(p, n, &got), 0);
    assert_same_value(&got, want);
    rdb_value_free(&got);
    free(p);
}

static int decode_hex(const char *hex)
{
    size_t n;
    unsigned char *p = unhex(hex, &n);
    rdb_value v;
    int rc = rdb_decode(p, n, &v);
    rdb_value_free(&v);
    free(p);
    return rc;
}

/* Rewrites a payload's CRC footer to match its bytes (after surgery). */
static void fix_crc(unsigned char *p, size_t n)
{
    uint64_t crc = crc64_jones(0, p, n - 8);
    for (int i = 0; i < 8; i++)
        p[n - 8 + i] = (unsigned char)(crc >> (8 * i));
}

/* ---- CRC and LZF ---- */

static void test_rdb_crc64_check_value(void **state)
{
    (void)state;
    assert_true(crc64_jones(0, "123456789", 9) == 0xe9c6d914c4b8d9caull);
    assert_true(crc64_jones(0, "", 0) == 0);
    /* any split gives the same CRC (the 8-byte path and the byte path agree) */
    char buf[100];
    for (int i = 0; i < 100; i++)
        buf[i] = (char)(i * 7 + 3);
    uint64_t whole = crc64_jones(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut++)
        assert_true(crc64_jones(crc64_jones(0, buf, cut), buf + cut, sizeof buf - cut) == whole);
}

static void test_rdb_lzf_decompress(void **state)
{
    (void)state;
    /* Redis's LZF of "abcdefghij" * 10 (from the payload str_100_lzf below) */
    size_t n;
    unsigned char *in = unhex("0a6162636465666768696a61e04e0901696a", &n);
    char out[100];
    assert_int_equal(lzf_decompress(in, n, out, sizeof out), 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(out[i], "abcdefghij"[i % 10]);
    /* too small an output, a cut input */
    assert_int_equal(lzf_decompress(in, n, out, 99), 0);
    assert_int_equal(lzf_decompress(in, n - 1, out, sizeof out), 0);
    assert_int_equal(lzf_decompress(in, 5, out, sizeof out), 0);
    free(in);
    /* a back reference before the output's start */
    const unsigned char before[] = {0x00, 'a', 0x20, 0x01};
    assert_int_equal(lzf_decompress(before, sizeof before, out, sizeof out), 0);
    /* an overlapping copy: "a" then 8 copies of it from 1 back */
    const unsigned char run[] = {0x00, 'a', 0xc0, 0x00};
    assert_int_equal(lzf_decompress(run, sizeof run, out, sizeof out), 9);
    assert_memory_equal(out, "aaaaaaaaa", 9);
    assert_int_equal(lzf_decompress(run, 0, out, sizeof out), 0);
}

/* ---- the encoder against redis-server 7.0.15 (DUMP, rdbcompression no) ---- */

static void test_rdb_encode_strings_as_redis(void **state)
{
    (void)state;
    static const struct {
        const char *s, *hex;
    } cases[] = {
        {"12", "00c00c0a003c2af8515c04bcd5"},                    /* int8 */
        {"-1234", "00c12efb0a009dab25f0f753e9b6"},               /* int16 */
        {"123456789", "00c215cd5b070a00a4b7c909e0e9379e"},       /* int32 */
        {"12345678901", "000b31323334353637383930310a00304e52d727176510"}, /* past int32 */
        {"hello", "000568656c6c6f0a006372df766534200a"},
        {"0123", "0004303132330a000ae40c929e3b6422"}, /* not an integer to Redis */
        {"", "00000a005d9b5c400f7fa2da"},
        {"aaaaaaaaaaaaaaaaaaaa", "001461616161616161616161616161616161616161610a0083b46b5e1b11acf1"},
        {"aaaaaaaaaaaaaaaaaaaaa",
         "00156161616161616161616161616161616161616161610a0017e5a5206213f47e"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rdb_value v;
        value_of(&v, KS_TYPE_STRING, &cases[i].s, 1, NULL);
        assert_encodes_to(&v, cases[i].hex);
        assert_decodes_to(cases[i].hex, &v);
        rdb_value_free(&v);
    }
}

static void test_rdb_encode_hashes_as_redis(void **state)
{
    (void)state;
    /* HSET in field order (Redis keeps insertion order, shale name order) */
    const char *small[] = {"a", "1", "b", "hello", "c", "-5000"};
    const char *ints[] = {"1", "100000", "2", "-70000", "3", "9000000000"};
    const char *strints[] = {"m", "-0", "n", "12345678901", "z", "007"};
    char x64[65];
    memset(x64, 'x', 64);
    x64[64] = 0;
    const char *wide[] = {"f", x64,          "g", "4095",        "h", "-4096",
                          "i", "8388607",    "j", "-2147483648", "k", "9223372036854775807",
                          "l", "-9223372036854775808"};
    rdb_value v;
    value_of(&v, KS_TYPE_HASH, small, 6, NULL);
    assert_encodes_to(&v, "101d1d000000060081610201018162028568656c6c6f06816302f178ec03ff0a0009"
                          "530400e226173f");
    rdb_value_free(&v);
    value_of(&v, KS_TYPE_HASH, ints, 6, NULL);
    assert_encodes_to(&v, "10212100000006000101f2a08601040201f290eefe040301f4001a71180200000009"
                          "ff0a00106ce078b78b9249");
    rdb_value_free(&v);
    value_of(&v, KS_TYPE_HASH, wide, 14, NULL);
    assert_encodes_to(&v, "104084840000000e00816602e040787878787878787878787878787878787878787878"
                          "7878787878787878787878787878787878787878787878787878787878787878787878"
                          "787878787878787842816702cfff02816802d00002816902f2ffff7f04816a02f30000"
                          "008005816b02f4ffffffffffffff7f09816c02f4000000000000008009ff0a00aaea0c"
                          "9860809ef2");
    rdb_value_free(&v);
    /* "-0" and "007" stay strings, 12345678901 is a 64-bit integer, as in Redis */
    value_of(&v, KS_TYPE_HASH, strints, 6, NULL);
    assert_encodes_to(&v, "1023230000000600816d02822d3003816e02f4351cdcdf0200000009817a0283303037"
                          "04ff0a001d163753ab12b36d");
    rdb_value_free(&v);

    /* a listpack up to 512 fields, Redis 7.0's hash-max-listpack-entries (config.c; the
       128 of its older redis.conf examples is not the default) */
    for (int fields = 512; fields <= 513; fields++) {
        rdb_value_init(&v, KS_TYPE_HASH);
        for (int i = 0; i < fields; i++) {
            char f[16];
            int n = snprintf(f, sizeof f, "f%04d", i);
            assert_int_equal(rdb_value_add(&v, f, (size_t)n), 0);
            assert_int_equal(rdb_value_add(&v, "v", 1), 0);
        }
        char *out;
        size_t n;
        assert_int_equal(rdb_encode(&v, &out, &n), 0);
        assert_int_equal((unsigned char)out[0], fields == 512 ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH);
        free(out);
        rdb_value_free(&v);
    }
}

static void test_rdb_encode_lists_as_redis(void **state)
{
    (void)state;
    const char *small[] = {"a", "b", "1", "300", "xyz"};
    char a70[71];
    memset(a70, 'a', 70);
    a70[70] = 0;
    const char *raw[] = {a70, "127", "128", "-1", ""};
    rdb_value v;
    value_of(&v, KS_TYPE_LIST, small, 5, NULL);
    assert_encodes_to(&v,
                      "120102171700000005008161028162020101c12c028378797a04ff0a00fd5d63de213a23c7");
    rdb_value_free(&v);
    value_of(&v, KS_TYPE_LIST, raw, 5, NULL);
    assert_encodes_to(&v, "120102405a5a0000000500e04661616161616161616161616161616161616161616161"
                          "6161616161616161616161616161616161616161616161616161616161616161616161"
                          "61616161616161616161616161487f01c08002dfff028001ff0a000c194a04aa6622f8");
    rdb_value_free(&v);

    /* Larger lists, split into 8 KiB nodes where RPUSH splits them: RPUSH of e0000..e0999
       (7022 bytes), and of 60 elements of growing length (72777 bytes, 11 nodes) */
    static const struct {
        int kind;
        size_t len;
        const char *crc;
    } facts[] = {{0, 7022, "af9424212b6d8fed"}, {1, 72777, "9020aef92d278127"}};
    for (size_t f = 0; f < 2; f++) {
        rdb_value_init(&v, KS_TYPE_LIST);
        char buf[8000];
        for (int i = 0; i < (facts[f].kind ? 60 : 1000); i++) {
            size_t n = 0;
            if (facts[f].kind == 0) {
                n = (size_t)snprintf(buf, sizeof buf, "e%04d", i);
            } else {
                char d[8];
                int dl = snprintf(d, sizeof d, "%d", i);
                for (int r = 0; r < i * 37 % 1500 + 1; r++, n += (size_t)dl)
                    memcpy(buf + n, d, (size_t)dl);
            }
            assert_int_equal(rdb_value_add(&v, buf, n), 0);
        }
        char *out;
        size_t n;
        assert_int_equal(rdb_encode(&v, &out, &n), 0);
        assert_int_equal(n, facts[f].len);
        size_t cl;
        unsigned char *crc = unhex(facts[f].crc, &cl);
        assert_memory_equal(out + n - 8, crc, 8);
        rdb_value got;
        assert_int_equal(rdb_decode(out, n, &got), 0);
        assert_same_value(&got, &v);
        rdb_value_free(&got);
        free(crc);
        free(out);
        rdb_value_free(&v);
    }
}

static void test_rdb_encode_sets_as_redis(void **state)
{
    (void)state;
    const char *i16[] = {"3", "1", "2"};
    const char *i32[] = {"100000", "3"};
    const char *i64[] = {"10000000000", "3"};
    const char *plain[] = {"a"};
    rdb_value v;
    value_of(&v, KS_TYPE_SET, i16, 3, NULL);
    assert_encodes_to(&v, "0b0e02000000030000000100020003000a00a5025ce26d6e4d1b");
    rdb_value_free(&v);
    value_of(&v, KS_TYPE_SET, i32, 2, NULL);
    assert_encodes_to(&v, "0b10040000000200000003000000a08601000a0024abdd4f4bbb0961");
    rdb_value_free(&v);
    value_of(&v, KS_TYPE_SET, i64, 2, NULL);
    assert_encodes_to(&v, "0b180800000002000000030000000000000000e40b54020000000a0006c5251f8bc0"
                          "395d");
    rdb_value_free(&v);
    value_of(&v, KS_TYPE_SET, plain, 1, NULL);
    assert_encodes_to(&v, "020101610a006296e97e44d21a6d");
    rdb_value_free(&v);
    /* a member twice is no set */
    const char *twice[] = {"5", "5"};
    value_of(&v, KS_TYPE_SET, twice, 2, NULL);
    char *out;
    size_t n;
    assert_int_equal(rdb_encode(&v, &out, &n), -EINVAL);
    rdb_value_free(&v);
}

static void test_rdb_encode_zsets_as_redis(void **state)
{
    (void)state;
    /* ZADD a 1 b 2.5 c -3 d 1e300 e inf f -0 g 0.1, given out of order */
    const char *m[] = {"d", "a", "g", "e", "c", "f", "b"};
    const double sc[] = {1e300, 1, 0.1, INFINITY, -3, -0.0, 2.5};
    rdb_value v;
    value_of(&v, KS_TYPE_ZSET, m, 7, sc);
    assert_encodes_to(&v, "11405b5b0000000e00816302dffd02816602000181670293302e3130303030303030"
                          "3030303030303030311481610201018162028"
                          "3322e350481640297312e30303030303030303030303030303031652b33303018816502"
                          "83696e6604ff0a0038bec3841c6fee1d");
    rdb_value_free(&v);
    /* 130 members: zset 2, highest first, binary doubles (1703 bytes) */
    rdb_value_init(&v, KS_TYPE_ZSET);
    for (int i = 129; i >= 0; i--) {
        char name[8];
        int n = snprintf(name, sizeof name, "m%03d", i);
        assert_int_equal(rdb_value_add_scored(&v, name, (size_t)n, i * 0.5), 0);
    }
    char *out;
    size_t n, cl;
    assert_int_equal(rdb_encode(&v, &out, &n), 0);
    assert_int_equal(n, 1703);
    unsigned char *head = unhex("054082046d3132390000000000205040046d313238000000", &cl);
    assert_memory_equal(out, head, cl);
    free(head);
    unsigned char *crc = unhex("cedcdf4952eff3c6", &cl);
    assert_memory_equal(out + n - 8, crc, 8);
    free(crc);
    free(out);
    rdb_value_free(&v);
    /* a member longer than 64 bytes: zset 2 even when small (97 bytes) */
    char a65[66];
    memset(a65, 'a', 65);
    a65[65] = 0;
    const char *lm[] = {a65, "b"};
    const double lsc[] = {1, 2};
    value_of(&v, KS_TYPE_ZSET, lm, 2, lsc);
    assert_int_equal(rdb_encode(&v, &out, &n), 0);
    assert_int_equal(n, 97);
    crc = unhex("a21feb1828eeba6a", &cl);
    assert_memory_equal(out + n - 8, crc, 8);
    free(crc);
    free(out);
    rdb_value_free(&v);
}

/* ---- the decoder on what Redis writes and accepts ---- */

static void test_rdb_decode_redis_lzf(void **state)
{
    (void)state;
    /* DUMPs of redis-server 7.0.15 with rdbcompression yes */
    char a21[22], abc[101];
    memset(a21, 'a', 21);
    a21[21] = 0;
    for (int i = 0; i < 100; i++)
        abc[i] = "abcdefghij"[i % 10];
    abc[100] = 0;
    const char *s1 = a21, *s2 = abc;
    rdb_value v;
    value_of(&v, KS_TYPE_STRING, &s1, 1, NULL);
    assert_decodes_to("00c30615016161e00a000a00fd0cb36807413f68", &v);
    rdb_value_free(&v);
    value_of(&v, KS_TYPE_STRING, &s2, 1, NULL);
    assert_decodes_to("00c31240640a6162636465666768696a61e04e0901696a0a00d485292a1f2eff66", &v);
    rdb_value_free(&v);
    /* a sorted set whose listpack is compressed: c -3, a 1, b 2.5, d 1e300, e inf */
    const char *m[] = {"c", "a", "b", "d", "e"};
    const double sc[] = {-3, 1, 2.5, 1e300, INFINITY};
    value_of(&v, KS_TYPE_ZSET, m, 5, sc);
    assert_decodes_to("11c3353e1f3e0000000a00816302dffd02816102010181620283322e350481640297312e"
                      "30e005000f31652b3330301881650283696e6604ff0a0016b66931474b1bb0",
                      &v);
    rdb_value_free(&v);
}

static void test_rdb_decode_old_encodings(void **state)
{
    (void)state;
    /* Payloads in the encodings of Redis before 7.0, each RESTOREd by redis-server
       7.0.15 to the value given here */
    char x70[71];
    memset(x70, 'x', 70);
    x70[70] = 0;
    const char *zl[] = {"a", "7", "-100", "1000", "100000", "1099511627776", x70, ""};
    rdb_value v;
    value_of(&v, KS_TYPE_LIST, zl, 8, NULL);
    assert_decodes_to( /* list ziplist: 4-bit, int8, int16, int24, int64, 14-bit string */
        "0a4071710000006e000000080000016103f802fe9c03c0e80304f0a0860105e000000000000100000a404678"
        "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
        "787878787878787878787878787878787878787878787878784900ff0a00978854568c247066",
        &v);
    rdb_value_free(&v);
    const char *ql[] = {"a", "3", "b"};
    value_of(&v, KS_TYPE_LIST, ql, 3, NULL);
    assert_decodes_to( /* quicklist 1: two ziplist nodes */
        "0e0210100000000d000000020000016103f4ff0e0e0000000a0000000100000162ff0a0004b58f50f4befa8b",
        &v);
    rdb_value_free(&v);
    const char *pl[] = {"a", "5", ""};
    value_of(&v, KS_TYPE_LIST, pl, 3, NULL);
    assert_decodes_to("01030161c005000a0027773bf6b59462c1", &v); /* plain list */
    rdb_value_free(&v);
    const char *hz[] = {"f", "v", "1", "2"};
    value_of(&v, KS_TYPE_HASH, hz, 4, NULL);
    assert_decodes_to("0d151500000012000000040000016603017603f202f3ff0a00d26188f0a16be3f9", &v);
    rdb_value_free(&v);
    const char *zm[] = {"f", "v", "name", "shale"};
    value_of(&v, KS_TYPE_HASH, zm, 4, NULL);
    assert_decodes_to( /* zipmap, with free bytes after each value */
        "09170201660102767a7a046e616d6505027368616c657a7aff0a00a81b347cf88d2df5", &v);
    rdb_value_free(&v);
    const char *hp[] = {"f", "v", "g", "12345"};
    value_of(&v, KS_TYPE_HASH, hp, 4, NULL);
    assert_decodes_to("0402016601760167c139300a0064e11de796600cde", &v);
    rdb_value_free(&v);
    const char *sp[] = {"a", "7"};
    value_of(&v, KS_TYPE_SET, sp, 2, NULL);
    assert_decodes_to("02020161c0070a009c8dd116ce4be11c", &v);
    rdb_value_free(&v);
    const char *zzm[] = {"a", "b", "c"};
    const double zzs[] = {1, 2.5, -INFINITY};
    value_of(&v, KS_TYPE_ZSET, zzm, 3, zzs);
    assert_decodes_to( /* sorted set ziplist: scores as integers and text */
        "0c21210000001a000000060000016103f20201620303322e3505016303042d696e66ff0a00a3329b2ca887"
        "a71a",
        &v);
    rdb_value_free(&v);
    const double zts[] = {1.5, INFINITY, -INFINITY};
    value_of(&v, KS_TYPE_ZSET, zzm, 3, zts);
    assert_decodes_to("0303016103312e350162fe0163ff0a0006d6b5d11bd0084f", &v); /* text doubles */
    rdb_value_free(&v);
}

/* ---- round trips ---- */

static void random_bytes(uint64_t *rs, char *buf, size_t *n)
{
    uint64_t k = tu_rand_below(rs, 10);
    if (k < 3) { /* an integer, maybe past 32 or 64 bits */
        int64_t x = (int64_t)tu_rand(rs) >> tu_rand_below(rs, 64);
        *n = (size_t)snprintf(buf, 32, "%lld", (long long)x);
        return;
    }
    static const size_t sizes[] = {0, 1, 11, 20, 21, 63, 64, 65, 4095, 4096, 9000};
    *n = sizes[tu_rand_below(rs, sizeof sizes / sizeof *sizes)];
    for (size_t i = 0; i < *n; i++)
        buf[i] = (char)"ab\0\xff" "01"[tu_rand_below(rs, 6)];
}

static void test_rdb_round_trip_random(void **state)
{
    (void)state;
    uint64_t rs = tu_seed();
    static const int types[] = {KS_TYPE_STRING, KS_TYPE_LIST, KS_TYPE_SET, KS_TYPE_ZSET,
                                KS_TYPE_HASH};
    static char buf[10000];
    for (int round = 0; round < 300; round++) {
        int type = types[round % 5];
        rdb_value v;
        rdb_value_init(&v, type);
        size_t members = type == KS_TYPE_STRING ? 1 : 1 + tu_rand_below(&rs, 700);
        for (size_t i = 0; i < members; i++) {
            size_t n;
            random_bytes(&rs, buf, &n);
            if (type == KS_TYPE_SET || type == KS_TYPE_ZSET || type == KS_TYPE_HASH) {
                /* distinct names: i's digits, then maybe 'x' and random bytes (never in
                   half of the sets, which stay integer sets) */
                static char tail[10000];
                size_t tl;
                random_bytes(&rs, tail, &tl);
                n = (size_t)snprintf(buf, 32, "%zu", i);
                if (tu_rand_below(&rs, 2) && !(type == KS_TYPE_SET && round % 2 == 0)) {
                    buf[n++] = 'x';
                    memcpy(buf + n, tail, tl);
                    n += tl;
                }
            }
            double sc = (double)(int64_t)tu_rand(&rs) / (double)(1 + tu_rand_below(&rs, 1000));
            if (type == KS_TYPE_ZSET)
                assert_int_equal(rdb_value_add_scored(&v, buf, n, sc), 0);
            else
                assert_int_equal(rdb_value_add(&v, buf, n), 0);
            if (type == KS_TYPE_HASH) {
                random_bytes(&rs, buf, &n);
                assert_int_equal(rdb_value_add(&v, buf, n), 0);
            }
        }
        char *out;
        size_t n;
        assert_int_equal(rdb_encode(&v, &out, &n), 0);
        rdb_value got;
        assert_int_equal(rdb_decode(out, n, &got), 0);
        /* sets and sorted sets come back in their encoding's order: compare as sets */
        assert_int_equal(got.type, v.type);
        assert_int_equal(got.n, v.n);
        if (type == KS_TYPE_STRING || type == KS_TYPE_LIST || type == KS_TYPE_HASH)
            assert_same_value(&got, &v);
        for (size_t i = 0; i < got.n && (type == KS_TYPE_SET || type == KS_TYPE_ZSET); i++) {
            size_t gl, wl;
            const char *g = rdb_value_item(&got, i, &gl);
            bool found = false;
            for (size_t j = 0; j < v.n && !found; j++) {
                const char *w = rdb_value_item(&v, j, &wl);
                found = gl == wl && memcmp(g, w, gl) == 0 &&
                        (type != KS_TYPE_ZSET || got.score[i] == v.score[j]);
            }
            assert_true(found);
        }
        rdb_value_free(&got);
        free(out);
        rdb_value_free(&v);
    }
}

/* ---- refusals ---- */

static void test_rdb_rejects_bad_footer(void **state)
{
    (void)state;
    const char *good = "000568656c6c6f0a006372df766534200a";
    assert_int_equal(decode_hex(good), 0);
    assert_int_equal(decode_hex("000568656c6c6f0a006372df766534200b"), RDB_ECHECKSUM); /* crc */
    assert_int_equal(decode_hex("0a006372df766534200a"), RDB_ECHECKSUM); /* footer only */
    assert_int_equal(decode_hex("0a006372df766534"), RDB_ECHECKSUM);     /* shorter */
    assert_int_equal(decode_hex(""), RDB_ECHECKSUM);
    /* version 11 (Redis 7.2) with a right CRC, and version 9 (older: accepted) */
    size_t n;
    unsigned char *p = unhex(good, &n);
    p[n - 10] = 11;
    fix_crc(p, n);
    rdb_value v;
    assert_int_equal(rdb_decode(p, n, &v), RDB_ECHECKSUM);
    rdb_value_free(&v);
    p[n - 10] = 9;
    fix_crc(p, n);
    assert_int_equal(rdb_decode(p, n, &v), 0);
    rdb_value_free(&v);
    free(p);
}

/* A payload of hex body with a right footer. */
static int decode_body(const char *body_hex)
{
    size_t bl;
    unsigned char *b = unhex(body_hex, &bl);
    unsigned char *p = malloc(bl + 10);
    memcpy(p, b, bl);
    p[bl] = 10;
    p[bl + 1] = 0;
    fix_crc(p, bl + 10);
    rdb_value v;
    int rc = rdb_decode(p, bl + 10, &v);
    rdb_value_free(&v);
    free(p);
    free(b);
    return rc;
}

static void test_rdb_rejects_bad_values(void **state)
{
    (void)state;
    assert_int_equal(decode_body("000161"), 0);
    /* types shale has no room for, and numbers that are no type */
    static const char *types[] = {"06", "07", "08", "0f", "13", "14", "ff"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        assert_int_equal(decode_body(types[i]), RDB_EFORMAT);
    assert_int_equal(decode_body(""), RDB_EFORMAT);       /* no type byte */
    /* a string may run into the footer, as Redis reads it (its 5 bytes are "abc" and
       the version), not past the payload */
    assert_int_equal(decode_body("0005616263"), 0);
    assert_int_equal(decode_body("000e616263"), RDB_EFORMAT);
    assert_int_equal(decode_body("00c4"), RDB_EFORMAT);   /* no such string encoding */
    assert_int_equal(decode_body("0082"), RDB_EFORMAT);   /* no such length */
    assert_int_equal(decode_body("00c30203"), RDB_EFORMAT); /* LZF cut short */
    /* LZF claiming far more than its bytes can hold */
    assert_int_equal(decode_body("00c3028100000000016161"), RDB_EFORMAT);
    /* empty collections */
    assert_int_equal(decode_body("0100"), RDB_EFORMAT);
    assert_int_equal(decode_body("0200"), RDB_EFORMAT);
    assert_int_equal(decode_body("0300"), RDB_EFORMAT);
    assert_int_equal(decode_body("0400"), RDB_EFORMAT);
    assert_int_equal(decode_body("0500"), RDB_EFORMAT);
    assert_int_equal(decode_body("1200"), RDB_EFORMAT);
    assert_int_equal(decode_body("1007070000000000ff"), RDB_EFORMAT); /* empty listpack */
    /* members named twice */
    assert_int_equal(decode_body("0202016101 61"), RDB_EFORMAT);
    assert_int_equal(decode_body("020201610162"), 0);
    assert_int_equal(decode_body("04020161017601610177"), RDB_EFORMAT);
    assert_int_equal(decode_body("0502016100000000000000000161000000000000f03f"), RDB_EFORMAT);
    /* a hash listpack with a repeated field, and one with an odd count */
    assert_int_equal(decode_body("101111000000040081610201018161020201ff"), RDB_EFORMAT);
    assert_int_equal(decode_body("101111000000040081610201018162020201ff"), 0);
    assert_int_equal(decode_body("100f0f00000003008161020101816202ff"), RDB_EFORMAT);
    /* NaN scores: binary, text, listpack */
    assert_int_equal(decode_body("050101610000000000 00f87f"), RDB_EFORMAT);
    assert_int_equal(decode_body("03010161fd"), RDB_EFORMAT);
    assert_int_equal(decode_body("0301016103616263"), RDB_EFORMAT); /* not a number */
    assert_int_equal(decode_body("110f0f0000000200816102836e616e04ff"), RDB_EFORMAT);
    /* an intset out of order, with a repeat, with a bad width */
    assert_int_equal(decode_body("0b0c020000000200000002000100"), RDB_EFORMAT);
    assert_int_equal(decode_body("0b0c020000000200000001000100"), RDB_EFORMAT);
    assert_int_equal(decode_body("0b0c030000000200000001000200"), RDB_EFORMAT);
    assert_int_equal(decode_body("0b0c020000000200000001000200"), 0);
    /* quicklist 2: a node container that is neither plain nor packed, an empty node */
    assert_int_equal(decode_body("1201030161"), RDB_EFORMAT);
    assert_int_equal(decode_body("12010100"), RDB_EFORMAT);
    assert_int_equal(decode_body("1201010161"), 0);
}

/* Decodes every one-byte change and every cut of valid payloads (CRC fixed): each must
   decode or fail with a decoder error, and never read outside the payload (ASan). */
static void test_rdb_corrupt_payloads_fail_cleanly(void **state)
{
    (void)state;
    static const char *payloads[] = {
        "120102405a5a0000000500e04661616161616161616161616161616161616161616161616161616161616161"
        "616161616161616161616161616161616161616161616161616161616161616161616161616161487f01c080"
        "02dfff028001ff0a000c194a04aa6622f8",
        "11c3353e1f3e0000000a00816302dffd02816102010181620283322e350481640297312e30e005000f3165"
        "2b3330301881650283696e6604ff0a0016b66931474b1bb0",
        "0a4071710000006e000000080000016103f802fe9c03c0e80304f0a0860105e000000000000100000a404678"
        "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
        "787878787878787878787878787878787878787878787878784900ff0a00978854568c247066",
        "09170201660102767a7a046e616d6505027368616c657a7aff0a00a81b347cf88d2df5",
        "0b180800000002000000030000000000000000e40b54020000000a0006c5251f8bc0395d",
        "0e0210100000000d000000020000016103f4ff0e0e0000000a0000000100000162ff0a0004b58f50f4befa8b",
        "0303016103312e350162fe0163ff0a0006d6b5d11bd0084f",
        "0c21210000001a000000060000016103f20201620303322e3505016303042d696e66ff0a00a3329b2ca887"
        "a71a",
    };
    size_t decoded = 0, refused = 0;
    for (size_t k = 0; k < sizeof payloads / sizeof *payloads; k++) {
        size_t n;
        unsigned char *orig = unhex(payloads[k], &n);
        for (size_t at = 0; at < n - 10; at++) {
            for (int bit = 0; bit < 8; bit++) {
                unsigned char *p = malloc(n);
                memcpy(p, orig, n);
                p[at] ^= (unsigned char)(1 << bit);
                fix_crc(p, n);
                rdb_value v;
                int rc = rdb_decode(p, n, &v);
                assert_true(rc == 0 || rc == RDB_EFORMAT);
                rc == 0 ? decoded++ : refused++;
                rdb_value_free(&v);
                free(p);
            }
            /* cut the body at `at`, footer kept */
            unsigned char *p = malloc(at + 10);
            memcpy(p, orig, at);
            memcpy(p + at, orig + n - 10, 10);
            fix_crc(p, at + 10);
            rdb_value v;
            int rc = rdb_decode(p, at + 10, &v);
            assert_true(rc == 0 || rc == RDB_EFORMAT);
            rdb_value_free(&v);
            free(p);
        }
        free(orig);
    }
    assert_true(refused > 0 && decoded > 0);
}

/* The payload type byte of v, and the encoding a decode of it reports. */
static int encoded_type(const rdb_value *v, int *enc)
{
    char *out;
    size_t n;
    assert_int_equal(rdb_encode(v, &out, &n), 0);
    rdb_value got;
    assert_int_equal(rdb_decode(out, n, &got), 0);
    *enc = got.enc;
    int type = (unsigned char)out[0];
    rdb_value_free(&got);
    free(out);
    return type;
}

/* v->enc: the big encoding is kept for a value that would fit the compact one (Redis
   never converts back), the compact one for a value past the default limits (a Redis
   told to keep larger listpacks); AUTO decides by the value. */
static void test_rdb_encoding_follows_value_enc(void **state)
{
    const char *h[] = {"f", "v"}, *s[] = {"1", "2"}, *z[] = {"a", "b"};
    static const double sc[] = {1, 2};
    static const struct {
        int type, enc, want;
    } cases[] = {
        {KS_TYPE_HASH, RDB_ENC_AUTO, RDB_TYPE_HASH_LISTPACK},
        {KS_TYPE_HASH, RDB_ENC_BIG, RDB_TYPE_HASH},
        {KS_TYPE_SET, RDB_ENC_AUTO, RDB_TYPE_SET_INTSET},
        {KS_TYPE_SET, RDB_ENC_BIG, RDB_TYPE_SET},
        {KS_TYPE_ZSET, RDB_ENC_AUTO, RDB_TYPE_ZSET_LISTPACK},
        {KS_TYPE_ZSET, RDB_ENC_BIG, RDB_TYPE_ZSET_2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rdb_value v;
        const char *const *items = cases[i].type == KS_TYPE_HASH ? h
                                   : cases[i].type == KS_TYPE_SET ? s
                                                                  : z;
        value_of(&v, cases[i].type, items, 2, sc);
        v.enc = cases[i].enc;
        int enc;
        assert_int_equal(encoded_type(&v, &enc), cases[i].want);
        assert_int_equal(enc, cases[i].enc == RDB_ENC_BIG ? RDB_ENC_BIG : RDB_ENC_COMPACT);
        rdb_value_free(&v);
    }
    /* a 100-byte member: a skiplist unless the value says it is a listpack */
    char big[101];
    memset(big, 'm', 100);
    big[100] = '\0';
    const char *zl[] = {big, "b"};
    rdb_value v;
    value_of(&v, KS_TYPE_ZSET, zl, 2, sc);
    int enc;
    assert_int_equal(encoded_type(&v, &enc), RDB_TYPE_ZSET_2);
    v.enc = RDB_ENC_COMPACT;
    assert_int_equal(encoded_type(&v, &enc), RDB_TYPE_ZSET_LISTPACK);
    assert_int_equal(enc, RDB_ENC_COMPACT);
    rdb_value_free(&v);
    /* a set that is no intset cannot be written as one */
    const char *sx[] = {"1", "x"};
    value_of(&v, KS_TYPE_SET, sx, 2, NULL);
    v.enc = RDB_ENC_COMPACT;
    assert_int_equal(encoded_type(&v, &enc), RDB_TYPE_SET);
    rdb_value_free(&v);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rdb_crc64_check_value),
        cmocka_unit_test(test_rdb_lzf_decompress),
        cmocka_unit_test(test_rdb_encode_strings_as_redis),
        cmocka_unit_test(test_rdb_encode_hashes_as_redis),
        cmocka_unit_test(test_rdb_encode_lists_as_redis),
        cmocka_unit_test(test_rdb_encode_sets_as_redis),
        cmocka_unit_test(test_rdb_encode_zsets_as_redis),
        cmocka_unit_test(test_rdb_decode_redis_lzf),
        cmocka_unit_test(test_rdb_decode_old_encodings),
        cmocka_unit_test(test_rdb_round_trip_random),
        cmocka_unit_test(test_rdb_rejects_bad_footer),
        cmocka_unit_test(test_rdb_rejects_bad_values),
        cmocka_unit_test(test_rdb_corrupt_payloads_fail_cleanly),
        cmocka_unit_test(test_rdb_encoding_follows_value_enc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

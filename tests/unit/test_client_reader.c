/*
 * test_client_reader.c - the client's RESP2/RESP3 reader: every reply type, input split
 * at every byte, byte by byte, random reply trees fed in random pieces (checked by
 * writing the tree back out), and random or truncated garbage that must end in a reply,
 * a wait for more, or a protocol error, never a crash (run under ASan by make asan).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shale_client.h"
#include "testutil.h"

/* ---- writing a tree back out as RESP, to compare with the input ---- */

typedef struct out {
    char *p;
    size_t len, cap;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->p = realloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void putf(out *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(o, tmp, (size_t)n);
}

/* Nil is written as $-1 (RESP2) or _ (when resp3): the reader does not keep which. */
static void write_reply(out *o, const shale_client_reply *r, int resp3_nil)
{
    if (r->attribute)
        write_reply(o, r->attribute, resp3_nil);
    switch (r->type) {
    case SHALE_CLIENT_REPLY_STATUS: putf(o, "+"); put(o, r->str, r->len); putf(o, "\r\n"); break;
    case SHALE_CLIENT_REPLY_ERROR: putf(o, "-"); put(o, r->str, r->len); putf(o, "\r\n"); break;
    case SHALE_CLIENT_REPLY_INTEGER: putf(o, ":%lld\r\n", r->integer); break;
    case SHALE_CLIENT_REPLY_STRING: putf(o, "$%zu\r\n", r->len); put(o, r->str, r->len); putf(o, "\r\n"); break;
    case SHALE_CLIENT_REPLY_NIL: putf(o, resp3_nil ? "_\r\n" : "$-1\r\n"); break;
    case SHALE_CLIENT_REPLY_DOUBLE: putf(o, ","); put(o, r->str, r->len); putf(o, "\r\n"); break;
    case SHALE_CLIENT_REPLY_BOOL: putf(o, "#%c\r\n", r->integer ? 't' : 'f'); break;
    case SHALE_CLIENT_REPLY_BIGNUM: putf(o, "("); put(o, r->str, r->len); putf(o, "\r\n"); break;
    case SHALE_CLIENT_REPLY_VERBATIM:
        putf(o, "=%zu\r\n%s:", r->len + 4, r->format); put(o, r->str, r->len); putf(o, "\r\n");
        break;
    default: {
        char c = r->type == SHALE_CLIENT_REPLY_ARRAY ? '*' : r->type == SHALE_CLIENT_REPLY_MAP ? '%'
               : r->type == SHALE_CLIENT_REPLY_SET ? '~' : r->type == SHALE_CLIENT_REPLY_PUSH ? '>' : '|';
        size_t n = r->elements;
        if (r->type == SHALE_CLIENT_REPLY_MAP || r->type == SHALE_CLIENT_REPLY_ATTRIBUTE)
            n /= 2;
        putf(o, "%c%zu\r\n", c, n);
        for (size_t i = 0; i < r->elements; i++)
            write_reply(o, r->element[i], resp3_nil);
    }
    }
}

/* ---- a random valid reply stream ---- */

static void gen(out *o, uint64_t *rs, int depth)
{
    int t = (int)tu_rand_below(rs, depth > 3 ? 10 : 15);
    char s[64];
    size_t n = tu_rand_below(rs, 40);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + tu_rand_below(rs, 26));
    switch (t) {
    case 0: putf(o, "+"); put(o, s, n); putf(o, "\r\n"); break;
    case 1: putf(o, "-ERR "); put(o, s, n); putf(o, "\r\n"); break;
    case 2: putf(o, ":%lld\r\n", (long long)(tu_rand(rs) >> 1) * (tu_rand_below(rs, 2) ? -1 : 1)); break;
    case 3: { /* binary-safe bulk with CR, LF and NUL inside */
        size_t len = tu_rand_below(rs, 3) == 0 ? tu_rand_below(rs, 20000) : tu_rand_below(rs, 30);
        putf(o, "$%zu\r\n", len);
        for (size_t i = 0; i < len; i++) {
            char c = (char)tu_rand(rs);
            put(o, &c, 1);
        }
        putf(o, "\r\n");
        break;
    }
    case 4: putf(o, "_\r\n"); break;
    case 5: putf(o, ",%.17g\r\n", (double)(int64_t)tu_rand(rs) / 1e6); break;
    case 6: putf(o, "#%c\r\n", tu_rand_below(rs, 2) ? 't' : 'f'); break;
    case 7: putf(o, "(3492890328409238509324850943850943825024385\r\n"); break;
    case 8: putf(o, "=%zu\r\ntxt:", n + 4); put(o, s, n); putf(o, "\r\n"); break;
    case 9: putf(o, "*0\r\n"); break;
    default: {
        static const char types[] = "*%~>|*";
        char c = types[t - 10];
        size_t k = tu_rand_below(rs, 6);
        if (c == '|') { /* an attribute, then the reply it annotates */
            putf(o, "|1\r\n+key\r\n");
            gen(o, rs, depth + 1);
            gen(o, rs, depth + 1);
            break;
        }
        putf(o, "%c%zu\r\n", c, k);
        for (size_t i = 0; i < k * (c == '%' ? 2 : 1); i++)
            gen(o, rs, depth + 1);
    }
    }
}

/* Feeds stream in pieces cut at the given points (sorted, may be empty) and writes the
   replies back out into *back. Returns the number of replies. */
static int parse_in_pieces(const char *stream, size_t len, const size_t *cuts, int ncuts, out *back)
{
    shale_client_reader *r = shale_client_reader_new();
    assert_non_null(r);
    int replies = 0;
    size_t at = 0;
    for (int c = 0; c <= ncuts; c++) {
        size_t to = c < ncuts ? cuts[c] : len;
        assert_int_equal(shale_client_reader_feed(r, stream + at, to - at), 0);
        at = to;
        shale_client_reply *x;
        int rc;
        while ((rc = shale_client_reader_get_reply(r, &x)) == 1) {
            write_reply(back, x, 1);
            shale_client_reply_free(x);
            replies++;
        }
        if (rc != 0)
            fail_msg("reader error %d: %s", rc, shale_client_reader_error(r));
    }
    shale_client_reader_free(r);
    return replies;
}

static void test_every_type(void **state)
{
    const char stream[] = "+OK\r\n-ERR bad thing\r\n:-42\r\n$5\r\nhel\0o\r\n$-1\r\n*-1\r\n_\r\n"
                          ",3.25\r\n,inf\r\n#t\r\n#f\r\n(123456789012345678901234567890\r\n"
                          "=9\r\nmkd:hello\r\n!5\r\noops!\r\n*2\r\n:1\r\n*1\r\n+x\r\n"
                          "%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n~1\r\n+s\r\n>2\r\n+message\r\n+m\r\n"
                          "|1\r\n+ttl\r\n:5\r\n$1\r\nv\r\n*0\r\n";
    shale_client_reader *r = shale_client_reader_new();
    assert_int_equal(shale_client_reader_feed(r, stream, sizeof stream - 1), 0);
    shale_client_reply *x;
#define NEXT(t)                                                                                    \
    assert_int_equal(shale_client_reader_get_reply(r, &x), 1);                                     \
    assert_int_equal(x->type, t)
    NEXT(SHALE_CLIENT_REPLY_STATUS);
    assert_string_equal(x->str, "OK");
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_ERROR);
    assert_string_equal(x->str, "ERR bad thing");
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_INTEGER);
    assert_int_equal(x->integer, -42);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_STRING);
    assert_int_equal(x->len, 5);
    assert_memory_equal(x->str, "hel\0o", 5);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_NIL);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_NIL);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_NIL);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_DOUBLE);
    assert_true(x->dval == 3.25);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_DOUBLE);
    assert_true(isinf(x->dval));
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_BOOL);
    assert_int_equal(x->integer, 1);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_BOOL);
    assert_int_equal(x->integer, 0);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_BIGNUM);
    assert_string_equal(x->str, "123456789012345678901234567890");
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_VERBATIM);
    assert_string_equal(x->format, "mkd");
    assert_string_equal(x->str, "hello");
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_ERROR); /* blob error */
    assert_string_equal(x->str, "oops!");
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_ARRAY);
    assert_int_equal(x->elements, 2);
    assert_int_equal(x->element[0]->integer, 1);
    assert_int_equal(x->element[1]->type, SHALE_CLIENT_REPLY_ARRAY);
    assert_string_equal(x->element[1]->element[0]->str, "x");
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_MAP);
    assert_int_equal(x->elements, 4);
    assert_string_equal(x->element[2]->str, "b");
    assert_int_equal(x->element[3]->integer, 2);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_SET);
    assert_int_equal(x->elements, 1);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_PUSH);
    assert_string_equal(x->element[0]->str, "message");
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_STRING); /* with its attribute */
    assert_string_equal(x->str, "v");
    assert_non_null(x->attribute);
    assert_int_equal(x->attribute->type, SHALE_CLIENT_REPLY_ATTRIBUTE);
    assert_string_equal(x->attribute->element[0]->str, "ttl");
    assert_int_equal(x->attribute->element[1]->integer, 5);
    shale_client_reply_free(x);
    NEXT(SHALE_CLIENT_REPLY_ARRAY);
    assert_int_equal(x->elements, 0);
    shale_client_reply_free(x);
    assert_int_equal(shale_client_reader_get_reply(r, &x), 0);
    shale_client_reader_free(r);
}

/* The same replies whatever the split: at every single point, and byte by byte. */
static void test_every_split_point(void **state)
{
    uint64_t rs = tu_seed();
    out s = {0};
    for (int i = 0; i < 30; i++)
        gen(&s, &rs, 0);
    out whole = {0};
    int n = parse_in_pieces(s.p, s.len, NULL, 0, &whole);
    assert_true(n >= 30);
    for (size_t cut = 1; cut < s.len; cut += s.len > 4000 ? 7 : 1) {
        out back = {0};
        assert_int_equal(parse_in_pieces(s.p, s.len, &cut, 1, &back), n);
        assert_int_equal(back.len, whole.len);
        assert_memory_equal(back.p, whole.p, whole.len);
        free(back.p);
    }
    size_t *bytes = malloc(s.len * sizeof *bytes);
    for (size_t i = 0; i < s.len; i++)
        bytes[i] = i;
    out back = {0};
    assert_int_equal(parse_in_pieces(s.p, s.len, bytes + 1, (int)s.len - 1, &back), n);
    assert_int_equal(back.len, whole.len);
    assert_memory_equal(back.p, whole.p, whole.len);
    free(back.p);
    free(bytes);
    free(whole.p);
    free(s.p);
}

/* Random trees in random pieces read back as exactly what was sent (nil as _). */
static void test_random_trees_round_trip(void **state)
{
    uint64_t rs = tu_seed();
    for (int round = 0; round < 200; round++) {
        out s = {0};
        int k = 1 + (int)tu_rand_below(&rs, 20);
        for (int i = 0; i < k; i++)
            gen(&s, &rs, 0);
        size_t cuts[16];
        int nc = (int)tu_rand_below(&rs, 16);
        for (int i = 0; i < nc; i++)
            cuts[i] = tu_rand_below(&rs, s.len);
        for (int i = 1; i < nc; i++) /* insertion sort */
            for (int j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        out back = {0};
        parse_in_pieces(s.p, s.len, cuts, nc, &back);
        put(&s, "", 0);
        put(&back, "", 0);
        if (back.len != s.len || memcmp(back.p, s.p, s.len) != 0)
            fail_msg("round %d: the stream does not read back as sent", round);
        free(back.p);
        free(s.p);
    }
}

/* Garbage, flipped bytes and truncations: a reply, a wait, or a clean error. */
static void test_random_damage_never_crashes(void **state)
{
    uint64_t rs = tu_seed();
    int errors = 0;
    for (int round = 0; round < 3000; round++) {
        out s = {0};
        gen(&s, &rs, 0);
        gen(&s, &rs, 0);
        size_t flips = tu_rand_below(&rs, 4);
        for (size_t i = 0; i < flips && s.len; i++)
            s.p[tu_rand_below(&rs, s.len)] = (char)tu_rand(&rs);
        size_t len = tu_rand_below(&rs, 3) == 0 ? tu_rand_below(&rs, s.len + 1) : s.len;
        shale_client_reader *r = shale_client_reader_new();
        size_t at = 0;
        int rc = 0;
        while (at < len && rc >= 0) {
            size_t piece = 1 + tu_rand_below(&rs, 64);
            if (piece > len - at)
                piece = len - at;
            rc = shale_client_reader_feed(r, s.p + at, piece);
            at += piece;
            shale_client_reply *x;
            while (rc >= 0 && (rc = shale_client_reader_get_reply(r, &x)) == 1)
                shale_client_reply_free(x);
        }
        if (rc < 0) {
            assert_int_equal(rc, SHALE_CLIENT_EPROTO);
            assert_true(strlen(shale_client_reader_error(r)) > 0);
            errors++;
            /* the error sticks */
            shale_client_reply *x;
            assert_int_equal(shale_client_reader_get_reply(r, &x), SHALE_CLIENT_EPROTO);
        }
        shale_client_reader_free(r);
        free(s.p);
    }
    assert_true(errors > 0);
}

static void test_protocol_errors(void **state)
{
    static const char *bad[] = {
        "?what\r\n", ":12x\r\n", "$-2\r\n", "*-5\r\n", "$3\r\nabcd\r\n", "+ok\rx", "#x\r\n",
        ",nope\r\n", "%-1\r\n", "=3\r\nabc\r\n", ":99999999999999999999\r\n", "_x\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shale_client_reader *r = shale_client_reader_new();
        assert_int_equal(shale_client_reader_feed(r, bad[i], strlen(bad[i])), 0);
        shale_client_reply *x = NULL;
        int rc = shale_client_reader_get_reply(r, &x);
        if (rc != SHALE_CLIENT_EPROTO)
            fail_msg("'%s' gave %d, not a protocol error", bad[i], rc);
        assert_null(x);
        assert_int_equal(shale_client_reader_feed(r, "+OK\r\n", 5), SHALE_CLIENT_EPROTO);
        shale_client_reader_free(r);
    }
    assert_string_equal(shale_client_strerror(SHALE_CLIENT_ECLOSED), "connection closed");
}

/* Issue 15 #23: the messages for a bad length name the type byte (they passed a char * to
   "%c" and printed a byte of the pointer). */
static void test_client_reader_bad_length_message_names_type(void **state)
{
    static const struct {
        const char *input, *message;
    } cases[] = {
        {"*x\r\n", "bad aggregate length after '*'"},
        {"%-1\r\n", "bad aggregate length after '%'"},
        {"$-2\r\n", "bad length after '$'"},
        {"=-1\r\n", "bad length after '='"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shale_client_reader *r = shale_client_reader_new();
        assert_int_equal(shale_client_reader_feed(r, cases[i].input, strlen(cases[i].input)), 0);
        shale_client_reply *x = NULL;
        assert_int_equal(shale_client_reader_get_reply(r, &x), SHALE_CLIENT_EPROTO);
        assert_string_equal(shale_client_reader_error(r), cases[i].message);
        shale_client_reader_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_random_trees_round_trip),
        cmocka_unit_test(test_random_damage_never_crashes),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_client_reader_bad_length_message_names_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

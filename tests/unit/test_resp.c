/*
 * test_resp.c - the RESP request parser: multibulk and inline commands, pipelines, every
 * split point of the input, and Redis's protocol errors.
 */
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

#define MAXBULK (512ull << 20)

/* Parses all of s, fed in two pieces split at `split`; returns the joined argv of every
   command as "a|b;c|d;" for comparison. */
static void parse_all(const char *s, size_t n, size_t split, char *out, size_t cap)
{
    resp_cmd cmd = {0};
    char *buf = malloc(n + 1);
    size_t have = 0, start = 0;
    out[0] = '\0';
    for (int phase = 0; phase < 2; phase++) {
        size_t upto = phase == 0 ? split : n;
        memcpy(buf + have, s + have, upto - have);
        have = upto;
        for (;;) {
            size_t used;
            const char *err;
            int r = resp_parse(buf + start, have - start, MAXBULK, &cmd, &used, &err);
            assert_true(r >= 0);
            if (r == 0)
                break;
            start += used;
            for (int i = 0; i < cmd.argc; i++) {
                size_t l = strlen(out);
                snprintf(out + l, cap - l, "%s%.*s", i ? "|" : "", (int)cmd.argv[i].len,
                         cmd.argv[i].p);
            }
            size_t l = strlen(out);
            snprintf(out + l, cap - l, ";");
        }
    }
    assert_int_equal(start, n);
    free(buf);
    resp_cmd_free(&cmd);
}

static void check_every_split(const char *s, const char *want)
{
    size_t n = strlen(s);
    char got[1024];
    for (size_t split = 0; split <= n; split++) {
        parse_all(s, n, split, got, sizeof got);
        if (strcmp(got, want) != 0)
            fail_msg("split %zu: got '%s' want '%s'", split, got, want);
    }
}

static void test_resp_multibulk_and_pipeline_at_every_split(void **state)
{
    check_every_split("*1\r\n$4\r\nPING\r\n", "PING;");
    check_every_split(
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhe\r\no\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        "SET|k|he\r\no;GET|k;");
    check_every_split("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", "GET|;");
    check_every_split("*0\r\n*1\r\n$4\r\nPING\r\n", ";PING;");
}

static void test_resp_inline_commands(void **state)
{
    check_every_split("PING\r\n", "PING;");
    check_every_split("set k \"a b\\x41\\n\"\nget 'k'\r\n", "set|k|a bA\n;get|k;");
    check_every_split("  spaced   out  \r\n", "spaced|out;");
    check_every_split("\r\n", ";");
    check_every_split("echo 'it\\'s'\r\n", "echo|it's;");
}

static void expect_error(const char *s, const char *msg)
{
    resp_cmd cmd = {0};
    size_t used;
    const char *err = NULL;
    assert_int_equal(resp_parse(s, strlen(s), MAXBULK, &cmd, &used, &err), -1);
    assert_string_equal(err, msg);
    resp_cmd_free(&cmd);
}

static void test_resp_protocol_errors(void **state)
{
    expect_error("*2\r\n+GET\r\n", "Protocol error: expected '$', got '+'");
    expect_error("*x\r\n", "Protocol error: invalid multibulk length");
    expect_error("*1\r\n$-5\r\n", "Protocol error: invalid bulk length");
    expect_error("*1\r\n$3\r\nGETXX\r\n", "Protocol error: invalid bulk length");
    expect_error("*99999999999\r\n", "Protocol error: invalid multibulk length");
    expect_error("set k \"unterminated\r\n", "Protocol error: unbalanced quotes in request");
    expect_error("set k \"a\"b\r\n", "Protocol error: unbalanced quotes in request");
    resp_cmd cmd = {0};
    size_t used;
    const char *err;
    /* a bulk longer than proto-max-bulk-len */
    assert_int_equal(resp_parse("*1\r\n$100\r\n", 10, 10, &cmd, &used, &err), -1);
    assert_string_equal(err, "Protocol error: invalid bulk length");
    /* an inline line that never ends */
    char *big = malloc(RESP_MAX_INLINE + 10);
    memset(big, 'a', RESP_MAX_INLINE + 10);
    assert_int_equal(resp_parse(big, RESP_MAX_INLINE + 10, MAXBULK, &cmd, &used, &err), -1);
    assert_string_equal(err, "Protocol error: too big inline request");
    /* incomplete input is not an error */
    assert_int_equal(resp_parse("*2\r\n$3\r\nGE", 11, MAXBULK, &cmd, &used, &err), 0);
    free(big);
    resp_cmd_free(&cmd);
}

/*
 * Feeds one request the way the server's loop does when it arrives in pieces: each call
 * sees the same start with `step` more bytes. Returns the calls made; the command must
 * come out complete at the end.
 */
static int feed_in_steps(const char *req, size_t n, size_t step, resp_cmd *cmd)
{
    int calls = 0;
    for (size_t have = step < n ? step : n;; have = have + step < n ? have + step : n) {
        size_t used;
        const char *err;
        int r = resp_parse(req, have, MAXBULK, cmd, &used, &err);
        calls++;
        if (have < n) {
            assert_int_equal(r, 0);
            continue;
        }
        assert_int_equal(r, 1);
        assert_int_equal(used, n);
        return calls;
    }
}

/* "*N\r\n" and N one-byte arguments (a, b, c, ...); *n is its length. */
static char *one_byte_args(int nargs, size_t *n)
{
    size_t cap = 32 + (size_t)nargs * 7;
    char *req = malloc(cap);
    *n = (size_t)snprintf(req, cap, "*%d\r\n", nargs);
    for (int i = 0; i < nargs; i++) {
        memcpy(req + *n, "$1\r\nx\r\n", 7);
        req[*n + 4] = (char)('a' + i % 26);
        *n += 7;
    }
    return req;
}

static void expect_linear(const resp_cmd *cmd, uint64_t before, size_t n, int calls)
{
    uint64_t work = cmd->examined - before;
    if (work > 2 * n)
        fail_msg("%d calls over %zu bytes examined %llu bytes (more than twice the input)",
                 calls, n, (unsigned long long)work);
}

/* 200 000 one-byte arguments arriving in 16 KiB pieces: the parser used to start over
   from the request's first byte on every piece (quadratic work under the server's lock:
   800 000 arguments took 1.75 s). What it examines must stay linear in the input; so
   must a request fed byte by byte, multibulk or inline. */
static void test_resp_long_multibulk_in_pieces_parsed_in_linear_work(void **state)
{
    enum { NARGS = 200000 };
    size_t n;
    char *req = one_byte_args(NARGS, &n);
    size_t head = strlen("*200000\r\n");
    resp_cmd cmd = {0};
    int calls = feed_in_steps(req, n, 16384, &cmd);
    assert_int_equal(cmd.argc, NARGS);
    for (int i = 0; i < NARGS; i++) {
        assert_int_equal(cmd.argv[i].len, 1);
        assert_true(cmd.argv[i].p == req + head + (size_t)i * 7 + 4);
        assert_int_equal(cmd.argv[i].p[0], 'a' + i % 26);
    }
    expect_linear(&cmd, 0, n, calls);
    free(req);

    req = one_byte_args(3000, &n);
    uint64_t before = cmd.examined;
    calls = feed_in_steps(req, n, 1, &cmd);
    assert_int_equal(cmd.argc, 3000);
    expect_linear(&cmd, before, n, calls);
    free(req);

    n = 60000;
    req = malloc(n);
    memset(req, 'a', n);
    for (size_t i = 10; i < n; i += 10)
        req[i] = ' ';
    req[n - 2] = '\r';
    req[n - 1] = '\n';
    before = cmd.examined;
    calls = feed_in_steps(req, n, 1, &cmd);
    assert_int_equal(cmd.argc, (int)(n / 10));
    expect_linear(&cmd, before, n, calls);
    free(req);
    resp_cmd_free(&cmd);
}

static void expect_out(resp_out *o, const char *want)
{
    assert_int_equal(o->err, 0);
    if (o->len != strlen(want) || memcmp(o->data, want, o->len) != 0)
        fail_msg("got '%.*s' want '%s'", (int)o->len, o->data, want);
    o->len = 0;
}

/* argc and the argv capacity are ints: with a raised client-query-buffer-limit a
   multibulk may announce up to INT_MAX arguments, and doubling past 2^30 overflowed.
   Growth must stop at INT_MAX, and a full INT_MAX array must not grow. */
static void test_resp_argv_capacity_bounded(void **state)
{
    assert_int_equal(resp_argv_next_cap(0), 16);
    assert_int_equal(resp_argv_next_cap(16), 32);
    assert_int_equal(resp_argv_next_cap(1 << 29), 1 << 30);
    int next = resp_argv_next_cap(1 << 30);
    print_message("after 2^30: %d\n", next);
    assert_int_equal(next, INT_MAX);
    assert_int_equal(resp_argv_next_cap(INT_MAX - 5), INT_MAX);
    assert_int_equal(resp_argv_next_cap(INT_MAX), 0); /* no more room: the parse fails */
}

static void test_resp_replies_in_both_protocols(void **state)
{
    resp_out o = {0};
    resp_simple(&o, "OK");
    expect_out(&o, "+OK\r\n");
    resp_error(&o, "ERR bad\r\nthing");
    expect_out(&o, "-ERR bad  thing\r\n");
    resp_integer(&o, -42);
    resp_integer(&o, 0);
    resp_integer(&o, 9223372036854775807LL);
    expect_out(&o, ":-42\r\n:0\r\n:9223372036854775807\r\n");
    resp_integer(&o, (-9223372036854775807LL - 1));
    expect_out(&o, ":-9223372036854775808\r\n");
    resp_bulk(&o, "a\0b", 3); /* binary safe */
    assert_int_equal(o.len, 9);
    assert_memory_equal(o.data, "$3\r\na\0b\r\n", 9);
    o.len = 0;
    resp_bulk(&o, "", 0);
    expect_out(&o, "$0\r\n\r\n");
    resp_null(&o, 2);
    resp_null(&o, 3);
    resp_null_array(&o, 2);
    expect_out(&o, "$-1\r\n_\r\n*-1\r\n");
    resp_map(&o, 2, 2);
    resp_map(&o, 2, 3);
    resp_set(&o, 3, 3);
    resp_array(&o, 0);
    expect_out(&o, "*4\r\n%2\r\n~3\r\n*0\r\n");
    resp_double(&o, 1.5, 3);
    resp_double(&o, 1.5, 2);
    expect_out(&o, ",1.5\r\n$3\r\n1.5\r\n");
    resp_bool(&o, 1, 3);
    resp_bool(&o, 0, 2);
    expect_out(&o, "#t\r\n:0\r\n");
    resp_verbatim(&o, "hi", 2, 3);
    resp_verbatim(&o, "hi", 2, 2);
    expect_out(&o, "=6\r\ntxt:hi\r\n$2\r\nhi\r\n");
    /* large bulk grows the buffer */
    char *big = malloc(100000);
    memset(big, 'x', 100000);
    resp_bulk(&o, big, 100000);
    assert_int_equal(o.len, strlen("$100000\r\n") + 100000 + 2);
    free(big);
    resp_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_multibulk_and_pipeline_at_every_split),
        cmocka_unit_test(test_resp_inline_commands),
        cmocka_unit_test(test_resp_protocol_errors),
        cmocka_unit_test(test_resp_long_multibulk_in_pieces_parsed_in_linear_work),
        cmocka_unit_test(test_resp_replies_in_both_protocols),
        cmocka_unit_test(test_resp_argv_capacity_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

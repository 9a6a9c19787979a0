/* test_script.c - the scripting room's separable parts: SHA-1 against the standard's
   vectors and lengths around the padding's block boundaries, the conversions between
   replies and Lua values (a reply into Lua and back gives the reply Redis gives), and a
   busy script's hook: killed from the busy handler, even through a pcall. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>

#include "script_int.h"
#include "sha1.h"

static void check_sha1(const char *msg, size_t n, const char *want)
{
    char hex[41];
    sha1_hex(msg, n, hex);
    assert_string_equal(hex, want);
}

static void test_script_sha1_known_vectors(void **state)
{
    check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha1(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    check_sha1("Pizza & Mandolino", 17, "74822d82031af7493c20eefa13bd07ec4fada82f");
    char *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    check_sha1(million, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(million);
}

/* 55 and 56 bytes: the length fits in the last block or needs another; 64: a whole
   block before the padding. */
static void test_script_sha1_block_boundaries(void **state)
{
    static const struct {
        size_t n;
        const char *want;
    } cases[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    char buf[128];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_sha1(buf, cases[i].n, cases[i].want);
}

/* The reply a script returning redis.call's value (the reply `in`) gives a client. */
static void round_trip(const char *in, int proto, int script_resp, const char *want)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    script_push_reply(L, in, strlen(in));
    resp_out o = {0};
    script_reply_value(L, &o, proto, script_resp);
    assert_int_equal(lua_gettop(L), 0);
    assert_int_equal(o.len, strlen(want));
    assert_memory_equal(o.data, want, o.len);
    resp_out_free(&o);
    lua_close(L);
}

static void test_script_conv_resp2(void **state)
{
    round_trip(":42\r\n", 2, 2, ":42\r\n");
    round_trip("$3\r\nabc\r\n", 2, 2, "$3\r\nabc\r\n");
    round_trip("$-1\r\n", 2, 2, "$-1\r\n");  /* nil bulk -> false -> nil */
    round_trip("$-1\r\n", 3, 2, "_\r\n");
    round_trip("*-1\r\n", 2, 2, "$-1\r\n");
    round_trip("+OK\r\n", 2, 2, "+OK\r\n");
    round_trip("-WRONGTYPE bad\r\n", 2, 2, "-WRONGTYPE bad\r\n");
    round_trip("-nocode\r\n", 2, 2, "-ERR nocode\r\n");
    round_trip("*3\r\n:1\r\n$1\r\nx\r\n*1\r\n:2\r\n", 2, 2, "*3\r\n:1\r\n$1\r\nx\r\n*1\r\n:2\r\n");
    /* an array stops at its first nil */
    round_trip("*3\r\n:1\r\n$-1\r\n:3\r\n", 2, 2, "*3\r\n:1\r\n$-1\r\n:3\r\n");
}

static void test_script_conv_resp3(void **state)
{
    round_trip("%1\r\n$1\r\na\r\n:1\r\n", 3, 3, "%1\r\n$1\r\na\r\n:1\r\n");
    round_trip("%1\r\n$1\r\na\r\n:1\r\n", 2, 3, "*2\r\n$1\r\na\r\n:1\r\n");
    round_trip("~1\r\n$1\r\nm\r\n", 3, 3, "~1\r\n$1\r\nm\r\n");
    round_trip(",1.5\r\n", 3, 3, ",1.5\r\n");
    round_trip(",1.5\r\n", 2, 3, "$3\r\n1.5\r\n");
    round_trip("#t\r\n", 3, 3, "#t\r\n");
    round_trip("#f\r\n", 2, 3, ":0\r\n");
    round_trip("#t\r\n", 2, 2, ":1\r\n"); /* a script in RESP2 returns true as 1 */
    round_trip("_\r\n", 3, 3, "_\r\n");
    round_trip("(12345678901234567890\r\n", 3, 3, "(12345678901234567890\r\n");
    round_trip("(12345678901234567890\r\n", 2, 3, "$20\r\n12345678901234567890\r\n");
    round_trip("=8\r\ntxt:abcd\r\n", 3, 3, "=8\r\ntxt:abcd\r\n");
    round_trip("=8\r\ntxt:abcd\r\n", 2, 3, "$4\r\nabcd\r\n");
    round_trip("|1\r\n+a\r\n+b\r\n:7\r\n", 3, 3, ":7\r\n"); /* attributes dropped */
}

/* Lua numbers are truncated to integers, and out of range ones are defined. */
static void test_script_conv_numbers(void **state)
{
    lua_State *L = luaL_newstate();
    static const struct {
        double d;
        const char *want;
    } cases[] = {{3.99, ":3\r\n"}, {-3.99, ":-3\r\n"}, {1e300, ":-9223372036854775808\r\n"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp_out o = {0};
        lua_pushnumber(L, cases[i].d);
        script_reply_value(L, &o, 2, 2);
        assert_int_equal(o.len, strlen(cases[i].want));
        assert_memory_equal(o.data, cases[i].want, o.len);
        resp_out_free(&o);
    }
    lua_close(L);
}

/* ---- busy scripts and SCRIPT KILL's machinery ---- */

static int busy_calls;

static void kill_when_busy(server *s)
{
    busy_calls++;
    assert_true(script_busy(s));
    assert_int_equal(script_kill(s), 0);
}

/* Runs body as a script does (its error handler, the hook) with busy-reply-threshold
   1 ms and a busy handler that kills it: the error message it ended with (static). */
static const char *run_until_killed(server *s, const char *body)
{
    static char msg[256];
    client c = {0};
    char sha[41];
    assert_true(script_load(s, &c, body, strlen(body), sha));
    script_vm *vm = s->script;
    lua_State *L = vm->L;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_GLOBALS);
    lua_getfield(L, -1, "__redis__err__handler");
    lua_remove(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_CACHE);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
    vm->running = true;
    vm->sha = sha;
    vm->wrote = false;
    busy_calls = 0;
    script_hook_begin(vm);
    int rc = lua_pcall(L, 0, 1, -2);
    script_hook_end(vm);
    vm->running = false;
    assert_int_not_equal(rc, 0);
    lua_getfield(L, -1, "err");
    snprintf(msg, sizeof msg, "%s", lua_tostring(L, -1));
    lua_settop(L, 0);
    resp_out_free(&c.out);
    assert_true(busy_calls >= 1);
    return msg;
}

static void test_script_busy_script_killed(void **state)
{
    static server s;
    memset(&s, 0, sizeof s);
    s.cfg.busy_reply_threshold = 1;
    assert_int_equal(script_init(&s), 0);
    script_set_busy_handler(&s, kill_when_busy);
    assert_string_equal(run_until_killed(&s, "local i = 0 while true do i = i + 1 end"),
                        "ERR Script killed by user with SCRIPT KILL...");
    /* a pcall in the script does not swallow the kill */
    assert_string_equal(
        run_until_killed(&s, "while true do pcall(function() while true do end end) end"),
        "ERR Script killed by user with SCRIPT KILL...");
    script_free(&s);
}

static void test_script_busy_kill_refusals(void **state)
{
    static server s;
    memset(&s, 0, sizeof s);
    assert_int_equal(script_init(&s), 0);
    assert_false(script_busy(&s));
    assert_int_equal(script_kill(&s), -ENOENT); /* NOTBUSY */
    s.script->running = true;
    s.script->wrote = true;
    assert_int_equal(script_kill(&s), -EPERM); /* UNKILLABLE: it wrote */
    s.script->running = false;
    script_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_sha1_known_vectors),
        cmocka_unit_test(test_script_sha1_block_boundaries),
        cmocka_unit_test(test_script_conv_resp2),
        cmocka_unit_test(test_script_conv_resp3),
        cmocka_unit_test(test_script_conv_numbers),
        cmocka_unit_test(test_script_busy_script_killed),
        cmocka_unit_test(test_script_busy_kill_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

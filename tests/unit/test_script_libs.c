/*
 * test_script_libs.c - server/script/libs.c and lib_*.c (cjson, bit, struct, cmsgpack and
 * Redis's math.random) against redis-server 7.0.15: each case of script_libs_golden.h is a
 * Lua expression evaluated here in a bare lua_State and there by
 * `redis-cli eval "<prelude> return <expr>" 0` (tests/unit/script_libs_golden.py), and the
 * two strings must be equal byte for byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "libs.h"
#include "script_libs_golden.h"

/* A state with Lua's standard libraries (scripts have base, table, string and math) and
   ours. */
static lua_State *libs_state(void)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_openlibs(L);
    assert_int_equal(script_libs_open(L), 0);
    return L;
}

/* Evaluates `return <expr>` after the prelude; the string result, or the error, in out. */
static void eval_expr(lua_State *L, const char *expr, char *out, size_t cap)
{
    char chunk[8192];
    snprintf(chunk, sizeof chunk, "%s return %s", script_libs_prelude, expr);
    int top = lua_gettop(L);
    if (luaL_loadbuffer(L, chunk, strlen(chunk), "@user_script") || lua_pcall(L, 0, 1, 0)) {
        snprintf(out, cap, "ERR %s", lua_tostring(L, -1));
    } else {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        snprintf(out, cap, "%.*s", (int)len, s ? s : "(not a string)");
    }
    lua_settop(L, top);
}

/* Every golden case whose name starts with prefix; returns how many ran. */
static int check_cases(const char *prefix)
{
    static char got[1 << 20];
    lua_State *L = libs_state();
    int ran = 0, failed = 0;
    for (size_t i = 0; i < sizeof script_libs_golden / sizeof script_libs_golden[0]; i++) {
        if (strncmp(script_libs_golden[i].name, prefix, strlen(prefix)) != 0)
            continue;
        eval_expr(L, script_libs_golden[i].expr, got, sizeof got);
        ran++;
        if (strcmp(got, script_libs_golden[i].redis) != 0) {
            failed++;
            print_error("%s:\n  redis: %s\n  shale: %s\n", script_libs_golden[i].name,
                        script_libs_golden[i].redis, got);
        }
    }
    assert_int_equal(lua_gettop(L), 0);
    lua_close(L);
    assert_int_equal(failed, 0);
    return ran;
}

static void test_script_libs_struct_as_redis(void **state)
{
    assert_true(check_cases("struct_") >= 10);
}

static void test_script_libs_cmsgpack_as_redis(void **state)
{
    assert_true(check_cases("msgpack_") >= 10);
}

static void test_script_libs_cjson_as_redis(void **state)
{
    assert_true(check_cases("cjson_") >= 5);
}

static void test_script_libs_bit_as_redis(void **state)
{
    assert_true(check_cases("bit_") >= 1);
}

static void test_script_libs_random_as_redis(void **state)
{
    assert_true(check_cases("random_") >= 2);
}

/*
 * A fresh redis-server 7.0.15 answers `eval "return {math.random(1000000),
 * math.random(1000000), tostring(math.random())}" 0` with 396465, 840486,
 * "0.35333609737146", and the next EVAL goes on with 446584, 318693, "0.88642843341754":
 * not reseeded per script, one sequence for the process (SCRIPT FLUSH keeps it too).
 */
static void test_script_libs_random_first_values(void **state)
{
    char got[256];
    script_random_reset();
    lua_State *L = libs_state();
    eval_expr(L, "J(math.random(1000000), math.random(1000000), math.random())", got,
              sizeof got);
    assert_string_equal(got, "396465|840486|0.35333609737146");
    lua_close(L);
    /* a new VM (SCRIPT FLUSH) continues the same sequence */
    L = libs_state();
    eval_expr(L, "J(math.random(1000000), math.random(1000000), math.random())", got,
              sizeof got);
    assert_string_equal(got, "446584|318693|0.88642843341754");
    lua_close(L);
}

static void test_script_libs_globals_registered(void **state)
{
    char got[256];
    lua_State *L = libs_state();
    eval_expr(L, "J(type(cjson), type(bit), type(struct), type(cmsgpack), type(cjson.safe))",
              got, sizeof got);
    assert_string_equal(got, "table|table|table|table|nil");
    lua_close(L);
}

static void test_script_libs_open_needs_math(void **state)
{
    lua_State *L = luaL_newstate();
    assert_int_equal(script_libs_open(L), -EINVAL);
    assert_int_equal(lua_gettop(L), 0);
    lua_close(L);
}

/* A Lua error in pack (a bad argument after part of the output) leaves the stack sane. */
static void test_script_libs_pack_error_midway(void **state)
{
    char got[256];
    lua_State *L = libs_state();
    eval_expr(L, "J(pcall(struct.pack, string.rep('i', 100) .. 's', unpack({1,2,3})))", got,
              sizeof got);
    assert_string_equal(got, "false|bad argument #5 to '?' (number expected, got nil)");
    eval_expr(L, "#cmsgpack.pack(string.rep('x', 100000), {string.rep('y', 70000)})", got,
              sizeof got);
    assert_string_equal(got, "170011"); /* redis-server 7.0.15 */
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_libs_struct_as_redis),
        cmocka_unit_test(test_script_libs_cmsgpack_as_redis),
        cmocka_unit_test(test_script_libs_cjson_as_redis),
        cmocka_unit_test(test_script_libs_bit_as_redis),
        cmocka_unit_test(test_script_libs_random_as_redis),
        cmocka_unit_test(test_script_libs_random_first_values),
        cmocka_unit_test(test_script_libs_globals_registered),
        cmocka_unit_test(test_script_libs_open_needs_math),
        cmocka_unit_test(test_script_libs_pack_error_midway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

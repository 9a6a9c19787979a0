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
#include "testutil.h"

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
/* The fields of each library table and of math, with their types, as in Redis. */
static void test_script_libs_fields_as_redis(void **state)
{
    assert_int_equal(check_cases("libs_fields"), 1);
}

static void test_script_libs_random_first_values(void **state)
{
    char got[256];
    script_random_reset();
    lua_State *L = libs_state();
    eval_expr(L, "J(math.random(1000000), math.random(1000000), math.random())", got, sizeof got);
    assert_string_equal(got, "396465|840486|0.35333609737146");
    lua_close(L);
    /* a new VM (SCRIPT FLUSH) continues the same sequence */
    L = libs_state();
    eval_expr(L, "J(math.random(1000000), math.random(1000000), math.random())", got, sizeof got);
    assert_string_equal(got, "446584|318693|0.88642843341754");
    lua_close(L);
}

static void test_script_libs_globals_registered(void **state)
{
    char got[256];
    lua_State *L = libs_state();
    eval_expr(L, "J(type(cjson), type(bit), type(struct), type(cmsgpack), type(cjson.safe))", got,
              sizeof got);
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

/*
 * Random inputs (printed seed, SHALE_TEST_SEED to replay): cmsgpack.unpack and
 * struct.unpack of random bytes, struct.pack of random formats, and cmsgpack round trips
 * of random nested values (unpack(pack(v)) equal to v, member by member). Only pcall'd errors may
 * come out; under ASan this is where an overread would show.
 */
static const char random_inputs_lua[] =
    "local seed, rounds = ...\n"
    "math.randomseed(seed)\n"
    "local function bytes(n) local t = {} for i = 1, n do t[i] = string.char(math.random(0, 255)) "
    "end"
    " return table.concat(t) end\n"
    "local opts = {'b','B','h','H','l','L','T','i','I','i3','I9','i16','f','d','s','c','c0','c2',"
    "'x','<','>','!','!2','!4',' ','q'}\n"
    "local function format(n) local t = {} for i = 1, n do t[i] = opts[math.random(#opts)] end"
    " return table.concat(t) end\n"
    "local function key() if math.random(2) == 1 then return bytes(math.random(0, 8)) end"
    " return math.random(-5, 30) / math.random(1, 2) end\n"
    "local function same(a, b)\n"
    "  if type(a) ~= 'table' or type(b) ~= 'table' then return a == b end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local function value(depth)\n"
    "  local k = math.random(depth > 3 and 5 or 7)\n"
    "  if k == 1 then return math.random(-2^40, 2^40) * (math.random(2) == 1 and 1 or 1.5) end\n"
    "  if k == 2 then return bytes(math.random(0, 40)) end\n"
    "  if k == 3 then return math.random(2) == 1 end\n"
    "  if k == 4 then return (math.random() - 0.5) * 2^math.random(-60, 60) end\n"
    "  if k == 5 then return math.random(-70000, 70000) end\n"
    "  local t = {}\n"
    "  for i = 1, math.random(0, 20) do\n"
    "    if k == 6 then t[i] = value(depth + 1) else t[key()] = value(depth + 1) end\n"
    "  end\n"
    "  return t\n"
    "end\n"
    "for r = 1, rounds do\n"
    "  pcall(cmsgpack.unpack, bytes(math.random(0, 64)))\n"
    "  pcall(cmsgpack.unpack_limit, bytes(math.random(0, 64)), math.random(0, 3),"
    " math.random(0, 8))\n"
    "  local f = format(math.random(1, 8))\n"
    "  pcall(struct.unpack, f, bytes(math.random(0, 64)), math.random(-2, 10))\n"
    "  pcall(struct.pack, f, math.random(-1000, 1000), bytes(5), 2^70, 'x', 0/0)\n"
    "  pcall(struct.size, f)\n"
    "  local v = value(0)\n"
    "  local ok, p = pcall(cmsgpack.pack, v)\n"
    "  if ok then\n"
    "    local ok2, u = pcall(cmsgpack.unpack, p)\n"
    "    if not (ok2 and same(u, v)) then error('round trip changed at ' .. r) end\n"
    "  end\n"
    "end\n"
    "return 'ok'\n";

static void test_script_libs_random_inputs(void **state)
{
    uint64_t seed = tu_seed(); /* printed by tu_seed; SHALE_SEED replays it */
    lua_State *L = libs_state();
    assert_int_equal(luaL_loadbuffer(L, random_inputs_lua, strlen(random_inputs_lua), "=fuzz"), 0);
    lua_pushinteger(L, (lua_Integer)(seed % 2147483647u));
    lua_pushinteger(L, 3000);
    if (lua_pcall(L, 2, 1, 0) != 0)
        fail_msg("%s", lua_tostring(L, -1));
    assert_string_equal(lua_tostring(L, -1), "ok");
    lua_close(L);
}

/*
 * Debian's lua-cjson 2.1.0 sizes its output buffer in int: a string of 358 MB (6 bytes
 * reserved per input byte) or a JSON text past 1 GB overflows it and writes past the
 * heap block (a segfault here before lib_cjson_guard.c; Redis 7.0.15 has the fix of
 * CVE-2022-24834 in its bundled copy). The guard refuses such a text instead; errors of
 * cjson itself keep Redis's wording and position ("user_script:1:" when a script calls).
 */
static void test_script_libs_cjson_huge_text_refused(void **state)
{
    char got[512];
    lua_State *L = libs_state();
    eval_expr(L, "J(pcall(cjson.encode, string.rep('a', 358000000)))", got, sizeof got);
    assert_string_equal(got, "false|Cannot serialise, the JSON text could exceed 1 GB");
    eval_expr(L,
              "J(pcall(function() local s = string.rep('x', 2^20) local t = {} "
              "for i = 1, 200 do t[i] = s end return cjson.new().encode(t) end))",
              got, sizeof got);
    assert_string_equal(got, "false|user_script:1: Cannot serialise, the JSON text could "
                             "exceed 1 GB");
    /* cjson's own errors and argument checks read as in Redis */
    eval_expr(L, "J(pcall(function() return cjson.encode(0/0) end))", got, sizeof got);
    assert_string_equal(got,
                        "false|user_script:1: Cannot serialise number: must not be NaN or Inf");
    eval_expr(L, "J(pcall(function() return cjson.encode() end))", got, sizeof got);
    assert_string_equal(got,
                        "false|user_script:1: bad argument #1 to 'encode' (expected 1 argument)");
    eval_expr(L, "J(pcall(function() return cjson.decode('[') end))", got, sizeof got);
    assert_string_equal(got, "false|user_script:1: Expected value but found T_END at character 2");
    eval_expr(L, "J(pcall(function() return cjson.decode({}) end))", got, sizeof got);
    assert_string_equal(got, "false|user_script:1: bad argument #1 to 'decode' (string "
                             "expected, got table)");
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
        cmocka_unit_test(test_script_libs_fields_as_redis),
        cmocka_unit_test(test_script_libs_random_first_values),
        cmocka_unit_test(test_script_libs_globals_registered),
        cmocka_unit_test(test_script_libs_open_needs_math),
        cmocka_unit_test(test_script_libs_pack_error_midway),
        cmocka_unit_test(test_script_libs_random_inputs),
        cmocka_unit_test(test_script_libs_cjson_huge_text_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

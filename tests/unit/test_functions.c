/* test_functions.c - the functions' parts that the oracle tests cannot reach: a function
   past busy-reply-threshold is seen by script_busy, stopped by script_kill (FUNCTION KILL)
   from the busy handler, and FUNCTION STATS served meanwhile names it with its caller's
   command; a load's globals are restored after a failed load; the FUNCTION DUMP payload
   codec round-trips and refuses a bad CRC. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "functions_int.h"
#include "rdb.h"

static char stats_seen[512];
static int busy_calls;

/* The busy handler: what FUNCTION STATS answers now, then the kill. */
static void stats_then_kill(server *s)
{
    busy_calls++;
    assert_true(script_busy(s));
    client other = {0};
    other.proto = 2;
    functions_stats(s, &other);
    size_t n = other.out.len < sizeof stats_seen - 1 ? other.out.len : sizeof stats_seen - 1;
    memcpy(stats_seen, other.out.data, n);
    stats_seen[n] = '\0';
    resp_out_free(&other.out);
    assert_int_equal(script_kill(s), 0);
}

static fn_library *load(fn_engine *e, const char *code)
{
    fn_library *lib;
    int old;
    char err[512];
    int rc = fn_compile(e, code, strlen(code), false, false, &lib, &old, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(fn_link(e, lib), 0);
    return lib;
}

static void test_functions_busy_function_killed_and_listed(void **state)
{
    static server s;
    memset(&s, 0, sizeof s);
    s.cfg.busy_reply_threshold = 1;
    assert_int_equal(script_init(&s), 0);
    assert_int_equal(fn_engine_open(&s), 0);
    script_set_busy_handler(&s, stats_then_kill);
    fn_engine *e = s.functions;
    fn_library *lib = load(e, "#!lua name=spin\nredis.register_function('spin', function() "
                              "local i = 0 while true do i = i + 1 end end)");
    assert_false(script_busy(&s));
    assert_int_equal(script_kill(&s), -ENOENT);

    /* a run as functions_call sets it up, without the key layer's transaction */
    resp_arg argv[3] = {0};
    argv[0].p = "fcall";
    argv[0].len = 5;
    argv[1].p = "spin";
    argv[1].len = 4;
    argv[2].p = "0";
    argv[2].len = 1;
    client caller = {0};
    caller.cmd.argv = argv;
    caller.cmd.argc = 3;
    script_vm *vm = &e->vm;
    lua_State *L = vm->L;
    script_push_handler(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lib->fns[0].ref);
    vm->running = true;
    vm->caller = &caller;
    vm->sha = "spin";
    vm->wrote = false;
    vm->busy_handler = stats_then_kill;
    busy_calls = 0;
    script_hook_begin(vm);
    int rc = lua_pcall(L, 0, 1, 1);
    script_hook_end(vm);
    vm->running = false;
    assert_int_not_equal(rc, 0);
    lua_getfield(L, -1, "err");
    assert_string_equal(lua_tostring(L, -1), "ERR Script killed by user with SCRIPT KILL...");
    lua_settop(L, 0);
    assert_true(busy_calls >= 1);
    const char *want = "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n"
                       "$7\r\ncommand\r\n*3\r\n$5\r\nfcall\r\n$4\r\nspin\r\n$1\r\n0\r\n"
                       "$11\r\nduration_ms\r\n:";
    assert_memory_equal(stats_seen, want, strlen(want));
    functions_free(&s);
    script_free(&s);
}

/* A load that fails leaves the globals of the functions' state as they were: a function
   loaded next sees the scripts' globals (string), not the load's. */
static void test_functions_globals_restored_after_failed_load(void **state)
{
    static server s;
    memset(&s, 0, sizeof s);
    assert_int_equal(script_init(&s), 0);
    assert_int_equal(fn_engine_open(&s), 0);
    fn_engine *e = s.functions;
    fn_library *lib;
    int old;
    char err[512];
    const char *bad = "#!lua name=bad\nlocal x = 1 + {}";
    assert_int_equal(fn_compile(e, bad, strlen(bad), false, false, &lib, &old, err, sizeof err),
                     -1);
    assert_string_equal(err, "Error registering functions: user_function:2: attempt to perform "
                             "arithmetic on a table value");
    fn_library *ok = load(e, "#!lua name=ok\nredis.register_function('f', function() "
                             "return string.rep('a', 3) end)");
    lua_State *L = e->vm.L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ok->fns[0].ref);
    lua_newtable(L);
    lua_newtable(L);
    assert_int_equal(lua_pcall(L, 2, 1, 0), 0);
    assert_string_equal(lua_tostring(L, -1), "aaa");
    lua_settop(L, 0);
    functions_free(&s);
    script_free(&s);
}

typedef struct codes {
    char seen[4][64];
    int n;
} codes;

static int collect(void *ctx, const char *code, size_t n)
{
    codes *c = ctx;
    snprintf(c->seen[c->n++], sizeof c->seen[0], "%.*s", (int)n, code);
    return 0;
}

static void test_functions_dump_payload_round_trip(void **state)
{
    const char *in[] = {"#!lua name=a\nx", "#!lua name=b\n" "0123456789012345678901234567890"};
    size_t lens[] = {strlen(in[0]), strlen(in[1])};
    char *out;
    size_t n;
    assert_int_equal(rdb_encode_functions(in, lens, 2, &out, &n), 0);
    assert_int_equal((unsigned char)out[0], RDB_OPCODE_FUNCTION2);
    codes got = {0};
    const char *err = NULL;
    assert_int_equal(rdb_decode_functions(out, n, collect, &got, &err), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.seen[0], in[0]);
    assert_string_equal(got.seen[1], in[1]);
    out[3] ^= 1;
    assert_int_equal(rdb_decode_functions(out, n, collect, &got, &err), RDB_ECHECKSUM);
    free(out);
    /* no library: the footer alone */
    assert_int_equal(rdb_encode_functions(NULL, NULL, 0, &out, &n), 0);
    assert_int_equal(n, 10);
    got.n = 0;
    assert_int_equal(rdb_decode_functions(out, n, collect, &got, &err), 0);
    assert_int_equal(got.n, 0);
    free(out);
}

static const char *kill_reply(server *s)
{
    static char buf[256];
    client c = {0};
    functions_kill(s, &c);
    snprintf(buf, sizeof buf, "%.*s", (int)c.out.len, c.out.data);
    resp_out_free(&c.out);
    return buf;
}

/* FUNCTION KILL's answers by what runs (as the busy handler would serve it). */
static void test_functions_kill_replies(void **state)
{
    static server s;
    memset(&s, 0, sizeof s);
    assert_int_equal(script_init(&s), 0);
    assert_int_equal(fn_engine_open(&s), 0);
    assert_string_equal(kill_reply(&s), "-NOTBUSY No scripts in execution right now.\r\n");
    s.script->running = true; /* an EVAL script */
    assert_string_equal(kill_reply(&s), "-BUSY Redis is busy running a script. You can only "
                                        "call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n");
    assert_false(s.script->kill_requested);
    s.script->running = false;
    s.functions->vm.running = true; /* a function */
    assert_true(functions_running(&s));
    s.functions->vm.wrote = true;
    assert_memory_equal(kill_reply(&s), "-UNKILLABLE ", 12);
    s.functions->vm.wrote = false;
    assert_string_equal(kill_reply(&s), "+OK\r\n");
    assert_true(s.functions->vm.kill_requested);
    s.functions->vm.running = false;
    functions_free(&s);
    script_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_functions_busy_function_killed_and_listed),
        cmocka_unit_test(test_functions_globals_restored_after_failed_load),
        cmocka_unit_test(test_functions_dump_payload_round_trip),
        cmocka_unit_test(test_functions_kill_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

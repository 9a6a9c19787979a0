/*
 * script_api.c - the `redis` table scripts see, as Redis 7.0's: call and pcall
 * (script_call.c), error_reply, status_reply, sha1hex, log and its levels, setresp,
 * set_repl and replicate_commands (accepted: shale has no replicas), breakpoint and debug
 * (as Redis outside its debugger), acl_check_cmd, and the version constants.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "command.h"
#include "script_int.h"
#include "sha1.h"

enum { LOG_DEBUG_LEVEL, LOG_VERBOSE_LEVEL, LOG_NOTICE_LEVEL, LOG_WARNING_LEVEL };
enum { REPL_NONE = 0, REPL_AOF = 1, REPL_REPLICA = 2, REPL_ALL = 3 };

/* Raises Redis's error table for msg. */
static int raise_error(lua_State *L, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

static bool in_run(lua_State *L)
{
    script_vm *vm = script_vm_of(L);
    return vm && vm->running;
}

static int api_call(lua_State *L)
{
    return script_call(L, true);
}

static int api_pcall(lua_State *L)
{
    return script_call(L, false);
}

static int api_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return raise_error(L, "wrong number of arguments");
    size_t n = 0;
    const char *p = lua_tolstring(L, 1, &n);
    char hex[41];
    sha1_hex(p ? p : "", p ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int api_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    size_t n;
    const char *e = lua_tolstring(L, 1, &n);
    if (n && e[0] == '-') {
        script_push_error(L, e, n);
        return 1;
    }
    lua_pushstring(L, "-");
    lua_pushvalue(L, 1);
    lua_concat(L, 2);
    e = lua_tolstring(L, -1, &n);
    script_push_error(L, e, n);
    return 1;
}

static int api_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

/* loglevel's number, as Redis's verbosity (debug 0 ... warning 3). */
static int verbosity(const server *s)
{
    static const char *const names[] = {"debug", "verbose", "notice", "warning"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s->cfg.loglevel, names[i]) == 0)
            return i;
    return LOG_NOTICE_LEVEL;
}

static int api_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return raise_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return raise_error(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < LOG_DEBUG_LEVEL || level > LOG_WARNING_LEVEL)
        return raise_error(L, "Invalid debug level.");
    script_vm *vm = script_vm_of(L);
    if (level < verbosity(vm->s))
        return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    bool first = true;
    for (int i = 2; i <= argc; i++) {
        if (!lua_isstring(L, i))
            continue;
        if (!first)
            luaL_addchar(&b, ' ');
        lua_pushvalue(L, i);
        luaL_addvalue(&b);
        first = false;
    }
    luaL_pushresult(&b);
    size_t n;
    const char *line = lua_tolstring(L, -1, &n);
    static const char marks[] = ".-*#";
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(when, sizeof when, "%d %b %Y %H:%M:%S", &tm);
    fprintf(stderr, "%s %c %.*s\n", when, marks[level], (int)n, line);
    return 0;
}

static int api_setresp(lua_State *L)
{
    if (!in_run(L))
        return raise_error(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return raise_error(L, "RESP version must be 2 or 3.");
    script_vm_of(L)->fake.proto = resp;
    return 0;
}

static int api_set_repl(lua_State *L)
{
    if (!in_run(L))
        return raise_error(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, 1);
    if (flags & ~REPL_ALL)
        return raise_error(
            L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0; /* no replicas and no AOF: what is propagated does not matter */
}

static int api_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

/* Outside the debugger (shale has none), as in Redis: breakpoint answers false, debug
   does nothing. */
static int api_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int api_debug(lua_State *L)
{
    return 0;
}

/* shale has one user with every permission: a known command is allowed. */
static int api_acl_check_cmd(lua_State *L)
{
    if (!in_run(L))
        return raise_error(L,
                           "redis.acl_check_cmd can only be called inside a script invocation");
    int argc = lua_gettop(L);
    if (argc == 0)
        return raise_error(L, "Please specify at least one argument for this redis lib call");
    for (int i = 1; i <= argc; i++)
        if (lua_type(L, i) != LUA_TNUMBER && lua_type(L, i) != LUA_TSTRING)
            return raise_error(L, "Lua redis lib command arguments must be strings or integers");
    size_t n;
    const char *name = lua_tolstring(L, 1, &n);
    const command *cmd = command_lookup(name, n);
    if (cmd && cmd->fn && argc >= 2 && command_nsubs(cmd)) {
        size_t sn;
        const char *sub = lua_tolstring(L, 2, &sn);
        cmd = command_sub_lookup(cmd, sub, sn);
    }
    if (!cmd || (!cmd->fn && !command_parent(cmd)))
        return raise_error(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, 1);
    return 1;
}

static void set_number(lua_State *L, const char *name, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

static void set_function(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
}

/* REDIS_VERSION is what shale tells clients (INFO's redis_version); the number is
   Redis's encoding, 0x00MMmmpp. */
static void set_version(lua_State *L)
{
    const char *v = SHALE_REDIS_COMPAT_VERSION;
    int major = 0, minor = 0, patch = 0;
    sscanf(v, "%d.%d.%d", &major, &minor, &patch);
    lua_pushstring(L, v);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_number(L, "REDIS_VERSION_NUM", (lua_Number)((major << 16) | (minor << 8) | patch));
}

void script_api_register(lua_State *L)
{
    lua_newtable(L);
    set_function(L, "call", api_call);
    set_function(L, "pcall", api_pcall);
    set_function(L, "log", api_log);
    set_number(L, "LOG_DEBUG", LOG_DEBUG_LEVEL);
    set_number(L, "LOG_VERBOSE", LOG_VERBOSE_LEVEL);
    set_number(L, "LOG_NOTICE", LOG_NOTICE_LEVEL);
    set_number(L, "LOG_WARNING", LOG_WARNING_LEVEL);
    set_version(L);
    set_function(L, "setresp", api_setresp);
    set_function(L, "sha1hex", api_sha1hex);
    set_function(L, "error_reply", api_error_reply);
    set_function(L, "status_reply", api_status_reply);
    set_function(L, "set_repl", api_set_repl);
    set_number(L, "REPL_NONE", REPL_NONE);
    set_number(L, "REPL_AOF", REPL_AOF);
    set_number(L, "REPL_SLAVE", REPL_REPLICA);
    set_number(L, "REPL_REPLICA", REPL_REPLICA);
    set_number(L, "REPL_ALL", REPL_ALL);
    set_function(L, "acl_check_cmd", api_acl_check_cmd);
    set_function(L, "breakpoint", api_breakpoint);
    set_function(L, "debug", api_debug);
    set_function(L, "replicate_commands", api_replicate_commands);
    lua_setfield(L, -2, "redis");
}

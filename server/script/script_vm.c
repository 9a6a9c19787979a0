/*
 * script_vm.c - the Lua state scripts run in, sandboxed as Redis 7.0's: the libraries
 * Redis loads (base without print/dofile/loadfile, table, string, math; debug only for
 * the error handler), no os, io or package, no bytecode, and globals protected: reading
 * a global that does not exist is an error, and the globals and every library table are
 * read-only.
 *
 * Redis patches its Lua for read-only tables; Debian's Lua 5.1 is stock, so here each
 * protected table is an empty proxy whose metatable reads through to the real table and
 * refuses writes, and the functions that bypass metatables (rawset, rawget, next, pairs,
 * ipairs, setmetatable) are wrapped to see through proxies and to refuse writes. The
 * globals table of the state is the proxy of the real globals (kept in the registry),
 * so chunks made by loadstring are protected too.
 */
#include <string.h>

#include <lualib.h>

#include "libs.h"
#include "script_int.h"

/* The registry's weak map proxy -> real table. */
#define REG_PROXIES "shale.proxies"

script_vm *script_vm_of(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_VM);
    script_vm *vm = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return vm;
}

/* Raises Redis's read-only error from a C function called directly (rawset,
   setmetatable): as Redis's, with no position. */
static int readonly_error_plain(lua_State *L)
{
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

/* Raises Redis's read-only error at the position of the code that tried the write (an
   assignment, through __newindex). */
static int readonly_error(lua_State *L)
{
    luaL_where(L, 1); /* level 1: the caller of this C function */
    lua_pushstring(L, "Attempt to modify a readonly table");
    lua_concat(L, 2);
    return lua_error(L);
}

/* Globals' __index: the real globals' value, or Redis's error for a missing one. */
static int global_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1))
        return 1;
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

/* Pushes the real table behind the value at idx when it is a proxy, else the value. */
static void push_real(lua_State *L, int idx)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, idx);
    }
    lua_remove(L, -2);
}

static bool is_proxy(lua_State *L, int idx)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    bool yes = !lua_isnil(L, -1);
    lua_pop(L, 2);
    return yes;
}

/* The wrapped base functions: each sees through proxies, and writes to one fail. */
static int sandbox_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    push_real(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int sandbox_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_proxy(L, 1))
        return readonly_error_plain(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int sandbox_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    push_real(L, 1);
    lua_pushvalue(L, 2);
    if (lua_next(L, -2))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int sandbox_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* our next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int ipairs_step(lua_State *L)
{
    int i = luaL_checkint(L, 2) + 1;
    push_real(L, 1);
    lua_pushinteger(L, i);
    lua_rawgeti(L, -2, i);
    return lua_isnil(L, -1) ? 0 : 2;
}

static int sandbox_ipairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushcfunction(L, ipairs_step);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

static int sandbox_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (is_proxy(L, 1))
        return readonly_error_plain(L);
    lua_pushvalue(L, lua_upvalueindex(1)); /* the original */
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Refuses a binary chunk (Redis's Lua only parses text), else the original loader. */
static int sandbox_loadstring(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "binary chunks are not accepted");
        return 2;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 2);
    return 2;
}

/* load(f [, name]): the pieces f returns, joined, then loadstring's checks. */
static int sandbox_load(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_objlen(L, -1) == 0)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1))
            return luaL_error(L, "reader function must return a string");
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_pushvalue(L, lua_upvalueindex(1)); /* our loadstring */
    lua_insert(L, -2);
    lua_pushstring(L, name);
    lua_call(L, 2, 2);
    return 2;
}

/* Redis's pcall: an error that is a table with an err string comes back as that string. */
static int sandbox_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (status == 0) {
        lua_pushboolean(L, 1);
        lua_insert(L, 1);
        return lua_gettop(L);
    }
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        if (lua_isstring(L, -1))
            lua_replace(L, -2);
        else
            lua_pop(L, 1);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* The error handler of a run: any error becomes a table {err = "ERR ..."} (a table
   stays), with the source and line of the script code that raised it (a C function's
   caller when the C function raised it). */
static int error_handler(lua_State *L)
{
    if (!lua_istable(L, 1)) {
        const char *msg;
        switch (lua_type(L, 1)) {
        case LUA_TNIL:
            msg = "nil";
            break;
        case LUA_TBOOLEAN:
            msg = lua_toboolean(L, 1) ? "true" : "false";
            break;
        case LUA_TSTRING:
        case LUA_TNUMBER:
            msg = lua_tostring(L, 1);
            break;
        default:
            msg = lua_pushfstring(L, "%s: %p", luaL_typename(L, 1), lua_topointer(L, 1));
        }
        lua_newtable(L);
        lua_pushfstring(L, "ERR %s", msg);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    lua_Debug ar;
    bool found = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar);
    if (found && strcmp(ar.what, "C") == 0)
        found = lua_getstack(L, 2, &ar) && lua_getinfo(L, "Sl", &ar);
    if (found && !is_proxy(L, 1)) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    lua_settop(L, 1);
    return 1;
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* Replaces global name (in the real globals on top) by a C closure over its original. */
static void wrap_global(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

static void install_sandbox_functions(lua_State *L)
{
    static const char *const removed[] = {"print", "dofile", "loadfile", "newproxy", NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, removed[i]);
    }
    lua_pushcfunction(L, sandbox_rawget);
    lua_setfield(L, -2, "rawget");
    lua_pushcfunction(L, sandbox_rawset);
    lua_setfield(L, -2, "rawset");
    lua_pushcfunction(L, sandbox_next);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "next");
    lua_pushcclosure(L, sandbox_pairs, 1);
    lua_setfield(L, -2, "pairs");
    lua_pushcfunction(L, sandbox_ipairs);
    lua_setfield(L, -2, "ipairs");
    wrap_global(L, "setmetatable", sandbox_setmetatable);
    wrap_global(L, "loadstring", sandbox_loadstring);
    lua_getfield(L, -1, "loadstring");
    lua_pushcclosure(L, sandbox_load, 1);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, sandbox_pcall);
    lua_setfield(L, -2, "pcall");
    lua_pushcfunction(L, error_handler);
    lua_setfield(L, -2, "__redis__err__handler");
    lua_pushnil(L); /* debug served the error handler's getinfo only (C here) */
    lua_setfield(L, -2, "debug");
}

/* Pushes a new read-only proxy of the table at idx; get: its __index (NULL: the table). */
static void push_proxy(lua_State *L, int idx, lua_CFunction get)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_newtable(L); /* the proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, idx);
    if (get)
        lua_pushcclosure(L, get, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_error);
    lua_setfield(L, -2, "__newindex");
    /* getmetatable(proxy) gives a read-only view of this metatable */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Replaces each table field of the real table on top (libraries, redis) by its proxy,
   and their table fields in turn (the tables are a tree: no cycle but _G, skipped). */
static void protect_fields(lua_State *L)
{
    luaL_checkstack(L, 8, "protect");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_istable(L, -1) && !(lua_type(L, -2) == LUA_TSTRING &&
                                    strcmp(lua_tostring(L, -2), "_G") == 0)) {
            protect_fields(L);
            push_proxy(L, -1, NULL);
            lua_pushvalue(L, -3); /* key */
            lua_insert(L, -2);
            lua_rawset(L, -5); /* replacing a value during lua_next is allowed */
        }
        lua_pop(L, 1);
    }
}

static int open_protected(lua_State *L)
{
    script_vm *vm = lua_touserdata(L, 1);
    lua_pushlightuserdata(L, vm);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_VM);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_CACHE);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_FLAGS);
    lua_newtable(L); /* proxies, weak keys */
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_PROXIES);

    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    lua_pushvalue(L, LUA_GLOBALSINDEX); /* the real globals, on top from here */
    install_sandbox_functions(L);
    script_api_register(L);
    /* cjson, bit, struct, cmsgpack and Redis's math.random, before the tables are made
       read-only (so theirs are too, as in Redis) */
    if (script_libs_open(L) != 0)
        return luaL_error(L, "cannot open the script libraries");

    protect_fields(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_GLOBALS);
    push_proxy(L, -1, global_index);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "_G");
    lua_replace(L, LUA_GLOBALSINDEX);
    /* the string metatable reads the string library's methods through its proxy too */
    lua_pushstring(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, -3, "string");
    lua_setfield(L, -2, "__index");
    return 0;
}

/* global_index for FUNCTION LOAD's globals: the error is Redis's error table, as Redis
   raises it there (a library load has no error handler to make one). */
static int load_global_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1))
        return 1;
    const char *name = lua_tostring(L, 2);
    luaL_where(L, 1);
    lua_pushfstring(L, "Script attempted to access nonexistent global variable '%s'",
                    name ? name : "?");
    lua_concat(L, 2);
    size_t n;
    const char *msg = lua_tolstring(L, -1, &n);
    script_push_error(L, msg, n);
    return lua_error(L);
}

/* readonly_error for FUNCTION LOAD's globals: Redis's error table. */
static int load_readonly_error(lua_State *L)
{
    luaL_where(L, 1);
    lua_pushstring(L, "Attempt to modify a readonly table");
    lua_concat(L, 2);
    size_t n;
    const char *msg = lua_tolstring(L, -1, &n);
    script_push_error(L, msg, n);
    return lua_error(L);
}

void script_push_strict_proxy(lua_State *L, int idx)
{
    push_proxy(L, idx, load_global_index);
}

void script_set_globals_source(lua_State *L, int idx, bool load)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, load ? load_global_index : global_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, load ? load_readonly_error : readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_pop(L, 1);
}

lua_State *script_vm_open(script_vm *vm)
{
    lua_State *L = script_state_new(vm);
    if (!L)
        return NULL;
    if (lua_cpcall(L, open_protected, vm) != 0) {
        lua_close(L);
        return NULL;
    }
    return L;
}

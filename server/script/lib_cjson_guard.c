/*
 * lib_cjson_guard.c - Debian's lua-cjson 2.1.0 as `cjson`, with its encode and decode (and
 * those of every cjson.new() instance) behind a size check.
 *
 * Why: that version sizes its buffers in int. Encoding reserves 6 bytes per string byte
 * and grows the buffer by doubling an int, so a string of 358 MB, or a text whose
 * reservations pass 1 GB, overflows it and writes past the heap block: a script could
 * crash the server. Redis 7.0.15's bundled copy has the fix (CVE-2022-24834); Debian's
 * does not. The guard adds up what cjson may reserve (6 bytes a string byte, 64 a value)
 * and refuses above 1 GB, which only texts Redis could not return anyway
 * (proto-max-bulk-len is 512 MB) reach. Errors of cjson itself are re-raised with the
 * caller's position, so they read as Redis's ("user_script:1: Cannot serialise ...").
 */
#include "libs.h"

#include <lauxlib.h>
#include <lua-cjson.h>
#include <stdbool.h>

#define CJSON_MAX_TEXT 1073741824.0 /* 2^30: the int buffer's last safe doubling */
#define CJSON_PER_VALUE 64          /* a number's 32 bytes, separators, brackets */
#define CJSON_WALK_DEPTH 10000      /* deeper, cjson's own depth check refuses */

/*
 * Adds to *total the bytes cjson may reserve for the value at absolute index idx; false
 * once past CJSON_MAX_TEXT (the walk stops there, so shared subtables cost no more than
 * the limit).
 */
static bool text_bound(lua_State *L, int idx, int depth, double *total)
{
    size_t len;
    *total += CJSON_PER_VALUE;
    if (lua_type(L, idx) == LUA_TSTRING) {
        lua_tolstring(L, idx, &len);
        *total += 6.0 * (double)len;
    } else if (lua_type(L, idx) == LUA_TTABLE && depth < CJSON_WALK_DEPTH && lua_checkstack(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            int top = lua_gettop(L);
            bool ok =
                text_bound(L, top - 1, depth + 1, total) && text_bound(L, top, depth + 1, total);
            lua_pop(L, 1);
            if (!ok) {
                lua_pop(L, 1);
                return false;
            }
        }
    }
    return *total <= CJSON_MAX_TEXT;
}

/* Calls the wrapped function (upvalue 1) with the arguments; its error gets our position. */
static int call_wrapped(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (status == 0)
        return lua_gettop(L);
    if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

/* The argument checks are cjson's, made here so the messages name 'encode' / 'decode'. */
static int guarded_encode(lua_State *L)
{
    double total = 0;
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    if (!text_bound(L, 1, 0, &total))
        return luaL_error(L, "%s", "Cannot serialise, the JSON text could exceed 1 GB");
    return call_wrapped(L);
}

static int guarded_decode(lua_State *L)
{
    size_t len;
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    luaL_checklstring(L, 1, &len);
    if ((double)len > CJSON_MAX_TEXT)
        return luaL_error(L, "%s", "Cannot decode, the JSON text exceeds 1 GB");
    return call_wrapped(L);
}

static void guard_table(lua_State *L, int t);

/* cjson.new(): a fresh instance, guarded as well. */
static int guarded_new(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 0, 1);
    guard_table(L, lua_gettop(L));
    return 1;
}

/* Replaces t[name] by fn with the old value as its upvalue. */
static void wrap_field(lua_State *L, int t, const char *name, lua_CFunction fn)
{
    lua_getfield(L, t, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, t, name);
}

static void guard_table(lua_State *L, int t)
{
    wrap_field(L, t, "encode", guarded_encode);
    wrap_field(L, t, "decode", guarded_decode);
    wrap_field(L, t, "new", guarded_new);
}

int script_cjson_open(lua_State *L)
{
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    guard_table(L, lua_gettop(L));
    return 1;
}

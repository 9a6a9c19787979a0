/*
 * libs.c - script_libs_open: the libraries Redis 7.0 exposes to scripts, as globals of a
 * script VM (libs.h). cjson is Debian's lua-cjson 2.1.0 and bit Debian's LuaBitOp 1.0.2,
 * the versions Redis 7.0.15 bundles (its cjson._VERSION is "2.1.0"); struct, cmsgpack and
 * the random generator are ours (lib_*.c), since Debian has no C struct or cmsgpack.
 *
 * cjson as Redis 7.0 has it: the module's defaults (encode_max_depth and decode_max_depth
 * 1000, encode_number_precision 14, sparse arrays refused past ratio 2 and safe 10, NaN
 * and Inf refused on encode, accepted on decode, cjson.null a NULL lightuserdata), no
 * cjson.decode_array_with_array_mt (Redis 7.2+) and no cjson.safe module as a global;
 * encode and decode behind a size check (lib_cjson_guard.c).
 */
#include "libs.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua-bitop.h>

/* Calls a library's luaopen function and stores the table it returns as global `name`. */
static void set_library(lua_State *L, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    lua_setglobal(L, name);
}

/* Under lua_cpcall, so a memory error in any library's set-up is returned, not thrown. */
static int open_all(lua_State *L)
{
    lua_getglobal(L, "math");
    if (!lua_istable(L, -1))
        return luaL_error(L, "the math library is not open");
    script_random_open(L);
    lua_pop(L, 1);
    set_library(L, "cjson", script_cjson_open);
    set_library(L, "bit", luaopen_bit);
    set_library(L, "struct", script_struct_open);
    set_library(L, "cmsgpack", script_msgpack_open);
    return 0;
}

int script_libs_open(lua_State *L)
{
    lua_getglobal(L, "math");
    int has_math = lua_istable(L, -1);
    lua_pop(L, 1);
    if (!has_math)
        return -EINVAL;
    switch (lua_cpcall(L, open_all, NULL)) {
    case 0:
        return 0;
    case LUA_ERRMEM:
        lua_pop(L, 1);
        return -ENOMEM;
    default:
        lua_pop(L, 1);
        return -EIO;
    }
}

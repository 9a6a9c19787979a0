/*
 * lib_msgpack_unpack.c - cmsgpack.unpack(s), cmsgpack.unpack_one(s [, offset]) and
 * cmsgpack.unpack_limit(s, limit [, offset]), as Redis 7.0's lua-cmsgpack 0.4.0 answers
 * them (redis-server 7.0.15 is the reference, tests/unit/test_script_libs.c):
 *   - unpack returns every value; unpack_one and unpack_limit return first the offset of
 *     what follows (-1 when the input is used up), then up to `limit` values (0 = all);
 *   - integers (uint64 read as int64, as Redis does) and floats become numbers, str8/16/32
 *     and fixstr strings, arrays tables 1..n, maps tables; bin, ext and 0xc1 are
 *     "Bad data format in input.", a cut input "Missing bytes in input.";
 *   - the Lua stack bounds nesting and the count of values returned, with Redis's messages
 *     and at Redis's depths (2 stack slots per nested array or map).
 * Written from the MessagePack specification and Redis's replies, not from its code.
 */
#include "libs.h"

#include <lauxlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TOO_MANY "too many return values at once; use unpack_one or unpack_limit instead."

enum { CUR_OK, CUR_MISSING, CUR_BAD };

/* The bytes being read; err is sticky: once set, decoding stops where it is. */
typedef struct {
    const unsigned char *p;
    size_t left;
    int err;
} msgpack_cur;

/* The next `size` bytes as a big-endian unsigned integer (0 and CUR_MISSING if cut). */
static uint64_t cur_uint(msgpack_cur *c, size_t size)
{
    uint64_t v = 0;
    if (c->left < size) {
        c->err = CUR_MISSING;
        return 0;
    }
    for (size_t i = 0; i < size; i++)
        v = (v << 8) | c->p[i];
    c->p += size;
    c->left -= size;
    return v;
}

static void decode_value(lua_State *L, msgpack_cur *c);

static void decode_string(lua_State *L, msgpack_cur *c, size_t len)
{
    if (c->left < len) {
        c->err = CUR_MISSING;
        return;
    }
    lua_pushlstring(L, (const char *)c->p, len);
    c->p += len;
    c->left -= len;
}

static void decode_array(lua_State *L, msgpack_cur *c, uint64_t n)
{
    luaL_checkstack(L, 2, "in function mp_decode_to_lua_array");
    lua_newtable(L);
    for (uint64_t i = 1; i <= n && c->err == CUR_OK; i++) {
        lua_pushnumber(L, (lua_Number)i);
        decode_value(L, c);
        if (c->err != CUR_OK)
            return;
        lua_settable(L, -3);
    }
}

static void decode_map(lua_State *L, msgpack_cur *c, uint64_t n)
{
    lua_newtable(L);
    for (uint64_t i = 0; i < n && c->err == CUR_OK; i++) {
        luaL_checkstack(L, 2, TOO_MANY);
        decode_value(L, c);
        if (c->err != CUR_OK)
            return;
        decode_value(L, c);
        if (c->err != CUR_OK)
            return;
        lua_settable(L, -3); /* "table index is nil" / "is NaN", as in Redis */
    }
}

static lua_Number as_float32(uint64_t bits)
{
    uint32_t b32 = (uint32_t)bits;
    float f;
    memcpy(&f, &b32, sizeof f);
    return f;
}

static lua_Number as_float64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* An n-bit two's complement value as a number. */
static lua_Number as_signed(uint64_t v, int bits)
{
    if (bits < 64 && (v >> (bits - 1)) & 1)
        v |= ~0ULL << bits;
    return (lua_Number)(int64_t)v;
}

/* Pushes one value on success; on an error (c->err) what it pushed may stay on the stack. */
static void decode_value(lua_State *L, msgpack_cur *c)
{
    unsigned t = (unsigned)cur_uint(c, 1);
    if (c->err != CUR_OK)
        return;
    if (t <= 0x7f || t >= 0xe0) {
        lua_pushnumber(L, as_signed(t, 8));
        return;
    }
    if (t >= 0xa0 && t <= 0xbf) {
        decode_string(L, c, t & 0x1f);
        return;
    }
    if (t >= 0x80 && t <= 0x9f) {
        if (t <= 0x8f)
            decode_map(L, c, t & 0x0f);
        else
            decode_array(L, c, t & 0x0f);
        return;
    }
    switch (t) {
    case 0xc0:
        lua_pushnil(L);
        return;
    case 0xc2:
        lua_pushboolean(L, 0);
        return;
    case 0xc3:
        lua_pushboolean(L, 1);
        return;
    case 0xca: {
        uint64_t v = cur_uint(c, 4);
        lua_pushnumber(L, as_float32(v));
        return;
    }
    case 0xcb: {
        uint64_t v = cur_uint(c, 8);
        lua_pushnumber(L, as_float64(v));
        return;
    }
    case 0xcc: {
        uint64_t v = cur_uint(c, 1);
        lua_pushnumber(L, (lua_Number)v);
        return;
    }
    case 0xcd: {
        uint64_t v = cur_uint(c, 2);
        lua_pushnumber(L, (lua_Number)v);
        return;
    }
    case 0xce: {
        uint64_t v = cur_uint(c, 4);
        lua_pushnumber(L, (lua_Number)v);
        return;
    }
    case 0xcf: {
        uint64_t v = cur_uint(c, 8);
        lua_pushnumber(L, as_signed(v, 64));
        return;
    }
    case 0xd0: {
        uint64_t v = cur_uint(c, 1);
        lua_pushnumber(L, as_signed(v, 8));
        return;
    }
    case 0xd1: {
        uint64_t v = cur_uint(c, 2);
        lua_pushnumber(L, as_signed(v, 16));
        return;
    }
    case 0xd2: {
        uint64_t v = cur_uint(c, 4);
        lua_pushnumber(L, as_signed(v, 32));
        return;
    }
    case 0xd3: {
        uint64_t v = cur_uint(c, 8);
        lua_pushnumber(L, as_signed(v, 64));
        return;
    }
    case 0xd9: {
        uint64_t n = cur_uint(c, 1);
        if (!c->err)
            decode_string(L, c, n);
        return;
    }
    case 0xda: {
        uint64_t n = cur_uint(c, 2);
        if (!c->err)
            decode_string(L, c, n);
        return;
    }
    case 0xdb: {
        uint64_t n = cur_uint(c, 4);
        if (!c->err)
            decode_string(L, c, n);
        return;
    }
    case 0xdc: {
        uint64_t n = cur_uint(c, 2);
        if (!c->err)
            decode_array(L, c, n);
        return;
    }
    case 0xdd: {
        uint64_t n = cur_uint(c, 4);
        if (!c->err)
            decode_array(L, c, n);
        return;
    }
    case 0xde: {
        uint64_t n = cur_uint(c, 2);
        if (!c->err)
            decode_map(L, c, n);
        return;
    }
    case 0xdf: {
        uint64_t n = cur_uint(c, 4);
        if (!c->err)
            decode_map(L, c, n);
        return;
    }
    default:
        c->err = CUR_BAD;
        return; /* 0xc1, bin, ext, fixext */
    }
}

/*
 * Decodes from `offset` up to `limit` values (all with limit 0); with offset and limit both
 * 0 (cmsgpack.unpack) returns only the values, else the next offset (-1 at the end) first.
 */
static int unpack_values(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset,
                          (int)len);
    bool all = limit == 0 && offset == 0;
    lua_settop(L, 1);
    msgpack_cur c = {.p = (const unsigned char *)s + offset, .left = len - (size_t)offset};
    int count = 0;
    while (c.left > 0 && (all || count < limit)) {
        luaL_checkstack(L, 1, TOO_MANY);
        decode_value(L, &c);
        if (c.err == CUR_MISSING)
            return luaL_error(L, "Missing bytes in input.");
        if (c.err == CUR_BAD)
            return luaL_error(L, "Bad data format in input.");
        count++;
    }
    if (!all) {
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left > 0 ? (lua_Integer)(len - c.left) : -1);
        lua_insert(L, 2);
    }
    return lua_gettop(L) - 1;
}

int script_msgpack_unpack(lua_State *L)
{
    return unpack_values(L, 0, 0);
}

int script_msgpack_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    return unpack_values(L, 1, offset);
}

int script_msgpack_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    return unpack_values(L, limit, offset);
}

/* The cmsgpack table, with Redis's name, version and description fields. */
int script_msgpack_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", script_msgpack_pack},
        {"unpack", script_msgpack_unpack},
        {"unpack_one", script_msgpack_unpack_one},
        {"unpack_limit", script_msgpack_unpack_limit},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}

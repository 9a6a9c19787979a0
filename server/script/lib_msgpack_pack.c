/*
 * lib_msgpack_pack.c - cmsgpack.pack(v1, v2, ...): the MessagePack bytes of each value, one
 * after the other, chosen as Redis 7.0's bundled lua-cmsgpack 0.4.0 chooses them (checked
 * byte for byte against redis-server 7.0.15, tests/unit/test_script_libs.c):
 *   - a number equal to an int64 is an integer in its smallest encoding (positive ones as
 *     fixint/uint8/16/32/64, negative ones as negative fixint/int8/16/32/64); -0 is 0;
 *   - any other number is a float32 when float32 holds it exactly (inf too), else float64;
 *   - strings are fixstr, str8, str16 or str32 (never bin);
 *   - a table whose keys are exactly 1..n is an array of n, any other a map (an empty
 *     table is an empty array), read raw (no metamethods);
 *   - tables nested 16 deep, and every value MessagePack has no type for (functions,
 *     userdata, cjson.null, threads), are nil.
 *
 * Why our own C and not a shim over Debian's lua-messagepack: that module is pure Lua with
 * another API (MessagePack.pack of one value) and other choices (floats as float64 unless
 * configured, strings per option, arrays decided by its own rule, no nesting cut), so a
 * shim would re-decide every byte anyway, and it would have to load a .lua file into the
 * sandbox at run time. Written from the MessagePack specification and Redis's replies.
 */
#include "libs.h"

#include <float.h>
#include <lauxlib.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Tables deeper than this are encoded as nil (circular references end there too). */
#define MSGPACK_MAX_NESTING 16

/*
 * The output, in memory Lua owns: a userdata in stack slot `slot`, replaced by a larger
 * one when full, so a Lua error anywhere in the encoding leaks nothing.
 */
typedef struct {
    lua_State *L;
    int slot;
    unsigned char *bytes;
    size_t len, cap;
} msgpack_buf;

static void buf_reserve(msgpack_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap * 2 > b->len + more ? b->cap * 2 : b->len + more;
    unsigned char *bigger = lua_newuserdata(b->L, cap);
    if (b->len)
        memcpy(bigger, b->bytes, b->len);
    lua_replace(b->L, b->slot);
    b->bytes = bigger;
    b->cap = cap;
}

static void buf_put(msgpack_buf *b, const void *src, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->bytes + b->len, src, n);
    b->len += n;
}

static void buf_byte(msgpack_buf *b, unsigned char c)
{
    buf_put(b, &c, 1);
}

/* A type byte then `size` bytes of v, big-endian. */
static void buf_typed(msgpack_buf *b, unsigned char type, uint64_t v, int size)
{
    unsigned char out[9];
    out[0] = type;
    for (int i = 0; i < size; i++)
        out[1 + i] = (unsigned char)(v >> (8 * (size - 1 - i)));
    buf_put(b, out, (size_t)size + 1);
}

static void encode_int(msgpack_buf *b, int64_t n)
{
    if (n >= 0) {
        if (n <= 127)
            buf_byte(b, (unsigned char)n);
        else if (n <= 0xff)
            buf_typed(b, 0xcc, (uint64_t)n, 1);
        else if (n <= 0xffff)
            buf_typed(b, 0xcd, (uint64_t)n, 2);
        else if (n <= 0xffffffffLL)
            buf_typed(b, 0xce, (uint64_t)n, 4);
        else
            buf_typed(b, 0xcf, (uint64_t)n, 8);
    } else {
        if (n >= -32)
            buf_byte(b, (unsigned char)(uint8_t)n);
        else if (n >= -128)
            buf_typed(b, 0xd0, (uint64_t)n, 1);
        else if (n >= -32768)
            buf_typed(b, 0xd1, (uint64_t)n, 2);
        else if (n >= -2147483648LL)
            buf_typed(b, 0xd2, (uint64_t)n, 4);
        else
            buf_typed(b, 0xd3, (uint64_t)n, 8);
    }
}

/* x is an int64 when it converts to one and back unchanged (2^63 is not: it is a float). */
static bool number_is_int64(double x, int64_t *out)
{
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return false;
    *out = (int64_t)x;
    return (double)*out == x;
}

static void encode_float(msgpack_buf *b, double d)
{
    bool fits = isinf(d) || (!isnan(d) && fabs(d) <= FLT_MAX);
    if (fits && (double)(float)d == d) {
        float f = (float)d;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        buf_typed(b, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        buf_typed(b, 0xcb, bits, 8);
    }
}

static void encode_number(msgpack_buf *b, double d)
{
    int64_t n;
    if (number_is_int64(d, &n))
        encode_int(b, n);
    else
        encode_float(b, d);
}

static void encode_string(msgpack_buf *b, const char *s, size_t len)
{
    if (len < 32)
        buf_byte(b, (unsigned char)(0xa0 | len));
    else if (len <= 0xff)
        buf_typed(b, 0xd9, len, 1);
    else if (len <= 0xffff)
        buf_typed(b, 0xda, len, 2);
    else
        buf_typed(b, 0xdb, len, 4);
    buf_put(b, s, len);
}

/* A header of a fix type (up to 15 entries), else its 16- or 32-bit form. */
static void encode_header(msgpack_buf *b, unsigned char fix, unsigned char t16, size_t n)
{
    if (n < 16)
        buf_byte(b, (unsigned char)(fix | n));
    else if (n <= 0xffff)
        buf_typed(b, t16, n, 2);
    else
        buf_typed(b, (unsigned char)(t16 + 1), n, 4);
}

/* Counts the table's pairs; true when its keys are exactly the integers 1..count. */
static bool table_is_array(lua_State *L, int t, size_t *count)
{
    double max = 0;
    bool array = true;
    *count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        (*count)++;
        if (lua_type(L, -1) == LUA_TNUMBER) {
            double k = lua_tonumber(L, -1);
            if (k >= 1 && floor(k) == k) {
                max = k > max ? k : max;
                continue;
            }
        }
        array = false;
    }
    return array && max == (double)*count;
}

static void encode_value(msgpack_buf *b, int idx, int level);

static void encode_table(msgpack_buf *b, int t, int level)
{
    lua_State *L = b->L;
    size_t count;
    luaL_checkstack(L, 3, "in function encode_table");
    if (table_is_array(L, t, &count)) {
        encode_header(b, 0x90, 0xdc, count);
        for (size_t i = 1; i <= count; i++) {
            lua_rawgeti(L, t, (int)i);
            encode_value(b, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    encode_header(b, 0x80, 0xde, count);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        encode_value(b, lua_gettop(L) - 1, level + 1);
        encode_value(b, lua_gettop(L), level + 1);
        lua_pop(L, 1);
    }
}

/* The value at absolute index idx, `level` tables deep. */
static void encode_value(msgpack_buf *b, int idx, int level)
{
    size_t len;
    const char *s;
    switch (lua_type(b->L, idx)) {
    case LUA_TNUMBER:
        encode_number(b, lua_tonumber(b->L, idx));
        return;
    case LUA_TSTRING:
        s = lua_tolstring(b->L, idx, &len);
        encode_string(b, s, len);
        return;
    case LUA_TBOOLEAN:
        buf_byte(b, lua_toboolean(b->L, idx) ? 0xc3 : 0xc2);
        return;
    case LUA_TTABLE:
        if (level < MSGPACK_MAX_NESTING) {
            encode_table(b, idx, level);
            return;
        }
        break;
    default:
        break;
    }
    buf_byte(b, 0xc0);
}

int script_msgpack_pack(lua_State *L)
{
    int n = lua_gettop(L);
    if (n == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    msgpack_buf b = {.L = L, .slot = n + 1};
    luaL_checkstack(L, 1, "in function pack");
    lua_pushnil(L); /* the slot the buffer's userdata will take */
    for (int i = 1; i <= n; i++)
        encode_value(&b, i, 0);
    lua_pushlstring(L, (const char *)b.bytes, b.len);
    return 1;
}

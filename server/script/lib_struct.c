/*
 * lib_struct.c - the `struct` library Redis 7.0 gives scripts: struct.pack(fmt, ...),
 * struct.unpack(fmt, s [, pos]) and struct.size(fmt), binary records to and from Lua
 * values. Debian packages no Lua struct library; this one is written from the library's
 * documentation and redis-server 7.0.15's replies (tests/unit/test_script_libs.c), not from
 * anyone's code.
 *
 * Format: "<" little-endian (the default, the machine's), ">" big-endian, "!n" aligns
 * items to min(their size, n) (n a power of 2, "!" alone 8; no alignment until one is
 * given), " " nothing, "x" a zero byte, "b"/"B" char, "h"/"H" short, "l"/"L" long, "T"
 * size_t, "i"/"I" int of n bytes (4 by default, at most 32), "f" float, "d" double, "s" a
 * zero-terminated string, "cn" n bytes of a string ("c0": the whole string when packing,
 * the length given by the previous value when unpacking). Lowercase integers are signed.
 *
 * Redis's library reaches undefined C behaviour at a few edges (numbers out of the integer
 * range, sign masks of integers wider than 8 bytes); what x86-64 then does is what Redis
 * answers, so it is written out here on purpose: see number_to_u64 and sign_mask.
 */
#include "libs.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define STRUCT_MAX_INT_SIZE 32
#define STRUCT_NATIVE_ALIGN 8

typedef struct {
    bool big_endian;
    int max_align;
} struct_layout;

/* A number as x86-64 converts a double to uint64: out of range gives 2^63, wrapping. */
static uint64_t number_to_u64(lua_Number x)
{
    const double two63 = 9223372036854775808.0;
    if (!(x >= two63)) {
        if (x > -two63 - 1.0 && x < two63)
            return (uint64_t)(int64_t)x;
        return 1ULL << 63;
    }
    double low = x - two63;
    uint64_t part = low < two63 ? (uint64_t)(int64_t)low : 1ULL << 63;
    return part ^ (1ULL << 63);
}

/* The digits after an option, or `dflt` without any. */
static int read_size(lua_State *L, const char **fmt, int dflt)
{
    if (**fmt < '0' || **fmt > '9')
        return dflt;
    int n = 0;
    while (**fmt >= '0' && **fmt <= '9') {
        int digit = *(*fmt)++ - '0';
        if (n > INT_MAX / 10 || n * 10 > INT_MAX - digit)
            luaL_error(L, "integral size overflow");
        n = n * 10 + digit;
    }
    return n;
}

/* The size of option `opt`, reading its digits; 0 for options of no size or unknown ones. */
static size_t option_size(lua_State *L, char opt, const char **fmt)
{
    switch (opt) {
    case 'x':
    case 'b':
    case 'B':
        return 1;
    case 'h':
    case 'H':
        return 2;
    case 'l':
    case 'L':
    case 'T':
    case 'd':
        return 8;
    case 'f':
        return 4;
    case 'c':
        return (size_t)read_size(L, fmt, 1);
    case 'i':
    case 'I': {
        int n = read_size(L, fmt, 4);
        if (n > STRUCT_MAX_INT_SIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", n, STRUCT_MAX_INT_SIZE);
        return (size_t)n;
    }
    default:
        return 0;
    }
}

/* Options that change the layout; true when opt was one (or a space). */
static bool layout_option(lua_State *L, char opt, const char **fmt, struct_layout *h)
{
    switch (opt) {
    case ' ':
        return true;
    case '<':
        h->big_endian = false;
        return true;
    case '>':
        h->big_endian = true;
        return true;
    case '!': {
        int a = read_size(L, fmt, STRUCT_NATIVE_ALIGN);
        if (a == 0 || (a & (a - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", a);
        h->max_align = a;
        return true;
    }
    default:
        return false;
    }
}

/* Padding before an item of `size` at offset `pos` (sizes not a power of 2 pad oddly). */
static size_t padding(size_t pos, const struct_layout *h, char opt, size_t size)
{
    if (size <= 1 || opt == 'c')
        return 0;
    size_t align = size > (size_t)h->max_align ? (size_t)h->max_align : size;
    return (align - (pos & (align - 1))) & (align - 1);
}

static bool is_integer_option(char opt)
{
    return opt != '\0' && strchr("bBhHlLTiI", opt) != NULL;
}

/* ---- struct.size ---- */

static int struct_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct_layout h = {false, 1};
    size_t pos = 0;
    while (*fmt) {
        char opt = *fmt++;
        if (layout_option(L, opt, &fmt, &h))
            continue;
        size_t size = option_size(L, opt, &fmt);
        if (opt == 's' || (opt == 'c' && size == 0))
            luaL_argerror(L, 1,
                          opt == 's' ? "option 's' has no fixed size"
                                     : "option 'c0' has no fixed size");
        pos += padding(pos, &h, opt, size) + size;
    }
    lua_pushnumber(L, (lua_Number)pos);
    return 1;
}

/* ---- struct.pack ---- */

/* The output in a Lua userdata at stack slot `slot`, grown by replacing it (no leak on
 * a Lua error). */
typedef struct {
    lua_State *L;
    int slot;
    char *bytes;
    size_t len, cap;
} struct_buf;

static void buf_put(struct_buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
        char *bigger = lua_newuserdata(b->L, cap);
        if (b->len)
            memcpy(bigger, b->bytes, b->len);
        lua_replace(b->L, b->slot);
        b->bytes = bigger;
        b->cap = cap;
    }
    if (n)
        memcpy(b->bytes + b->len, src, n);
    b->len += n;
}

static void buf_zeros(struct_buf *b, size_t n)
{
    static const char zeros[16];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        buf_put(b, zeros, k);
        n -= k;
    }
}

/* `size` bytes of v, least significant first unless big-endian; past 8 bytes, zeros. */
static void put_integer(struct_buf *b, uint64_t v, size_t size, bool big_endian)
{
    unsigned char out[STRUCT_MAX_INT_SIZE];
    for (size_t i = 0; i < size; i++) {
        unsigned char byte = i < 8 ? (unsigned char)(v >> (8 * i)) : 0;
        out[big_endian ? size - 1 - i : i] = byte;
    }
    buf_put(b, out, size);
}

/* A float or double's bytes in the layout's order (the machine's is little-endian). */
static void put_float(struct_buf *b, const void *p, size_t size, bool big_endian)
{
    unsigned char out[8];
    memcpy(out, p, size);
    for (size_t i = 0; big_endian && i < size / 2; i++) {
        unsigned char t = out[i];
        out[i] = out[size - 1 - i];
        out[size - 1 - i] = t;
    }
    buf_put(b, out, size);
}

/* A string option: "s" all of it and a zero, "c0" all of it, "cn" its first n bytes. */
static void put_string(lua_State *L, struct_buf *b, char opt, size_t size, int *arg)
{
    size_t len;
    const char *s = luaL_checklstring(L, (*arg)++, &len);
    if (size == 0)
        size = len;
    /* Redis names the argument after the string's, so do we */
    luaL_argcheck(L, len >= size, *arg, "string too short");
    buf_put(b, s, size);
    if (opt == 's')
        buf_put(b, "", 1);
}

static int struct_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct_layout h = {false, 1};
    int arg = 2;
    /* a missing argument is "got nil" in Redis, so one nil follows the arguments */
    lua_pushnil(L);
    struct_buf b = {.L = L, .slot = lua_gettop(L) + 1};
    lua_pushnil(L);
    while (*fmt) {
        char opt = *fmt++;
        if (layout_option(L, opt, &fmt, &h))
            continue;
        size_t size = option_size(L, opt, &fmt);
        buf_zeros(&b, padding(b.len, &h, opt, size));
        if (is_integer_option(opt)) {
            put_integer(&b, number_to_u64(luaL_checknumber(L, arg++)), size, h.big_endian);
        } else if (opt == 'x') {
            buf_zeros(&b, 1);
        } else if (opt == 'f') {
            float f = (float)luaL_checknumber(L, arg++);
            put_float(&b, &f, sizeof f, h.big_endian);
        } else if (opt == 'd') {
            double d = luaL_checknumber(L, arg++);
            put_float(&b, &d, sizeof d, h.big_endian);
        } else if (opt == 'c' || opt == 's') {
            put_string(L, &b, opt, size, &arg);
        } else {
            luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
        }
    }
    lua_pushlstring(L, b.bytes ? b.bytes : "", b.len);
    return 1;
}

/* ---- struct.unpack ---- */

/* With a sign mask made as Redis's: ~0 shifted by (8 * size - 1) taken modulo 64. */
static lua_Number get_integer(const unsigned char *p, size_t size, bool big_endian, bool is_signed)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = (v << 8) | p[big_endian ? i : size - 1 - i];
    if (!is_signed)
        return (lua_Number)v;
    uint64_t sign_mask = ~0ULL << ((8 * size - 1) & 63);
    if (v & sign_mask)
        v |= sign_mask;
    return (lua_Number)(int64_t)v;
}

static lua_Number get_float(const unsigned char *p, size_t size, bool big_endian)
{
    unsigned char in[8];
    for (size_t i = 0; i < size; i++)
        in[i] = p[big_endian ? size - 1 - i : i];
    if (size == sizeof(float)) {
        float f;
        memcpy(&f, in, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, in, sizeof d);
    return d;
}

static void check_room(lua_State *L, size_t pos, size_t size, size_t len)
{
    luaL_argcheck(L, pos <= len && size <= len - pos, 2, "data string too short");
}

/* "c0": the length is the previous value, which it replaces. */
static size_t previous_size(lua_State *L, int *n)
{
    if (*n == 0 || !lua_isnumber(L, -1))
        luaL_error(L, "format 'c0' needs a previous size");
    size_t size = (size_t)number_to_u64(lua_tonumber(L, -1));
    lua_pop(L, 1);
    (*n)--;
    return size;
}

/* Pushes the value of option opt at data+pos; returns how many bytes it took. */
static size_t unpack_one(lua_State *L, const struct_layout *h, char opt, size_t size,
                         const char *data, size_t len, size_t pos, int *n)
{
    const unsigned char *p = (const unsigned char *)data + pos;
    if (is_integer_option(opt)) {
        lua_pushnumber(L, get_integer(p, size, h->big_endian, opt >= 'a'));
    } else if (opt == 'f' || opt == 'd') {
        lua_pushnumber(L, get_float(p, size, h->big_endian));
    } else if (opt == 'c') {
        if (size == 0) {
            size = previous_size(L, n);
            check_room(L, pos, size, len);
        }
        lua_pushlstring(L, data + pos, size);
    } else if (opt == 's') {
        const char *end = memchr(data + pos, '\0', len - pos);
        if (!end)
            luaL_error(L, "unfinished string in data");
        size = (size_t)(end - (data + pos)) + 1;
        lua_pushlstring(L, data + pos, size - 1);
    } else if (opt == 'x') {
        return size;
    } else {
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
    (*n)++;
    return size;
}

static int struct_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    /* positions are 1-based; a negative one wraps and is "too short", as in Redis */
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    struct_layout h = {false, 1};
    int n = 0;
    while (*fmt) {
        char opt = *fmt++;
        const char *after = fmt;
        bool layout = layout_option(L, opt, &after, &h);
        size_t size = layout ? 0 : option_size(L, opt, &after);
        fmt = after;
        if (!layout)
            pos += padding(pos, &h, opt, size);
        check_room(L, pos, size, len);
        if (layout)
            continue;
        luaL_checkstack(L, 2, "too many results");
        pos += unpack_one(L, &h, opt, size, data, len, pos, &n);
    }
    lua_pushinteger(L, (lua_Integer)(pos + 1));
    return n + 1;
}

int script_struct_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", struct_pack},
        {"unpack", struct_unpack},
        {"size", struct_size},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}

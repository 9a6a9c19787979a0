/*
 * script_conv.c - the conversions between Redis replies and Lua values, as Redis 7.0's
 * tables have them: a command's reply (RESP2 or RESP3, as redis.setresp chose) into the
 * value redis.call returns, and the script's return value into the caller's reply.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "script_int.h"

/* ---- RESP -> Lua ---------------------------------------------------------------- */

typedef struct reader {
    const char *p, *end;
} reader;

/* The line at r (without CRLF): its start and length; r moves past it. */
static const char *line(reader *r, size_t *len)
{
    const char *s = r->p;
    const char *e = memchr(s, '\r', (size_t)(r->end - s));
    if (!e)
        e = r->end;
    *len = (size_t)(e - s);
    r->p = e + 2 <= r->end ? e + 2 : r->end;
    return s;
}

static long long line_number(reader *r)
{
    size_t n;
    const char *s = line(r, &n);
    char tmp[32];
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return strtoll(tmp, NULL, 10);
}

static void push_field_table(lua_State *L, const char *field, const char *p, size_t n)
{
    lua_newtable(L);
    lua_pushstring(L, field);
    lua_pushlstring(L, p, n);
    lua_settable(L, -3);
}

static void push_value(lua_State *L, reader *r);

/* Skips one value (an attribute's): parsed into a value that is dropped. */
static void skip_value(lua_State *L, reader *r)
{
    push_value(L, r);
    lua_pop(L, 1);
}

static void push_aggregate(lua_State *L, reader *r, char type, long long n)
{
    luaL_checkstack(L, 4, "reply too deep");
    if (type == '*' || type == '>') {
        lua_newtable(L);
        for (long long i = 0; i < n; i++) {
            lua_pushnumber(L, (lua_Number)(i + 1));
            push_value(L, r);
            lua_settable(L, -3);
        }
        return;
    }
    lua_newtable(L);
    lua_pushstring(L, type == '%' ? "map" : "set");
    lua_newtable(L);
    for (long long i = 0; i < n; i++) {
        push_value(L, r);
        if (type == '%')
            push_value(L, r);
        else
            lua_pushboolean(L, 1);
        lua_settable(L, -3);
    }
    lua_settable(L, -3);
}

static void push_value(lua_State *L, reader *r)
{
    luaL_checkstack(L, 4, "reply too deep");
    if (r->p >= r->end) {
        lua_pushnil(L);
        return;
    }
    char type = *r->p++;
    size_t n;
    const char *s;
    switch (type) {
    case ':':
        lua_pushnumber(L, (lua_Number)line_number(r));
        return;
    case '+':
        s = line(r, &n);
        push_field_table(L, "ok", s, n);
        return;
    case '-':
        s = line(r, &n);
        script_push_error(L, s - 1, n + 1);
        lua_pushstring(L, "ignore_error_stats_update");
        lua_pushboolean(L, 1);
        lua_settable(L, -3);
        return;
    case '$':
    case '=': {
        long long len = line_number(r);
        if (len < 0) {
            lua_pushboolean(L, 0);
            return;
        }
        if (len > r->end - r->p)
            len = r->end - r->p;
        s = r->p;
        r->p += len + 2 <= r->end - r->p ? len + 2 : len;
        if (type == '$') {
            lua_pushlstring(L, s, (size_t)len);
            return;
        }
        /* verbatim: {verbatim_string = {string = ..., format = "txt"}} */
        size_t fl = len >= 4 ? 3 : 0, skip = len >= 4 ? 4 : 0;
        lua_newtable(L);
        lua_pushstring(L, "verbatim_string");
        lua_newtable(L);
        lua_pushstring(L, "string");
        lua_pushlstring(L, s + skip, (size_t)len - skip);
        lua_settable(L, -3);
        lua_pushstring(L, "format");
        lua_pushlstring(L, s, fl);
        lua_settable(L, -3);
        lua_settable(L, -3);
        return;
    }
    case '*':
    case '~':
    case '%':
    case '>': {
        long long len = line_number(r);
        if (len < 0)
            lua_pushboolean(L, 0); /* RESP2's null array */
        else
            push_aggregate(L, r, type, len);
        return;
    }
    case '|': { /* attributes are dropped; the value after them counts */
        long long len = line_number(r);
        for (long long i = 0; i < 2 * len; i++)
            skip_value(L, r);
        push_value(L, r);
        return;
    }
    case '_':
        line(r, &n);
        lua_pushnil(L);
        return;
    case '#':
        s = line(r, &n);
        lua_pushboolean(L, n > 0 && s[0] == 't');
        return;
    case ',': {
        s = line(r, &n);
        char tmp[128];
        if (n >= sizeof tmp)
            n = sizeof tmp - 1;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        lua_newtable(L);
        lua_pushstring(L, "double");
        lua_pushnumber(L, strtod(tmp, NULL));
        lua_settable(L, -3);
        return;
    }
    case '(':
        s = line(r, &n);
        push_field_table(L, "big_number", s, n);
        return;
    default:
        line(r, &n);
        lua_pushnil(L);
    }
}

void script_push_reply(lua_State *L, const char *p, size_t n)
{
    reader r = {p, p + n};
    push_value(L, &r);
}

void script_push_error(lua_State *L, const char *msg, size_t n)
{
    const char *code = "ERR";
    size_t code_len = 3;
    if (n && msg[0] == '-') {
        const char *sp = memchr(msg, ' ', n);
        if (sp) {
            code = msg + 1;
            code_len = (size_t)(sp - msg - 1);
            n -= (size_t)(sp + 1 - msg);
            msg = sp + 1;
        } else {
            msg++;
            n--;
        }
    }
    while (n && (msg[n - 1] == '\r' || msg[n - 1] == '\n'))
        n--;
    while (n && (msg[0] == '\r' || msg[0] == '\n')) {
        msg++;
        n--;
    }
    lua_newtable(L);
    lua_pushstring(L, "err");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, n);
    luaL_pushresult(&b);
    lua_settable(L, -3);
}

/* ---- Lua -> RESP ---------------------------------------------------------------- */

void script_reply_error(resp_out *o, const char *msg, size_t n)
{
    resp_raw(o, "-", 1);
    for (size_t i = 0; i < n; i++) {
        char ch = msg[i] == '\r' || msg[i] == '\n' ? ' ' : msg[i];
        resp_raw(o, &ch, 1);
    }
    resp_raw(o, "\r\n", 2);
}

/* A Lua number as Redis replies it: the C cast to long long (x86's result for NaN and
   out-of-range values, defined here). */
static long long number_to_integer(lua_Number d)
{
    if (isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
        return LLONG_MIN;
    return (long long)d;
}

/* The string field `name` of the table on top, pushed (any other type: nil pushed, false
   returned). */
static bool raw_field(lua_State *L, const char *name, int type)
{
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    if (lua_type(L, -1) == type)
        return true;
    lua_pop(L, 1);
    return false;
}

static void reply_status(lua_State *L, resp_out *o)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    resp_raw(o, "+", 1);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
        resp_raw(o, &ch, 1);
    }
    resp_raw(o, "\r\n", 2);
}

static void reply_big_number(lua_State *L, resp_out *o, int proto)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    char *copy = malloc(n + 1);
    if (!copy) {
        o->err = -12;
        return;
    }
    for (size_t i = 0; i < n; i++)
        copy[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
    if (proto >= 3) {
        resp_raw(o, "(", 1);
        resp_raw(o, copy, n);
        resp_raw(o, "\r\n", 2);
    } else {
        resp_bulk(o, copy, n);
    }
    free(copy);
}

/* {verbatim_string = {format = f, string = s}}: true when written (the field on top). */
static bool reply_verbatim(lua_State *L, resp_out *o, int proto)
{
    if (!raw_field(L, "format", LUA_TSTRING))
        return false;
    lua_pushstring(L, "string");
    lua_rawget(L, -3);
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 2);
        return false;
    }
    size_t fl, n;
    const char *f = lua_tolstring(L, -2, &fl);
    const char *s = lua_tolstring(L, -1, &n);
    if (proto >= 3) {
        char head[48];
        int hl = snprintf(head, sizeof head, "=%zu\r\n", n + 4);
        char fmt[3] = {' ', ' ', ' '};
        memcpy(fmt, f, fl < 3 ? fl : 3);
        resp_raw(o, head, (size_t)hl);
        resp_raw(o, fmt, 3);
        resp_raw(o, ":", 1);
        resp_raw(o, s, n);
        resp_raw(o, "\r\n", 2);
    } else {
        resp_bulk(o, s, n);
    }
    lua_pop(L, 2);
    return true;
}

/* The table on top's {map = ...} or {set = ...} field on top: its pairs written. */
static void reply_pairs(lua_State *L, resp_out *o, int proto, int script_resp, bool map)
{
    long long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    if (map)
        resp_map(o, n, proto);
    else
        resp_set(o, n, proto);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (map) {
            lua_pushvalue(L, -2);
            script_reply_value(L, o, proto, script_resp); /* key */
            script_reply_value(L, o, proto, script_resp); /* value */
        } else {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            script_reply_value(L, o, proto, script_resp);
        }
    }
}

/* An array: elements 1, 2, ... up to the first nil. */
static void reply_array(lua_State *L, resp_out *o, int proto, int script_resp)
{
    long long n = 0;
    for (;; n++) {
        lua_rawgeti(L, -1, (int)(n + 1));
        bool end = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (end)
            break;
    }
    resp_array(o, n);
    for (long long i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        script_reply_value(L, o, proto, script_resp);
    }
}

/* The table on top (left there), as Redis tells its kinds: err, ok, double, big_number,
   verbatim_string, map, set, else an array. */
static void reply_table(lua_State *L, resp_out *o, int proto, int script_resp)
{
    if (raw_field(L, "err", LUA_TSTRING)) {
        lua_pop(L, 1);
        lua_getfield(L, -1, "err");
        size_t n;
        const char *e = lua_tolstring(L, -1, &n);
        script_reply_error(o, e ? e : "", e ? n : 0);
        lua_pop(L, 1);
    } else if (raw_field(L, "ok", LUA_TSTRING)) {
        reply_status(L, o);
        lua_pop(L, 1);
    } else if (raw_field(L, "double", LUA_TNUMBER)) {
        resp_double(o, lua_tonumber(L, -1), proto);
        lua_pop(L, 1);
    } else if (raw_field(L, "big_number", LUA_TSTRING)) {
        reply_big_number(L, o, proto);
        lua_pop(L, 1);
    } else if (raw_field(L, "verbatim_string", LUA_TTABLE) &&
               (reply_verbatim(L, o, proto) || (lua_pop(L, 1), false))) {
        lua_pop(L, 1);
    } else if (raw_field(L, "map", LUA_TTABLE)) {
        reply_pairs(L, o, proto, script_resp, true);
        lua_pop(L, 1);
    } else if (raw_field(L, "set", LUA_TTABLE)) {
        reply_pairs(L, o, proto, script_resp, false);
        lua_pop(L, 1);
    } else {
        reply_array(L, o, proto, script_resp);
    }
}

void script_reply_value(lua_State *L, resp_out *o, int proto, int script_resp)
{
    if (!lua_checkstack(L, 8)) {
        resp_error(o, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        resp_bulk(o, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (script_resp == 2) {
            if (lua_toboolean(L, -1))
                resp_integer(o, 1);
            else
                resp_null(o, proto);
        } else {
            resp_bool(o, lua_toboolean(L, -1), proto);
        }
        break;
    case LUA_TNUMBER:
        resp_integer(o, number_to_integer(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE:
        reply_table(L, o, proto, script_resp);
        break;
    default:
        resp_null(o, proto);
    }
    lua_pop(L, 1);
}

/*
 * lib_random.c - Redis's math.random and math.randomseed: the rand48 generator (POSIX's
 * 48-bit linear congruence) instead of the C library's rand(), so every replica and every
 * platform draws the same sequence. Written from the POSIX definition of lrand48/srand48
 * and redis-server 7.0.15's replies, not from Redis's code.
 */
#include "libs.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>

#define RAND48_A 0x5DEECE66DULL
#define RAND48_C 0xBULL
#define RAND48_MASK ((1ULL << 48) - 1)
/* srand48's low 16 bits, and the state before any srand48 (POSIX's default seed). */
#define RAND48_LOW 0x330EULL
#define RAND48_DEFAULT 0x1234ABCD330EULL
/* Redis divides by INT32_MAX, taking the draw modulo INT32_MAX first (so r < 1). */
#define RANDOM_MAX 2147483647LL

static uint64_t rand48_state = RAND48_DEFAULT;

void script_random_reset(void)
{
    rand48_state = RAND48_DEFAULT;
}

/* lrand48: the next state's top 31 bits. */
static int64_t rand48_next(void)
{
    rand48_state = (RAND48_A * rand48_state + RAND48_C) & RAND48_MASK;
    return (int64_t)(rand48_state >> 17);
}

/* srand48: only the seed's low 32 bits count. */
static void rand48_seed(uint32_t seed)
{
    rand48_state = ((uint64_t)seed << 16) | RAND48_LOW;
}

/* Lua 5.1's luaL_checkint: the argument as lua_Integer, then cut to int (two's complement). */
static int arg_int(lua_State *L, int n)
{
    return (int)(uint32_t)(uint64_t)luaL_checkinteger(L, n);
}

/*
 * math.random(), math.random(u), math.random(l, u): as Lua 5.1's, drawing before the
 * arguments are checked (a failed call still advances the sequence, as in Redis).
 */
static int random_draw(lua_State *L)
{
    double r = (double)(rand48_next() % RANDOM_MAX) / (double)RANDOM_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        return 1;
    case 1: {
        int u = arg_int(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        return 1;
    }
    case 2: {
        int l = arg_int(L, 1);
        int u = arg_int(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        /* u - l + 1 in int arithmetic that wraps, as Redis's on every platform it runs on */
        int span = (int)((uint32_t)u - (uint32_t)l + 1u);
        lua_pushnumber(L, floor(r * span) + l);
        return 1;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
}

static int random_seed(lua_State *L)
{
    rand48_seed((uint32_t)arg_int(L, 1));
    return 0;
}

/* Replaces math.random and math.randomseed; the math table is at the top of L's stack. */
int script_random_open(lua_State *L)
{
    lua_pushcfunction(L, random_draw);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, random_seed);
    lua_setfield(L, -2, "randomseed");
    return 0;
}

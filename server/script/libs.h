/*
 * libs.h - the libraries Redis 7.0 gives scripts: cjson, bit, struct, cmsgpack, and its own
 * math.random / math.randomseed. Not the sandbox, EVAL or the `redis` table (other files of
 * server/script/). One file per library: lib_random.c, lib_struct.c, lib_msgpack_pack.c,
 * lib_msgpack_unpack.c, lib_cjson_guard.c; cjson and bit are Debian's (lua-cjson-dev,
 * lua-bitop-dev).
 */
#ifndef SHALE_SCRIPT_LIBS_H
#define SHALE_SCRIPT_LIBS_H

#include <lua.h>

/*
 * Registers the globals cjson, bit, struct and cmsgpack in L and replaces math.random and
 * math.randomseed with Redis's generator. The math library must be open already (the VM
 * set-up opens base, table, string and math first). Returns 0, -EINVAL without a math
 * table, -ENOMEM when Lua ran out of memory, -EIO on any other Lua error.
 */
int script_libs_open(lua_State *L);

/*
 * Redis's math.random: one rand48 state for the whole process, shared by every VM (EVAL's
 * and FUNCTION's), never reseeded before a script; it starts from rand48's default state at
 * process start and only math.randomseed changes it (redis-server 7.0.15: three EVALs of
 * math.random(1000000) give 396465, 840486, 353337, the default state's first three).
 * Scripts run one at a time under server->lock, which is what guards the state.
 */
void script_random_reset(void); /* back to the start-up state: for tests */
int script_random_open(lua_State *L);

/* Each pushes its library's table (not yet a global). */
int script_cjson_open(lua_State *L);
int script_struct_open(lua_State *L);
int script_msgpack_open(lua_State *L);

/* cmsgpack's two halves (lib_msgpack_pack.c, lib_msgpack_unpack.c). */
int script_msgpack_pack(lua_State *L);
int script_msgpack_unpack(lua_State *L);
int script_msgpack_unpack_one(lua_State *L);
int script_msgpack_unpack_limit(lua_State *L);

#endif

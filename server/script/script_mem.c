/*
 * script_mem.c - the Lua heap's allocator: counts every byte the Lua states of a
 * script_vm hold (INFO's used_memory_lua reads the count through lua_gc as well) and,
 * while armed, refuses to grow past lua-memory-limit. Lua turns a refused allocation into
 * a "not enough memory" error (LUA_ERRMEM) at the point of the allocation.
 *
 * It is armed only inside protected calls (a script's run, a compile): a memory error
 * outside one would reach Lua's panic function and end the server. What the server
 * itself allocates around a run (KEYS, ARGV, the reply's conversion) is bounded by the
 * command's size and is never refused.
 */
#include <stdio.h>
#include <stdlib.h>

#include "script_int.h"

void *script_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    script_vm *vm = ud;
    if (nsize == 0) {
        free(ptr);
        vm->lua_bytes -= osize;
        return NULL;
    }
    uint64_t limit = vm->s ? vm->s->cfg.lua_memory_limit : 0;
    if (vm->mem_armed && limit && nsize > osize && vm->lua_bytes - osize + nsize > limit) {
        vm->mem_refused = true;
        return NULL; /* Lua 5.1 never asks to shrink with a failure allowed: only growth */
    }
    void *p = realloc(ptr, nsize);
    if (p)
        vm->lua_bytes = vm->lua_bytes - osize + nsize;
    return p;
}

/* As luaL_newstate's: an error outside any protected call, which the code here avoids. */
static int panic(lua_State *L)
{
    fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n",
            lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    return 0;
}

lua_State *script_state_new(script_vm *vm)
{
    lua_State *L = lua_newstate(script_alloc, vm);
    if (L)
        lua_atpanic(L, panic);
    return L;
}

void script_mem_arm(script_vm *vm)
{
    vm->mem_refused = false;
    vm->mem_armed = true;
}

bool script_mem_disarm(script_vm *vm)
{
    vm->mem_armed = false;
    bool refused = vm->mem_refused;
    vm->mem_refused = false;
    return refused;
}

void script_mem_trim(script_vm *vm, bool refused)
{
    uint64_t limit = vm->s ? vm->s->cfg.lua_memory_limit : 0;
    /* garbage of earlier runs counts against the next one: collect it when it matters */
    if (refused || (limit && vm->lua_bytes > limit / 2))
        lua_gc(vm->L, LUA_GCCOLLECT, 0);
}

/*
 * script_int.h - what the files of the scripting room share: the state of the Lua VM and
 * of the script being run, and each file's entry points. Not for other rooms (script.h).
 */
#ifndef SHALE_SCRIPT_INT_H
#define SHALE_SCRIPT_INT_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "script.h"

typedef struct script_vm {
    lua_State *L;
    server *s;
    size_t nscripts;   /* cached scripts */
    size_t body_bytes; /* their bodies' bytes */
    client fake;     /* redis.call runs its commands as this client (Redis's lua client) */
    /* the run under way (running false between runs) */
    bool running;
    client *caller;
    const char *sha;
    bool read_only;  /* EVAL_RO / EVALSHA_RO */
    bool wrote;      /* a write command ran (later checks of the server state do not apply) */
    bool pre_oom;    /* over maxmemory / maxdisk when it started: denyoom commands refused */
    bool in_call;    /* inside redis.call (a hook calling it again is refused) */
    uint64_t start_ms;          /* the run's start (monotonic clock) */
    bool timed_out;             /* past busy-reply-threshold */
    bool kill_requested;        /* SCRIPT KILL: the hook raises the kill error */
    bool abandoned;             /* SHUTDOWN NOSAVE while busy: raised, batch not committed */
    int busy;                   /* timed_out, read without the lock (script_busy) */
    void (*busy_handler)(server *s); /* called from the hook while timed out (or NULL) */
    size_t lua_bytes; /* held by the Lua states of this vm (script_mem.c) */
    bool mem_armed;   /* lua-memory-limit applies (inside a protected call) */
    bool mem_refused; /* an allocation was refused since armed */
} script_vm;

/* The registry key of the script_vm pointer, and of the real globals table. */
#define SCRIPT_REG_VM "shale.vm"
#define SCRIPT_REG_GLOBALS "shale.globals"
#define SCRIPT_REG_CACHE "shale.scripts"       /* id -> function */
#define SCRIPT_REG_FLAGS "shale.script_flags" /* id -> its SCRIPT_* flags */

/* script_vm.c: a new sandboxed state with the redis API (NULL without memory). */
lua_State *script_vm_open(script_vm *vm);
/* The script_vm a C function of L runs for. */
script_vm *script_vm_of(lua_State *L);

/* script_api.c: the redis table into the globals at the top of the stack's table. */
void script_api_register(lua_State *L);

/* script_conv.c: a RESP reply (whole, p[0..n)) as a Lua value pushed on L, by Redis's
   conversion tables (RESP2 and RESP3). */
void script_push_reply(lua_State *L, const char *p, size_t n);
/* Pushes Redis's error table {err = "CODE msg"} for msg ("-CODE msg" or a bare "msg",
   which gets "ERR"); a trailing CR/LF goes. */
void script_push_error(lua_State *L, const char *msg, size_t n);
/* Pops the Lua value on top of L and writes it as the reply to a client speaking proto;
   script_resp is the script's redis.setresp (booleans differ). */
void script_reply_value(lua_State *L, resp_out *o, int proto, int script_resp);
/* Writes "-msg" with CR and LF as spaces (msg's own code kept; none added). */
void script_reply_error(resp_out *o, const char *msg, size_t n);

/* script_shebang.c: the flags of body's "#!lua flags=..." line (SCRIPT_COMPAT without
   one) and how many bytes the compiler skips (the line, not its newline). 0; -1 with
   Redis's error (without "ERR ") in err. */
int script_shebang_parse(const char *body, size_t n, uint32_t *flags, size_t *skip, char *err,
                         size_t cap);

/* script_mem.c: the allocator of the vm's Lua states (ud: the vm), counting and capping
   at lua-memory-limit while armed; a new state using it (NULL without memory). */
void *script_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
lua_State *script_state_new(script_vm *vm);
/* Arms the cap around a protected call; disarm says whether an allocation was refused. */
void script_mem_arm(script_vm *vm);
bool script_mem_disarm(script_vm *vm);
/* After a run (L's stack empty): a full collection when one was refused, or when the
   heap passed half the limit. */
void script_mem_trim(script_vm *vm, bool refused);

/* script_busy.c: the count hook of a run, set at its start and removed at its end. */
void script_hook_begin(script_vm *vm);
void script_hook_end(script_vm *vm);

/* script.c, for functions (functions.c) as for EVAL: the checks before a run of a script
   with these flags (false with the error replied), and the run of the function at index 2
   of vm's stack with its nargs arguments above it and script_push_handler's handler at
   index 1, as one atomic batch; name is what errors call it. */
bool script_admit(server *s, client *c, uint32_t flags, bool ro);
void script_run_prepared(script_vm *vm, client *c, const char *name, uint32_t flags, int nargs,
                         bool ro);
void script_push_handler(lua_State *L);

/* script_vm.c, for FUNCTION LOAD: pushes a read-only proxy of the table at idx whose
   missing fields raise Redis's "nonexistent global variable" error table; and points the
   globals of L at the table at idx (a script's globals are then read from it: a load's
   restricted ones, load true, or the real globals again, load false). */
void script_push_strict_proxy(lua_State *L, int idx);
void script_set_globals_source(lua_State *L, int idx, bool load);

/* functions.c: the functions' Lua state (NULL without one), for the busy checks. */
script_vm *functions_vm(const server *s);

/* script_call.c: redis.call (raise true) and redis.pcall. */
int script_call(lua_State *L, bool raise);

#endif

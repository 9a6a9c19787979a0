/*
 * script.c - the script cache and a script's run (script.h): compiled scripts live in a
 * registry table of the Lua state, by id; a run sets KEYS and ARGV, calls the script
 * under the error handler inside one key-layer transaction (EXEC's), and turns its
 * result or error into the caller's reply.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "functions.h"
#include "notify.h"
#include "script_int.h"
#include "sha1.h"

int script_init(server *s)
{
    script_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return -ENOMEM;
    vm->s = s;
    vm->fake.authenticated = true;
    vm->fake.in_script = true;
    vm->fake.proto = 2;
    vm->fake.fd = -1;
    snprintf(vm->fake.addr, sizeof vm->fake.addr, "lua");
    vm->L = script_vm_open(vm);
    if (!vm->L) {
        free(vm);
        return -ENOMEM;
    }
    s->script = vm;
    return 0;
}

void script_free(server *s)
{
    script_vm *vm = s->script;
    if (!vm)
        return;
    lua_close(vm->L);
    resp_out_free(&vm->fake.out);
    free(vm);
    s->script = NULL;
}

int script_flush(server *s)
{
    script_vm *vm = s->script;
    lua_State *L = script_vm_open(vm);
    if (!L)
        return -ENOMEM;
    lua_close(vm->L);
    vm->L = L;
    vm->nscripts = 0;
    vm->body_bytes = 0;
    return 0;
}

/* Pushes the cached function of sha (nil when none). */
static void push_cached(lua_State *L, const char *sha)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_CACHE);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
}

bool script_exists(server *s, const char *sha, size_t n)
{
    if (n != 40)
        return false;
    char lower[41];
    for (size_t i = 0; i < 40; i++)
        lower[i] = (char)tolower((unsigned char)sha[i]);
    lower[40] = '\0';
    lua_State *L = s->script->L;
    push_cached(L, lower);
    bool found = !lua_isnil(L, -1);
    lua_pop(L, 1);
    return found;
}

/* Replies "ERR <msg>" (the compile and shebang errors). */
static void reply_err(client *c, const char *msg)
{
    size_t ml = strlen(msg);
    char *full = malloc(ml + 5);
    if (!full) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    memcpy(full, "ERR ", 4);
    memcpy(full + 4, msg, ml + 1);
    script_reply_error(&c->out, full, ml + 4);
    free(full);
}

bool script_load(server *s, client *c, const char *body, size_t n, char sha[41])
{
    script_vm *vm = s->script;
    lua_State *L = vm->L;
    sha1_hex(body, n, sha);
    push_cached(L, sha);
    bool cached = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (cached)
        return true;
    uint32_t flags;
    size_t skip;
    char err[1024];
    if (script_shebang_parse(body, n, &flags, &skip, err, sizeof err)) {
        reply_err(c, err);
        return false;
    }
    script_mem_arm(vm);
    int failed = luaL_loadbuffer(L, body + skip, n - skip, "@user_script");
    bool refused = script_mem_disarm(vm);
    if (failed) {
        if (refused)
            script_mem_trim(vm, true);
        snprintf(err, sizeof err, "Error compiling script (new function): %s",
                 lua_tostring(L, -1));
        lua_pop(L, 1);
        reply_err(c, err);
        return false;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_CACHE);
    lua_insert(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_FLAGS);
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    vm->nscripts++;
    vm->body_bytes += n;
    return true;
}

/* The flags script sha was cached with. */
static uint32_t cached_flags(lua_State *L, const char *sha)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_FLAGS);
    lua_getfield(L, -1, sha);
    uint32_t flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
    return flags;
}

uint32_t script_declared_flags(server *s, const char *arg, size_t n, bool by_sha)
{
    char sha[41];
    if (by_sha) {
        if (n != 40)
            return SCRIPT_COMPAT;
        for (size_t i = 0; i < 40; i++)
            sha[i] = (char)tolower((unsigned char)arg[i]);
        sha[40] = '\0';
    } else {
        sha1_hex(arg, n, sha);
    }
    if (!s->script)
        return SCRIPT_COMPAT;
    lua_State *L = s->script->L;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_FLAGS);
    lua_getfield(L, -1, sha);
    bool cached = !lua_isnil(L, -1);
    uint32_t flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
    if (cached)
        return flags;
    if (by_sha)
        return SCRIPT_COMPAT;
    size_t skip;
    char err[160];
    if (script_shebang_parse(arg, n, &flags, &skip, err, sizeof err) < 0)
        return SCRIPT_COMPAT; /* the run answers the error */
    return flags;
}

int script_call_writes(server *s, const client *c, const command *row)
{
    bool fcall = row->fn == cmd_fcall || row->fn == cmd_fcall_ro;
    bool by_sha = row->fn == cmd_evalsha || row->fn == cmd_evalsha_ro;
    bool eval = by_sha || row->fn == cmd_eval || row->fn == cmd_eval_ro;
    if ((!fcall && !eval) || c->cmd.argc < 2)
        return -1;
    const resp_arg *name = &c->cmd.argv[1];
    uint32_t flags = fcall ? functions_declared_flags(s, name->p, name->len)
                           : script_declared_flags(s, name->p, name->len, by_sha);
    if (flags & SCRIPT_COMPAT)
        return -1;
    return !(flags & SCRIPT_NO_WRITES);
}

/* Sets global name (in the real globals) to an array of the strings v[0..n). */
static void set_array(lua_State *L, const char *name, const resp_arg *v, int n)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_GLOBALS);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].p, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

/* The error a run ended with (on top of L) as Redis words it: the table's err, then
   " script: <sha>, on <source>:<line>." when the handler found where. */
static void reply_run_error(script_vm *vm, client *c)
{
    lua_State *L = vm->L;
    char *msg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&msg, &len);
    if (!f) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    bool table = lua_istable(L, -1);
    if (table) {
        lua_pushstring(L, "err");
        lua_rawget(L, -2);
        table = lua_isstring(L, -1);
        lua_pop(L, 1);
    }
    if (!table) { /* not Redis's error table: what the error was, if a string */
        const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "execution failure";
        fprintf(f, "ERR Error running script %s, %.100s\n", vm->sha, e);
    } else {
        /* raw reads: outside the protected call a metamethod's error would abort */
        static const char *const fields[] = {"err", "source", "line"};
        for (int i = 0; i < 3; i++) {
            lua_pushstring(L, fields[i]);
            lua_rawget(L, -2 - i);
        }
        fputs(lua_tostring(L, -3), f);
        if (lua_isstring(L, -2) && lua_isstring(L, -1))
            fprintf(f, " script: %s, on %s:%s.", vm->sha, lua_tostring(L, -2),
                    lua_tostring(L, -1));
        lua_pop(L, 3);
    }
    fclose(f);
    script_reply_error(&c->out, msg, len);
    free(msg);
}

/* Over maxmemory / maxdisk at the start (after eviction, as Redis evicts before every
   command); inside EXEC, EXEC was admitted. */
static bool over_caps(server *s, client *c)
{
    if ((!s->cfg.maxmemory && !s->cfg.maxdisk) || ks_in_txn(&s->ks))
        return false;
    size_t from = c->out.len;
    bool ok = caps_admit(s, c);
    c->out.len = from;
    return !ok;
}

/* Redis's checks before a script with a shebang runs, from its declared flags (a script
   without one is checked command by command). False with the error replied. */
static bool admit_flags(server *s, client *c, uint32_t flags, bool over, bool ro)
{
    if (flags & SCRIPT_COMPAT)
        return true;
    if (over && !(flags & (SCRIPT_ALLOW_OOM | SCRIPT_NO_WRITES))) {
        resp_error(&c->out, s->caps.over_disk && !s->caps.over_memory
                                ? "OOM command not allowed when used disk > 'maxdisk'."
                                : "OOM command not allowed when used memory > 'maxmemory'.");
        return false;
    }
    if (flags & SCRIPT_NO_WRITES)
        return true;
    if (s->disk_error) {
        reply_disk_error(c, s->disk_error);
        return false;
    }
    if (ro) {
        resp_error(&c->out, "ERR Can not execute a script with write flag using *_ro command.");
        return false;
    }
    return true;
}

/* Whether the value on top is an error table whose error was counted already (raised by
   a command the script called, as Redis marks it). */
static bool counted_error(lua_State *L)
{
    if (!lua_istable(L, -1))
        return false;
    lua_pushstring(L, "ignore_error_stats_update");
    lua_rawget(L, -2);
    lua_pushstring(L, "err");
    lua_rawget(L, -3);
    bool yes = lua_toboolean(L, -2) && lua_isstring(L, -1);
    lua_pop(L, 2);
    return yes;
}

typedef struct reply_job {
    resp_out *out;
    int proto, script_resp;
} reply_job;

static int reply_protected(lua_State *L)
{
    reply_job *job = lua_touserdata(L, 1);
    lua_remove(L, 1); /* the value alone on the stack */
    script_reply_value(L, job->out, job->proto, job->script_resp);
    return 0;
}

/* The script's result (on top) as c's reply, converted in a protected call: a metamethod
   or an allocation failing in it is an error reply, not an abort of the server. */
static void reply_value(script_vm *vm, client *c)
{
    lua_State *L = vm->L;
    reply_job job = {&c->out, c->proto, vm->fake.proto};
    size_t from = c->out.len;
    lua_pushcfunction(L, reply_protected);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &job);
    lua_insert(L, -2);
    /* stack: function, job, value -> call with the job and the value as arguments */
    if (lua_pcall(L, 2, 0, 0)) {
        c->out.len = from;
        const char *e = lua_tostring(L, -1);
        char msg[512];
        int n = snprintf(msg, sizeof msg, "ERR Error running script %s, %.100s", vm->sha,
                         e ? e : "reply conversion failed");
        script_reply_error(&c->out, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    }
}

/* The error of a run that failed once the Lua heap reached lua-memory-limit (Lua's own
   "not enough memory" says neither which limit nor that the server is fine). */
static void reply_memory_error(script_vm *vm, client *c)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "ERR Error running script %s, Lua memory past lua-memory-limit (%llu bytes)",
                     vm->sha, (unsigned long long)vm->s->cfg.lua_memory_limit);
    script_reply_error(&c->out, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* Calls the function at index 2 of L with its nargs arguments above it (the error
   handler at index 1); the reply to c. */
static void call_script(script_vm *vm, client *c, int nargs)
{
    lua_State *L = vm->L;
    script_mem_arm(vm);
    int failed = lua_pcall(L, nargs, 1, 1);
    bool refused = script_mem_disarm(vm);
    c->error_counted = !refused && counted_error(L);
    if (failed && refused)
        reply_memory_error(vm, c);
    else if (failed)
        reply_run_error(vm, c);
    else
        reply_value(vm, c);
    lua_settop(L, 0);
    static unsigned runs;
    if (++runs % 50 == 0)
        lua_gc(L, LUA_GCSTEP, 50); /* a little collection often, not a long one rarely */
    script_mem_trim(vm, refused);
}

/* Pushes the error handler of L's sandbox. */
void script_push_handler(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_GLOBALS);
    lua_getfield(L, -1, "__redis__err__handler");
    lua_remove(L, -2);
}

void script_run(server *s, client *c, const char *sha, const resp_arg *keys, int nkeys,
                const resp_arg *args, int nargs, bool ro)
{
    script_vm *vm = s->script;
    lua_State *L = vm->L;
    lua_settop(L, 0);
    script_push_handler(L);
    push_cached(L, sha);
    if (lua_isnil(L, -1)) {
        lua_settop(L, 0);
        resp_error(&c->out, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    uint32_t flags = cached_flags(L, sha);
    if (!script_admit(s, c, flags, ro)) {
        lua_settop(L, 0);
        return;
    }
    set_array(L, "KEYS", keys, nkeys);
    set_array(L, "ARGV", args, nargs);
    script_run_prepared(vm, c, sha, flags, 0, ro);
}

bool script_admit(server *s, client *c, uint32_t flags, bool ro)
{
    bool over = over_caps(s, c);
    if (!admit_flags(s, c, flags, over, ro))
        return false;
    /* a script without flags meets the OOM state command by command; with flags it
       declared what it does, and was admitted for it */
    s->script->pre_oom = (flags & SCRIPT_COMPAT) && over;
    return true;
}

void script_run_prepared(script_vm *vm, client *c, const char *name, uint32_t flags, int nargs,
                         bool ro)
{
    server *s = vm->s;
    lua_State *L = vm->L;
    bool own_txn = !ks_in_txn(&s->ks);
    vm->pre_oom = s->script->pre_oom;
    if (own_txn) {
        int rc = ks_txn_begin(&s->ks);
        if (rc) {
            lua_settop(L, 0);
            ks_finish(s, c, rc);
            return;
        }
    }
    vm->running = true;
    vm->caller = c;
    vm->sha = name;
    vm->read_only = ro || (flags & SCRIPT_NO_WRITES);
    vm->wrote = false;
    vm->in_call = false;
    vm->fake.db = c->db;
    vm->fake.proto = 2;
    if (vm != s->script)
        vm->busy_handler = s->script->busy_handler;
    size_t from = c->out.len;
    script_hook_begin(vm);
    call_script(vm, c, nargs);
    script_hook_end(vm);
    vm->running = false;
    vm->caller = NULL;
    if (vm->abandoned) { /* SHUTDOWN NOSAVE: nothing of it is committed (EXEC's: multi.c) */
        c->out.len = from;
        c->close_after_reply = true;
        notify_drop_all(s);
        if (own_txn)
            ks_txn_abort(&s->ks);
        return;
    }
    if (!own_txn)
        return;
    int rc = ks_txn_commit(&s->ks);
    if (rc) {
        /* nothing of the batch was written: its reply would describe writes that are not
           there, and its events too */
        c->out.len = from;
        notify_drop_all(s);
        ks_finish(s, c, rc);
        return;
    }
    if (vm->wrote)
        server_wrote(s); /* with sync-writes yes the reply waits for the batch's sync */
    notify_flush(s);
}

size_t script_memory(const server *s)
{
    if (!s->script)
        return 0;
    lua_State *L = s->script->L;
    return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

size_t script_count(const server *s)
{
    return s->script ? s->script->nscripts : 0;
}

size_t script_body_bytes(const server *s)
{
    return s->script ? s->script->body_bytes : 0;
}

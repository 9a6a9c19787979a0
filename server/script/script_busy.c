/*
 * script_busy.c - a script past busy-reply-threshold (lua-time-limit), and its end by
 * SCRIPT KILL, as Redis 7.0 has them: a count hook looks at the clock every 100000 Lua
 * instructions; past the threshold the run is busy (logged once) and a handler the
 * network layer installs is called from there, where other clients could be answered
 * (-BUSY) and SCRIPT KILL served; a kill of a script that has not written makes the hook
 * raise "Script killed by user with SCRIPT KILL..." at every line from then on, so a
 * pcall in the script cannot swallow it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "script_int.h"

#define HOOK_INSTRUCTIONS 100000 /* as Redis: the clock is read this often */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    script_vm *vm = script_vm_of(L);
    if (!vm || !vm->running)
        return;
    long long limit = vm->s->cfg.busy_reply_threshold;
    uint64_t elapsed = now_ms() - vm->start_ms;
    if (!vm->timed_out && limit > 0 && elapsed >= (uint64_t)limit) {
        vm->timed_out = true;
        __atomic_store_n(&vm->busy, 1, __ATOMIC_RELEASE);
        fprintf(stderr,
                "shale-server: slow script detected: still in execution after %llu "
                "milliseconds. You can try killing the script using the SCRIPT KILL command. "
                "Script name is: %s.\n",
                (unsigned long long)elapsed, vm->sha ? vm->sha : "?");
    }
    if (vm->timed_out && vm->busy_handler)
        vm->busy_handler(vm->s);
    if (vm->kill_requested || vm->abandoned) {
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
        /* (Redis words a kill so for FUNCTION KILL too) */
        const char *msg = vm->abandoned ? "Script stopped by SHUTDOWN NOSAVE..."
                                        : "Script killed by user with SCRIPT KILL...";
        script_push_error(L, msg, strlen(msg));
        lua_error(L);
    }
}

void script_hook_begin(script_vm *vm)
{
    vm->start_ms = now_ms();
    vm->timed_out = false;
    vm->kill_requested = false; /* (abandoned stays: the server is stopping) */
    if (vm->s->cfg.busy_reply_threshold > 0)
        lua_sethook(vm->L, count_hook, LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
}

void script_hook_end(script_vm *vm)
{
    lua_sethook(vm->L, NULL, 0, 0);
    vm->timed_out = false;
    __atomic_store_n(&vm->busy, 0, __ATOMIC_RELEASE);
}

/* The state whose script or function is running (EVAL's or the functions'), or NULL. */
static script_vm *running_vm(const server *s)
{
    if (s->script && s->script->running)
        return s->script;
    script_vm *f = functions_vm(s);
    return f && f->running ? f : NULL;
}

/* Whether vm (lock held, or its busy flag only) is the functions' state: FCALL's run. */
static bool is_function(const server *s, const script_vm *vm)
{
    return vm && vm == functions_vm(s);
}

bool script_busy(const server *s)
{
    /* (s->script and s->functions are made at start and stay: safe without the lock) */
    const script_vm *f = functions_vm(s);
    return (s->script && __atomic_load_n(&s->script->busy, __ATOMIC_ACQUIRE)) ||
           (f && __atomic_load_n(&f->busy, __ATOMIC_ACQUIRE));
}

const char *script_busy_error(const server *s)
{
    return script_running_function(s)
               ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE."
               : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                 "SHUTDOWN NOSAVE.";
}

bool script_running_function(const server *s)
{
    return is_function(s, running_vm(s));
}

void script_abandon(server *s)
{
    script_vm *vm = running_vm(s);
    if (vm)
        vm->abandoned = true;
}

bool script_abandoned(const server *s)
{
    const script_vm *f = functions_vm(s);
    return (s->script && s->script->abandoned) || (f && f->abandoned);
}

int script_kill(server *s)
{
    return script_kill_run(s, script_running_function(s));
}

int script_kill_run(server *s, bool function)
{
    script_vm *vm = running_vm(s);
    if (!vm || !vm->running)
        return -ENOENT;
    if (vm->wrote)
        return -EPERM;
    if (is_function(s, vm) != function)
        return -EXDEV;
    vm->kill_requested = true;
    return 0;
}

void script_set_busy_handler(server *s, void (*fn)(server *s))
{
    if (s->script)
        s->script->busy_handler = fn;
}

void script_lock_idle(server *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        if (!script_busy(s))
            return;
        pthread_mutex_unlock(&s->lock);
        struct timespec nap = {0, 10 * 1000000L};
        nanosleep(&nap, NULL);
    }
}

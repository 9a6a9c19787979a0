/*
 * script_call.c - redis.call and redis.pcall: the arguments as a command, Redis's checks
 * for commands from scripts (a known command, arity, not a noscript one, no writes from a
 * read-only script, no denyoom command over the caps before the first write), the run
 * through the command table as the script's own client, and its reply as Lua values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "repl.h"
#include "repl_replica.h"
#include "tracking.h"
#include "script_int.h"

/* Pushes Redis's error table for a check that refused the command, marked as counted. */
static void push_refusal(lua_State *L, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ignore_error_stats_update");
}

/* The arguments on L's stack (numbers formatted as Redis does, %.17g) copied into one
   malloc'ed block: the resp_arg array, then the bytes (*out; free it). 0; -1 when one is
   neither a string nor a number; -ENOMEM. */
static int collect_args(lua_State *L, int argc, resp_arg **out)
{
    size_t bytes = 0;
    for (int i = 1; i <= argc; i++) {
        if (lua_type(L, i) == LUA_TNUMBER) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%.17g", (double)lua_tonumber(L, i));
            lua_pushstring(L, tmp);
            lua_replace(L, i);
        } else if (lua_type(L, i) != LUA_TSTRING) {
            return -1;
        }
        bytes += lua_objlen(L, i);
    }
    resp_arg *argv = malloc((size_t)(unsigned)argc * sizeof *argv + bytes + 1);
    if (!argv)
        return -ENOMEM;
    char *p = (char *)(argv + argc);
    for (int i = 1; i <= argc; i++) {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        memcpy(p, s, n);
        argv[i - 1].p = p;
        argv[i - 1].len = n;
        p += n;
    }
    *out = argv;
    return 0;
}

/* Commands Redis 7.0 marks may-replicate (refused from read-only scripts as writes). */
static bool may_replicate(const command *cmd)
{
    return strcmp(cmd->name, "publish") == 0 || strcmp(cmd->name, "spublish") == 0;
}

/* Redis's checks before a command from a script; NULL when it may run, else the error. */
static const char *refusal(script_vm *vm, const command *row, int argc)
{
    if ((row->arity > 0 && argc != row->arity) || (row->arity < 0 && argc < -row->arity))
        return "Wrong number of args calling Redis command from script";
    uint32_t flags = command_redis_flags(row);
    if (flags & CF_NOSCRIPT)
        return "This Redis command is not allowed from script";
    bool writes = (flags & CF_WRITE) || (row->flags & W);
    if (vm->read_only && (writes || may_replicate(row)))
        return "Write commands are not allowed from read-only scripts.";
    /* (a script that declares flags was refused before it ran; once it has written, a
       later write is not refused: it cannot be undone) */
    if (writes && repl_is_replica(vm->s))
        return "-" REPL_READONLY;
    if (writes && !vm->wrote && !repl_enough_good_replicas(vm->s))
        return "-" REPL_NOREPLICAS;
    if (!vm->wrote && vm->pre_oom && (flags & CF_DENYOOM))
        return "-OOM command not allowed when used memory > 'maxmemory'.";
    return NULL;
}

/* The command's row (a container's subcommand when it has one); NULL: unknown. */
static const command *find_row(const resp_arg *argv, int argc, const command **base)
{
    const command *cmd = command_lookup(argv[0].p, argv[0].len);
    *base = cmd;
    if (!cmd || !cmd->fn)
        return NULL;
    if (argc < 2 || !command_nsubs(cmd))
        return cmd;
    return command_sub_lookup(cmd, argv[1].p, argv[1].len);
}

/* A command refused before it ran counts as Redis counts it: a rejected call of the
   command (when known), and its error in errorstats (once: the script's own error reply
   is then not counted again). */
static void count_refusal(server *s, const command *row, const char *why)
{
    if (row)
        cmdstats_reject(&s->cmds, command_table_size(), command_slot(row));
    char msg[256];
    int n = why[0] == '-' ? snprintf(msg, sizeof msg, "%s", why + 1)
                          : snprintf(msg, sizeof msg, "ERR %s", why);
    cmdstats_error_reply(&s->cmds, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* Runs the command as the script's client; its reply is left in the client's output.
   Nothing here raises a Lua error (the recursion guard must be reset). */
static void run_command(script_vm *vm, const command *base, resp_arg *argv, int argc)
{
    server *s = vm->s;
    client *f = &vm->fake;
    f->out.len = 0;
    if ((command_redis_flags(base) & CF_WRITE) || (base->flags & W))
        vm->wrote = true;
    int unsynced = __atomic_load_n(&s->unsynced_error, __ATOMIC_RELAXED);
    if (unsynced && (base->flags & (R | W))) {
        reply_unsynced_error(f, unsynced); /* as the dispatcher refuses data commands */
    } else if (s->disk_error && (base->flags & W)) {
        reply_disk_error(f, s->disk_error);
    } else {
        f->cmd.argv = argv;
        f->cmd.argc = argc;
        command_call(s, f, base, 0);
        f->cmd.argv = NULL;
        f->cmd.argc = 0;
    }
    if (f->out.err) {
        f->out.err = 0;
        f->out.len = 0;
        reply_engine_error(f, -ENOMEM);
    }
}

int script_call(lua_State *L, bool raise)
{
    script_vm *vm = script_vm_of(L);
    if (!vm || !vm->running) {
        push_refusal(L, "redis.call/pcall can only be called inside a script invocation");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc == 0) {
        push_refusal(L, "Please specify at least one argument for this redis lib call");
        return raise ? lua_error(L) : 1;
    }
    resp_arg *argv = NULL;
    int rc = collect_args(L, argc, &argv);
    if (rc == -ENOMEM)
        return luaL_error(L, "not enough memory");
    lua_settop(L, 0); /* room for the reply, however many arguments there were */
    if (rc) {
        push_refusal(L, "Lua redis lib command arguments must be strings or integers");
        return raise ? lua_error(L) : 1;
    }
    if (vm->in_call) {
        free(argv);
        push_refusal(L, "luaRedisGenericCommand() recursive call detected. Are you doing funny "
                        "stuff with Lua debug hooks?");
        return 1;
    }
    const command *base;
    const command *row = find_row(argv, argc, &base);
    const char *why = row ? refusal(vm, row, argc) : "Unknown Redis command called from script";
    if (why) {
        count_refusal(vm->s, row, why);
        free(argv);
        push_refusal(L, why);
        return raise ? lua_error(L) : 1;
    }
    vm->in_call = true;
    run_command(vm, base, argv, argc);
    vm->in_call = false;
    if (command_redis_flags(row) & CF_READONLY)
        tracking_script_read(vm->s, vm->caller);
    free(argv);
    client *f = &vm->fake;
    bool failed = f->out.len && f->out.data[0] == '-';
    size_t len = f->out.len;
    f->out.len = 0; /* (the buffer stays valid: nothing writes to it while converting) */
    script_push_reply(L, f->out.data, len);
    if (failed && raise)
        return lua_error(L);
    return 1;
}

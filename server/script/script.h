/*
 * script.h - Lua scripting as Redis 7.0's EVAL family does it: one Lua 5.1 state per
 * server (the dialect Redis embeds), sandboxed as Redis's, a cache of compiled scripts
 * named by the SHA-1 of their bodies, and a run of one script as one atomic unit: it runs
 * under the server's lock, its redis.call commands go through the command table, and
 * its writes commit as one engine batch (ks_txn, as EXEC). The commands are in
 * commands/t_script.c; this room is the machinery. Lock held for every call.
 */
#ifndef SHALE_SCRIPT_H
#define SHALE_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

struct command;

/* Makes the scripting state (s->script): 0 or -ENOMEM. script_free(NULL state) is a no-op. */
int script_init(server *s);
void script_free(server *s);

/* Compiles body into the cache (an already cached one is not compiled again) and puts
   its id in sha. True; false with the compile error replied to c (Redis's wording). */
bool script_load(server *s, client *c, const char *body, size_t n, char sha[41]);
/* Whether a script with this id (40 hex digits, any case) is cached. */
bool script_exists(server *s, const char *sha, size_t n);
/* Forgets every cached script: a new Lua state replaces the old one (SCRIPT FLUSH). */
int script_flush(server *s);

/* A script's flags: its shebang's, or SCRIPT_COMPAT without one (Redis's eval mode of
   older versions: no checks before it runs, the commands' own as they come). */
enum {
    SCRIPT_COMPAT = 1u << 0,
    SCRIPT_NO_WRITES = 1u << 1,
    SCRIPT_ALLOW_OOM = 1u << 2,
    SCRIPT_ALLOW_STALE = 1u << 3,
    SCRIPT_NO_CLUSTER = 1u << 4,
    SCRIPT_ALLOW_CROSS_SLOT = 1u << 5,
};

/* The flags the script an EVAL-family call names declares, read before it runs as Redis's
   evalGetCommandFlags does (CLIENT PAUSE WRITE holds a call by them): arg is the body
   (by_sha false: the cached script's flags, or else its shebang's) or the SHA (true: the
   cached script's). SCRIPT_COMPAT when it declares none (no shebang, a bad one, an
   unknown SHA): the command's own flags apply then. */
uint32_t script_declared_flags(server *s, const char *arg, size_t n, bool by_sha);
/* A script call as Redis flags it before it runs (scriptFlagsToCmdFlags): for c's command
   (row: EVAL, EVALSHA, their _RO forms, FCALL, FCALL_RO), 1 when its script or function
   declares flags without no-writes (a write), 0 with no-writes (neither a write nor
   may_replicate), -1 when it declares none or row is no script call (the row's own flags
   apply). */
int script_call_writes(server *s, const client *c, const struct command *row);

/*
 * Runs the cached script sha (40 lower-case hex digits) for c with KEYS = keys[0..nkeys)
 * and ARGV = args[0..nargs): its reply, or its error, goes to c->out. ro: EVAL_RO /
 * EVALSHA_RO (write commands refused). Outside a transaction its writes commit as one
 * batch; inside EXEC they join EXEC's.
 */
void script_run(server *s, client *c, const char *sha, const resp_arg *keys, int nkeys,
                const resp_arg *args, int nargs, bool ro);

/*
 * Scripts past busy-reply-threshold (lua-time-limit, ms; 0 never), as Redis 7.0: the
 * script holds the server's lock from start to end, and once past the threshold the busy
 * handler (installed by the network layer) is called from inside it, about every 100000
 * Lua instructions: there the lock is lent to the other loops and the script's own loop
 * is polled, so other clients are answered while only what Redis allows during a busy
 * script runs (command.c: -BUSY for the rest).
 * - script_busy: a script runs past the threshold. Any thread, lock or not (an atomic).
 * - script_busy_error: the -BUSY text for it (without the '-'): SCRIPT KILL's for EVAL,
 *   FUNCTION KILL's for FCALL.
 * - script_running_function: the running script is a function's (FCALL).
 * - script_kill: asks the running script to stop: 0 (it raises "Script killed by user
 *   with SCRIPT KILL..." at its next hook), -ENOENT when none runs (Redis's NOTBUSY),
 *   -EPERM when it has written (UNKILLABLE: only SHUTDOWN NOSAVE ends it). Lock held.
 * - script_abandon: SHUTDOWN NOSAVE during a busy script: it raises at its next hook
 *   whatever it wrote, and its batch (or its EXEC's) is dropped, never committed: none of
 *   its writes becomes visible or durable. script_abandoned tells EXEC. Lock held.
 */
bool script_busy(const server *s);
/* Takes s->lock at a moment no script is busy: a busy script lends the lock to serve
   -BUSY, and a thread other than the event loops that changes data (a replica's full
   sync swapping its store in) must not take it then. Waits, polling every 10 ms. */
void script_lock_idle(server *s);
const char *script_busy_error(const server *s);
bool script_running_function(const server *s);
int script_kill(server *s);
/* script_kill for SCRIPT KILL (function false) or FUNCTION KILL (true): -EXDEV when the
   running script is of the other kind (and has not written), as Redis refuses it then. */
int script_kill_run(server *s, bool function);
void script_abandon(server *s);
bool script_abandoned(const server *s);
void script_set_busy_handler(server *s, void (*fn)(server *s));

/* Bytes the Lua state uses (INFO memory's used_memory_lua; counted in used_memory and so
   against maxmemory). 0 without a scripting state. */
size_t script_memory(const server *s);
/* Cached scripts (INFO memory's number_of_cached_scripts), and the bytes of their bodies
   (used_memory_scripts_eval). 0 without a scripting state. */
size_t script_count(const server *s);
size_t script_body_bytes(const server *s);

#endif

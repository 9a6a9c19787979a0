/*
 * functions.h - Redis 7.0's functions (FUNCTION LOAD ..., FCALL): libraries of Lua
 * functions named in a "#!lua name=<lib>" first line, registered by the library's code
 * with redis.register_function when it is loaded, run as EVAL runs a script (one atomic
 * batch, script.h) in a Lua state of their own, as Redis keeps them apart from EVAL's.
 * Libraries persist with the data: one engine record per library ('F' | name -> code,
 * written in the command's batch), loaded again at startup. Lock held for every call.
 */
#ifndef SHALE_FUNCTIONS_H
#define SHALE_FUNCTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* The functions' state (s->functions) with the libraries stored in s->ks compiled again:
   0, -ENOMEM, an engine error, or -EINVAL when a stored library does not load (told on
   stderr). functions_free(NULL state) is a no-op. */
int functions_init(server *s);
void functions_free(server *s);
/* The libraries compiled again from the store, in the same functions' state (a replica
   applied a record that wrote one): 0, or functions_init's errors (a library that does
   not load is left out, told on stderr). */
int functions_reload(server *s);

/* The FUNCTION subcommands and FCALL / FCALL_RO (t_function.c parses, these reply). */
void functions_load(server *s, client *c, const char *code, size_t n, bool replace);
void functions_list(server *s, client *c, const resp_arg *pattern, bool with_code);
void functions_delete(server *s, client *c, const resp_arg *name);
void functions_flush(server *s, client *c);
void functions_stats(server *s, client *c);
void functions_dump(server *s, client *c);
/* policy: 'F' flush, 'A' append, 'R' replace */
void functions_restore(server *s, client *c, const resp_arg *payload, int policy);
void functions_call(server *s, client *c, bool ro);
/* FUNCTION KILL: stops a running function that has not written; NOTBUSY, UNKILLABLE, or
   -BUSY when what runs is an EVAL script (SCRIPT KILL's), as Redis. (SCRIPT KILL on a
   running function answers -BUSY "...You can only call FUNCTION KILL...": the network
   layer's, with functions_running.) */
void functions_kill(server *s, client *c);
/* The flags function name declares (SCRIPT_*, script.h), read before FCALL runs as
   Redis's fcallGetCommandFlags does; SCRIPT_COMPAT for an unknown function (FCALL's own
   flags apply). */
uint32_t functions_declared_flags(server *s, const char *name, size_t n);
/* Whether the running script is a function (FCALL), not an EVAL script. */
bool functions_running(const server *s);

/* INFO memory: the functions' Lua state's bytes (used_memory_vm_functions), the bytes of
   the libraries' bookkeeping (used_memory_functions), and the counts. */
size_t functions_vm_memory(const server *s);
size_t functions_memory(const server *s);
size_t functions_count(const server *s);
size_t functions_library_count(const server *s);

#endif

/*
 * command.h - the command table as the commands room reads it: a row (name, arity, the
 * flags the dispatcher acts on, key positions, group, summary, handler), the rows of the
 * subcommands of container commands (CONFIG GET is "config|get"), and what Redis 7.0 says
 * about each (command_facts.h), found by name. The table itself is in command.c; COMMAND
 * in t_command.c; where a call's keys are in command_keys.c.
 */
#ifndef SHALE_COMMAND_H
#define SHALE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "command_facts.h"
#include "server.h"

/* Row flags the dispatcher acts on (COMMAND INFO shows Redis's own, command_facts.h). */
/* M: may add data (Redis's denyoom): refused with -OOM over maxmemory or maxdisk. */
/* NOTOUCH: looking at a key is not a use of it (LRU/LFU), as Redis's LOOKUP_NOTOUCH. */
/* PROTECTED: refused unless enable-debug-command allows it (Redis 7's protected DEBUG). */
enum {
    W = 1,
    R = 2,
    FAST = 4,
    NOAUTH = 8,
    ADMIN = 16,
    M = 32,
    NOTOUCH = 64,
    PROTECTED = 128,
    NOMULTI = 256, /* refused inside MULTI (Redis's no-multi) */
};

typedef struct command {
    const char *name; /* lower case; "parent|sub" for a subcommand */
    int arity;        /* Redis's convention: N exact, -N at least N, counting the name */
    int flags;
    int first_key, last_key, step; /* the legacy key range (0 0 0: no keys) */
    const char *group, *summary;
    command_fn fn; /* NULL for a subcommand: its parent's handler runs it */
} command;

/* The row of name (a command, or "parent|sub"), any case; NULL when shale has none. */
const command *command_lookup(const char *p, size_t n);
/* The row of a command's subcommand named p, or NULL. */
const command *command_sub_lookup(const command *parent, const char *p, size_t n);
/* The top-level commands (COMMAND COUNT) and their rows in table order. */
size_t command_count(void);
const command *command_at(size_t i);
/* A container's subcommands (0 for others) and the i-th. */
size_t command_nsubs(const command *cmd);
const command *command_sub_at(const command *cmd, size_t i);
/* The parent of a subcommand row, NULL for a command. */
const command *command_parent(const command *cmd);
/* The statistics slot of a row (command_table_name's numbering). */
size_t command_slot(const command *cmd);

/* What Redis says about the row (by its name), NULL for a command Redis does not have. */
const command_facts *command_facts_of(const command *cmd);
/* Redis's command flags (CF_*) of the row: its facts', else what its row flags say. */
uint32_t command_redis_flags(const command *cmd);
/* Its ACL categories (ACL_*): its facts', else implied by its flags and group. */
uint32_t command_acl(const command *cmd);
/* Its key specs: its facts', else the one its first/last/step and flags imply (*tmp holds
   it). The count; *specs set. */
size_t command_key_specs(const command *cmd, const key_spec **specs, key_spec *tmp);

/* command_flags.c - a command's flags as Redis reads them before it runs
   (getCommandFlags). The row Redis reads them on: a container's subcommand's. */
const command *command_row_of(const client *c, const command *cmd);
/* Whether it is a write (Redis's CMD_WRITE): the row's flag, a script call's by the flags
   its script declares (script_call_writes), EXEC's by its queue's (as flagged when each
   command was queued). Lock held. */
bool command_writes(server *s, const client *c, const command *cmd);
/* Whether it may write or be replicated: the writes, and what Redis flags may_replicate
   (PUBLISH; EVAL, EVALSHA and FCALL of a script that declares no flags). Lock held. */
bool command_may_replicate(server *s, const client *c, const command *cmd);

/* Runs cmd (admitted) on c->cmd: the handler, its statistics, slowlog and latency
   events; its reply starts at out offset from. EXEC runs its queue through it. */
void command_call(server *s, client *c, const command *cmd, size_t from);

/* ---- where a call's keys are (command_keys.c) ---- */

typedef struct command_key {
    int pos;        /* in argv (0 is the command name) */
    uint16_t flags; /* KSF_*; 0 where Redis's finder does not tell */
} command_key;

/*
 * The keys of argv[0..argc) (argv[0] the command's name, argv[1] a subcommand's) as Redis
 * 7.0 finds them: from the key specs, or when a spec cannot say (an unknown or incomplete
 * one, keys whose flags depend on the arguments, a count that does not parse) from the
 * command's own finder. *out is malloc'ed (free it; NULL when none). The number of keys,
 * or -ENOMEM.
 */
int command_keys(const command *cmd, const resp_arg *argv, int argc, command_key **out);
/* True when the command may have keys (a spec that is not not_key, or a finder). */
bool command_has_keys(const command *cmd);

#endif

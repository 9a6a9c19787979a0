/*
 * command_flags.c - a command's flags as Redis reads them before it runs
 * (getCommandFlags): the row's (a container's subcommand's), a script call's from the
 * flags its script declares, EXEC's from its queue's. CLIENT PAUSE, min-replicas-to-write
 * and a monitor's limits judge a command by them.
 */
#include <string.h>

#include "command.h"
#include "multi.h"
#include "script.h"

const command *command_row_of(const client *c, const command *cmd)
{
    if (command_nsubs(cmd) && c->cmd.argc >= 2) {
        const command *sub = command_sub_lookup(cmd, c->cmd.argv[1].p, c->cmd.argv[1].len);
        if (sub)
            return sub;
    }
    return cmd;
}

/* Redis 7.0's commands flagged may_replicate besides the write ones. Those shale has not
   (yet) are named so that they count once they land. */
static bool flagged_may_replicate(const command *row)
{
    static const char *const names[] = {"publish", "spublish", "pfcount",
                                        "eval",    "evalsha",  "fcall"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(row->name, names[i]) == 0)
            return true;
    return false;
}

static bool row_writes(const command *row)
{
    return (row->flags & W) || (command_redis_flags(row) & CF_WRITE);
}

bool command_writes(server *s, const client *c, const command *cmd)
{
    if (cmd->fn == cmd_exec)
        return multi_queued_writes(c);
    const command *row = command_row_of(c, cmd);
    int script = script_call_writes(s, c, row);
    return script >= 0 ? script : row_writes(row);
}

bool command_may_replicate(server *s, const client *c, const command *cmd)
{
    if (cmd->fn == cmd_exec)
        return multi_queued_may_replicate(c);
    const command *row = command_row_of(c, cmd);
    /* a script that declares flags is no longer may_replicate (scriptFlagsToCmdFlags) */
    int script = script_call_writes(s, c, row);
    if (script >= 0)
        return script;
    return row_writes(row) || flagged_may_replicate(row);
}

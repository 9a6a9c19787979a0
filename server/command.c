/*
 * command.c - the command table: name, arity (Redis's convention: N exact, -N at least
 * N, counting the name), handler. Wrong arity and unknown commands are answered here,
 * with Redis 7.0's words, before any handler runs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server.h"

typedef struct command {
    const char *name;
    int arity;
    command_fn fn;
} command;

static const command commands[] = {
    {"ping", -1, cmd_ping}, {"echo", 2, cmd_echo}, {"quit", -1, cmd_quit},     {"get", 2, cmd_get},
    {"set", -3, cmd_set},   {"del", -2, cmd_del},  {"exists", -2, cmd_exists},
};

static const command *lookup(const resp_arg *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strlen(commands[i].name) == name->len &&
            strncasecmp(commands[i].name, name->p, name->len) == 0)
            return &commands[i];
    return NULL;
}

/* Appends "'arg' " for up to 128 bytes of arguments, as Redis's unknown-command error. */
static void unknown(client *c)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: ",
                     (int)(c->cmd.argv[0].len > 128 ? 128 : c->cmd.argv[0].len), c->cmd.argv[0].p);
    for (int i = 1; i < c->cmd.argc && n < (int)sizeof msg - 140; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, "'%.*s' ",
                      (int)(c->cmd.argv[i].len > 128 ? 128 : c->cmd.argv[i].len), c->cmd.argv[i].p);
    resp_error(&c->out, msg);
}

void command_dispatch(server *s, client *c)
{
    if (c->cmd.argc == 0)
        return;
    const command *cmd = lookup(&c->cmd.argv[0]);
    if (!cmd) {
        unknown(c);
        return;
    }
    int argc = c->cmd.argc;
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        char msg[160];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", cmd->name);
        resp_error(&c->out, msg);
        return;
    }
    cmd->fn(s, c);
}

void reply_engine_error(client *c, int rc)
{
    char msg[256];
    if (rc == SHALE_ESTALL)
        snprintf(msg, sizeof msg, "BUSY shale write stall, retry later");
    else if (rc == SHALE_EFAILED || rc == -ENOSPC)
        snprintf(msg, sizeof msg, "MISCONF shale cannot write to disk (%s); writes are refused",
                 shale_strerror(rc));
    else
        snprintf(msg, sizeof msg, "ERR %s", shale_strerror(rc));
    resp_error(&c->out, msg);
}

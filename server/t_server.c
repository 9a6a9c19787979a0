/* t_server.c - connection commands: PING, ECHO, QUIT. */
#include "server.h"

void cmd_ping(server *s, client *c)
{
    if (c->cmd.argc > 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->cmd.argc == 2)
        resp_bulk(&c->out, c->cmd.argv[1].p, c->cmd.argv[1].len);
    else
        resp_simple(&c->out, "PONG");
}

void cmd_echo(server *s, client *c)
{
    resp_bulk(&c->out, c->cmd.argv[1].p, c->cmd.argv[1].len);
}

void cmd_quit(server *s, client *c)
{
    resp_simple(&c->out, "OK");
    c->close_after_reply = true;
}

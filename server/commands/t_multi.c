/* t_multi.c - MULTI EXEC DISCARD WATCH UNWATCH (the machinery: multi/multi.h). */
#include <errno.h>

#include "multi.h"

void cmd_multi(server *s, client *c)
{
    int rc = multi_start(c);
    if (rc == -ENOMEM)
        reply_engine_error(c, rc);
    else if (rc)
        resp_error(&c->out, "ERR MULTI calls can not be nested");
    else
        resp_simple(&c->out, "OK");
}

void cmd_exec(server *s, client *c)
{
    if (!multi_active(c)) {
        resp_error(&c->out, "ERR EXEC without MULTI");
        return;
    }
    multi_exec(s, c);
}

void cmd_discard(server *s, client *c)
{
    if (!multi_active(c)) {
        resp_error(&c->out, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard(s, c);
    resp_simple(&c->out, "OK");
}

void cmd_watch(server *s, client *c)
{
    if (multi_active(c)) {
        resp_error(&c->out, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    if (!c->mx && multi_start(c) == 0)
        multi_discard(s, c); /* makes the state, not in MULTI */
    if (!c->mx) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    for (int i = 1; i < c->cmd.argc; i++) {
        int rc = watch_key(s, c, c->cmd.argv[i].p, c->cmd.argv[i].len);
        if (rc) {
            if (rc == -ENOMEM)
                reply_engine_error(c, rc);
            else
                reply_read_error(c, rc);
            return;
        }
    }
    resp_simple(&c->out, "OK");
}

void cmd_unwatch(server *s, client *c)
{
    if (c->mx) {
        watch_forget_all(s, c);
        c->mx->dirty_cas = false;
    }
    resp_simple(&c->out, "OK");
}

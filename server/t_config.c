/* t_config.c - CONFIG GET SET RESETSTAT REWRITE HELP. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "server.h"

typedef struct get_ctx {
    resp_out body;
    long long n;
    const char *seen[64];
} get_ctx;

static void emit(void *ctx, const char *name, const char *value)
{
    get_ctx *g = ctx;
    for (long long i = 0; i < g->n && i < 64; i++) /* several patterns may match one name */
        if (g->seen[i] == name)
            return;
    if (g->n < 64)
        g->seen[g->n] = name;
    resp_bulk_cstr(&g->body, name);
    resp_bulk_cstr(&g->body, value);
    g->n++;
}

void cmd_config(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (arg_is(&a[1], "get") && argc >= 3) {
        get_ctx g = {0};
        for (int i = 2; i < argc; i++)
            config_get(&s->cfg, a[i].p, a[i].len, emit, &g);
        resp_map(&c->out, g.n, c->proto);
        resp_raw(&c->out, g.body.data, g.body.len);
        resp_out_free(&g.body);
    } else if (arg_is(&a[1], "set") && argc >= 4 && argc % 2 == 0) {
        server_config saved = s->cfg;
        for (int i = 2; i < argc; i += 2) {
            char name[128], value[4096], err[256];
            snprintf(name, sizeof name, "%.*s", (int)(a[i].len < 127 ? a[i].len : 127), a[i].p);
            snprintf(value, sizeof value, "%.*s", (int)(a[i + 1].len < 4095 ? a[i + 1].len : 4095),
                     a[i + 1].p);
            if (config_set_live(&s->cfg, s->db, name, value, err, sizeof err)) {
                char msg[512];
                if (strcmp(err, "Unknown option") == 0)
                    snprintf(msg, sizeof msg,
                             "ERR Unknown option or number of arguments for CONFIG SET - '%s'", name);
                else
                    snprintf(msg, sizeof msg,
                             "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name,
                             err);
                s->cfg = saved; /* all or nothing, as in Redis 7 */
                resp_error(&c->out, msg);
                return;
            }
        }
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "set") && argc >= 3) {
        resp_error(&c->out, "ERR wrong number of arguments for 'config|set' command");
    } else if (arg_is(&a[1], "resetstat") && argc == 2) {
        memset(&s->stats, 0, sizeof s->stats);
        cmdstats_reset(&s->cmds);
        s->ks.expired_keys = 0;
        s->latency_max_us = 0;
        resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "rewrite") && argc == 2) {
        int rc = config_rewrite(&s->cfg);
        if (rc == -ENOENT)
            resp_error(&c->out, "ERR The server is running without a config file");
        else if (rc)
            resp_error(&c->out, "ERR Rewriting config file: cannot write it");
        else
            resp_simple(&c->out, "OK");
    } else if (arg_is(&a[1], "get") && argc == 2) {
        resp_error(&c->out, "ERR wrong number of arguments for 'config|get' command");
    } else {
        reply_subcommand_error(c);
    }
}

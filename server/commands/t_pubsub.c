/*
 * t_pubsub.c - the pub/sub commands as Redis 7.0 has them: SUBSCRIBE UNSUBSCRIBE
 * PSUBSCRIBE PUNSUBSCRIBE PUBLISH SSUBSCRIBE SUNSUBSCRIBE SPUBLISH and PUBSUB's
 * introspection. The registry and the delivery are in server/pubsub/ (pubsub.h); the
 * subscribed-mode rule of RESP2 is the dispatcher's (command.c), PING's reply in that mode
 * is t_conn.c's.
 */
#include <ctype.h>
#include <stdio.h>

#include "args.h"
#include "pubsub.h"
#include "server.h"

static void subscribe_each(server *s, client *c, enum pubsub_kind kind)
{
    for (int i = 1; i < c->cmd.argc; i++)
        if (pubsub_subscribe(s, c, kind, c->cmd.argv[i].p, c->cmd.argv[i].len)) {
            resp_error(&c->out, "OOM command not allowed: out of memory");
            return;
        }
}

static void unsubscribe_each(server *s, client *c, enum pubsub_kind kind)
{
    if (c->cmd.argc == 1) {
        pubsub_unsubscribe_all(s, c, kind);
        return;
    }
    for (int i = 1; i < c->cmd.argc; i++)
        pubsub_unsubscribe(s, c, kind, c->cmd.argv[i].p, c->cmd.argv[i].len);
}

void cmd_subscribe(server *s, client *c)
{
    subscribe_each(s, c, PUBSUB_CHANNEL);
}

void cmd_unsubscribe(server *s, client *c)
{
    unsubscribe_each(s, c, PUBSUB_CHANNEL);
}

void cmd_psubscribe(server *s, client *c)
{
    subscribe_each(s, c, PUBSUB_PATTERN);
}

void cmd_punsubscribe(server *s, client *c)
{
    unsubscribe_each(s, c, PUBSUB_PATTERN);
}

void cmd_ssubscribe(server *s, client *c)
{
    subscribe_each(s, c, PUBSUB_SHARD);
}

void cmd_sunsubscribe(server *s, client *c)
{
    unsubscribe_each(s, c, PUBSUB_SHARD);
}

static void publish(server *s, client *c, bool shard)
{
    const resp_arg *ch = &c->cmd.argv[1], *msg = &c->cmd.argv[2];
    resp_integer(&c->out, pubsub_publish(s, ch->p, ch->len, msg->p, msg->len, shard));
}

void cmd_publish(server *s, client *c)
{
    publish(s, c, false);
}

void cmd_spublish(server *s, client *c)
{
    publish(s, c, true);
}

/* ---- PUBSUB ---- */

typedef struct name_list {
    resp_out body;
    long long n;
} name_list;

static void emit_name(void *ctx, const char *name, size_t len)
{
    name_list *l = ctx;
    resp_bulk(&l->body, name, len);
    l->n++;
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern] */
static void reply_names(server *s, client *c, enum pubsub_kind kind)
{
    name_list l = {0};
    const resp_arg *pat = c->cmd.argc == 3 ? &c->cmd.argv[2] : NULL;
    pubsub_names(s, kind, pat ? pat->p : NULL, pat ? pat->len : 0, emit_name, &l);
    resp_array(&c->out, l.n);
    resp_raw(&c->out, l.body.data, l.body.len);
    resp_out_free(&l.body);
}

/* PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat array of name, count */
static void reply_numsub(server *s, client *c, enum pubsub_kind kind)
{
    resp_array(&c->out, (long long)(c->cmd.argc - 2) * 2);
    for (int i = 2; i < c->cmd.argc; i++) {
        const resp_arg *a = &c->cmd.argv[i];
        resp_bulk(&c->out, a->p, a->len);
        resp_integer(&c->out, pubsub_numsub(s, kind, a->p, a->len));
    }
}

static void pubsub_help(client *c)
{
    static const char *lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help."};
    reply_help(c, lines, sizeof lines / sizeof lines[0]);
}

/* A known subcommand with arguments its handler refuses: Redis's
   addReplySubcommandSyntaxError. */
static void syntax_error(client *c)
{
    char msg[300];
    const resp_arg *sub = &c->cmd.argv[1];
    snprintf(msg, sizeof msg,
             "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB HELP.",
             (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    resp_error(&c->out, msg);
}

void cmd_pubsub(server *s, client *c)
{
    const resp_arg *sub = &c->cmd.argv[1];
    int argc = c->cmd.argc;
    bool exact2 = arg_is(sub, "help") || arg_is(sub, "numpat");
    bool known = exact2 || arg_is(sub, "channels") || arg_is(sub, "numsub") ||
                 arg_is(sub, "shardchannels") || arg_is(sub, "shardnumsub");
    if (!known || (exact2 && argc != 2)) {
        reply_subcommand_error(c); /* unknown, or the arity of pubsub|help, pubsub|numpat */
        return;
    }
    if (arg_is(sub, "help"))
        pubsub_help(c);
    else if (arg_is(sub, "numpat"))
        resp_integer(&c->out, pubsub_count(s, PUBSUB_PATTERN));
    else if (arg_is(sub, "numsub"))
        reply_numsub(s, c, PUBSUB_CHANNEL);
    else if (arg_is(sub, "shardnumsub"))
        reply_numsub(s, c, PUBSUB_SHARD);
    else if (argc > 3)
        syntax_error(c);
    else
        reply_names(s, c, arg_is(sub, "channels") ? PUBSUB_CHANNEL : PUBSUB_SHARD);
}

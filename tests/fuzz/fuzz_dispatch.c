/*
 * fuzz_dispatch.c - the server's command dispatch on arbitrary request streams: the
 * input is parsed as a connection's bytes and every command runs against one server
 * (fuzz_server.h: a real engine in a temporary directory, kept across inputs, as a
 * long-lived server keeps its keyspace). Each command must produce exactly one
 * well-formed reply (checked with the client's reply reader), or none when CLIENT REPLY
 * silenced it; ASan/UBSan catch the rest.
 *
 * Left out on purpose: DEBUG SLEEP (it would only make the fuzzer time out), MIGRATE
 * (it would connect to whatever host and port the input names, and wait up to its
 * timeout; tests/integration/server_migrate.py covers it) and REPLICAOF/SLAVEOF with an
 * address (a thread would connect there; tests/integration/server_repl*.py cover them). A blocking command that
 * blocks ends its input (the client waits; it is forgotten at the end). Scripts and
 * functions run as in the server (their states made at set-up); one that runs past
 * 100 ms is stopped from the busy hook, even after writing (fuzz_script.c fuzzes them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "functions.h"
#include "fuzz_server.h"
#include "pubsub.h"
#include "script_int.h"
#include "server.h"
#include "shale_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COMMANDS 256

/* The busy hook of a script or function past busy-reply-threshold: stop it (the CPU
   limit of an input; a kill the script cannot catch, written or not). */
static void stop_busy(server *s)
{
    script_vm *f = functions_vm(s);
    if (s->script && s->script->running)
        s->script->kill_requested = true;
    if (f && f->running)
        f->kill_requested = true;
}

static const fuzz_server_options options = {
    .name = "dispatch",
    .busy_reply_threshold = 100,
    .busy_handler = stop_busy,
    .debug_command = true, /* DEBUG's argument checks are fuzzed too */
};

static bool is_debug_sleep(const resp_cmd *cmd)
{
    return cmd->argc >= 2 && cmd->argv[0].len == 5 &&
           strncasecmp(cmd->argv[0].p, "debug", 5) == 0 && cmd->argv[1].len == 5 &&
           strncasecmp(cmd->argv[1].p, "sleep", 5) == 0;
}

static bool is_migrate(const resp_cmd *cmd)
{
    return cmd->argc >= 1 && cmd->argv[0].len == 7 &&
           strncasecmp(cmd->argv[0].p, "migrate", 7) == 0;
}

/* REPLICAOF / SLAVEOF naming a primary (NO ONE stays in) */
static bool is_replicaof_address(const resp_cmd *cmd)
{
    const resp_arg *a = cmd->argv;
    if (cmd->argc != 3 || !((a[0].len == 9 && strncasecmp(a[0].p, "replicaof", 9) == 0) ||
                            (a[0].len == 7 && strncasecmp(a[0].p, "slaveof", 7) == 0)))
        return false;
    return !(cmd->argv[1].len == 2 && strncasecmp(cmd->argv[1].p, "no", 2) == 0);
}

/* The pub/sub commands that confirm each name they are given (or each the client had):
   one reply per name, not one per command. */
static bool is_subscription(const resp_cmd *cmd)
{
    static const char *const names[] = {"subscribe",  "unsubscribe",  "psubscribe",
                                        "punsubscribe", "ssubscribe", "sunsubscribe"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (cmd->argv[0].len == strlen(names[i]) &&
            strncasecmp(cmd->argv[0].p, names[i], cmd->argv[0].len) == 0)
            return true;
    return false;
}

/* Several complete replies (a subscription's confirmations, or pushes of messages before
   a RESP3 subscriber's own reply), nothing left over. */
static void check_replies(const resp_out *out)
{
    shale_client_reader *r = shale_client_reader_new();
    if (!r)
        return;
    shale_client_reply *x = NULL;
    if (out->len == 0 || shale_client_reader_feed(r, out->data, out->len))
        __builtin_trap();
    int n = 0, rc;
    while ((rc = shale_client_reader_get_reply(r, &x)) == 1) {
        shale_client_reply_free(x);
        n++;
    }
    if (rc != 0 || n == 0)
        __builtin_trap(); /* bytes that are not RESP, or an incomplete reply */
    shale_client_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    server *s = fuzz_server(&options);
    static int echo = -1;
    if (echo < 0)
        echo = getenv("FUZZ_DISPATCH_ECHO") != NULL;
    client c = {0};
    fuzz_client_connect(s, &c, 2);
    const char *buf = (const char *)data;
    size_t at = 0;
    for (int n = 0; n < MAX_COMMANDS && at < size && !c.close_after_reply; n++) {
        size_t used = 0;
        const char *err = NULL;
        int rc = resp_parse(buf + at, size - at, 512u << 20, &c.cmd, &used, &err);
        if (rc <= 0)
            break;
        at += used;
        if (c.cmd.argc == 0 || is_debug_sleep(&c.cmd) || is_migrate(&c.cmd) ||
            is_replicaof_address(&c.cmd))
            continue;
        /* CLIENT REPLY OFF and SKIP silence replies: none is then right too */
        bool silenced = c.reply_off || c.reply_skip;
        command_dispatch(s, &c);
        if (c.blocked) /* a blocking command that waits: no reply, and no more commands
                          (the client is forgotten when it goes, as at a disconnect) */
            break;
        silenced |= c.reply_off || c.reply_skip;
        bool several = is_subscription(&c.cmd) || (c.proto == 3 && pubsub_client_subscribed(&c));
        if (c.out.len > 0 || !silenced) {
            if (several)
                check_replies(&c.out);
            else if (c.out.len > 0 || !c.close_after_reply) /* none when the command
                                   closes the connection (SHUTDOWN, as Redis does) */
                fuzz_check_one_reply(&c.out);
        }
        if (echo) /* FUZZ_DISPATCH_ECHO=1: show the replies (to look at an input) */
            fwrite(c.out.data, 1, c.out.len, stderr);
        c.out.len = 0;
    }
    fuzz_server_end_input(s, &c);
    return 0;
}

/*
 * t_script.c - EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT: the arguments and replies of
 * Redis 7.0's scripting commands (the machinery: script/script.h).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "args.h"
#include "monitor.h"
#include "script.h"

/* numkeys as Redis checks it; false with the error replied. */
static bool parse_numkeys(client *c, long long *numkeys)
{
    if (!arg_ll(&c->cmd.argv[2], numkeys)) {
        resp_error(&c->out, "ERR value is not an integer or out of range");
        return false;
    }
    if (*numkeys > c->cmd.argc - 3) {
        resp_error(&c->out, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    if (*numkeys < 0) {
        resp_error(&c->out, "ERR Number of keys can't be negative");
        return false;
    }
    return true;
}

static void eval_generic(server *s, client *c, bool by_sha, bool ro)
{
    monitor_feed_line(s, c); /* before the script's own commands, as Redis */
    const resp_arg *a = c->cmd.argv;
    if (by_sha && a[1].len != 40) {
        resp_error(&c->out, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    long long numkeys;
    if (!parse_numkeys(c, &numkeys))
        return;
    char sha[41];
    if (by_sha) {
        for (int i = 0; i < 40; i++)
            sha[i] = (char)tolower((unsigned char)a[1].p[i]);
        sha[40] = '\0';
    } else if (!script_load(s, c, a[1].p, a[1].len, sha)) {
        return;
    }
    int nkeys = (int)numkeys;
    script_run(s, c, sha, a + 3, nkeys, a + 3 + nkeys, c->cmd.argc - 3 - nkeys, ro);
}

void cmd_eval(server *s, client *c)
{
    eval_generic(s, c, false, false);
}

void cmd_evalsha(server *s, client *c)
{
    eval_generic(s, c, true, false);
}

void cmd_eval_ro(server *s, client *c)
{
    eval_generic(s, c, false, true);
}

void cmd_evalsha_ro(server *s, client *c)
{
    eval_generic(s, c, true, true);
}

static const char *const script_help[] = {
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
};

static void script_flush_cmd(server *s, client *c)
{
    int argc = c->cmd.argc;
    if (argc > 3 || (argc == 3 && !arg_is(&c->cmd.argv[2], "sync") &&
                     !arg_is(&c->cmd.argv[2], "async"))) {
        resp_error(&c->out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    int rc = script_flush(s); /* the old state is small to free: ASYNC frees it now too */
    if (rc)
        reply_engine_error(c, rc);
    else
        resp_simple(&c->out, "OK");
}

/* SCRIPT KILL: served only while a script is busy (it lends the lock from its hook,
   script.h); otherwise none runs. A function's run is FUNCTION KILL's to stop, as Redis. */
static void script_kill_cmd(server *s, client *c)
{
    int rc = script_kill_run(s, false);
    if (rc == -EXDEV)
        resp_error(&c->out, script_busy_error(s));
    else if (rc == -ENOENT)
        resp_error(&c->out, "NOTBUSY No scripts in execution right now.");
    else if (rc == -EPERM)
        resp_error(&c->out, "UNKILLABLE Sorry the script already executed write commands "
                            "against the dataset. You can either wait the script termination "
                            "or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
    else
        resp_simple(&c->out, "OK");
}

void cmd_script(server *s, client *c)
{
    const resp_arg *sub = &c->cmd.argv[1];
    int argc = c->cmd.argc;
    if (argc == 2 && arg_is(sub, "help")) {
        reply_help(c, script_help, sizeof script_help / sizeof script_help[0]);
    } else if (arg_is(sub, "flush")) {
        script_flush_cmd(s, c);
    } else if (arg_is(sub, "exists") && argc >= 3) {
        resp_array(&c->out, argc - 2);
        for (int i = 2; i < argc; i++)
            resp_integer(&c->out, script_exists(s, c->cmd.argv[i].p, c->cmd.argv[i].len));
    } else if (argc == 3 && arg_is(sub, "load")) {
        char sha[41];
        if (script_load(s, c, c->cmd.argv[2].p, c->cmd.argv[2].len, sha))
            resp_bulk(&c->out, sha, 40);
    } else if (argc == 2 && arg_is(sub, "kill")) {
        script_kill_cmd(s, c);
    } else {
        reply_subcommand_error(c);
    }
}

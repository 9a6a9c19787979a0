/*
 * t_function.c - FUNCTION and FCALL / FCALL_RO: the arguments and errors of Redis 7.0's
 * commands (what they do: script/functions.h).
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "functions.h"
#include "script.h"

static const char *const function_help[] = {
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME "
    "argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored "
    "using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
    "abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
};

/* Redis's addReplySubcommandSyntaxError. */
static void syntax_error(client *c)
{
    char msg[300];
    const resp_arg *sub = &c->cmd.argv[1];
    snprintf(msg, sizeof msg,
             "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try FUNCTION HELP.",
             (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    resp_error(&c->out, msg);
}

static void load_cmd(server *s, client *c)
{
    const resp_arg *a = c->cmd.argv;
    bool replace = false;
    int at = 2;
    while (at < c->cmd.argc - 1) {
        const resp_arg *opt = &a[at++];
        if (!arg_is(opt, "replace")) {
            char msg[300];
            snprintf(msg, sizeof msg, "ERR Unknown option given: %.*s",
                     (int)(opt->len > 200 ? 200 : opt->len), opt->p);
            resp_error(&c->out, msg);
            return;
        }
        replace = true;
    }
    functions_load(s, c, a[at].p, a[at].len, replace);
}

static void list_cmd(server *s, client *c)
{
    const resp_arg *a = c->cmd.argv;
    bool with_code = false;
    const resp_arg *pattern = NULL;
    for (int i = 2; i < c->cmd.argc; i++) {
        if (!with_code && arg_is(&a[i], "withcode")) {
            with_code = true;
        } else if (!pattern && arg_is(&a[i], "libraryname")) {
            if (i >= c->cmd.argc - 1) {
                resp_error(&c->out, "ERR library name argument was not given");
                return;
            }
            pattern = &a[++i];
        } else {
            char msg[300];
            snprintf(msg, sizeof msg, "ERR Unknown argument %.*s",
                     (int)(a[i].len > 200 ? 200 : a[i].len), a[i].p);
            resp_error(&c->out, msg);
            return;
        }
    }
    functions_list(s, c, pattern, with_code);
}

static void flush_cmd(server *s, client *c)
{
    int argc = c->cmd.argc;
    if (argc > 3) {
        syntax_error(c);
        return;
    }
    if (argc == 3 && !arg_is(&c->cmd.argv[2], "sync") && !arg_is(&c->cmd.argv[2], "async")) {
        resp_error(&c->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    functions_flush(s, c); /* the libraries are small to free: ASYNC frees them now too */
}

static void restore_cmd(server *s, client *c)
{
    if (c->cmd.argc > 4) {
        syntax_error(c);
        return;
    }
    int policy = 'A';
    if (c->cmd.argc == 4) {
        const resp_arg *p = &c->cmd.argv[3];
        if (arg_is(p, "append")) {
            policy = 'A';
        } else if (arg_is(p, "replace")) {
            policy = 'R';
        } else if (arg_is(p, "flush")) {
            policy = 'F';
        } else {
            resp_error(&c->out, "ERR Wrong restore policy given, value should be either FLUSH, "
                                "APPEND or REPLACE.");
            return;
        }
    }
    functions_restore(s, c, &c->cmd.argv[2], policy);
}

void cmd_function(server *s, client *c)
{
    const resp_arg *sub = &c->cmd.argv[1];
    int argc = c->cmd.argc;
    if (argc == 2 && arg_is(sub, "help")) {
        reply_help(c, function_help, sizeof function_help / sizeof function_help[0]);
    } else if (argc >= 3 && arg_is(sub, "load")) {
        load_cmd(s, c);
    } else if (arg_is(sub, "list")) {
        list_cmd(s, c);
    } else if (argc == 3 && arg_is(sub, "delete")) {
        functions_delete(s, c, &c->cmd.argv[2]);
    } else if (arg_is(sub, "flush")) {
        flush_cmd(s, c);
    } else if (argc == 2 && arg_is(sub, "stats")) {
        functions_stats(s, c);
    } else if (argc == 2 && arg_is(sub, "dump")) {
        functions_dump(s, c);
    } else if (argc >= 3 && arg_is(sub, "restore")) {
        restore_cmd(s, c);
    } else if (argc == 2 && arg_is(sub, "kill")) {
        functions_kill(s, c);
    } else {
        reply_subcommand_error(c);
    }
}

void cmd_fcall(server *s, client *c)
{
    functions_call(s, c, false);
}

void cmd_fcall_ro(server *s, client *c)
{
    functions_call(s, c, true);
}

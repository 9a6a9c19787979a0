/*
 * t_command.c - COMMAND and its subcommands COUNT LIST INFO DOCS GETKEYS GETKEYSANDFLAGS
 * HELP, as Redis 7.0 answers them: from the command table (which commands exist) and
 * what Redis says about each (command_facts.h: flags, ACL categories, tips, key specs,
 * arguments). Summaries are shale's own; Redis's complexity and history texts are not
 * repeated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "command.h"
#include "glob.h"

/* A set of status replies: the names of the bits of mask, in bit order. */
static void reply_bit_names(client *c, uint32_t mask, const char *const *names, int n,
                            const char *prefix)
{
    int count = 0;
    for (int i = 0; i < n; i++)
        count += (mask >> i) & 1;
    resp_set(&c->out, count, c->proto);
    for (int i = 0; i < n; i++) {
        if (!((mask >> i) & 1))
            continue;
        char buf[64];
        snprintf(buf, sizeof buf, "%s%s", prefix, names[i]);
        resp_simple(&c->out, buf);
    }
}

static void reply_tips(client *c, const char *tips)
{
    int n = 0;
    for (const char *p = tips; p && *p; n++) {
        p += strcspn(p, " ");
        p += *p == ' ';
    }
    resp_set(&c->out, n, c->proto);
    for (const char *p = tips; p && *p;) {
        size_t len = strcspn(p, " ");
        resp_bulk(&c->out, p, len);
        p += len;
        p += *p == ' ';
    }
}

static void reply_key_spec(client *c, const key_spec *sp)
{
    resp_map(&c->out, sp->notes ? 4 : 3, c->proto);
    if (sp->notes) {
        resp_bulk_cstr(&c->out, "notes");
        resp_bulk_cstr(&c->out, sp->notes);
    }
    resp_bulk_cstr(&c->out, "flags");
    reply_bit_names(c, sp->flags, key_spec_flag_names, KSF_COUNT, "");
    resp_bulk_cstr(&c->out, "begin_search");
    resp_map(&c->out, 2, c->proto);
    resp_bulk_cstr(&c->out, "type");
    if (sp->bs_type == KS_BS_INDEX) {
        resp_bulk_cstr(&c->out, "index");
        resp_bulk_cstr(&c->out, "spec");
        resp_map(&c->out, 1, c->proto);
        resp_bulk_cstr(&c->out, "index");
        resp_integer(&c->out, sp->bs_pos);
    } else if (sp->bs_type == KS_BS_KEYWORD) {
        resp_bulk_cstr(&c->out, "keyword");
        resp_bulk_cstr(&c->out, "spec");
        resp_map(&c->out, 2, c->proto);
        resp_bulk_cstr(&c->out, "keyword");
        resp_bulk_cstr(&c->out, sp->keyword);
        resp_bulk_cstr(&c->out, "startfrom");
        resp_integer(&c->out, sp->bs_pos);
    } else {
        resp_bulk_cstr(&c->out, "unknown");
        resp_bulk_cstr(&c->out, "spec");
        resp_map(&c->out, 0, c->proto);
    }
    static const char *const range[] = {"lastkey", "keystep", "limit"};
    static const char *const keynum[] = {"keynumidx", "firstkey", "keystep"};
    resp_bulk_cstr(&c->out, "find_keys");
    resp_map(&c->out, 2, c->proto);
    resp_bulk_cstr(&c->out, "type");
    if (sp->fk_type == KS_FK_UNKNOWN) {
        resp_bulk_cstr(&c->out, "unknown");
        resp_bulk_cstr(&c->out, "spec");
        resp_map(&c->out, 0, c->proto);
        return;
    }
    const char *const *names = sp->fk_type == KS_FK_RANGE ? range : keynum;
    resp_bulk_cstr(&c->out, sp->fk_type == KS_FK_RANGE ? "range" : "keynum");
    resp_bulk_cstr(&c->out, "spec");
    resp_map(&c->out, 3, c->proto);
    for (int i = 0; i < 3; i++) {
        resp_bulk_cstr(&c->out, names[i]);
        resp_integer(&c->out, sp->fk[i]);
    }
}

/* Redis 7's COMMAND INFO entry: name arity flags first last step acl tips keyspecs subs. */
static void reply_info(client *c, const command *cmd)
{
    const command_facts *f = command_facts_of(cmd);
    key_spec tmp;
    const key_spec *specs;
    size_t nspecs = command_key_specs(cmd, &specs, &tmp);
    resp_array(&c->out, 10);
    resp_bulk_cstr(&c->out, cmd->name);
    resp_integer(&c->out, cmd->arity);
    reply_bit_names(c, command_redis_flags(cmd), command_flag_names, CF_COUNT, "");
    resp_integer(&c->out, f ? f->first_key : cmd->first_key);
    resp_integer(&c->out, f ? f->last_key : cmd->last_key);
    resp_integer(&c->out, f ? f->step : cmd->step);
    reply_bit_names(c, command_acl(cmd), acl_category_names, ACL_COUNT, "@");
    reply_tips(c, f ? f->tips : NULL);
    resp_set(&c->out, (long long)nspecs, c->proto);
    for (size_t i = 0; i < nspecs; i++)
        reply_key_spec(c, &specs[i]);
    size_t nsubs = command_nsubs(cmd);
    if (!nsubs) {
        resp_set(&c->out, 0, c->proto);
        return;
    }
    resp_array(&c->out, (long long)nsubs);
    for (size_t i = 0; i < nsubs; i++)
        reply_info(c, command_sub_at(cmd, i));
}

static void reply_args(client *c, const command_arg *args, int n)
{
    static const char *const flag_names[] = {"optional", "multiple", "multiple_token"};
    resp_array(&c->out, n);
    for (int j = 0; j < n; j++) {
        const command_arg *a = &args[j];
        bool nested = a->type == ARG_ONEOF || a->type == ARG_BLOCK;
        long long pairs = 2 + (a->key_spec_index >= 0) + !!a->token + !!a->since +
                          !!a->deprecated_since + !!a->flags + nested;
        resp_map(&c->out, pairs, c->proto);
        resp_bulk_cstr(&c->out, "name");
        resp_bulk_cstr(&c->out, a->name);
        resp_bulk_cstr(&c->out, "type");
        resp_bulk_cstr(&c->out, command_arg_type_names[a->type]);
        if (a->key_spec_index >= 0) {
            resp_bulk_cstr(&c->out, "key_spec_index");
            resp_integer(&c->out, a->key_spec_index);
        }
        const char *texts[][2] = {
            {"token", a->token}, {"since", a->since}, {"deprecated_since", a->deprecated_since}};
        for (size_t t = 0; t < 3; t++)
            if (texts[t][1]) {
                resp_bulk_cstr(&c->out, texts[t][0]);
                resp_bulk_cstr(&c->out, texts[t][1]);
            }
        if (a->flags) {
            resp_bulk_cstr(&c->out, "flags");
            reply_bit_names(c, a->flags, flag_names, 3, "");
        }
        if (nested) {
            resp_bulk_cstr(&c->out, "arguments");
            reply_args(c, a->args, a->nargs);
        }
    }
}

/* COMMAND DOCS's entry: summary since group [doc_flags deprecated_since replaced_by]
   [arguments] [subcommands] (shale's summary; no complexity or history texts). */
static void reply_docs(client *c, const command *cmd)
{
    static const char *const doc_flag_names[] = {"deprecated", "syscmd"};
    const command_facts *f = command_facts_of(cmd);
    size_t nsubs = command_nsubs(cmd);
    long long pairs = 2 + (f && f->since) + (f && f->doc_flags) + (f && f->deprecated_since) +
                      (f && f->replaced_by) + (f && f->nargs) + (nsubs > 0);
    resp_bulk_cstr(&c->out, cmd->name);
    resp_map(&c->out, pairs, c->proto);
    resp_bulk_cstr(&c->out, "summary");
    resp_bulk_cstr(&c->out, cmd->summary);
    if (f && f->since) {
        resp_bulk_cstr(&c->out, "since");
        resp_bulk_cstr(&c->out, f->since);
    }
    resp_bulk_cstr(&c->out, "group");
    resp_bulk_cstr(&c->out, f && f->group ? f->group : cmd->group);
    if (f && f->doc_flags) {
        resp_bulk_cstr(&c->out, "doc_flags");
        reply_bit_names(c, f->doc_flags, doc_flag_names, 2, "");
    }
    if (f && f->deprecated_since) {
        resp_bulk_cstr(&c->out, "deprecated_since");
        resp_bulk_cstr(&c->out, f->deprecated_since);
    }
    if (f && f->replaced_by) {
        resp_bulk_cstr(&c->out, "replaced_by");
        resp_bulk_cstr(&c->out, f->replaced_by);
    }
    if (f && f->nargs) {
        resp_bulk_cstr(&c->out, "arguments");
        reply_args(c, f->args, f->nargs);
    }
    if (nsubs) {
        resp_bulk_cstr(&c->out, "subcommands");
        resp_map(&c->out, (long long)nsubs, c->proto);
        for (size_t i = 0; i < nsubs; i++)
            reply_docs(c, command_sub_at(cmd, i));
    }
}

/* COMMAND INFO / DOCS take "parent|sub" names too; "a|b|c" is no command. */
static const command *lookup_name(const resp_arg *a)
{
    const char *bar = memchr(a->p, '|', a->len);
    if (bar && memchr(bar + 1, '|', a->len - (size_t)(bar + 1 - a->p)))
        return NULL;
    return command_lookup(a->p, a->len);
}

static void command_info(client *c)
{
    if (c->cmd.argc == 2) {
        resp_array(&c->out, (long long)command_count());
        for (size_t i = 0; i < command_count(); i++)
            reply_info(c, command_at(i));
        return;
    }
    resp_array(&c->out, c->cmd.argc - 2);
    for (int i = 2; i < c->cmd.argc; i++) {
        const command *cmd = lookup_name(&c->cmd.argv[i]);
        if (cmd)
            reply_info(c, cmd);
        else
            resp_null(&c->out, c->proto);
    }
}

static void command_docs(client *c)
{
    long long n = 0;
    if (c->cmd.argc == 2) {
        resp_map(&c->out, (long long)command_count(), c->proto);
        for (size_t i = 0; i < command_count(); i++)
            reply_docs(c, command_at(i));
        return;
    }
    for (int i = 2; i < c->cmd.argc; i++)
        n += lookup_name(&c->cmd.argv[i]) != NULL;
    resp_map(&c->out, n, c->proto);
    for (int i = 2; i < c->cmd.argc; i++) {
        const command *cmd = lookup_name(&c->cmd.argv[i]);
        if (cmd)
            reply_docs(c, cmd);
    }
}

/* ---- COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p] ---- */

enum list_filter { LIST_ALL, LIST_MODULE, LIST_ACLCAT, LIST_PATTERN };

static uint32_t acl_category_by_name(const resp_arg *a)
{
    for (int i = 0; i < ACL_COUNT; i++)
        if (arg_is(a, acl_category_names[i]))
            return 1u << i;
    return 0;
}

static bool list_keeps(const command *cmd, enum list_filter f, const resp_arg *arg, uint32_t cat)
{
    switch (f) {
    case LIST_MODULE:
        return false; /* shale has no modules */
    case LIST_ACLCAT:
        return cat && (command_acl(cmd) & cat);
    case LIST_PATTERN:
        return glob_match(arg->p, arg->len, cmd->name, strlen(cmd->name), true);
    default:
        return true;
    }
}

static void command_list(client *c)
{
    resp_arg *a = c->cmd.argv;
    enum list_filter f = LIST_ALL;
    const resp_arg *arg = NULL;
    for (int i = 2; i < c->cmd.argc; i += 3) {
        if (!arg_is(&a[i], "filterby") || c->cmd.argc - 1 - i != 2) {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
        if (arg_is(&a[i + 1], "module"))
            f = LIST_MODULE;
        else if (arg_is(&a[i + 1], "aclcat"))
            f = LIST_ACLCAT;
        else if (arg_is(&a[i + 1], "pattern"))
            f = LIST_PATTERN;
        else {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
        arg = &a[i + 2];
    }
    uint32_t cat = f == LIST_ACLCAT ? acl_category_by_name(arg) : 0;
    resp_out body = {0};
    long long n = 0;
    for (size_t i = 0; i < command_count(); i++) {
        const command *cmd = command_at(i);
        if (list_keeps(cmd, f, arg, cat)) {
            resp_bulk_cstr(&body, cmd->name);
            n++;
        }
        for (size_t j = 0; j < command_nsubs(cmd); j++)
            if (list_keeps(command_sub_at(cmd, j), f, arg, cat)) {
                resp_bulk_cstr(&body, command_sub_at(cmd, j)->name);
                n++;
            }
    }
    resp_array(&c->out, n);
    resp_raw(&c->out, body.data, body.len);
    resp_out_free(&body);
}

/* ---- COMMAND GETKEYS / GETKEYSANDFLAGS cmd arg ... ---- */

static void command_getkeys(client *c, bool with_flags)
{
    const resp_arg *argv = c->cmd.argv + 2;
    int argc = c->cmd.argc - 2;
    const command *cmd = command_lookup(argv[0].p, argv[0].len);
    if (cmd && !cmd->fn) /* "config|get" is no command name */
        cmd = NULL;
    if (cmd && argc > 1 && command_nsubs(cmd))
        cmd = command_sub_lookup(cmd, argv[1].p, argv[1].len);
    if (!cmd) {
        resp_error(&c->out, "ERR Invalid command specified");
        return;
    }
    if (!command_has_keys(cmd)) {
        resp_error(&c->out, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        resp_error(&c->out, "ERR Invalid number of arguments specified for command");
        return;
    }
    command_key *keys;
    int n = command_keys(cmd, argv, argc, &keys);
    if (n < 0) {
        reply_engine_error(c, n);
        return;
    }
    if (n == 0) {
        if (command_redis_flags(cmd) & CF_NO_MANDATORY_KEYS)
            resp_array(&c->out, 0);
        else
            resp_error(&c->out, "ERR Invalid arguments specified for command");
        return;
    }
    resp_array(&c->out, n);
    for (int i = 0; i < n; i++) {
        if (with_flags)
            resp_array(&c->out, 2);
        resp_bulk(&c->out, argv[keys[i].pos].p, argv[keys[i].pos].len);
        if (with_flags)
            reply_bit_names(c, keys[i].flags, key_spec_flag_names, KSF_COUNT, "");
    }
    free(keys);
}

void cmd_command(server *s, client *c)
{
    resp_arg *a = c->cmd.argv;
    int argc = c->cmd.argc;
    if (argc == 1) {
        /* every command, as COMMAND INFO without names */
        resp_array(&c->out, (long long)command_count());
        for (size_t i = 0; i < command_count(); i++)
            reply_info(c, command_at(i));
    } else if (arg_is(&a[1], "info")) {
        command_info(c);
    } else if (arg_is(&a[1], "docs")) {
        command_docs(c);
    } else if (arg_is(&a[1], "count") && argc == 2) {
        resp_integer(&c->out, (long long)command_count());
    } else if (arg_is(&a[1], "list")) {
        command_list(c);
    } else if (arg_is(&a[1], "getkeys") && argc >= 3) {
        command_getkeys(c, false);
    } else if (arg_is(&a[1], "getkeysandflags") && argc >= 3) {
        command_getkeys(c, true);
    } else if (arg_is(&a[1], "help") && argc == 2) {
        static const char *const lines[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else {
        reply_subcommand_error(c);
    }
}

/*
 * functions_cmd.c - what FUNCTION LOAD, LIST, DELETE, FLUSH, STATS and FCALL do and reply
 * (functions.h): the change in memory first, then its record in the command's batch; a
 * batch that does not commit puts the libraries back as they were.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "glob.h"
#include "monitor.h"
#include "functions_int.h"

/* Replies "ERR <msg>" as Redis's addReplyError (CR and LF as spaces). */
static void reply_err(client *c, const char *msg)
{
    size_t n = strlen(msg);
    char *full = malloc(n + 5);
    if (!full) {
        reply_engine_error(c, -ENOMEM);
        return;
    }
    memcpy(full, "ERR ", 4);
    memcpy(full + 4, msg, n + 1);
    script_reply_error(&c->out, full, n + 4);
    free(full);
}

void functions_load(server *s, client *c, const char *code, size_t n, bool replace)
{
    fn_engine *e = s->functions;
    fn_library *lib;
    int old;
    char err[1024];
    if (fn_compile(e, code, n, replace, false, &lib, &old, err, sizeof err)) {
        reply_err(c, err);
        return;
    }
    fn_library *prev = old >= 0 ? fn_unlink(e, old) : NULL;
    int rc = fn_link(e, lib);
    if (rc == 0 && !ks_finish(s, c, fn_store_put(s, lib))) {
        fn_unlink(e, fn_library_index(e, lib->name, strlen(lib->name)));
        rc = -EIO; /* replied already */
    }
    if (rc) {
        if (rc != -EIO)
            reply_engine_error(c, rc);
        fn_library_free(e, lib);
        if (prev)
            fn_link(e, prev); /* room was there for it */
        return;
    }
    fn_library_free(e, prev);
    resp_bulk_cstr(&c->out, lib->name);
}

static void reply_flags(client *c, uint32_t flags)
{
    int n = 0;
    uint32_t bit;
    for (size_t i = 0; fn_flag_name(i, &bit); i++)
        n += (flags & bit) != 0;
    resp_set(&c->out, n, c->proto);
    const char *name;
    for (size_t i = 0; (name = fn_flag_name(i, &bit)); i++)
        if (flags & bit)
            resp_simple(&c->out, name);
}

static void reply_library(client *c, const fn_library *lib, bool with_code)
{
    resp_map(&c->out, with_code ? 4 : 3, c->proto);
    resp_bulk_cstr(&c->out, "library_name");
    resp_bulk_cstr(&c->out, lib->name);
    resp_bulk_cstr(&c->out, "engine");
    resp_bulk_cstr(&c->out, "LUA");
    resp_bulk_cstr(&c->out, "functions");
    resp_array(&c->out, lib->nfns);
    for (int i = 0; i < lib->nfns; i++) {
        const fn_function *f = &lib->fns[i];
        resp_map(&c->out, 3, c->proto);
        resp_bulk_cstr(&c->out, "name");
        resp_bulk_cstr(&c->out, f->name);
        resp_bulk_cstr(&c->out, "description");
        if (f->desc)
            resp_bulk_cstr(&c->out, f->desc);
        else
            resp_null(&c->out, c->proto);
        resp_bulk_cstr(&c->out, "flags");
        reply_flags(c, f->flags);
    }
    if (with_code) {
        resp_bulk_cstr(&c->out, "library_code");
        resp_bulk(&c->out, lib->code, lib->code_len);
    }
}

static bool listed(const fn_library *lib, const resp_arg *pattern)
{
    return !pattern ||
           glob_match(pattern->p, pattern->len, lib->name, strlen(lib->name), true);
}

void functions_list(server *s, client *c, const resp_arg *pattern, bool with_code)
{
    const fn_engine *e = s->functions;
    int n = 0;
    for (int i = 0; i < e->nlibs; i++)
        n += listed(e->libs[i], pattern);
    resp_array(&c->out, n);
    for (int i = 0; i < e->nlibs; i++)
        if (listed(e->libs[i], pattern))
            reply_library(c, e->libs[i], with_code);
}

void functions_delete(server *s, client *c, const resp_arg *name)
{
    fn_engine *e = s->functions;
    int i = fn_library_index(e, name->p, name->len);
    if (i < 0) {
        resp_error(&c->out, "ERR Library not found");
        return;
    }
    if (!ks_finish(s, c, fn_store_del(s, e->libs[i]->name)))
        return;
    fn_library_free(e, fn_unlink(e, i));
    resp_simple(&c->out, "OK");
}

/* Deletes every library's record into the batch (not committed). */
static int store_del_all(server *s)
{
    const fn_engine *e = s->functions;
    int rc = 0;
    for (int i = 0; rc == 0 && i < e->nlibs; i++)
        rc = fn_store_del(s, e->libs[i]->name);
    return rc;
}

static void drop_all(fn_engine *e)
{
    while (e->nlibs)
        fn_library_free(e, fn_unlink(e, e->nlibs - 1));
}

void functions_flush(server *s, client *c)
{
    if (!ks_finish(s, c, store_del_all(s)))
        return;
    drop_all(s->functions);
    resp_simple(&c->out, "OK");
}

/* FUNCTION STATS's running_script: null, or (when the busy handler serves STATS while a
   function runs) its name, its caller's command and how long it has run. */
static void reply_running(server *s, client *c)
{
    const script_vm *vm = &s->functions->vm;
    if (!vm->running) {
        resp_null(&c->out, c->proto);
        return;
    }
    resp_map(&c->out, 3, c->proto);
    resp_bulk_cstr(&c->out, "name");
    resp_bulk_cstr(&c->out, vm->sha);
    resp_bulk_cstr(&c->out, "command");
    const resp_cmd *cmd = &vm->caller->cmd;
    resp_array(&c->out, cmd->argc);
    for (int i = 0; i < cmd->argc; i++)
        resp_bulk(&c->out, cmd->argv[i].p, cmd->argv[i].len);
    resp_bulk_cstr(&c->out, "duration_ms");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    resp_integer(&c->out, (long long)(now - vm->start_ms));
}

void functions_stats(server *s, client *c)
{
    const fn_engine *e = s->functions;
    if (s->script && s->script->running) { /* an EVAL script, as Redis answers */
        resp_error(&c->out, "BUSY Redis is busy running a script. You can only call SCRIPT "
                            "KILL or SHUTDOWN NOSAVE.");
        return;
    }
    resp_map(&c->out, 2, c->proto);
    resp_bulk_cstr(&c->out, "running_script");
    reply_running(s, c);
    resp_bulk_cstr(&c->out, "engines");
    resp_map(&c->out, 1, c->proto);
    resp_bulk_cstr(&c->out, "LUA");
    resp_map(&c->out, 2, c->proto);
    resp_bulk_cstr(&c->out, "libraries_count");
    resp_integer(&c->out, e->nlibs);
    resp_bulk_cstr(&c->out, "functions_count");
    resp_integer(&c->out, (long long)e->nfunctions);
}

/* Pushes an array of the strings v[0..n). */
static void push_array(lua_State *L, const resp_arg *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].p, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

void functions_call(server *s, client *c, bool ro)
{
    monitor_feed_line(s, c); /* before the function's own commands, as Redis */
    fn_engine *e = s->functions;
    const resp_arg *a = c->cmd.argv;
    const fn_function *f = fn_find(e, a[1].p, a[1].len);
    if (!f) {
        resp_error(&c->out, "ERR Function not found");
        return;
    }
    long long numkeys;
    if (!arg_ll(&a[2], &numkeys)) {
        resp_error(&c->out, "ERR Bad number of keys provided");
        return;
    }
    if (numkeys > c->cmd.argc - 3) {
        resp_error(&c->out, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        resp_error(&c->out, "ERR Number of keys can't be negative");
        return;
    }
    if (!script_admit(s, c, f->flags, ro))
        return;
    lua_State *L = e->vm.L;
    lua_settop(L, 0);
    script_push_handler(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
    int nkeys = (int)numkeys;
    push_array(L, a + 3, nkeys);
    push_array(L, a + 3 + nkeys, c->cmd.argc - 3 - nkeys);
    script_run_prepared(&e->vm, c, f->name, f->flags, 2, ro);
}

void functions_kill(server *s, client *c)
{
    const script_vm *eval = s->script;
    const script_vm *fn = &s->functions->vm;
    const script_vm *vm = eval && eval->running ? eval : fn->running ? fn : NULL;
    if (!vm)
        resp_error(&c->out, "NOTBUSY No scripts in execution right now.");
    else if (vm->wrote)
        resp_error(&c->out, "UNKILLABLE Sorry the script already executed write commands "
                            "against the dataset. You can either wait the script termination "
                            "or kill the server in a hard way using the SHUTDOWN NOSAVE "
                            "command.");
    else if (vm == eval) /* SCRIPT KILL's to end, as Redis answers */
        resp_error(&c->out, "BUSY Redis is busy running a script. You can only call SCRIPT "
                            "KILL or SHUTDOWN NOSAVE.");
    else if (script_kill(s) == 0)
        resp_simple(&c->out, "OK");
    else
        resp_error(&c->out, "NOTBUSY No scripts in execution right now.");
}

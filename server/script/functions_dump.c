/*
 * functions_dump.c - FUNCTION DUMP and FUNCTION RESTORE: the libraries as Redis 7.0's
 * payload (rdb.h: each library's code after the FUNCTION2 opcode, then the RDB version
 * and CRC-64), so a payload moves between Redis and shale both ways. A restore compiles
 * every library of the payload on its own first, then joins them to the loaded ones by
 * its policy (FLUSH, APPEND, REPLACE) with Redis's collision errors, all or nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "functions_int.h"
#include "rdb.h"

void functions_dump(server *s, client *c)
{
    const fn_engine *e = s->functions;
    const char **codes = malloc(((size_t)e->nlibs + 1) * sizeof *codes);
    size_t *lens = malloc(((size_t)e->nlibs + 1) * sizeof *lens);
    char *out = NULL;
    size_t n = 0;
    int rc = codes && lens ? 0 : -ENOMEM;
    for (int i = 0; rc == 0 && i < e->nlibs; i++) {
        codes[i] = e->libs[i]->code;
        lens[i] = e->libs[i]->code_len;
    }
    if (rc == 0)
        rc = rdb_encode_functions(codes, lens, (size_t)e->nlibs, &out, &n);
    free(codes);
    free(lens);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    resp_bulk(&c->out, out, n);
    free(out);
}

/* The libraries of a payload, compiled but not linked. */
typedef struct restore_set {
    fn_engine *e;
    fn_library **libs;
    int n, cap;
    char err[1024];
} restore_set;

static void set_free(restore_set *r)
{
    for (int i = 0; i < r->n; i++)
        fn_library_free(r->e, r->libs[i]);
    free(r->libs);
}

static int set_index(const restore_set *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->libs[i]->name, name) == 0)
            return i;
    return -1;
}

static const fn_function *set_find(const restore_set *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        for (int j = 0; j < r->libs[i]->nfns; j++)
            if (strcasecmp(r->libs[i]->fns[j].name, name) == 0)
                return &r->libs[i]->fns[j];
    return NULL;
}

/* One library of the payload: compiled, checked against the others as Redis loads them
   into a new set (its name, its functions' names). */
static int add_code(void *ctx, const char *code, size_t n)
{
    restore_set *r = ctx;
    fn_library *lib;
    int old;
    if (fn_compile(r->e, code, n, false, true, &lib, &old, r->err, sizeof r->err))
        return RDB_EFORMAT;
    const char *clash = NULL;
    if (set_index(r, lib->name) >= 0) {
        snprintf(r->err, sizeof r->err, "Library '%s' already exists", lib->name);
        clash = r->err;
    }
    for (int i = 0; !clash && i < lib->nfns; i++)
        if (set_find(r, lib->fns[i].name)) {
            snprintf(r->err, sizeof r->err, "Function %s already exists", lib->fns[i].name);
            clash = r->err;
        }
    if (!clash && r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 8;
        fn_library **libs = realloc(r->libs, (size_t)cap * sizeof *libs);
        if (libs) {
            r->libs = libs;
            r->cap = cap;
        } else {
            snprintf(r->err, sizeof r->err, "not enough memory");
            clash = r->err;
        }
    }
    if (clash) {
        fn_library_free(r->e, lib);
        return RDB_EFORMAT;
    }
    for (int i = 0; i < lib->nfns; i++)
        lib->fns[i].lib = lib;
    r->libs[r->n++] = lib;
    return 0;
}

/* Whether a restored library's function is one of a loaded library that stays. */
static const char *function_clash(const fn_engine *e, const restore_set *r, int policy)
{
    for (int i = 0; i < r->n; i++)
        for (int j = 0; j < r->libs[i]->nfns; j++) {
            const fn_function *f = fn_find(e, r->libs[i]->fns[j].name,
                                           strlen(r->libs[i]->fns[j].name));
            if (f && !(policy == 'R' && set_index(r, f->lib->name) >= 0))
                return f->name;
        }
    return NULL;
}

/* The checks of the join with the loaded libraries; NULL or the error (in r->err). */
static const char *join_error(const fn_engine *e, restore_set *r, int policy)
{
    if (policy == 'F')
        return NULL;
    for (int i = 0; policy == 'A' && i < r->n; i++)
        if (fn_library_index(e, r->libs[i]->name, strlen(r->libs[i]->name)) >= 0) {
            snprintf(r->err, sizeof r->err, "Library %s already exists", r->libs[i]->name);
            return r->err;
        }
    const char *name = function_clash(e, r, policy);
    if (name) {
        snprintf(r->err, sizeof r->err, "Function %s already exists", name);
        return r->err;
    }
    return NULL;
}

/* The records of the restore into the batch: the replaced libraries' (FLUSH: all) go,
   the restored ones' are written. */
static int store_restore(server *s, const restore_set *r, int policy)
{
    const fn_engine *e = s->functions;
    int rc = 0;
    for (int i = 0; rc == 0 && policy == 'F' && i < e->nlibs; i++)
        if (set_index(r, e->libs[i]->name) < 0)
            rc = fn_store_del(s, e->libs[i]->name);
    for (int i = 0; rc == 0 && i < r->n; i++)
        rc = fn_store_put(s, r->libs[i]);
    return rc;
}

/* Links the restored libraries in, dropping the ones they replace (FLUSH: all). */
static void join(fn_engine *e, restore_set *r, int policy)
{
    for (int i = e->nlibs - 1; i >= 0; i--)
        if (policy == 'F' || set_index(r, e->libs[i]->name) >= 0)
            fn_library_free(e, fn_unlink(e, i));
    int i = 0;
    for (; i < r->n; i++)
        if (fn_link(e, r->libs[i]))
            break; /* out of memory: the record is written, the next start loads it */
    for (int j = i; j < r->n; j++)
        fn_library_free(e, r->libs[j]);
    free(r->libs);
}

void functions_restore(server *s, client *c, const resp_arg *payload, int policy)
{
    restore_set r = {.e = s->functions};
    const char *err = NULL;
    int rc = rdb_decode_functions(payload->p, payload->len, add_code, &r, &err);
    if (rc == RDB_ECHECKSUM) {
        resp_error(&c->out, "ERR DUMP payload version or checksum are wrong");
    } else if (rc == RDB_EFORMAT || (rc == 0 && (err = join_error(s->functions, &r, policy)))) {
        char msg[1100];
        snprintf(msg, sizeof msg, "ERR %s", err ? err : r.err);
        script_reply_error(&c->out, msg, strlen(msg));
    } else if (rc) {
        reply_engine_error(c, rc);
    } else if (ks_finish(s, c, store_restore(s, &r, policy))) {
        join(s->functions, &r, policy);
        resp_simple(&c->out, "OK");
        return;
    }
    set_free(&r);
}

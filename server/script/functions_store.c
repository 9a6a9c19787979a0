/*
 * functions_store.c - the libraries as engine records: 'F' | library name -> its code,
 * beside the keyspace's own records ('D' the mapping, 'V' the version ceiling), outside
 * every database (FLUSHALL keeps them, as Redis keeps functions). Written in the
 * command's batch (in EXEC's inside a transaction), so a FUNCTION LOAD acknowledged under
 * sync-writes yes is durable; compiled again at startup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "functions_int.h"

#define FN_TAG 'F'

static int record_key(const char *name, ks_key *k)
{
    ks_key_init(k);
    char tag = FN_TAG;
    int rc = ks_key_append(k, &tag, 1);
    return rc ? rc : ks_key_append(k, name, strlen(name));
}

int fn_store_put(server *s, const fn_library *lib)
{
    ks_key k;
    int rc = record_key(lib->name, &k);
    rc = rc ? rc : ks_put_raw(&s->ks, &k, lib->code, lib->code_len);
    ks_key_free(&k);
    return rc;
}

int fn_store_del(server *s, const char *name)
{
    ks_key k;
    int rc = record_key(name, &k);
    rc = rc ? rc : ks_del_raw(&s->ks, &k);
    ks_key_free(&k);
    return rc;
}

/* Compiles and links one stored library; -EINVAL (told on stderr) when it does not load. */
static int load_one(fn_engine *e, const char *code, size_t n)
{
    fn_library *lib;
    int old;
    char err[1024];
    if (fn_compile(e, code, n, false, false, &lib, &old, err, sizeof err)) {
        fprintf(stderr, "shale-server: a stored function library does not load: %s\n", err);
        return -EINVAL;
    }
    int rc = fn_link(e, lib);
    if (rc)
        fn_library_free(e, lib);
    return rc;
}

int fn_store_load_all(server *s)
{
    char tag = FN_TAG;
    ks_range r;
    int rc = ks_range_open(&s->ks, &tag, 1, true, &r);
    if (rc)
        return rc;
    while (rc == 0 && ks_iter_valid(r.it)) {
        size_t n;
        const char *code = ks_iter_value(r.it, &n);
        rc = load_one(s->functions, code, n);
        ks_iter_next(r.it);
    }
    if (rc == 0)
        rc = ks_iter_status(r.it);
    ks_range_close(&r);
    return rc;
}

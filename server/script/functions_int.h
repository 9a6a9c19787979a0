/*
 * functions_int.h - what the files of the functions share (functions.h is the room's
 * door): the libraries, their functions and the engine that holds them.
 */
#ifndef SHALE_FUNCTIONS_INT_H
#define SHALE_FUNCTIONS_INT_H

#include "functions.h"
#include "script_int.h"

typedef struct fn_library fn_library;

typedef struct fn_function {
    char *name;
    char *desc;     /* NULL: none */
    uint32_t flags; /* SCRIPT_* */
    int ref;        /* the callback, in the Lua registry */
    fn_library *lib;
} fn_function;

struct fn_library {
    char *name;
    char *code; /* the whole code, first line included (FUNCTION LIST WITHCODE, the record) */
    size_t code_len;
    fn_function *fns;
    int nfns;
};

typedef struct fn_engine {
    script_vm vm; /* first: script_vm_of gives the engine */
    fn_library **libs; /* by name */
    int nlibs, cap;
    size_t nfunctions;
    fn_library *loading; /* the library whose code runs (register_function adds to it) */
    uint64_t load_start;
} fn_engine;

/* functions.c */
/* The state without any library (s->functions): 0 or -ENOMEM (functions_init then loads
   the stored libraries). */
int fn_engine_open(server *s);
bool fn_name_valid(const char *p, size_t n);
/* Compiles and runs a library's code: 0 with *out (not linked; the index of the library
   it replaces in *old, -1 for none), or -1 with Redis's error (without "ERR ") in err.
   standalone: not checked against the linked libraries (FUNCTION RESTORE checks). */
int fn_compile(fn_engine *e, const char *code, size_t n, bool replace, bool standalone,
               fn_library **out, int *old, char *err, size_t cap);
void fn_library_free(fn_engine *e, fn_library *lib);
int fn_library_index(const fn_engine *e, const char *name, size_t n);
const fn_function *fn_find(const fn_engine *e, const char *name, size_t n);
int fn_link(fn_engine *e, fn_library *lib); /* 0 or -ENOMEM */
fn_library *fn_unlink(fn_engine *e, int i);
/* The i-th flag's name and bit (NULL past the last). */
const char *fn_flag_name(size_t i, uint32_t *flag);

/* functions_store.c: the records of the libraries ('F' | name -> code), written into the
   command's batch (ks_finish commits it), and read at startup. */
int fn_store_put(server *s, const fn_library *lib);
int fn_store_del(server *s, const char *name);
int fn_store_load_all(server *s);


#endif

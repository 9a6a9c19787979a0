/*
 * functions.c - the function libraries (functions.h): each library is its code, compiled
 * and run once in the functions' own Lua state when loaded; while it runs, the globals of
 * that state read from a restricted table holding only the `redis` of a library load
 * (register_function, log and its levels, the version constants), so redis.call and the
 * other libraries are not there, as in Redis. The callbacks it registers stay in the
 * state's registry (by reference) and are called by FCALL as EVAL calls a script.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "functions_int.h"

#define REG_LOAD_ENV "shale.fn_load_env" /* the globals of a library load */
#define LOAD_TIMEOUT_MS 500              /* as Redis: a load only registers functions */

static fn_engine *engine_of(lua_State *L)
{
    return (fn_engine *)script_vm_of(L); /* vm is the engine's first member */
}

script_vm *functions_vm(const server *s)
{
    return s->functions ? &s->functions->vm : NULL;
}

bool functions_running(const server *s)
{
    return s->functions && s->functions->vm.running;
}

uint32_t functions_declared_flags(server *s, const char *name, size_t n)
{
    const fn_function *f = s->functions ? fn_find(s->functions, name, n) : NULL;
    return f ? f->flags : SCRIPT_COMPAT;
}

bool fn_name_valid(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

/* ---- libraries ---- */

void fn_library_free(fn_engine *e, fn_library *lib)
{
    if (!lib)
        return;
    for (int i = 0; i < lib->nfns; i++) {
        luaL_unref(e->vm.L, LUA_REGISTRYINDEX, lib->fns[i].ref);
        free(lib->fns[i].name);
        free(lib->fns[i].desc);
    }
    free(lib->fns);
    free(lib->name);
    free(lib->code);
    free(lib);
}

int fn_library_index(const fn_engine *e, const char *name, size_t n)
{
    for (int i = 0; i < e->nlibs; i++)
        if (strlen(e->libs[i]->name) == n && memcmp(e->libs[i]->name, name, n) == 0)
            return i;
    return -1;
}

const fn_function *fn_find(const fn_engine *e, const char *name, size_t n)
{
    for (int i = 0; i < e->nlibs; i++)
        for (int j = 0; j < e->libs[i]->nfns; j++) {
            const fn_function *f = &e->libs[i]->fns[j];
            if (strlen(f->name) == n && strncasecmp(f->name, name, n) == 0)
                return f; /* any case, as Redis's table of every function */
        }
    return NULL;
}

/* Links lib in, in name order (FUNCTION LIST's). 0 or -ENOMEM. */
int fn_link(fn_engine *e, fn_library *lib)
{
    if (e->nlibs == e->cap) {
        int cap = e->cap ? e->cap * 2 : 8;
        fn_library **libs = realloc(e->libs, (size_t)cap * sizeof *libs);
        if (!libs)
            return -ENOMEM;
        e->libs = libs;
        e->cap = cap;
    }
    int at = 0;
    while (at < e->nlibs && strcmp(e->libs[at]->name, lib->name) < 0)
        at++;
    memmove(e->libs + at + 1, e->libs + at, (size_t)(e->nlibs - at) * sizeof *e->libs);
    e->libs[at] = lib;
    e->nlibs++;
    e->nfunctions += (size_t)lib->nfns;
    return 0;
}

fn_library *fn_unlink(fn_engine *e, int i)
{
    fn_library *lib = e->libs[i];
    memmove(e->libs + i, e->libs + i + 1, (size_t)(e->nlibs - i - 1) * sizeof *e->libs);
    e->nlibs--;
    e->nfunctions -= (size_t)lib->nfns;
    return lib;
}

/* ---- redis.register_function ---- */

/* Raises Redis's error table for msg. */
static int raise_error(lua_State *L, const char *msg)
{
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

static const struct {
    const char *name;
    uint32_t flag;
} flag_names[] = {
    {"no-writes", SCRIPT_NO_WRITES},     {"allow-oom", SCRIPT_ALLOW_OOM},
    {"allow-stale", SCRIPT_ALLOW_STALE}, {"no-cluster", SCRIPT_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_ALLOW_CROSS_SLOT},
};
#define NFLAGS (sizeof flag_names / sizeof flag_names[0])

const char *fn_flag_name(size_t i, uint32_t *flag)
{
    if (i >= NFLAGS)
        return NULL;
    *flag = flag_names[i].flag;
    return flag_names[i].name;
}

/* The flags of the array on top of L (strings, any case); false for another value. */
static bool read_flags(lua_State *L, uint32_t *flags)
{
    *flags = 0;
    for (int j = 1;; j++) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return true;
        }
        size_t i = NFLAGS;
        if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
            const char *f = lua_tostring(L, -1);
            for (i = 0; i < NFLAGS && strcasecmp(flag_names[i].name, f) != 0; i++)
                ;
        }
        lua_pop(L, 1);
        if (i == NFLAGS)
            return false;
        *flags |= flag_names[i].flag;
    }
}

/* A function being registered: its callback is at stack index cb (0: none yet). */
typedef struct reg_args {
    const char *name, *desc;
    size_t name_len, desc_len;
    int cb;
    uint32_t flags;
} reg_args;

/* Whether the value at idx is a string to Redis (a number converts). */
static bool is_string(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER;
}

/* The named arguments of the table at index 1; NULL, or the error. The values found are
   copied to slots 2.. of the stack so that they outlive the iteration. */
static const char *read_named(lua_State *L, reg_args *a)
{
    if (!lua_istable(L, 1))
        return "calling redis.register_function with a single argument is only applicable to "
               "Lua table (representing named arguments).";
    lua_settop(L, 1);
    lua_pushnil(L); /* 2: name, 3: description, 4: callback, then the iteration */
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (!is_string(L, -2))
            return "named argument key given to redis.register_function is not a string";
        lua_pushvalue(L, -2);
        const char *key = lua_tostring(L, -1);
        lua_pop(L, 1);
        if (strcasecmp(key, "function_name") == 0) {
            if (!is_string(L, -1))
                return "function_name argument given to redis.register_function must be a "
                       "string";
            lua_pushvalue(L, -1);
            lua_replace(L, 2);
        } else if (strcasecmp(key, "description") == 0) {
            if (!is_string(L, -1))
                return "description argument given to redis.register_function must be a "
                       "string";
            lua_pushvalue(L, -1);
            lua_replace(L, 3);
        } else if (strcasecmp(key, "callback") == 0) {
            if (!lua_isfunction(L, -1))
                return "callback argument given to redis.register_function must be a function";
            lua_pushvalue(L, -1);
            lua_replace(L, 4);
        } else if (strcasecmp(key, "flags") == 0) {
            if (!lua_istable(L, -1))
                return "flags argument to redis.register_function must be a table "
                       "representing function flags";
            if (!read_flags(L, &a->flags))
                return "unknown flag given";
        } else {
            return "unknown argument given to redis.register_function";
        }
        lua_pop(L, 1);
    }
    if (lua_isnil(L, 2))
        return "redis.register_function must get a function name argument";
    if (lua_isnil(L, 4))
        return "redis.register_function must get a callback argument";
    lua_pushvalue(L, 2); /* a number becomes its string in a copy, not in the table */
    lua_replace(L, 2);
    a->name = lua_tolstring(L, 2, &a->name_len);
    if (!lua_isnil(L, 3))
        a->desc = lua_tolstring(L, 3, &a->desc_len);
    a->cb = 4;
    return NULL;
}

static const char *read_positional(lua_State *L, reg_args *a)
{
    if (!is_string(L, 1))
        return "first argument to redis.register_function must be a string";
    if (!lua_isfunction(L, 2))
        return "second argument to redis.register_function must be a function";
    a->name = lua_tolstring(L, 1, &a->name_len);
    a->cb = 2;
    return NULL;
}

static char *dup_n(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* Adds the function of a to the library being loaded; NULL or the error. */
static const char *add_function(lua_State *L, fn_library *lib, const reg_args *a)
{
    if (!fn_name_valid(a->name, a->name_len))
        return "Library names can only contain letters, numbers, or underscores(_) and must "
               "be at least one character long";
    for (int i = 0; i < lib->nfns; i++)
        if (strlen(lib->fns[i].name) == a->name_len &&
            memcmp(lib->fns[i].name, a->name, a->name_len) == 0)
            return "Function already exists in the library";
    fn_function *fns = realloc(lib->fns, (size_t)(lib->nfns + 1) * sizeof *fns);
    if (!fns)
        return "not enough memory";
    lib->fns = fns;
    fn_function *f = &fns[lib->nfns];
    memset(f, 0, sizeof *f);
    f->name = dup_n(a->name, a->name_len);
    f->desc = a->desc ? dup_n(a->desc, a->desc_len) : NULL;
    if (!f->name || (a->desc && !f->desc)) {
        free(f->name);
        free(f->desc);
        return "not enough memory";
    }
    f->flags = a->flags;
    lua_pushvalue(L, a->cb);
    f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lib->nfns++;
    return NULL;
}

static int api_register_function(lua_State *L)
{
    fn_engine *e = engine_of(L);
    if (!e || !e->loading)
        return raise_error(L, "redis.register_function can only be called on FUNCTION LOAD "
                              "command");
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2)
        return raise_error(L, "wrong number of arguments to redis.register_function");
    reg_args a = {0};
    const char *err = argc == 1 ? read_named(L, &a) : read_positional(L, &a);
    if (!err)
        err = add_function(L, e->loading, &a);
    return err ? raise_error(L, err) : 0;
}

/* ---- the load ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    fn_engine *e = engine_of(L);
    if (e && now_ms() - e->load_start > LOAD_TIMEOUT_MS) {
        lua_sethook(L, load_hook, LUA_MASKLINE, 0);
        raise_error(L, "FUNCTION LOAD timeout");
    }
}

/* The message of the error on top of L after a failed load (a string, or Redis's error
   table's err). */
static const char *load_error_message(lua_State *L)
{
    if (lua_istable(L, -1)) {
        lua_pushstring(L, "err");
        lua_rawget(L, -2);
        const char *m = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
        lua_replace(L, -2);
        return m;
    }
    return lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
}

/* Runs the library's code (compiled on top of L) under the load globals. 0, or -1 with
   the error in err. */
static int run_library_code(fn_engine *e, fn_library *lib, char *err, size_t cap)
{
    lua_State *L = e->vm.L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LOAD_ENV);
    script_set_globals_source(L, -1, true);
    lua_pop(L, 1);
    e->loading = lib;
    e->load_start = now_ms();
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int rc = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    e->loading = NULL;
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_GLOBALS);
    script_set_globals_source(L, -1, false);
    lua_pop(L, 1);
    if (rc) {
        snprintf(err, cap, "Error registering functions: %s", load_error_message(L));
        lua_settop(L, 0);
        return -1;
    }
    return 0;
}

/* The name of the library in code's first line ("#!<engine> name=<lib>"): 0, or -1 with
   Redis's error in err. *name is malloc'ed; *body is where the code after the line starts
   (its newline, so that line numbers stay). */
static int parse_metadata(const char *code, size_t n, char **name, size_t *body, char *err,
                          size_t cap)
{
    *name = NULL;
    if (n < 2 || memcmp(code, "#!", 2) != 0) {
        snprintf(err, cap, "Missing library metadata");
        return -1;
    }
    const char *end = memchr(code, '\n', n);
    if (!end) {
        snprintf(err, cap, "Invalid library metadata");
        return -1;
    }
    resp_cmd parts = {0};
    const char *why = NULL;
    if (resp_split_args(code, (size_t)(end - code), &parts, &why) || parts.argc == 0) {
        resp_cmd_free(&parts);
        snprintf(err, cap, "Invalid library metadata");
        return -1;
    }
    int rc = 0;
    const resp_arg *a = parts.argv;
    for (int i = 1; rc == 0 && i < parts.argc; i++) {
        if (a[i].len >= 5 && strncasecmp(a[i].p, "name=", 5) == 0) {
            if (*name) {
                snprintf(err, cap,
                         "Invalid metadata value, name argument was given multiple times");
                rc = -1;
            } else if (!(*name = dup_n(a[i].p + 5, a[i].len - 5))) {
                snprintf(err, cap, "not enough memory");
                rc = -1;
            }
        } else {
            snprintf(err, cap, "Invalid metadata value given: %.*s", (int)a[i].len, a[i].p);
            rc = -1;
        }
    }
    if (rc == 0 && !*name) {
        snprintf(err, cap, "Library name was not given");
        rc = -1;
    }
    if (rc == 0 && !fn_name_valid(*name, strlen(*name))) {
        snprintf(err, cap, "Library names can only contain letters, numbers, or "
                           "underscores(_) and must be at least one character long");
        rc = -1;
    }
    if (rc == 0 && !(a[0].len == 5 && strncasecmp(a[0].p + 2, "lua", 3) == 0)) {
        snprintf(err, cap, "Engine '%.*s' not found", (int)a[0].len - 2, a[0].p + 2);
        rc = -1;
    }
    resp_cmd_free(&parts);
    if (rc) {
        free(*name);
        *name = NULL;
    } else {
        *body = (size_t)(end - code);
    }
    return rc;
}

int fn_compile(fn_engine *e, const char *code, size_t n, bool replace, bool standalone,
               fn_library **out, int *old, char *err, size_t cap)
{
    *out = NULL;
    char *name;
    size_t body;
    if (parse_metadata(code, n, &name, &body, err, cap))
        return -1;
    *old = standalone ? -1 : fn_library_index(e, name, strlen(name));
    if (*old >= 0 && !replace) {
        snprintf(err, cap, "Library '%s' already exists", name);
        free(name);
        return -1;
    }
    fn_library *lib = calloc(1, sizeof *lib);
    if (!lib || !(lib->code = dup_n(code, n))) {
        free(lib);
        free(name);
        snprintf(err, cap, "not enough memory");
        return -1;
    }
    lib->name = name;
    lib->code_len = n;
    lua_State *L = e->vm.L;
    lua_settop(L, 0);
    if (luaL_loadbuffer(L, code + body, n - body, "@user_function")) {
        snprintf(err, cap, "Error compiling function: %s", lua_tostring(L, -1));
        lua_settop(L, 0);
        fn_library_free(e, lib);
        return -1;
    }
    if (run_library_code(e, lib, err, cap)) {
        fn_library_free(e, lib);
        return -1;
    }
    if (lib->nfns == 0) {
        snprintf(err, cap, "No functions registered");
        fn_library_free(e, lib);
        return -1;
    }
    for (int i = 0; !standalone && i < lib->nfns; i++) {
        const fn_function *f = fn_find(e, lib->fns[i].name, strlen(lib->fns[i].name));
        if (f && !(*old >= 0 && f->lib == e->libs[*old])) {
            snprintf(err, cap, "Function %s already exists", f->name);
            fn_library_free(e, lib);
            return -1;
        }
    }
    for (int i = 0; i < lib->nfns; i++)
        lib->fns[i].lib = lib;
    *out = lib;
    return 0;
}

/* ---- the state ---- */

/* Makes the load globals: {redis = {register_function, log, LOG_*, REDIS_VERSION*}}, every
   table strict (a missing name is an error) and read-only. */
static int make_load_env(lua_State *L)
{
    lua_newtable(L); /* the redis of a load */
    lua_pushcfunction(L, api_register_function);
    lua_setfield(L, -2, "register_function");
    static const char *const copied[] = {"log",        "LOG_DEBUG",     "LOG_VERBOSE",
                                         "LOG_NOTICE", "LOG_WARNING",   "REDIS_VERSION",
                                         "REDIS_VERSION_NUM", NULL};
    lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_REG_GLOBALS);
    lua_getfield(L, -1, "redis"); /* the scripts' redis (through its proxy) */
    for (int i = 0; copied[i]; i++) {
        lua_getfield(L, -1, copied[i]);
        lua_setfield(L, -4, copied[i]);
    }
    lua_pop(L, 2);
    lua_newtable(L); /* the load globals */
    script_push_strict_proxy(L, -2);
    lua_setfield(L, -2, "redis");
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LOAD_ENV);
    lua_pop(L, 1);
    return 0;
}

int fn_engine_open(server *s)
{
    fn_engine *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    script_vm *vm = &e->vm;
    vm->s = s;
    vm->fake.authenticated = true;
    vm->fake.in_script = true;
    vm->fake.proto = 2;
    vm->fake.fd = -1;
    snprintf(vm->fake.addr, sizeof vm->fake.addr, "lua");
    vm->L = script_vm_open(vm);
    if (!vm->L || lua_cpcall(vm->L, make_load_env, NULL) != 0) {
        if (vm->L)
            lua_close(vm->L);
        free(e);
        return -ENOMEM;
    }
    s->functions = e;
    return 0;
}

int functions_init(server *s)
{
    int rc = fn_engine_open(s);
    rc = rc ? rc : fn_store_load_all(s);
    if (rc)
        functions_free(s);
    return rc;
}

int functions_reload(server *s)
{
    fn_engine *e = s->functions;
    if (!e)
        return functions_init(s);
    while (e->nlibs) /* the engine and its Lua state stay: the loops read them (script_busy) */
        fn_library_free(e, fn_unlink(e, e->nlibs - 1));
    return fn_store_load_all(s);
}

void functions_free(server *s)
{
    fn_engine *e = s->functions;
    if (!e)
        return;
    for (int i = 0; i < e->nlibs; i++)
        fn_library_free(e, e->libs[i]);
    free(e->libs);
    lua_close(e->vm.L);
    resp_out_free(&e->vm.fake.out);
    free(e);
    s->functions = NULL;
}

size_t functions_vm_memory(const server *s)
{
    if (!s->functions)
        return 0;
    lua_State *L = s->functions->vm.L;
    return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

size_t functions_memory(const server *s)
{
    const fn_engine *e = s->functions;
    if (!e)
        return 0;
    size_t n = sizeof *e + (size_t)e->cap * sizeof *e->libs;
    for (int i = 0; i < e->nlibs; i++) {
        const fn_library *lib = e->libs[i];
        n += sizeof *lib + strlen(lib->name) + 1 + lib->code_len + 1;
        for (int j = 0; j < lib->nfns; j++)
            n += sizeof lib->fns[j] + strlen(lib->fns[j].name) + 1 +
                 (lib->fns[j].desc ? strlen(lib->fns[j].desc) + 1 : 0);
    }
    return n;
}

size_t functions_count(const server *s)
{
    return s->functions ? s->functions->nfunctions : 0;
}

size_t functions_library_count(const server *s)
{
    return s->functions ? (size_t)s->functions->nlibs : 0;
}

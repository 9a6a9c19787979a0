/*
 * fuzz_script.c - the Lua-facing API on arbitrary scripts: the input is a script's body,
 * then (after NUL bytes) its arguments, the first half KEYS and the rest ARGV; it runs as
 * EVAL through the command table (t_script.c, server/script/: the sandbox, redis.call
 * on every command, the reply conversions, cjson, cmsgpack, bit, struct) against one
 * server with a real engine kept across inputs (fuzz_server.h). An odd-sized input runs
 * from a RESP3 client. Each run must produce exactly one well-formed reply; ASan/UBSan
 * and LeakSanitizer catch the rest.
 *
 * Limits, so that every input ends: the Lua heap is capped (lua-memory-limit 4 MB), and
 * a CPU limit rides the busy hook: with busy-reply-threshold at 1 ms the hook calls the
 * handler below every 100000 Lua instructions once the run is past 1 ms, and after
 * KILL_AFTER calls it makes the hook raise the kill error at every line, even when the
 * script has written (SCRIPT KILL would refuse then: this is the harness's own limit).
 *
 * No network: MIGRATE from a script would connect wherever the script says; connect()
 * and getaddrinfo() are replaced here by versions that refuse.
 */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz_server.h"
#include "script_int.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32
#define KILL_AFTER 3 /* busy handler calls (x 100000 instructions) before the kill */

static int busy_calls;

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    (void)fd, (void)addr, (void)len;
    errno = ECONNREFUSED;
    return -1;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    (void)node, (void)service, (void)hints, (void)res;
    return EAI_FAIL;
}

/* The CPU limit (see the top). */
static void busy_handler(server *s)
{
    if (++busy_calls >= KILL_AFTER)
        s->script->kill_requested = true;
}

static const fuzz_server_options options = {
    .name = "script",
    .busy_reply_threshold = 1,
    .busy_handler = busy_handler,
    .lua_memory_limit = 4u << 20,
};

/* Splits the input at NULs: parts[0] the body, then the arguments. */
static int split(const char *p, size_t n, resp_arg *parts)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && k < MAX_ARGS; i++) {
        if (i == n || p[i] == '\0') {
            parts[k].p = p + start;
            parts[k++].len = i - start;
            start = i + 1;
        }
    }
    return k;
}

/* EVAL body numkeys args... as a RESP request (malloc'ed; free it), its length in *len. */
static char *request(const resp_arg *parts, int nparts, size_t *len)
{
    size_t cap = 64 + (size_t)nparts * 32;
    for (int i = 0; i < nparts; i++)
        cap += parts[i].len;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    int nargs = nparts - 1, nkeys = nargs / 2;
    char numkeys[16];
    int nk = snprintf(numkeys, sizeof numkeys, "%d", nkeys);
    size_t at = (size_t)sprintf(buf, "*%d\r\n$4\r\nEVAL\r\n$%zu\r\n", nparts + 2, parts[0].len);
    memcpy(buf + at, parts[0].p, parts[0].len);
    at += parts[0].len;
    at += (size_t)sprintf(buf + at, "\r\n$%d\r\n%s\r\n", nk, numkeys);
    for (int i = 1; i < nparts; i++) {
        at += (size_t)sprintf(buf + at, "$%zu\r\n", parts[i].len);
        memcpy(buf + at, parts[i].p, parts[i].len);
        at += parts[i].len;
        memcpy(buf + at, "\r\n", 2);
        at += 2;
    }
    *len = at;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    server *s = fuzz_server(&options);
    resp_arg parts[MAX_ARGS];
    int nparts = split((const char *)data, size, parts);
    size_t len;
    char *req = request(parts, nparts, &len);
    client c = {0};
    fuzz_client_connect(s, &c, size % 2 ? 3 : 2);
    size_t used = 0;
    const char *err = NULL;
    if (resp_parse(req, len, 512u << 20, &c.cmd, &used, &err) != 1)
        __builtin_trap(); /* the request built above is well formed */
    busy_calls = 0;
    command_dispatch(s, &c);
    if (getenv("FUZZ_SCRIPT_ECHO")) /* FUZZ_SCRIPT_ECHO=1: show the reply */
        fwrite(c.out.data, 1, c.out.len, stderr);
    fuzz_check_one_reply(&c.out);
    /* A new Lua state for each input: what the input left in Lua (its cached script,
       garbage) goes, so an input that allocated more than it freed is worth a leak check
       (libFuzzer scans the heap then: on every input, if the state kept growing). */
    static const char flush_scripts[] = "*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n";
    fuzz_server_run(s, flush_scripts, sizeof flush_scripts - 1);
    fuzz_server_end_input(s, &c);
    free(req);
    return 0;
}

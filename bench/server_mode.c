/*
 * server_mode.c - shale-bench --server=HOST:PORT: the server load of load.c through the
 * shale client library (bench/hiredis/vs-hiredis.c runs the same through hiredis).
 */
#include <stdio.h>

#include "load.h"
#include "shale_client.h"

static void *sc_connect(const char *host, int port)
{
    shale_client_options o;
    shale_client_options_default(&o);
    o.host = host;
    o.port = port;
    o.timeout_ms = 10000;
    shale_client *c;
    if (shale_client_connect(&o, &c)) {
        fprintf(stderr, "shale-bench: %s\n", shale_client_errstr(c));
        shale_client_close(c);
        return NULL;
    }
    return c;
}

static int sc_append(void *c, int argc, const char **argv, const size_t *lens)
{
    return shale_client_appendv(c, argc, argv, lens) ? -1 : 0;
}

static int sc_reply(void *c)
{
    shale_client_reply *r;
    if (shale_client_get_reply(c, &r))
        return -1;
    int bad = r->type == SHALE_CLIENT_REPLY_ERROR;
    shale_client_reply_free(r);
    return bad ? -1 : 0;
}

static void sc_close(void *c)
{
    shale_client_close(c);
}

int bench_server_mode(int argc, char **argv)
{
    static const load_backend b = {"shale-client", sc_connect, sc_append, sc_reply, sc_close};
    return load_main(&b, argc, argv);
}

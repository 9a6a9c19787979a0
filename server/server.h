/*
 * server.h - what the server's files share: the server state, a client connection, and
 * the command handler signature. The event loop is in net_uring.c, commands in t_*.c,
 * the Redis-type encoding in keyspace.c.
 */
#ifndef SHALE_SERVER_H
#define SHALE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp.h"
#include "shale.h"

typedef struct server_config {
    char bind[64];
    int port;
    char dir[4096];
    bool sync_writes; /* reply only after the round's WAL sync */
    uint64_t proto_max_bulk_len;
} server_config;

typedef struct client {
    int fd;
    uint64_t id;
    char *in;
    size_t in_len, in_cap, in_off; /* bytes received / allocated / parsed */
    resp_cmd cmd;
    resp_out out;
    size_t out_sent; /* bytes of out already handed to a send */
    int proto;       /* 2 or 3 */
    int db;          /* SELECTed database, 0..15 */
    bool recv_armed, send_armed;
    bool close_after_reply; /* QUIT, or a protocol error */
    bool closed;
    bool in_round; /* queued for this round's sends */
    struct client *round_next;
} client;

typedef struct server {
    server_config cfg;
    shale_db *db;
    bool wrote_this_round; /* a write needs the round's sync before replies go */
    volatile int stop;
    uint64_t next_client_id;
} server;

/* A command handler writes its reply to c->out. */
typedef void (*command_fn)(server *s, client *c);

/* Looks up and runs the command in c->cmd (arity checked first). */
void command_dispatch(server *s, client *c);

/* Command families. */
void cmd_ping(server *s, client *c);
void cmd_echo(server *s, client *c);
void cmd_quit(server *s, client *c);
void cmd_get(server *s, client *c);
void cmd_set(server *s, client *c);
void cmd_del(server *s, client *c);
void cmd_exists(server *s, client *c);

/* Runs the event loop until s->stop. Returns 0 or -errno (io_uring unavailable...). */
int net_run(server *s);

/* Engine errors as Redis-style error replies. */
void reply_engine_error(client *c, int rc);

#endif

/*
 * main.c - shale-server: reads the options, opens the engine in `dir` and the keyspace
 * over it, runs the event loops until SIGTERM/SIGINT or SHUTDOWN, then closes the engine
 * cleanly (memtables flushed, WAL synced).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "modules.h"
#include "repl.h"
#include "repl_backlog.h"
#include "repl_failover.h"
#include "repl_primary.h"
#include "repl_replica.h"
#include "repl_swap.h"
#include "store.h"
#include "server.h"

static server srv;

static void on_signal(int sig)
{
    (void)sig;
    srv.stop = 1;
}

/* replicaof host port in the configuration: the node starts as that primary's replica. */
static int start_replica(server *s)
{
    char host[300];
    int port;
    if (sscanf(s->cfg.replicaof, "%299s %d", host, &port) != 2 ||
        repl_replica_follow(s, host, port)) {
        fprintf(stderr, "shale-server: cannot start replicating '%s'\n", s->cfg.replicaof);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    config_default(&srv.cfg);
    char err[512];
    int rc;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: shale-server [config-file] [--option value ...]\n"
               "Options use redis.conf names (port, bind, dir, requirepass, maxclients, ...);\n"
               "shale.conf.example documents each. Default: 127.0.0.1:6379, dir ./data.\n");
        return 0;
    }
    if (config_load(&srv.cfg, argc, argv, err, sizeof err)) {
        fprintf(stderr, "shale-server: %s\n", err);
        return 1;
    }
    /* before the engine opens: max-open-files may be lowered to fit */
    rc = config_fit_fd_limit(&srv.cfg, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "shale-server: %s\n", err);
        return 1;
    }
    if (rc > 0)
        fprintf(stderr, "shale-server: %s\n", err);
    if (repl_init(&srv)) { /* before the engine opens: its commit tap feeds the backlog */
        fprintf(stderr, "shale-server: out of memory\n");
        return 1;
    }
    shale_options o, fifo;
    server_store_options(&srv, &o, &fifo);
    const char *recovered;
    rc = repl_swap_recover(srv.cfg.dir, &recovered); /* a full sync's swap a crash cut */
    if (rc) {
        fprintf(stderr, "shale-server: cannot recover an interrupted full sync beside '%s': %s\n",
                srv.cfg.dir, shale_strerror(rc));
        return 1;
    }
    if (*recovered)
        fprintf(stderr, "shale-server: %s\n", recovered);
    rc = shale_open(srv.cfg.dir, &o, &srv.db);
    if (rc) {
        fprintf(stderr, "shale-server: cannot open the data directory '%s': %s\n", srv.cfg.dir,
                shale_strerror(rc));
        return 1;
    }
    /* until it returns, the filter keeps everything */
    rc = ks_open(&srv.ks, srv.db, srv.cfg.dir, &fifo);
    if (rc) {
        fprintf(stderr, "shale-server: cannot read the keyspace in '%s': %s\n", srv.cfg.dir,
                shale_strerror(rc));
        shale_close(srv.db);
        return 1;
    }
    if (config_apply_db_options(&srv)) {
        ks_close(&srv.ks);
        shale_close(srv.db);
        return 1;
    }
    if (server_modules_init(&srv, (int)srv.cfg.io_threads)) {
        fprintf(stderr, "shale-server: out of memory\n");
        return 1;
    }
    rc = repl_load_ids(&srv); /* the history this store follows */
    if (rc)
        fprintf(stderr, "shale-server: the replication id in %s cannot be saved: %s\n",
                srv.cfg.dir, shale_strerror(rc));
    rc = server_modules_load(&srv); /* the function libraries, stored with the data */
    if (rc) {
        fprintf(stderr, "shale-server: cannot load the function libraries: %s\n",
                rc == -EINVAL ? "a library does not load" : shale_strerror(rc));
        return 1;
    }
    caps_refresh(&srv);
    srv.start_ms = ks_now_ms();
    srv.lastsave_s = (uint64_t)time(NULL);
    srv.bgsave.last_time_sec = -1;
    srv.bgsave.last_ok = 1;
    srv.bgsave.seq_at_save = ks_engines_writes(&srv.ks);
    srand((unsigned)srv.start_ms);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "shale-server %s ready on %s:%lld%s%s, data in %s, sync-writes %s\n",
            SHALE_VERSION_STRING, srv.cfg.bind, srv.cfg.port, srv.cfg.unixsocket[0] ? " and " : "",
            srv.cfg.unixsocket, srv.cfg.dir, srv.cfg.sync_writes ? "yes" : "no");
    if (srv.cfg.replicaof[0] && start_replica(&srv))
        return 1;
    rc = net_run(&srv);
    fprintf(stderr, "shale-server: stopping, closing the store\n");
    server_bgsave_wait(&srv);
    repl_failover_stop(&srv); /* a failover's thread, before the links it changes */
    repl_replica_stop(&srv); /* the link to a primary, before what it writes to goes */
    repl_primary_free(&srv); /* the replicas' threads, before what they wake goes */
    caps_stop(&srv);
    int krc = ks_close(&srv.ks); /* the fifo databases' engines */
    if (krc)
        fprintf(stderr, "shale-server: closing a fifo database: %s\n", shale_strerror(krc));
    server_modules_free(&srv);
    int crc = shale_close(srv.db);
    repl_free(&srv); /* the backlog, after the engine that feeds it */
    if (crc)
        fprintf(stderr, "shale-server: closing the engine: %s\n", shale_strerror(crc));
    return rc || crc || krc ? 1 : 0;
}

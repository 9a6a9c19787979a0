/*
 * main.c - shale-server: reads the options, opens the engine in `dir`, runs the event
 * loop until SIGTERM/SIGINT (or SHUTDOWN, later), then closes the engine cleanly.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "server.h"

static server srv;

static void on_signal(int sig)
{
    (void)sig;
    srv.stop = 1;
}

int main(int argc, char **argv)
{
    config_default(&srv.cfg);
    char err[512];
    if (config_load(&srv.cfg, argc, argv, err, sizeof err)) {
        fprintf(stderr, "shale-server: %s\n", err);
        return 1;
    }
    shale_options o;
    shale_options_default(&o);
    o.sync_writes = 0; /* the loop syncs once per round instead (group commit) */
    o.sync_interval_ms = srv.cfg.sync_writes ? 0 : 1000;
    int rc = shale_open(srv.cfg.dir, &o, &srv.db);
    if (rc) {
        fprintf(stderr, "shale-server: cannot open the data directory '%s': %s\n", srv.cfg.dir,
                shale_strerror(rc));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "shale-server %s ready on %s:%d, data in %s, sync-writes %s\n",
            SHALE_VERSION_STRING, srv.cfg.bind, srv.cfg.port, srv.cfg.dir,
            srv.cfg.sync_writes ? "yes" : "no");
    rc = net_run(&srv);
    int crc = shale_close(srv.db);
    if (crc)
        fprintf(stderr, "shale-server: closing the engine: %s\n", shale_strerror(crc));
    return rc || crc ? 1 : 0;
}

/* modules.c - the server's modules made and freed in one order (modules.h). */
#include "modules.h"

#include <errno.h>
#include <pthread.h>

#include "blocking.h"
#include "functions.h"
#include "monitor.h"
#include "multi.h"
#include "notify.h"
#include "pause.h"
#include "pubsub.h"
#include "script.h"
#include "tracking.h"

int server_modules_init(server *s, int nloops)
{
    pthread_mutex_init(&s->lock, NULL);
    notify_init(s);
    if (access_init(&s->access, ks_now_ms()) || multi_init(s) || tracking_init(s) ||
        blocking_init(s, nloops) || pubsub_init(s, nloops) || monitor_init(s, nloops) ||
        pause_init(s, nloops) || script_init(s))
        return -ENOMEM;
    return 0;
}

int server_modules_load(server *s)
{
    return functions_init(s);
}

void server_modules_free(server *s)
{
    migrate_cache_free(&s->migrate);
    cursor_table_free(&s->cursors);
    cmdstats_free(&s->cmds);
    access_free(&s->access);
    blocking_free(s);
    pubsub_free(s);
    tracking_free(s);
    notify_free(s);
    multi_free(s);
    functions_free(s);
    script_free(s);
    monitor_free(s);
    pause_free(s);
}

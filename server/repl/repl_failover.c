/* repl_failover.c - FAILOVER's wait and hand-over (repl_failover.h). */
#include "repl_failover.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pause.h"
#include "repl.h"
#include "repl_internal.h"
#include "repl_primary.h"
#include "repl_replica.h"
#include "resp.h"
#include "script.h"
#include "sync_conn.h"

/* How often the wait looks at the acks (Redis looks at every event loop's turn). */
#define POLL_MS 10
/* Each step of the hand-over's connection to the target waits at most this long. */
#define TARGET_TIMEOUT_MS 5000

enum { FO_NONE, FO_WAIT, FO_PROGRESS };

/* One failover, owned by its thread (which frees it); s->repl->failover points to it
   while it is under way. */
struct repl_failover {
    int state;         /* FO_* */
    bool has_target;   /* TO, or the caught-up replica the wait chose */
    char host[256];
    long long port;
    bool force;
    uint64_t end_ms;   /* TIMEOUT's end (0: none) */
    bool abort;        /* ended by FAILOVER ABORT or shutdown: the thread just leaves */
    bool sent;         /* REPLICAOF NO ONE went to the target: too late to abort */
};

static struct repl_failover *fo_of(const server *s)
{
    return s->repl ? s->repl->failover : NULL;
}

bool repl_failover_active(const server *s)
{
    return fo_of(s) != NULL;
}

const char *repl_failover_state(const server *s)
{
    struct repl_failover *fo = fo_of(s);
    if (!fo)
        return "no-failover";
    return fo->state == FO_WAIT ? "waiting-for-sync" : "failover-in-progress";
}

/* The failover is over (done or aborted): writes go on, held ones run again; its thread
   leaves at its next look. */
static void finish(server *s, struct repl_failover *fo)
{
    fo->state = FO_NONE;
    fo->abort = true;
    if (s->repl->failover == fo)
        s->repl->failover = NULL;
    pause_failover_end(s);
}

static void abort_with(server *s, struct repl_failover *fo, const char *why)
{
    if (fo->has_target)
        fprintf(stderr, "shale-server: FAILOVER to %s:%lld aborted: %s\n", fo->host, fo->port,
                why);
    else
        fprintf(stderr, "shale-server: FAILOVER to any replica aborted: %s\n", why);
    finish(s, fo);
}

/* ---- the hand-over: REPLICAOF NO ONE to the target ---- */

/* Sends argv (argc words) and reads the one-line reply. 0 or -errno. */
static int call(int fd, sync_reader *rd, int argc, const char *const *argv, char *line,
                size_t cap)
{
    resp_out o = {0};
    resp_array(&o, argc);
    for (int i = 0; i < argc; i++)
        resp_bulk_cstr(&o, argv[i]);
    int rc = o.err ? o.err : sync_write(fd, o.data, o.len, TARGET_TIMEOUT_MS);
    resp_out_free(&o);
    long n = rc ? rc : sync_read_line(rd, line, cap, TARGET_TIMEOUT_MS);
    return n < 0 ? (int)n : 0;
}

/* What the connection needs, read under the lock. */
typedef struct target_conf {
    char host[256];
    int port;
    char auth[512], user[256];
} target_conf;

/* Whether the hand-over may still go on; if so, nothing can abort it from now (lock
   taken and released here). */
static bool commit_to_send(server *s, struct repl_failover *fo)
{
    pthread_mutex_lock(&s->lock);
    bool go = !fo->abort;
    fo->sent = go;
    pthread_mutex_unlock(&s->lock);
    return go;
}

/* Connects to the target, authenticates and sends REPLICAOF NO ONE (lock not held).
   0 once it answered +OK; else -errno, with why filled. */
static int promote_target(server *s, struct repl_failover *fo, const target_conf *tc,
                          char *why, size_t cap)
{
    int fd;
    int rc = sync_connect(tc->host, tc->port, TARGET_TIMEOUT_MS, &fd);
    if (rc) {
        snprintf(why, cap, "cannot connect to the target: %s", strerror(-rc));
        return rc;
    }
    sync_reader rd = {.fd = fd};
    char line[512] = "";
    if (tc->auth[0]) {
        const char *auth[] = {"AUTH", tc->user[0] ? tc->user : tc->auth, tc->auth};
        rc = call(fd, &rd, tc->user[0] ? 3 : 2, auth, line, sizeof line);
        if (rc == 0 && strncmp(line, "+OK", 3) != 0)
            rc = -EACCES;
    }
    if (rc == 0 && !commit_to_send(s, fo))
        rc = -ECANCELED;
    if (rc == 0) {
        const char *no_one[] = {"REPLICAOF", "NO", "ONE"};
        rc = call(fd, &rd, 3, no_one, line, sizeof line);
        if (rc == 0 && strncmp(line, "+OK", 3) != 0)
            rc = -EPROTO;
    }
    close(fd);
    if (rc == -ECANCELED)
        snprintf(why, cap, "Failover manually aborted");
    else if (rc)
        snprintf(why, cap, "the target refused: %s", line[0] ? line : strerror(-rc));
    return rc;
}

/* Hands over to fo's target (lock held on entry and on return, released meanwhile). */
static void hand_over(server *s, struct repl_failover *fo)
{
    target_conf tc;
    snprintf(tc.host, sizeof tc.host, "%s", fo->host);
    tc.port = (int)fo->port;
    snprintf(tc.auth, sizeof tc.auth, "%s", s->cfg.masterauth);
    snprintf(tc.user, sizeof tc.user, "%s", s->cfg.masteruser);
    fprintf(stderr, "shale-server: FAILOVER target %s:%d, handing over\n", tc.host, tc.port);
    pthread_mutex_unlock(&s->lock);
    char why[600];
    int rc = promote_target(s, fo, &tc, why, sizeof why);
    script_lock_idle(s); /* (following empties fifo databases: not under a busy script) */
    if (fo->abort)
        return; /* aborted before REPLICAOF NO ONE was sent: done already */
    if (rc) {
        abort_with(s, fo, why);
        return;
    }
    /* the target is a primary: this node follows it before any held write runs */
    rc = repl_replica_follow(s, tc.host, tc.port);
    if (rc)
        fprintf(stderr, "shale-server: FAILOVER: %s:%d is a primary now, but this node "
                        "cannot follow it (%s): REPLICAOF it\n",
                tc.host, tc.port, shale_strerror(rc));
    finish(s, fo);
}

/* ---- the wait ---- */

/* Whether the target (or any replica, which becomes the target) acknowledged all. */
static bool target_caught_up(server *s, struct repl_failover *fo)
{
    uint64_t seq = repl_offset(s), ack = 0;
    if (fo->has_target)
        return repl_primary_find(s, fo->host, fo->port, &ack) == 1 && ack >= seq;
    fo->has_target = repl_primary_caught_up(s, seq, fo->host, sizeof fo->host, &fo->port);
    return fo->has_target;
}

/* One look: 1 to hand over now, 0 to wait on, -1 aborted. Lock held. */
static int step(server *s, struct repl_failover *fo)
{
    if (fo->abort)
        return -1; /* ended already */
    if (script_busy(s))
        return 0; /* a script lending the lock may still write */
    if (fo->end_ms && repl_now_ms() >= fo->end_ms) {
        if (!fo->force) {
            abort_with(s, fo, "Replica never caught up before timeout");
            return -1;
        }
        fprintf(stderr, "shale-server: FAILOVER to %s:%lld time out exceeded, failing over\n",
                fo->host, fo->port);
        return 1;
    }
    return target_caught_up(s, fo) ? 1 : 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct fo_thread_arg {
    server *s;
    struct repl_failover *fo;
} fo_thread_arg;

static void *failover_main(void *arg)
{
    server *s = ((fo_thread_arg *)arg)->s;
    struct repl_failover *fo = ((fo_thread_arg *)arg)->fo;
    free(arg);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        int r = step(s, fo);
        if (r < 0)
            break;
        if (r > 0) {
            fo->state = FO_PROGRESS;
            hand_over(s, fo);
            break;
        }
        pthread_mutex_unlock(&s->lock);
        sleep_ms(POLL_MS);
        pthread_mutex_lock(&s->lock);
    }
    free(fo);
    s->repl->failover_threads--; /* (repl_failover_stop waits for none) */
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the commands ---- */

/* Redis's checks, in its order, after the syntax. */
static const char *refusal(server *s, const repl_failover_req *req)
{
    uint64_t ack;
    if (repl_failover_active(s))
        return "ERR FAILOVER already in progress.";
    if (repl_is_replica(s))
        return "ERR FAILOVER is not valid when server is a replica.";
    if (repl_count_replicas(s) == 0)
        return "ERR FAILOVER requires connected replicas.";
    if (req->force && (!req->timeout_ms || !req->to))
        return "ERR FAILOVER with force option requires both a timeout and target HOST and IP.";
    if (req->to) {
        int found = repl_primary_find(s, req->host, req->port, &ack);
        if (found < 0)
            return "ERR FAILOVER target HOST and PORT is not a replica.";
        if (found == 0)
            return "ERR FAILOVER target replica is not online.";
    }
    return NULL;
}

/* Starts fo's thread, detached (it frees fo). 0 or -EAGAIN. */
static int start_thread(server *s, struct repl_failover *fo)
{
    fo_thread_arg *arg = malloc(sizeof *arg);
    pthread_attr_t attr;
    pthread_t t;
    if (!arg || pthread_attr_init(&attr)) {
        free(arg);
        return -EAGAIN;
    }
    *arg = (fo_thread_arg){s, fo};
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, failover_main, arg);
    pthread_attr_destroy(&attr);
    if (rc) {
        free(arg);
        return -EAGAIN;
    }
    s->repl->failover_threads++;
    return 0;
}

const char *repl_failover_start(server *s, const repl_failover_req *req)
{
    const char *err = refusal(s, req);
    if (err)
        return err;
    struct repl_failover *fo = calloc(1, sizeof *fo);
    if (!fo)
        return "ERR out of memory";
    *fo = (struct repl_failover){.state = FO_WAIT, .has_target = req->to, .port = req->port,
                                 .force = req->force};
    snprintf(fo->host, sizeof fo->host, "%s", req->host);
    if (req->timeout_ms)
        fo->end_ms = repl_now_ms() + (uint64_t)req->timeout_ms;
    if (start_thread(s, fo)) {
        free(fo);
        return "ERR out of resources: cannot start the failover's thread";
    }
    s->repl->failover = fo;
    if (req->to)
        fprintf(stderr, "shale-server: FAILOVER requested to %s:%lld\n", req->host, req->port);
    else
        fprintf(stderr, "shale-server: FAILOVER requested to any replica\n");
    pause_failover_start(s);
    return NULL;
}

const char *repl_failover_abort(server *s)
{
    struct repl_failover *fo = fo_of(s);
    if (!fo)
        return "ERR No failover in progress.";
    if (fo->sent)
        return "ERR FAILOVER cannot be aborted: the target was already told to become a "
               "primary.";
    abort_with(s, fo, "Failover manually aborted");
    return NULL;
}

void repl_failover_stop(server *s)
{
    if (!s->repl)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->repl->failover && !s->repl->failover->sent)
        abort_with(s, s->repl->failover, "the server is shutting down");
    /* a hand-over under way finishes (each step of it is bounded by TARGET_TIMEOUT_MS) */
    while (s->repl->failover_threads) {
        pthread_mutex_unlock(&s->lock);
        sleep_ms(POLL_MS);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
}

/*
 * commit.c - the commit pipeline of sync-writes yes, with commit-pipeline yes (without
 * it the loops sync themselves at the end of each round: net_uring.c, finish_round).
 *
 * A loop round that wrote (or read what may not be durable) used to sync on the loop
 * thread before sending its replies, and nothing overlapped the sync: 50 closed-loop
 * clients waited for one fdatasync and one round trip in turn. Here a round ends by
 * holding its replies (net_uring.c, hold_round) and asking this thread for a sync of
 * every write so far; the loop goes on receiving and running the next rounds, whose
 * replies are held too. When the sync ends, the thread starts the next one at once if a
 * loop asked for more, and wakes the loops that wait through an eventfd read armed in
 * their own ring (no extra wake-up when a loop is busy: it looks at the generations after
 * every round). So the disk always has one sync in flight and one gathering.
 *
 * The sync is the same call as before (ks_engines_flush_wal, ks_engines_sync: one
 * fdatasync per engine through engine/file.c, with the engine's bookkeeping of durable
 * offsets and directory syncs), so fault injection (the fail_fsync shim, file.c faults,
 * the power-loss harness) sees every sync. The hand-off costs the loop an uncontended
 * lock per held round and one eventfd wake-up per sync; the loop never waits for the
 * thread. (A commit thread tried earlier was slower, 39k against 53k SET/s here,
 * because its hand-offs cost more than the sync.)
 *
 * What a reply may depend on is a write generation (s->wgen, counted as writes return):
 * a sync that began when wgen was g makes every write up to g durable, so replies held
 * for g go out after it (s->synced_gen), or become errors if it failed (failed_gen).
 */
#include "commit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* Flushes the logs' buffered records and syncs them: every write up to the generation
   read first is durable on success. */
static int sync_everything(server *s, uint64_t *gen)
{
    *gen = __atomic_load_n(&s->wgen, __ATOMIC_ACQUIRE);
    int rc = ks_engines_flush_wal(&s->ks);
    return rc ? rc : ks_engines_sync(&s->ks);
}

/* After a failed sync, as finish_round did: counted, and with sync-writes yes the
   writes past synced_gen may be lost, so data commands are refused (s->unsynced_error)
   until watch_disk makes them durable. Returns whether that is the case. */
static bool note_failure(server *s, int rc)
{
    pthread_mutex_lock(&s->lock);
    s->stats.sync_failures++;
    bool unsynced = s->cfg.sync_writes;
    if (unsynced && !s->unsynced_error)
        __atomic_store_n(&s->unsynced_error, rc, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->lock);
    fprintf(stderr, "shale-server: WAL write or sync failed (%s): the replies waiting for it "
                    "become errors%s\n", shale_strerror(rc),
            unsynced ? ", and commands that read or write data are refused until the writes "
                       "are durable" : "");
    return unsynced;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The longest the thread waits for a group to come back (see gather). */
#define GATHER_MAX_US 1000

/*
 * Closed-loop clients released at the end of a sync come back a round trip later, when
 * a next sync started at once would already be in flight: they would wait for the rest
 * of it and then for a whole one of their own, and the clients split into two groups
 * that take turns, each client waiting two syncs (measured: p50 4.7 ms with a 2 ms sync,
 * 50 clients). So when a sync ends with writes waiting, the next one waits for the
 * writers just released to come back too (p->gather_want), for at most half a sync (and
 * GATHER_MAX_US): the groups merge and each client waits one sync and a round trip. A
 * lone writer never waits (its sync covered one write and none waited). mu held.
 */
static void gather(commit_pipe *p)
{
    uint64_t want = p->gather_want;
    uint64_t budget = p->last_sync_us / 2 < GATHER_MAX_US ? p->last_sync_us / 2 : GATHER_MAX_US;
    p->gather_want = 0;
    if (want <= 1 || p->wanted - p->attempted >= want || budget < 20)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)budget * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    p->wake_at = p->attempted + want;
    while (!p->stop && p->wanted - p->attempted < want)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0)
            break;
    p->wake_at = 0;
}

/* Wakes every loop that waits for the end of a sync. mu held; the writes go after. */
static int take_waiters(commit_pipe *p, int *fds)
{
    int n = 0;
    for (int i = 0; i < p->nloops; i++)
        if (p->notify[i]) {
            p->notify[i] = false;
            fds[n++] = p->wake_fd[i];
        }
    return n;
}

static void *commit_main(void *arg)
{
    commit_pipe *p = arg;
    server *s = p->s;
    int *fds = malloc((size_t)p->nloops * sizeof *fds);
    pthread_mutex_lock(&p->mu);
    while (!p->stop || p->wanted > p->attempted) {
        if (p->wanted <= p->attempted) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        gather(p);
        uint64_t from = p->attempted;
        pthread_mutex_unlock(&p->mu);
        uint64_t gen, start = now_us();
        int rc = sync_everything(s, &gen);
        uint64_t took = now_us() - start;
        if (rc == 0) {
            server_raise_gen(&s->flushed_gen, gen);
            server_raise_gen(&s->synced_gen, gen);
        } else {
            bool unsynced = note_failure(s, rc);
            pthread_mutex_lock(&p->mu);
            p->fail_rc = rc;
            p->fail_unsynced = unsynced;
            pthread_mutex_unlock(&p->mu);
            server_raise_gen(&p->failed_gen, gen); /* after fail_rc: readers look here first */
            if (!unsynced) { /* sync-writes was turned off meanwhile: nothing was promised */
                server_raise_gen(&s->flushed_gen, gen);
                server_raise_gen(&s->synced_gen, gen);
            }
        }
        pthread_mutex_lock(&p->mu);
        if (gen > p->attempted)
            p->attempted = gen;
        /* the writes waiting now, and the ones the writers just released will make */
        p->gather_want = (p->wanted > gen ? p->wanted - gen : 0) + (gen - from);
        p->last_sync_us = took;
        int n = fds ? take_waiters(p, fds) : 0;
        pthread_mutex_unlock(&p->mu);
        uint64_t one = 1;
        for (int i = 0; i < n; i++)
            if (write(fds[i], &one, sizeof one) < 0)
                fprintf(stderr, "shale-server: waking an event loop: %s\n", strerror(errno));
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    free(fds);
    return NULL;
}

int commit_start(commit_pipe *p, server *s, int nloops)
{
    memset(p, 0, sizeof *p);
    p->s = s;
    p->nloops = nloops;
    p->wake_fd = malloc((size_t)nloops * sizeof *p->wake_fd);
    p->notify = calloc((size_t)nloops, sizeof *p->notify);
    if (!p->wake_fd || !p->notify) {
        free(p->wake_fd);
        free(p->notify);
        return -ENOMEM;
    }
    int rc = 0, made = 0;
    for (; made < nloops; made++) {
        p->wake_fd[made] = eventfd(0, EFD_CLOEXEC) /* blocking: io_uring returns
                                                         -EAGAIN on a non-blocking one */;
        if (p->wake_fd[made] < 0) {
            rc = -errno;
            break;
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (rc == 0) {
        rc = -pthread_create(&p->thread, NULL, commit_main, p);
        p->started = rc == 0;
    }
    if (rc) {
        for (int i = 0; i < made; i++)
            close(p->wake_fd[i]);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p->wake_fd);
        free(p->notify);
        memset(p, 0, sizeof *p);
    }
    return rc;
}

void commit_stop(commit_pipe *p)
{
    if (!p->started)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    for (int i = 0; i < p->nloops; i++)
        close(p->wake_fd[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->wake_fd);
    free(p->notify);
    p->started = false;
}

int commit_wake_fd(const commit_pipe *p, int loop)
{
    return p->wake_fd[loop];
}

bool commit_request(commit_pipe *p, int loop, uint64_t gen)
{
    pthread_mutex_lock(&p->mu);
    bool ended = p->attempted >= gen;
    if (!ended) {
        p->notify[loop] = true;
        if (gen > p->wanted) {
            p->wanted = gen;
            if (gen >= p->wake_at) /* idle (0), or the group it gathers is complete */
                pthread_cond_signal(&p->cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return ended;
}

int commit_state(commit_pipe *p, uint64_t gen, int *rc, bool *unsynced)
{
    if (gen <= __atomic_load_n(&p->failed_gen, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&p->mu);
        *rc = p->fail_rc;
        *unsynced = p->fail_unsynced;
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    return gen <= __atomic_load_n(&p->s->synced_gen, __ATOMIC_ACQUIRE) ? 1 : 0;
}

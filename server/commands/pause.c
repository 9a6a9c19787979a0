/* pause.c - CLIENT PAUSE's state and its held clients (see pause.h). */
#include "pause.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "multi.h"

typedef struct pause_state {
    int type;                 /* enum pause_type (atomic: the loops read it) */
    uint64_t end_ms;          /* a pause is over when the time is past it (atomic) */
    client *held, *held_tail; /* held clients, oldest first (c->paused_next) */
    long long nheld;          /* (atomic) */
    bool failover;            /* FAILOVER's own pause of writes, no end time (atomic) */
    int nloops;
    bool *release; /* per loop: its held clients were released (atomic) */
} pause_state;

int pause_init(server *s, int nloops)
{
    pause_state *p = calloc(1, sizeof *p);
    bool *release = calloc((size_t)(nloops > 0 ? nloops : 1), sizeof *release);
    if (!p || !release) {
        free(p);
        free(release);
        return -ENOMEM;
    }
    p->nloops = nloops;
    p->release = release;
    s->pause = p;
    return 0;
}

void pause_free(server *s)
{
    if (!s->pause)
        return;
    free(s->pause->release);
    free(s->pause);
    s->pause = NULL;
}

void pause_start(server *s, int type, uint64_t end_ms)
{
    pause_state *p = s->pause;
    if (!p)
        return;
    int old = __atomic_load_n(&p->type, __ATOMIC_RELAXED);
    uint64_t old_end = __atomic_load_n(&p->end_ms, __ATOMIC_RELAXED);
    if (old != PAUSE_OFF) { /* as Redis: the longer end, the stricter mode */
        type = type > old ? type : old;
        end_ms = end_ms > old_end ? end_ms : old_end;
    }
    if (end_ms < ks_now_ms()) { /* PAUSE 0: over at once */
        if (old != PAUSE_OFF)
            pause_end(s);
        return;
    }
    __atomic_store_n(&p->end_ms, end_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&p->type, type, __ATOMIC_RELEASE);
    s->ks.reap_paused = true;
    /* ALL -> WRITE (never: the stricter mode stays) would release the reads */
}

/* Wakes the loops of the held clients: they run their input again (a command a pause
   of the other purpose still covers is held again, in the same order). */
static void release_held(server *s, pause_state *p)
{
    for (client *c = p->held; c; c = c->paused_next) {
        int idx = net_loop_index(c);
        if (idx >= 0 && idx < p->nloops &&
            !__atomic_exchange_n(&p->release[idx], true, __ATOMIC_RELEASE))
            net_wake_loop(s, idx);
    }
}

static bool failover_on(const pause_state *p)
{
    return __atomic_load_n(&p->failover, __ATOMIC_ACQUIRE);
}

void pause_end(server *s)
{
    pause_state *p = s->pause;
    if (!p)
        return;
    __atomic_store_n(&p->type, PAUSE_OFF, __ATOMIC_RELEASE);
    s->ks.reap_paused = failover_on(p);
    release_held(s, p);
}

void pause_failover_start(server *s)
{
    pause_state *p = s->pause;
    if (!p)
        return;
    __atomic_store_n(&p->failover, true, __ATOMIC_RELEASE);
    s->ks.reap_paused = true;
}

void pause_failover_end(server *s)
{
    pause_state *p = s->pause;
    if (!p || !failover_on(p))
        return;
    __atomic_store_n(&p->failover, false, __ATOMIC_RELEASE);
    s->ks.reap_paused = __atomic_load_n(&p->type, __ATOMIC_ACQUIRE) != PAUSE_OFF;
    release_held(s, p);
}

bool pause_covers(server *s, const client *c, const command *cmd)
{
    pause_state *p = s->pause;
    if (!p || c->monitor)
        return false;
    int type = __atomic_load_n(&p->type, __ATOMIC_ACQUIRE);
    if (type != PAUSE_OFF && ks_now_ms() > p->end_ms) {
        pause_end(s);
        type = PAUSE_OFF;
    }
    if (type == PAUSE_OFF && !failover_on(p))
        return false;
    return type == PAUSE_ALL || command_may_replicate(s, c, cmd);
}

bool pause_may_read(const client *c, const command *cmd)
{
    const command *row = command_row_of(c, cmd);
    return (row->flags & R) || (command_redis_flags(row) & CF_READONLY);
}

void pause_hold(server *s, client *c)
{
    pause_state *p = s->pause;
    if (!p || c->paused)
        return;
    c->paused = true;
    c->paused_next = NULL;
    if (p->held_tail)
        p->held_tail->paused_next = c;
    else
        p->held = c;
    p->held_tail = c;
    __atomic_add_fetch(&p->nheld, 1, __ATOMIC_RELAXED);
}

/* Takes c (whose predecessor is prev, NULL for the first) out of the held list. */
static void unlink_held(pause_state *p, client *prev, client *c)
{
    if (prev)
        prev->paused_next = c->paused_next;
    else
        p->held = c->paused_next;
    if (p->held_tail == c)
        p->held_tail = prev;
    c->paused_next = NULL;
    c->paused = false;
    __atomic_sub_fetch(&p->nheld, 1, __ATOMIC_RELAXED);
}

void pause_forget(server *s, client *c)
{
    pause_state *p = s->pause;
    if (!p || !c->paused)
        return;
    client *prev = NULL;
    for (client *x = p->held; x; prev = x, x = x->paused_next)
        if (x == c) {
            unlink_held(p, prev, c);
            return;
        }
}

long long pause_held_count(server *s)
{
    return s->pause ? __atomic_load_n(&s->pause->nheld, __ATOMIC_RELAXED) : 0;
}

bool pause_has_work(server *s, int loop, uint64_t now_ms)
{
    pause_state *p = s->pause;
    if (!p)
        return false;
    if (loop >= 0 && loop < p->nloops && __atomic_load_n(&p->release[loop], __ATOMIC_ACQUIRE))
        return true;
    uint64_t deadline = pause_next_deadline(s);
    return deadline && now_ms >= deadline;
}

uint64_t pause_next_deadline(server *s)
{
    pause_state *p = s->pause;
    if (!p || !__atomic_load_n(&p->nheld, __ATOMIC_RELAXED) ||
        __atomic_load_n(&p->type, __ATOMIC_ACQUIRE) == PAUSE_OFF)
        return 0;
    return __atomic_load_n(&p->end_ms, __ATOMIC_RELAXED) + 1; /* over once past end_ms */
}

void pause_expire(server *s, uint64_t now_ms)
{
    pause_state *p = s->pause;
    if (p && p->type != PAUSE_OFF && now_ms > p->end_ms)
        pause_end(s);
}

void pause_run(server *s, int loop, uint64_t now_ms)
{
    pause_state *p = s->pause;
    if (!p)
        return;
    pause_expire(s, now_ms);
    if (loop < 0 || loop >= p->nloops ||
        !__atomic_exchange_n(&p->release[loop], false, __ATOMIC_ACQUIRE))
        return;
    client *prev = NULL, *c = p->held;
    while (c) {
        client *next = c->paused_next;
        if (net_loop_index(c) == loop) {
            unlink_held(p, prev, c);
            /* its wait was not idleness: without this the idle check could close it
               between here and the run of its held command (server_pause.py's
               idle_timeout_spares_held failed 2 runs in 3) */
            c->last_ms = now_ms;
            net_resume(c); /* its kept input runs again, in this order */
        } else {
            prev = c;
        }
        c = next;
    }
}

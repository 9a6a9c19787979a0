/*
 * sync_point.c - test hooks (sync_point.h): a small table of named callbacks and the
 * wall-clock offset.
 */
#include "sync_point.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

typedef struct point {
    const char *name; /* the caller's string (tests pass literals) */
    sync_point_fn fn;
    void *arg;
} point;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static point points[SYNC_POINT_MAX];
atomic_int sync_point_active;
static _Atomic int64_t clock_shift;

int sync_point_set(const char *name, sync_point_fn fn, void *arg)
{
    pthread_mutex_lock(&mu);
    int free_slot = -1, rc = 0;
    for (int i = 0; i < SYNC_POINT_MAX; i++) {
        if (points[i].name && strcmp(points[i].name, name) == 0) {
            points[i].name = NULL;
            atomic_fetch_sub(&sync_point_active, 1);
        }
        if (!points[i].name && free_slot < 0)
            free_slot = i;
    }
    if (fn && free_slot < 0) {
        rc = -ENOSPC;
    } else if (fn) {
        points[free_slot] = (point){name, fn, arg};
        atomic_fetch_add(&sync_point_active, 1);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void sync_point_clear_all(void)
{
    pthread_mutex_lock(&mu);
    memset(points, 0, sizeof points);
    atomic_store(&sync_point_active, 0);
    pthread_mutex_unlock(&mu);
}

void sync_point_run(const char *name)
{
    sync_point_fn fn = NULL;
    void *arg = NULL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < SYNC_POINT_MAX && !fn; i++)
        if (points[i].name && strcmp(points[i].name, name) == 0) {
            fn = points[i].fn;
            arg = points[i].arg;
        }
    pthread_mutex_unlock(&mu);
    /* Outside the lock: callbacks block, wait for each other and set other points. */
    if (fn)
        fn(name, arg);
}

void sync_point_shift_clock_ms(int64_t delta_ms)
{
    atomic_store(&clock_shift, delta_ms);
}

int64_t sync_point_clock_shift_ms(void)
{
    return atomic_load_explicit(&clock_shift, memory_order_relaxed);
}

/*
 * sync_point.h - hooks that let a test make a race or a clock step happen on purpose
 * (RocksDB's SyncPoint, reduced): named points in the engine where a test's callback
 * runs on the thread that reaches them, and an offset on the engine's wall clock.
 * Unused, a point costs one relaxed atomic load and the clock one more; nothing here is
 * part of the public API.
 */
#ifndef SHALE_SYNC_POINT_H
#define SHALE_SYNC_POINT_H

#include <stdatomic.h>
#include <stdint.h>

typedef void (*sync_point_fn)(const char *name, void *arg);

/* Runs fn(name, arg) whenever a thread reaches point name (fn NULL: clears the point).
   At most SYNC_POINT_MAX points at once; returns 0 or -ENOSPC. */
#define SYNC_POINT_MAX 16
int sync_point_set(const char *name, sync_point_fn fn, void *arg);
/* Clears every point (callbacks already running finish). */
void sync_point_clear_all(void);

extern atomic_int sync_point_active; /* points set; the macro's fast path */
void sync_point_run(const char *name);
#define SYNC_POINT(name)                                                                           \
    do {                                                                                           \
        if (atomic_load_explicit(&sync_point_active, memory_order_relaxed))                        \
            sync_point_run(name);                                                                  \
    } while (0)

/* Shifts the engine's wall clock (db_now_ms: expiry decisions) by delta_ms, so a test can
   step it back or forward; 0 restores it. */
void sync_point_shift_clock_ms(int64_t delta_ms);
int64_t sync_point_clock_shift_ms(void);

#endif

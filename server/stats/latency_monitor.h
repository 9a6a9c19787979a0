/*
 * latency_monitor.h - Redis's latency monitor: per event ("command", "fast-command",
 * "expire-cycle"...) the samples that reached latency-monitor-threshold, at most one a
 * second (the worst of that second), the last LATENCY_HISTORY_LEN of them, and the
 * all-time maximum. LATENCY LATEST, HISTORY, RESET, GRAPH and DOCTOR read it. Not
 * thread-safe: the server adds and reads under its command lock.
 */
#ifndef SHALE_LATENCY_MONITOR_H
#define SHALE_LATENCY_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#define LATENCY_HISTORY_LEN 160
#define LATENCY_EVENTS_MAX 16

typedef struct latency_sample {
    int64_t time_s;      /* Unix time; 0: an empty slot */
    uint32_t latency_ms; /* the worst latency of that second */
} latency_sample;

typedef struct latency_event {
    char name[32];
    latency_sample samples[LATENCY_HISTORY_LEN]; /* a ring; next is the oldest */
    int next;
    uint32_t max_ms;
} latency_event;

typedef struct latency_monitor {
    latency_event events[LATENCY_EVENTS_MAX];
    int n;
} latency_monitor;

/* Records latency_ms for event at now_s (the caller checked the threshold). */
void latency_monitor_add(latency_monitor *m, const char *event, uint32_t latency_ms, int64_t now_s);
/* The event named (n bytes), or NULL. */
const latency_event *latency_monitor_find(const latency_monitor *m, const char *name, size_t n);
/* The event's newest sample, or NULL when it has none. */
const latency_sample *latency_event_latest(const latency_event *e);
/* The event's samples, oldest first: how many (at most LATENCY_HISTORY_LEN) into out. */
int latency_event_history(const latency_event *e, latency_sample *out);
/* Forgets the event named (n bytes): 1 if it existed, else 0. */
int latency_monitor_reset_event(latency_monitor *m, const char *name, size_t n);
/* Forgets every event: how many there were. */
int latency_monitor_reset(latency_monitor *m);

#endif

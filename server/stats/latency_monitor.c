/* latency_monitor.c - latency events and their per-second samples (latency_monitor.h). */
#include "latency_monitor.h"

#include <stdio.h>
#include <string.h>

static latency_event *find(latency_monitor *m, const char *name, size_t n)
{
    for (int i = 0; i < m->n; i++)
        if (strlen(m->events[i].name) == n && memcmp(m->events[i].name, name, n) == 0)
            return &m->events[i];
    return NULL;
}

void latency_monitor_add(latency_monitor *m, const char *event, uint32_t latency_ms, int64_t now_s)
{
    latency_event *e = find(m, event, strlen(event));
    if (!e) {
        if (m->n == LATENCY_EVENTS_MAX)
            return; /* the events are a fixed set of names: this does not happen */
        e = &m->events[m->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", event);
    }
    if (latency_ms > e->max_ms)
        e->max_ms = latency_ms;
    latency_sample *prev = &e->samples[(e->next + LATENCY_HISTORY_LEN - 1) % LATENCY_HISTORY_LEN];
    if (prev->time_s == now_s) { /* one sample a second: the worst */
        if (latency_ms > prev->latency_ms)
            prev->latency_ms = latency_ms;
        return;
    }
    e->samples[e->next] = (latency_sample){now_s, latency_ms};
    e->next = (e->next + 1) % LATENCY_HISTORY_LEN;
}

const latency_event *latency_monitor_find(const latency_monitor *m, const char *name, size_t n)
{
    return find((latency_monitor *)m, name, n);
}

const latency_sample *latency_event_latest(const latency_event *e)
{
    const latency_sample *s =
        &e->samples[(e->next + LATENCY_HISTORY_LEN - 1) % LATENCY_HISTORY_LEN];
    return s->time_s ? s : NULL;
}

int latency_event_history(const latency_event *e, latency_sample *out)
{
    int n = 0;
    for (int i = 0; i < LATENCY_HISTORY_LEN; i++) {
        const latency_sample *s = &e->samples[(e->next + i) % LATENCY_HISTORY_LEN];
        if (s->time_s)
            out[n++] = *s;
    }
    return n;
}

int latency_monitor_reset_event(latency_monitor *m, const char *name, size_t n)
{
    latency_event *e = find(m, name, n);
    if (!e)
        return 0;
    *e = m->events[--m->n];
    return 1;
}

int latency_monitor_reset(latency_monitor *m)
{
    int n = m->n;
    m->n = 0;
    return n;
}

/*
 * latency_hist.h - a latency histogram for per-command percentiles (INFO latencystats,
 * the Prometheus endpoint): log-linear bins over nanoseconds, exact below 64 ns, then 32
 * bins per power of two (each within 1/32, about 3 %), up to 2^42 ns (73 minutes; longer
 * samples land in the last bin). Adding is two shifts and an increment; 9.7 KB each.
 * Not thread-safe: the server updates and reads it under its command lock.
 */
#ifndef SHALE_LATENCY_HIST_H
#define SHALE_LATENCY_HIST_H

#include <stdint.h>

#define LATENCY_HIST_BINS (64 + 36 * 32)

typedef struct latency_hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t bins[LATENCY_HIST_BINS];
} latency_hist;

void latency_hist_add(latency_hist *h, uint64_t ns);
/* The value (ns) below which p percent of the samples lie (the middle of its bin); 0 when
   empty. p in [0, 100]. */
double latency_hist_percentile(const latency_hist *h, double p);
/* Samples of at most ns nanoseconds, counting whole bins whose upper edge is <= ns (a
   Prometheus bucket: exact at bin edges, a slight undercount between them). */
uint64_t latency_hist_count_le(const latency_hist *h, uint64_t ns);

#endif

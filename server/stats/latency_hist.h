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

/* One step of LATENCY HISTOGRAM's cumulative distribution. */
typedef struct latency_cdf_step {
    uint64_t usec;  /* the step's label, as Redis 7 labels it */
    uint64_t count; /* samples up to it */
} latency_cdf_step;
#define LATENCY_CDF_STEPS 21 /* 1024 ns to 2^30 ns (Redis's samples stop at 1 s) */
/*
 * The distribution as Redis 7's LATENCY HISTOGRAM gives it: at each power of two from
 * 1024 ns, the samples below it, labelled with the microseconds Redis's HdrHistogram (two
 * significant digits) shows for that step (1, 2, 4, 8, 16, 32, 65, 131...); only the steps
 * where the count grows, up to the one that holds every sample (the last takes the samples
 * past a second, as Redis's clamp does). Redis counts a sample within 1/128 above a power
 * of two in that power's step, this one in the next. out: LATENCY_CDF_STEPS entries; the
 * number of steps.
 */
int latency_hist_cdf(const latency_hist *h, latency_cdf_step *out);

#endif

/*
 * histogram.h - latency histogram with db_bench-style exponential buckets. One per
 * thread (no locking), merged at the end.
 */
#ifndef SHALE_BENCH_HISTOGRAM_H
#define SHALE_BENCH_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

#define HIST_BUCKETS 154

typedef struct histogram {
    double min, max, sum, sum_squares;
    uint64_t count;
    uint64_t buckets[HIST_BUCKETS];
} histogram;

void hist_clear(histogram *h);
void hist_add(histogram *h, double micros);
void hist_merge(histogram *dst, const histogram *src);
double hist_percentile(const histogram *h, double p);
/* Prints db_bench's summary: Count/Average/StdDev, Min/Median/Max, Percentiles. */
void hist_print(const histogram *h, FILE *out);

#endif

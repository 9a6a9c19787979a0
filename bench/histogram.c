/* histogram.c - see histogram.h. Bucket limits grow by about 1.5x, as db_bench's do. */
#include "histogram.h"

#include <math.h>
#include <string.h>

static double limits[HIST_BUCKETS];
static int limits_ready;

static void init_limits(void)
{
    if (limits_ready)
        return;
    double v = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        limits[i] = v;
        double next = v * 1.5;
        /* round to 2 significant digits so bucket bounds stay readable */
        double mag = pow(10, floor(log10(next)) - 1);
        next = floor(next / mag) * mag;
        v = next > v ? next : v + 1;
    }
    limits[HIST_BUCKETS - 1] = 1e200;
    limits_ready = 1;
}

void hist_clear(histogram *h)
{
    init_limits();
    memset(h, 0, sizeof *h);
    h->min = 1e200;
}

void hist_add(histogram *h, double micros)
{
    int lo = 0, hi = HIST_BUCKETS - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (limits[mid] > micros)
            hi = mid;
        else
            lo = mid + 1;
    }
    h->buckets[lo]++;
    if (micros < h->min)
        h->min = micros;
    if (micros > h->max)
        h->max = micros;
    h->count++;
    h->sum += micros;
    h->sum_squares += micros * micros;
}

void hist_merge(histogram *dst, const histogram *src)
{
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    dst->sum_squares += src->sum_squares;
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
}

double hist_percentile(const histogram *h, double p)
{
    if (h->count == 0)
        return 0;
    double threshold = (double)h->count * (p / 100.0);
    double sum = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        sum += (double)h->buckets[b];
        if (sum >= threshold) {
            double left = b == 0 ? 0 : limits[b - 1];
            double right = limits[b];
            double left_sum = sum - (double)h->buckets[b];
            double pos = h->buckets[b] ? (threshold - left_sum) / (double)h->buckets[b] : 0;
            double r = left + (right - left) * pos;
            if (r < h->min)
                r = h->min;
            if (r > h->max)
                r = h->max;
            return r;
        }
    }
    return h->max;
}

void hist_print(const histogram *h, FILE *out)
{
    double avg = h->count ? h->sum / (double)h->count : 0;
    double var = h->count ? h->sum_squares / (double)h->count - avg * avg : 0;
    fprintf(out, "Count: %llu Average: %.4f  StdDev: %.2f\n", (unsigned long long)h->count, avg,
            var > 0 ? sqrt(var) : 0);
    fprintf(out, "Min: %.4f  Median: %.4f  Max: %.4f\n", h->count ? h->min : 0,
            hist_percentile(h, 50), h->max);
    fprintf(out, "Percentiles: P50: %.2f P75: %.2f P99: %.2f P99.9: %.2f P99.99: %.2f\n",
            hist_percentile(h, 50), hist_percentile(h, 75), hist_percentile(h, 99),
            hist_percentile(h, 99.9), hist_percentile(h, 99.99));
}

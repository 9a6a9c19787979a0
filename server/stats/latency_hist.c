/* latency_hist.c - log-linear latency bins (see latency_hist.h). */
#include "latency_hist.h"

#define SUB_BITS 5 /* 32 bins per power of two */
#define SUB (1u << SUB_BITS)

static unsigned bin_of(uint64_t ns)
{
    if (ns < 2 * SUB)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* >= 6 */
    unsigned shift = e - SUB_BITS;
    unsigned idx = 2 * SUB + (e - SUB_BITS - 1) * SUB + (unsigned)((ns >> shift) - SUB);
    return idx < LATENCY_HIST_BINS ? idx : LATENCY_HIST_BINS - 1;
}

/* [lo, hi) of bin idx, in ns */
static void bin_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < 2 * SUB) {
        *lo = idx;
        *hi = idx + 1;
        return;
    }
    unsigned k = idx - 2 * SUB;
    unsigned e = k / SUB + SUB_BITS + 1, shift = e - SUB_BITS;
    *lo = (uint64_t)(SUB + k % SUB) << shift;
    *hi = *lo + (1ull << shift);
}

void latency_hist_add(latency_hist *h, uint64_t ns)
{
    h->bins[bin_of(ns)]++;
    h->count++;
    h->sum_ns += ns;
}

double latency_hist_percentile(const latency_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    /* the rank of the sample at p percent, 1-based */
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LATENCY_HIST_BINS; i++) {
        seen += h->bins[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            bin_range(i, &lo, &hi);
            return hi - lo == 1 ? (double)lo : ((double)lo + (double)hi) / 2;
        }
    }
    return 0;
}

uint64_t latency_hist_count_le(const latency_hist *h, uint64_t ns)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < LATENCY_HIST_BINS; i++) {
        uint64_t lo, hi;
        bin_range(i, &lo, &hi);
        if (hi - 1 > ns)
            break;
        n += h->bins[i];
    }
    return n;
}

int latency_hist_cdf(const latency_hist *h, latency_cdf_step *out)
{
    int n = 0;
    uint64_t prev = 0;
    for (int k = 0; k < LATENCY_CDF_STEPS && prev < h->count; k++) {
        uint64_t level = 1024ull << k;
        /* HdrHistogram at 2 significant digits: the bucket of a power of two L spans
           L / 128, and the step is labelled with its highest value */
        uint64_t highest = level + (level >> 7) - 1;
        uint64_t count =
            k == LATENCY_CDF_STEPS - 1 ? h->count : latency_hist_count_le(h, level - 1);
        if (count > prev)
            out[n++] = (latency_cdf_step){highest / 1000, count};
        prev = count;
    }
    return n;
}

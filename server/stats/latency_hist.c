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

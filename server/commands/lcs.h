/*
 * lcs.h - the longest common subsequence of two strings, as Redis 7.0's LCS computes it:
 * the dynamic-programming table, then a walk back from the end that prefers to drop a
 * byte of b when both choices keep the length (so the same subsequence and the same
 * matched ranges as Redis). A pure function over memory: no keys, no replies.
 */
#ifndef SHALE_LCS_H
#define SHALE_LCS_H

#include <stddef.h>
#include <stdint.h>

/* One run of bytes matched contiguously in both strings (inclusive offsets). */
typedef struct lcs_range {
    uint32_t a_start, a_end, b_start, b_end;
} lcs_range;

typedef struct lcs_result {
    uint32_t len;      /* the length of the subsequence */
    char *str;         /* the subsequence (len bytes, malloc'ed), when asked */
    lcs_range *ranges; /* the matched runs from the ends backwards (malloc'ed), when asked */
    uint32_t nranges;
} lcs_result;

/* The table (alen+1)*(blen+1) cells of 4 bytes: how many bytes it needs (Redis refuses
   past proto-max-bulk-len), UINT64_MAX when a length does not fit 32 bits. */
uint64_t lcs_table_bytes(size_t alen, size_t blen);
/* Computes the LCS of a and b; with_str / with_ranges: fill str / ranges. 0, or -ENOMEM
   (*out then holds nothing). Free with lcs_result_free. */
int lcs_compute(const char *a, size_t alen, const char *b, size_t blen, int with_str,
                int with_ranges, lcs_result *out);
void lcs_result_free(lcs_result *r);

#endif

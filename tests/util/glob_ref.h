/*
 * glob_ref.h - a reference glob matcher for tests: Redis 7.0's stringmatchlen read
 * literally (recursion at each '*', trying every non-empty rest of the string), with a
 * table of (pattern offset, string offset) pairs already answered so that it stays
 * polynomial. For short inputs only (GLOB_REF_MAX bytes each); test_glob.c checks it
 * against redis-server's answers, then server/commands/glob.c against it.
 */
#ifndef SHALE_GLOB_REF_H
#define SHALE_GLOB_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define GLOB_REF_MAX 64

typedef struct glob_ref {
    const char *pat, *str;
    size_t plen, slen;
    bool nocase;
    signed char memo[GLOB_REF_MAX + 1][GLOB_REF_MAX + 1]; /* 0 unknown, 1 match, -1 not */
} glob_ref;

/* Redis compares bytes as (signed on x86) chars and folds with tolower in the C locale. */
static inline int glob_ref_fold(int c, bool nocase)
{
    return nocase && c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool glob_ref_at(glob_ref *g, size_t p, size_t s);

/* The element at p is a character class; true when it matches the byte at s. *next is
   where the pattern goes on (past the ']', or the end when the class is unterminated). */
static inline bool glob_ref_class(const glob_ref *g, size_t p, size_t s, size_t *next)
{
    const char *pat = g->pat;
    int c = (signed char)g->str[s];
    size_t j = p + 1;
    bool negate = j < g->plen && pat[j] == '^', match = false;
    if (negate)
        j++;
    for (;; j++) {
        if (j < g->plen && pat[j] == '\\' && g->plen - j >= 2) {
            j++;
            if (pat[j] == g->str[s])
                match = true;
        } else if (j < g->plen && pat[j] == ']') {
            *next = j + 1;
            break;
        } else if (j == g->plen) {
            *next = g->plen;
            break;
        } else if (g->plen - j >= 3 && pat[j + 1] == '-') {
            int lo = (signed char)pat[j], hi = (signed char)pat[j + 2];
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            lo = glob_ref_fold(lo, g->nocase);
            hi = glob_ref_fold(hi, g->nocase);
            int f = glob_ref_fold(c, g->nocase);
            if (f >= lo && f <= hi)
                match = true;
            j += 2;
        } else if (glob_ref_fold((signed char)pat[j], g->nocase) == glob_ref_fold(c, g->nocase)) {
            match = true;
        }
    }
    return negate ? !match : match;
}

static inline bool glob_ref_walk(glob_ref *g, size_t p, size_t s)
{
    const char *pat = g->pat;
    while (p < g->plen && s < g->slen) {
        switch (pat[p]) {
        case '*':
            while (p + 1 < g->plen && pat[p + 1] == '*')
                p++;
            if (p + 1 == g->plen)
                return true;
            for (; s < g->slen; s++)
                if (glob_ref_at(g, p + 1, s))
                    return true;
            return false;
        case '?':
            p++;
            break;
        case '[':
            if (!glob_ref_class(g, p, s, &p))
                return false;
            break;
        case '\\':
            if (g->plen - p >= 2)
                p++;
            /* fall through */
        default:
            if (glob_ref_fold((signed char)pat[p], g->nocase) !=
                glob_ref_fold((signed char)g->str[s], g->nocase))
                return false;
            p++;
            break;
        }
        s++;
        if (s == g->slen) {
            while (p < g->plen && pat[p] == '*')
                p++;
            break;
        }
    }
    return p == g->plen && s == g->slen;
}

static bool glob_ref_at(glob_ref *g, size_t p, size_t s)
{
    if (!g->memo[p][s])
        g->memo[p][s] = glob_ref_walk(g, p, s) ? 1 : -1;
    return g->memo[p][s] > 0;
}

/* The reference answer; both lengths at most GLOB_REF_MAX. */
static inline bool glob_ref_match(glob_ref *g, const char *pat, size_t plen, const char *str,
                                  size_t slen, bool nocase)
{
    memset(g, 0, sizeof *g);
    g->pat = pat;
    g->plen = plen;
    g->str = str;
    g->slen = slen;
    g->nocase = nocase;
    return glob_ref_at(g, 0, 0);
}

#endif

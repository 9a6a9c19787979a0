/*
 * glob.c - glob patterns as Redis 7.0 matches them (see glob.h), without recursion.
 *
 * Every element but '*' matches exactly one byte ('?', a literal, "\x", a "[...]"
 * class), so the pattern is a row of fixed-width pieces between stars, and the leftmost
 * place where a piece fits is always the best one: a later place leaves less of the
 * string for what follows. When a piece fails, only the last star needs to take one more
 * byte; the stars before it never do. That is the classic two-cursor match: O(pattern x
 * string) at worst, one pass for most patterns, no stack.
 */
#include "glob.h"

#include <stdint.h>

/* Redis compares pattern and string bytes as chars (signed on the x86 servers we are
   compared with: "[a-\xff]" is the range -1..'a') and folds case with tolower() in the
   C locale, which only maps A-Z. */
static int byte_of(char c)
{
    return (signed char)c;
}

static int fold(int c, bool nocase)
{
    return nocase && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * The class "[...]" starting at pat[i] against byte c. Redis's reading: '^' first
 * negates; "\x" is x compared exactly (even with nocase); "a-z" is a range (either
 * order), its end taken literally even when it is ']'; the first ']' otherwise ends the
 * class, and a class left open runs to the end of the pattern. *next is the element
 * after the class.
 */
static bool class_match(const char *pat, size_t plen, size_t i, char c, bool nocase,
                        size_t *next)
{
    size_t j = i + 1;
    bool negate = j < plen && pat[j] == '^', match = false;
    if (negate)
        j++;
    int fc = fold(byte_of(c), nocase);
    for (;; j++) {
        if (j == plen) {
            *next = plen;
            break;
        }
        if (pat[j] == '\\' && plen - j >= 2) {
            j++;
            match |= pat[j] == c;
        } else if (pat[j] == ']') {
            *next = j + 1;
            break;
        } else if (plen - j >= 3 && pat[j + 1] == '-') {
            int lo = byte_of(pat[j]), hi = byte_of(pat[j + 2]);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            lo = fold(lo, nocase);
            hi = fold(hi, nocase);
            match |= fc >= lo && fc <= hi;
            j += 2;
        } else {
            match |= fold(byte_of(pat[j]), nocase) == fc;
        }
    }
    return match != negate;
}

/* The one-byte element at pat[i] (not '*') against c; *next is the element after it. */
static bool element_match(const char *pat, size_t plen, size_t i, char c, bool nocase,
                          size_t *next)
{
    switch (pat[i]) {
    case '?':
        *next = i + 1;
        return true;
    case '[':
        return class_match(pat, plen, i, c, nocase, next);
    case '\\':
        if (plen - i >= 2) /* a '\' ending the pattern stands for itself */
            i++;
        /* fall through */
    default:
        *next = i + 1;
        return fold(byte_of(pat[i]), nocase) == fold(byte_of(c), nocase);
    }
}

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    /* Redis's matcher stops when the string is used up and only then lets trailing stars
       go, so an empty string matches the empty pattern only (KEYS * answers every key
       without asking the matcher) */
    if (slen == 0)
        return plen == 0;
    size_t p = 0, i = 0;
    size_t star_p = SIZE_MAX, star_i = 0; /* the piece after the last star, and where it
                                             was last tried in the string */
    while (i < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen)
                return true; /* a trailing star takes the rest */
            star_p = p;
            star_i = i;
            continue;
        }
        size_t next;
        if (p < plen && element_match(pat, plen, p, s[i], nocase, &next)) {
            p = next;
            i++;
            continue;
        }
        if (star_p == SIZE_MAX)
            return false;
        p = star_p; /* the last star takes one more byte; the piece goes again */
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

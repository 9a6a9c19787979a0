/* glob.c - glob patterns as Redis 7.0 matches them (see glob.h). */
#include "glob.h"

#include <ctype.h>

static int fold(int ch, bool nocase)
{
    return nocase ? tolower(ch) : ch;
}

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    while (plen && slen) {
        switch (pat[0]) {
        case '*':
            while (plen > 1 && pat[1] == '*')
                pat++, plen--;
            if (plen == 1)
                return true;
            for (size_t i = 0; i <= slen; i++)
                if (glob_match(pat + 1, plen - 1, s + i, slen - i, nocase))
                    return true;
            return false;
        case '?':
            s++, slen--;
            break;
        case '[': {
            pat++, plen--;
            bool negate = plen && pat[0] == '^';
            if (negate)
                pat++, plen--;
            bool match = false;
            while (plen && pat[0] != ']') {
                if (pat[0] == '\\' && plen >= 2) {
                    pat++, plen--;
                    if (pat[0] == s[0])
                        match = true;
                } else if (plen >= 3 && pat[1] == '-') {
                    int lo = fold((unsigned char)pat[0], nocase);
                    int hi = fold((unsigned char)pat[2], nocase);
                    int ch = fold((unsigned char)s[0], nocase);
                    if (lo > hi) {
                        int t = lo;
                        lo = hi;
                        hi = t;
                    }
                    if (ch >= lo && ch <= hi)
                        match = true;
                    pat += 2, plen -= 2;
                } else if (fold((unsigned char)pat[0], nocase) == fold((unsigned char)s[0], nocase)) {
                    match = true;
                }
                pat++, plen--;
            }
            if (plen == 0) { /* unterminated: the '[' class ends the pattern */
                pat--, plen++;
            }
            if (negate)
                match = !match;
            if (!match)
                return false;
            s++, slen--;
            break;
        }
        case '\\':
            if (plen >= 2)
                pat++, plen--;
            /* fall through */
        default:
            if (fold((unsigned char)pat[0], nocase) != fold((unsigned char)s[0], nocase))
                return false;
            s++, slen--;
            break;
        }
        pat++, plen--;
        if (slen == 0) {
            while (plen && pat[0] == '*')
                pat++, plen--;
            break;
        }
    }
    return plen == 0 && slen == 0;
}

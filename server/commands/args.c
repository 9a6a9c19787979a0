/* args.c - argument parsing as Redis 7.0 does it (see args.h). */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool arg_is(const resp_arg *a, const char *word)
{
    return strlen(word) == a->len && strncasecmp(a->p, word, a->len) == 0;
}

bool arg_repeats(const resp_arg *argv, int from, int i, int step)
{
    for (int j = from; j < i; j += step)
        if (argv[j].len == argv[i].len && memcmp(argv[j].p, argv[i].p, argv[i].len) == 0)
            return true;
    return false;
}

bool parse_ll(const char *p, size_t n, long long *out)
{
    if (n == 0 || n > 20)
        return false;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = p[0] == '-';
    if (neg && ++i == n)
        return false;
    if (p[i] < '1' || p[i] > '9')
        return false;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (~0ull - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

bool arg_ll(const resp_arg *a, long long *out)
{
    return parse_ll(a->p, a->len, out);
}

bool parse_ld(const char *p, size_t n, long double *out)
{
    char buf[5200];
    if (n == 0 || n >= sizeof buf || isspace((unsigned char)p[0]))
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + n || isnan(v) || /* all of it: a NUL inside is no number */
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)))
        return false;
    *out = v;
    return true;
}

size_t format_ld_human(long double v, char *buf, size_t cap)
{
    if (isinf(v))
        return (size_t)snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0')
        buf[0] = '0', n = 1; /* "-0" reads "0", as Redis prints it */
    buf[n] = '\0';
    return (size_t)n;
}

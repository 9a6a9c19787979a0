/* args.h - parsing command arguments the way Redis 7.0 does (string2ll, string2ld). */
#ifndef SHALE_ARGS_H
#define SHALE_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "resp.h"

/* True when a equals word, ignoring case. */
bool arg_is(const resp_arg *a, const char *word);
/* True when argv[i] equals one of argv[from], argv[from + step], ... before it (a field
   or key named twice in one command). */
bool arg_repeats(const resp_arg *argv, int from, int i, int step);
/* Redis's string2ll: the whole of p[0..n) is a base-10 long long, no spaces, no '+',
   no leading zeros. */
bool parse_ll(const char *p, size_t n, long long *out);
bool arg_ll(const resp_arg *a, long long *out);
/* Redis's string2ld: a long double without spaces, not NaN. */
bool parse_ld(const char *p, size_t n, long double *out);
/* Formats v as Redis's LD_STR_HUMAN (fixed point, trailing zeros removed); returns the
   length written to buf (cap >= 5200 holds any value). */
size_t format_ld_human(long double v, char *buf, size_t cap);

#endif

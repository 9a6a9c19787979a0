/*
 * fuzz_glob.c - the glob matcher (server/commands/glob.c) on arbitrary patterns and strings. The
 * input is [flags][pattern][0xff 0x00][string]: bit 0 of flags asks for nocase. When
 * both fit the reference matcher (tests/util/glob_ref.h, Redis's recursion read
 * literally), the answers must be equal; longer inputs must just come back (no stack
 * overflow, no exponential time: libFuzzer's -timeout catches a slow one).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "glob.h"
#include "glob_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static glob_ref ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool nocase = data[0] & 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1, plen = n;
    for (size_t i = 0; i + 1 < n; i++)
        if ((uint8_t)in[i] == 0xff && in[i + 1] == 0) {
            plen = i;
            break;
        }
    const char *str = plen < n ? in + plen + 2 : in + n;
    size_t slen = plen < n ? n - plen - 2 : 0;
    bool got = glob_match(in, plen, str, slen, nocase);
    if (plen <= GLOB_REF_MAX && slen <= GLOB_REF_MAX &&
        got != glob_ref_match(&ref, in, plen, str, slen, nocase))
        __builtin_trap();
    return 0;
}

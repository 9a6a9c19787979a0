/* lzf.c - LZF decompression (lzf.h). */
#include "lzf.h"

#include <string.h>

size_t lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    const unsigned char *ip = in, *iend = ip + inlen;
    unsigned char *o = out, *op = o;
    size_t room = outlen;
    while (ip < iend) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) { /* a literal run */
            size_t n = ctrl + 1;
            if ((size_t)(iend - ip) < n || room < n)
                return 0;
            memcpy(op, ip, n);
            ip += n;
            op += n;
            room -= n;
            continue;
        }
        size_t n = ctrl >> 5;
        if (n == 7) {
            if (ip == iend)
                return 0;
            n += *ip++;
        }
        if (ip == iend)
            return 0;
        size_t back = ((size_t)(ctrl & 0x1f) << 8) + *ip++ + 1;
        n += 2;
        if ((size_t)(op - o) < back || room < n)
            return 0;
        const unsigned char *ref = op - back;
        for (size_t i = 0; i < n; i++) /* byte by byte: the copy may overlap its output */
            op[i] = ref[i];
        op += n;
        room -= n;
    }
    return (size_t)(op - o);
}

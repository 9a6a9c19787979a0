/* fuzz_client_reader.c - the client's reply reader on arbitrary bytes, fed whole and in
   pieces of the sizes the first byte picks: a reply, a wait or a protocol error. */
#include <stdint.h>

#include "shale_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t piece = size ? 1 + data[0] % 64 : 1;
    for (int round = 0; round < 2; round++) {
        shale_client_reader *r = shale_client_reader_new();
        if (!r)
            return 0;
        size_t step = round ? piece : size ? size : 1;
        for (size_t at = 0; at < size; at += step) {
            size_t n = size - at < step ? size - at : step;
            if (shale_client_reader_feed(r, (const char *)data + at, n))
                break;
            shale_client_reply *x;
            int rc;
            while ((rc = shale_client_reader_get_reply(r, &x)) == 1)
                shale_client_reply_free(x);
            if (rc < 0)
                break;
        }
        shale_client_reader_free(r);
    }
    return 0;
}

/* fuzz_resp.c - the server's request parser on arbitrary bytes: every command it returns
   lies inside the input, and it never reads past it (ASan). */
#include <stdint.h>
#include <string.h>

#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resp_cmd cmd = {0};
    const char *buf = (const char *)data;
    for (int auth = 0; auth < 2; auth++) {
        size_t at = 0;
        while (at < size) {
            size_t used = 0;
            const char *err = NULL;
            int rc = resp_parse(buf + at, size - at, auth ? 512u << 20 : RESP_UNAUTHENTICATED,
                                &cmd, &used, &err);
            if (rc <= 0)
                break;
            if (used == 0 || used > size - at)
                __builtin_trap();
            for (int i = 0; i < cmd.argc; i++)
                if (cmd.argv[i].len && !cmd.argv[i].p)
                    __builtin_trap();
            at += used;
        }
    }
    resp_cmd_free(&cmd);
    return 0;
}

/* fuzz_resp.c - the server's request parser on arbitrary bytes: every command it returns
   lies inside the input, it never reads past it (ASan), and a command fed in pieces
   (each call the same start and a few more bytes, as the server's loop does) comes out
   as when fed whole: the parser's saved progress changes nothing but the work. */
#include <stdint.h>
#include <string.h>

#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds buf[0..n) in steps of `step` bytes; the first non-zero answer, or 0. */
static int parse_in_steps(const char *buf, size_t n, size_t step, uint64_t max_bulk,
                          resp_cmd *cmd, size_t *used)
{
    resp_cmd_reset(cmd);
    for (size_t have = step < n ? step : n;; have = have + step < n ? have + step : n) {
        const char *err = NULL;
        int rc = resp_parse(buf, have, max_bulk, cmd, used, &err);
        if (rc != 0 || have == n)
            return rc;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resp_cmd cmd = {0}, pieces = {0};
    const char *buf = (const char *)data;
    size_t step = size ? 1 + data[size - 1] % 7 : 1;
    for (int auth = 0; auth < 2; auth++) {
        uint64_t max_bulk = auth ? 512u << 20 : RESP_UNAUTHENTICATED;
        size_t at = 0;
        resp_cmd_reset(&cmd);
        while (at < size) {
            size_t used = 0, used2 = 0;
            const char *err = NULL;
            int rc = resp_parse(buf + at, size - at, max_bulk, &cmd, &used, &err);
            int rc2 = parse_in_steps(buf + at, size - at, step, max_bulk, &pieces, &used2);
            if ((rc == 1) != (rc2 == 1) || (rc < 0) != (rc2 < 0))
                __builtin_trap();
            if (rc <= 0)
                break;
            if (used == 0 || used > size - at || used2 != used || pieces.argc != cmd.argc)
                __builtin_trap();
            for (int i = 0; i < cmd.argc; i++) {
                if (cmd.argv[i].len && !cmd.argv[i].p)
                    __builtin_trap();
                if (pieces.argv[i].len != cmd.argv[i].len ||
                    memcmp(pieces.argv[i].p, cmd.argv[i].p, cmd.argv[i].len) != 0)
                    __builtin_trap();
            }
            at += used;
        }
    }
    resp_cmd_free(&cmd);
    resp_cmd_free(&pieces);
    return 0;
}

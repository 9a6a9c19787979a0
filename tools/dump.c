/*
 * dump.c - shale-tool dump [--keys-only] [--from K] [--to K] [--hex] DIR: prints every
 * live key (and value) in key order, one per line, "key<TAB>value". Bytes outside
 * printable ASCII, backslash and tab are written \xNN (or everything in hex with --hex),
 * so that any key prints on one line. Keys with a TTL get "<TAB>(expires at N ms)".
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "shale.h"
#include "shale_tool.h"

static void put_bytes(const unsigned char *p, size_t n, bool hex)
{
    for (size_t i = 0; i < n; i++) {
        if (hex)
            printf("%02x", p[i]);
        else if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '\\')
            printf("\\x%02x", p[i]);
        else
            putchar(p[i]);
    }
}

int tool_dump(int argc, char **argv)
{
    bool keys_only = false, hex = false;
    const char *from = NULL, *to = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keys-only") == 0)
            keys_only = true;
        else if (strcmp(argv[i], "--hex") == 0)
            hex = true;
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            from = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            to = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            bool help = strcmp(argv[i], "--help") == 0;
            fputs("usage: shale-tool dump [--keys-only] [--from KEY] [--to KEY] [--hex] DIR\n"
                  "Prints live keys in order from KEY (inclusive) to KEY (exclusive),\n"
                  "'key<TAB>value' per line; bytes that are not printable as \\xNN, or all\n"
                  "in hex with --hex.\n",
                  help ? stdout : stderr);
            return help ? TOOL_OK : TOOL_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: shale-tool dump [--keys-only] [--from KEY] [--to KEY] [--hex] DIR\n");
        return TOOL_USAGE;
    }
    shale_db *db;
    int rc = tool_open(dir, &db);
    if (rc)
        return rc;
    shale_read_options ro;
    shale_read_options_default(&ro);
    ro.fill_cache = 0;
    if (from) {
        ro.lower_bound = from;
        ro.lower_bound_len = strlen(from);
    }
    if (to) {
        ro.upper_bound = to;
        ro.upper_bound_len = strlen(to);
    }
    shale_iter *it;
    rc = shale_iter_new(db, &ro, &it);
    uint64_t n = 0;
    if (rc == 0) {
        for (shale_iter_seek_to_first(it); shale_iter_valid(it); shale_iter_next(it), n++) {
            size_t kl, vl;
            const void *k = shale_iter_key(it, &kl);
            put_bytes(k, kl, hex);
            if (!keys_only) {
                const void *v = shale_iter_value(it, &vl);
                putchar('\t');
                put_bytes(v, vl, hex);
            }
            uint64_t exp = shale_iter_expire_at(it);
            if (exp)
                printf("\t(expires at %" PRIu64 " ms)", exp);
            putchar('\n');
        }
        rc = shale_iter_status(it);
        shale_iter_free(it);
    }
    int crc = shale_close(db);
    if (rc || crc) {
        fprintf(stderr, "shale-tool: dump stopped after %" PRIu64 " keys: %s\n", n,
                shale_strerror(rc ? rc : crc));
        return TOOL_FAILED;
    }
    return TOOL_OK;
}

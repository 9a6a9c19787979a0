/*
 * script_shebang.c - Redis 7.0's "#!lua flags=..." first line of an EVAL script: it
 * declares what the script may do (no-writes, allow-oom, allow-stale, no-cluster,
 * allow-cross-slot-keys), and a script without it runs in the compatible mode of older
 * Redis versions (SCRIPT_COMPAT).
 */
#include <stdio.h>
#include <string.h>

#include "script_int.h"

static const struct {
    const char *name;
    uint32_t flag;
} known_flags[] = {
    {"no-writes", SCRIPT_NO_WRITES},     {"allow-oom", SCRIPT_ALLOW_OOM},
    {"allow-stale", SCRIPT_ALLOW_STALE}, {"no-cluster", SCRIPT_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_ALLOW_CROSS_SLOT},
};

/* The flags of a comma-separated list p[0..n); false with the error for an unknown one. */
static bool parse_flags(const char *p, size_t n, uint32_t *flags, char *err, size_t cap)
{
    while (n) {
        const char *comma = memchr(p, ',', n);
        size_t len = comma ? (size_t)(comma - p) : n;
        size_t i = 0, count = sizeof known_flags / sizeof known_flags[0];
        while (i < count && !(strlen(known_flags[i].name) == len &&
                              memcmp(known_flags[i].name, p, len) == 0))
            i++;
        if (i == count) {
            snprintf(err, cap, "Unexpected flag in script shebang: %.*s", (int)len, p);
            return false;
        }
        *flags |= known_flags[i].flag;
        if (!comma)
            break;
        n -= len + 1;
        p = comma + 1;
        if (!n) { /* a trailing comma: an empty flag */
            snprintf(err, cap, "Unexpected flag in script shebang: ");
            return false;
        }
    }
    return true;
}

int script_shebang_parse(const char *body, size_t n, uint32_t *flags, size_t *skip, char *err,
                         size_t cap)
{
    *flags = SCRIPT_COMPAT;
    *skip = 0;
    if (n < 2 || memcmp(body, "#!", 2) != 0)
        return 0;
    const char *end = memchr(body, '\n', n);
    if (!end) {
        snprintf(err, cap, "Invalid script shebang");
        return -1;
    }
    resp_cmd parts = {0};
    const char *why = NULL;
    if (resp_split_args(body, (size_t)(end - body), &parts, &why) || parts.argc == 0) {
        snprintf(err, cap, "Invalid engine in script shebang");
        resp_cmd_free(&parts);
        return -1;
    }
    int rc = 0;
    const resp_arg *a = parts.argv;
    if (a[0].len != 5 || memcmp(a[0].p, "#!lua", 5) != 0) {
        snprintf(err, cap, "Unexpected engine in script shebang: %.*s", (int)a[0].len, a[0].p);
        rc = -1;
    }
    uint32_t f = 0;
    for (int i = 1; rc == 0 && i < parts.argc; i++) {
        if (a[i].len >= 6 && memcmp(a[i].p, "flags=", 6) == 0) {
            if (!parse_flags(a[i].p + 6, a[i].len - 6, &f, err, cap))
                rc = -1;
        } else {
            snprintf(err, cap, "Unknown lua shebang option: %.*s", (int)a[i].len, a[i].p);
            rc = -1;
        }
    }
    resp_cmd_free(&parts);
    if (rc == 0) {
        *flags = f;
        *skip = (size_t)(end - body); /* the newline stays: line numbers do not move */
    }
    return rc;
}

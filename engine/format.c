/*
 * format.c - internal keys, checksums and file names (the layouts are in format.h and
 * docs/format.md).
 */
#include "format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "shale.h"

int ikey_parse(slice ikey, parsed_ikey *out)
{
    if (ikey.len < TRAILER_SIZE)
        return SHALE_ECORRUPT;
    uint64_t t = ikey_trailer(ikey);
    int kind = (int)(t & 0xff);
    if (kind > KIND_MAX)
        return SHALE_ECORRUPT;
    out->user_key = ikey_user_key(ikey);
    out->seq = t >> 8;
    out->kind = kind;
    return 0;
}

int ikey_append(buf *b, slice user_key, uint64_t seq, int kind)
{
    int rc = buf_reserve(b, user_key.len + TRAILER_SIZE);
    if (rc)
        return rc;
    buf_append(b, user_key.data, user_key.len);
    return put_fixed64(b, pack_trailer(seq, kind));
}

uint64_t checksum64(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

uint64_t checksum64_seeded(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}

uint32_t block_checksum(const char *contents, size_t n, char type)
{
    return (uint32_t)XXH3_64bits_withSeed(&type, 1, XXH3_64bits(contents, n));
}

static int name_fmt(char *out, size_t outlen, const char *dir, const char *fmt, uint64_t number)
{
    char base[64];
    snprintf(base, sizeof base, fmt, number);
    int n = snprintf(out, outlen, "%s/%s", dir, base);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    return n;
}

int file_name_log(char *out, size_t outlen, const char *dir, uint64_t number)
{
    return name_fmt(out, outlen, dir, "%06" PRIu64 ".log", number);
}

int file_name_table(char *out, size_t outlen, const char *dir, uint64_t number)
{
    return name_fmt(out, outlen, dir, "%06" PRIu64 ".sst", number);
}

int file_name_manifest(char *out, size_t outlen, const char *dir, uint64_t number)
{
    return name_fmt(out, outlen, dir, "MANIFEST-%06" PRIu64, number);
}

int file_name_current(char *out, size_t outlen, const char *dir)
{
    int n = snprintf(out, outlen, "%s/CURRENT", dir);
    return (n < 0 || (size_t)n >= outlen) ? -ENAMETOOLONG : n;
}

int file_name_lock(char *out, size_t outlen, const char *dir)
{
    int n = snprintf(out, outlen, "%s/LOCK", dir);
    return (n < 0 || (size_t)n >= outlen) ? -ENAMETOOLONG : n;
}

int file_name_temp(char *out, size_t outlen, const char *dir, uint64_t number)
{
    return name_fmt(out, outlen, dir, "%06" PRIu64 ".tmp", number);
}

/* Parses a decimal number that makes up all of [p, end). */
static int parse_number(const char *p, const char *end, uint64_t *number)
{
    if (p == end)
        return -1;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *number = v;
    return 0;
}

enum file_type file_name_parse(const char *name, uint64_t *number)
{
    size_t n = strlen(name);
    *number = 0;
    if (strcmp(name, "CURRENT") == 0)
        return FILE_CURRENT;
    if (strcmp(name, "LOCK") == 0)
        return FILE_LOCK;
    if (strncmp(name, "MANIFEST-", 9) == 0)
        return parse_number(name + 9, name + n, number) == 0 ? FILE_MANIFEST : FILE_UNKNOWN;
    static const struct {
        const char *ext;
        enum file_type type;
    } exts[] = {
        {".log", FILE_LOG}, {".sst", FILE_TABLE}, {".tmp", FILE_TEMP}};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t el = strlen(exts[i].ext);
        if (n > el && strcmp(name + n - el, exts[i].ext) == 0)
            return parse_number(name, name + n - el, number) == 0 ? exts[i].type : FILE_UNKNOWN;
    }
    return FILE_UNKNOWN;
}

/*
 * config.c - server options with Redis's names, read from a redis.conf-style file
 * ("name value" lines, # comments) and then from "--name value" arguments, which win.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void config_default(server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->bind, sizeof cfg->bind, "127.0.0.1");
    cfg->port = 6379;
    snprintf(cfg->dir, sizeof cfg->dir, "./data");
    cfg->sync_writes = true;
    cfg->proto_max_bulk_len = 512ull * 1024 * 1024;
}

static int parse_yesno(const char *v, bool *out)
{
    if (strcasecmp(v, "yes") == 0) {
        *out = true;
        return 0;
    }
    if (strcasecmp(v, "no") == 0) {
        *out = false;
        return 0;
    }
    return -1;
}

static int parse_memory(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v)
        return -1;
    uint64_t mul = 1;
    if (strcasecmp(end, "k") == 0)
        mul = 1000;
    else if (strcasecmp(end, "kb") == 0)
        mul = 1024;
    else if (strcasecmp(end, "m") == 0)
        mul = 1000 * 1000;
    else if (strcasecmp(end, "mb") == 0)
        mul = 1024 * 1024;
    else if (strcasecmp(end, "g") == 0)
        mul = 1000ull * 1000 * 1000;
    else if (strcasecmp(end, "gb") == 0)
        mul = 1024ull * 1024 * 1024;
    else if (*end)
        return -1;
    *out = n * mul;
    return 0;
}

int config_set(server_config *cfg, const char *name, int argc, char **argv, char *err,
               size_t errlen)
{
    if (argc != 1) {
        snprintf(err, errlen, "wrong number of arguments for '%s'", name);
        return -1;
    }
    const char *v = argv[0];
    if (strcasecmp(name, "port") == 0) {
        char *end;
        long p = strtol(v, &end, 10);
        if (*end || p < 0 || p > 65535) {
            snprintf(err, errlen, "Invalid port '%s'", v);
            return -1;
        }
        cfg->port = (int)p;
    } else if (strcasecmp(name, "bind") == 0) {
        snprintf(cfg->bind, sizeof cfg->bind, "%s", v);
    } else if (strcasecmp(name, "dir") == 0) {
        snprintf(cfg->dir, sizeof cfg->dir, "%s", v);
    } else if (strcasecmp(name, "sync-writes") == 0) {
        if (parse_yesno(v, &cfg->sync_writes)) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
    } else if (strcasecmp(name, "proto-max-bulk-len") == 0) {
        if (parse_memory(v, &cfg->proto_max_bulk_len) || cfg->proto_max_bulk_len < 1024 * 1024) {
            snprintf(err, errlen, "proto-max-bulk-len must be at least 1mb");
            return -1;
        }
    } else {
        snprintf(err, errlen, "Bad directive or wrong number of arguments");
        return -1;
    }
    return 0;
}

static int load_file(server_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *argv[8];
        int argc = 0;
        for (char *tok = strtok(line, " \t\r\n"); tok && argc < 8; tok = strtok(NULL, " \t\r\n"))
            argv[argc++] = tok;
        if (argc == 0 || argv[0][0] == '#')
            continue;
        char why[256];
        if (config_set(cfg, argv[0], argc - 1, argv + 1, why, sizeof why)) {
            snprintf(err, errlen, "%s:%d: '%s': %s", path, lineno, argv[0], why);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int config_load(server_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int i = 1;
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        if (load_file(cfg, argv[i], err, errlen))
            return -1;
        i++;
    }
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            snprintf(err, errlen, "bad argument '%s' (expected --option value)", argv[i]);
            return -1;
        }
        char why[256];
        char *val = argv[i + 1];
        if (config_set(cfg, argv[i] + 2, 1, &val, why, sizeof why)) {
            snprintf(err, errlen, "'%s %s': %s", argv[i], val, why);
            return -1;
        }
        i += 2;
    }
    return 0;
}

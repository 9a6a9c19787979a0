/*
 * main.c - shale-tool: offline operations on a store's directory (check, stats, compact,
 * gc, dump, repair), which it refuses while a server (or any process) has it open, and
 * copies of it (backup, which also works while a server runs; restore).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "file.h"
#include "format.h"
#include "shale.h"
#include "shale_tool.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"check", tool_check, "verify every checksum of every file; report what is wrong where"},
    {"stats", tool_stats, "tables per level, sizes, space amplification, engine statistics"},
    {"compact", tool_compact, "compact the whole store"},
    {"gc", tool_gc, "value-log GC until no segment reaches the ratio [--ratio R]"},
    {"dump", tool_dump, "print keys and values [--keys-only] [--from K] [--to K] [--hex]"},
    {"repair", tool_repair, "rebuild the manifest from the tables that can be read"},
    {"backup", tool_backup, "copy a store, also while a server runs on it: backup DIR DEST"},
    {"restore", tool_restore, "verify a backup and put it in place [--force] [--link] BACKUP DIR"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: shale-tool COMMAND [options] DIR\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'shale-tool COMMAND --help' for a command's options.\n"
               "exit codes: 0 ok, 1 check found damage, 2 bad arguments, 3 the directory is in\n"
               "use by another process (stop the server first), 4 the store could not be opened\n"
               "or the operation failed.\n");
}

static void say_busy(const char *dir)
{
    fprintf(stderr, "shale-tool: %s is in use by another process (a running shale-server?); "
                    "stop it first\n", dir);
}

uint64_t tool_prop(shale_db *db, const char *name)
{
    uint64_t v = 0;
    shale_property_int(db, name, &v);
    return v;
}

int tool_lock(const char *dir, int *fd)
{
    char lock[PATH_MAX];
    file_name_lock(lock, sizeof lock, dir);
    int rc = file_lock(lock, fd);
    if (rc == SHALE_EBUSY) {
        say_busy(dir);
        return TOOL_BUSY;
    }
    if (rc) {
        fprintf(stderr, "shale-tool: cannot use %s: %s\n", dir, shale_strerror(rc));
        return TOOL_FAILED;
    }
    return TOOL_OK;
}

int tool_is_store(const char *dir)
{
    char cur[PATH_MAX];
    if (file_name_current(cur, sizeof cur, dir) < 0)
        return -ENAMETOOLONG;
    return file_exists(cur);
}

int tool_parent_dir(const char *path, char *out, size_t n)
{
    const char *s = strrchr(path, '/');
    int len = s == path ? snprintf(out, n, "/")
              : s       ? snprintf(out, n, "%.*s", (int)(s - path), path)
                        : snprintf(out, n, ".");
    return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int tool_usage(int argc, char **argv, const char *usage)
{
    if (argc == 2 && argv[1][0] != '-')
        return -1;
    bool help = argc == 2 && strcmp(argv[1], "--help") == 0;
    fputs(usage, help ? stdout : stderr);
    return help ? TOOL_OK : TOOL_USAGE;
}

int tool_start(int argc, char **argv, const char *usage, shale_db **db)
{
    int rc = tool_usage(argc, argv, usage);
    if (rc >= 0)
        return rc;
    rc = tool_open(argv[1], db);
    return rc ? rc : -1;
}

int tool_open(const char *dir, shale_db **db)
{
    shale_options o;
    shale_options_default(&o);
    o.create_if_missing = 0;
    o.sync_interval_ms = 0; /* no background syncs: close syncs */
    int rc = shale_open(dir, &o, db);
    if (rc == 0)
        return TOOL_OK;
    if (rc == SHALE_EBUSY) {
        say_busy(dir);
        return TOOL_BUSY;
    }
    if (rc == -ENOENT)
        fprintf(stderr, "shale-tool: %s is not a shale store (no CURRENT file)\n", dir);
    else
        fprintf(stderr, "shale-tool: cannot open %s: %s (shale-tool check %s tells more)\n", dir,
                shale_strerror(rc), dir);
    return TOOL_FAILED;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? TOOL_USAGE : TOOL_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "shale-tool: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return TOOL_USAGE;
}

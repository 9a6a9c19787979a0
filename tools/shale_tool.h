/*
 * shale_tool.h - what the offline tool's files share: exit codes, the progress display,
 * and one function per subcommand. The tool works on a store's directory while no server
 * holds it (it takes the same lock).
 */
#ifndef SHALE_TOOL_H
#define SHALE_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (docs/tools.md). */
enum {
    TOOL_OK = 0,      /* done; for check: nothing wrong found */
    TOOL_DAMAGED = 1, /* check found damage (each problem printed) */
    TOOL_USAGE = 2,   /* bad arguments */
    TOOL_BUSY = 3,    /* another process (a server) holds the directory */
    TOOL_FAILED = 4,  /* the store could not be opened or read, or an operation failed */
};

/* Progress of a long operation: a bar on a terminal, a line every 10 % otherwise. */
typedef struct progress {
    const char *what;
    uint64_t total, done;
    int last_tenth;
    bool tty;
} progress;

void progress_start(progress *p, const char *what, uint64_t total);
void progress_add(progress *p, uint64_t n);
void progress_end(progress *p);

/* Subcommands: argv[0] is the subcommand's name; each parses its own options. */
int tool_check(int argc, char **argv);
int tool_stats(int argc, char **argv);
int tool_compact(int argc, char **argv);
int tool_gc(int argc, char **argv);
int tool_dump(int argc, char **argv);
int tool_repair(int argc, char **argv);
int tool_backup(int argc, char **argv);
int tool_restore(int argc, char **argv);

/* A fifo database's engine lives in <dir>/fifo-<id> (server/types/ks_fifo.c). */
#define TOOL_FIFO_PREFIX "fifo-"

/* 1 when dir holds a store (a CURRENT file), 0 when not, or -errno. */
int tool_is_store(const char *dir);
/* The directory holding path ("." for a bare name) into out: 0 or -ENAMETOOLONG. */
int tool_parent_dir(const char *path, char *out, size_t n);
/* Runs check's checks on the store in dir and on every fifo-<id> store below it, printing
   what check prints: TOOL_OK, TOOL_DAMAGED, TOOL_BUSY or TOOL_FAILED (check.c). */
int tool_check_tree(const char *dir);

/* Takes dir's lock as the server does: TOOL_OK with *fd set (release with file_unlock),
   or an exit code after printing why (TOOL_BUSY when a server holds it). */
int tool_lock(const char *dir, int *fd);

/* For a command taking just DIR: -1 when argv is "cmd DIR"; otherwise prints usage (to
   stdout for --help) and returns the exit code. */
int tool_usage(int argc, char **argv, const char *usage);

/* For a command taking just DIR that works on the open store: -1 with *db open, or the
   exit code (usage printed, or why the store did not open). */
struct shale_db;
int tool_start(int argc, char **argv, const char *usage, struct shale_db **db);

/* A numeric property of the open store (0 when it has none). */
uint64_t tool_prop(struct shale_db *db, const char *name);

/* Opens the store in dir for the tool, mapping errors to messages and exit codes:
   returns TOOL_OK with *db set, or an exit code after printing why. */
struct shale_db;
int tool_open(const char *dir, struct shale_db **db);

#endif

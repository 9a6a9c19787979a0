/*
 * fuzz_config.c - CONFIG SET / CONFIG REWRITE round trips: a value goes into an option
 * (as CONFIG SET takes it, or as a config file's directive gives it), CONFIG REWRITE
 * writes the file, the file is loaded into a fresh configuration, and every option must
 * read back as it was: no value may break the file or smuggle in a directive (#15.16).
 * The input is [option][mode][value bytes]; mode bit 1 instead loads the value bytes as
 * a whole config file (the loader on arbitrary lines: an error or a configuration).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPTIONS 128

typedef struct listing {
    const char *name[MAX_OPTIONS];
    char value[MAX_OPTIONS][4200];
    int n;
} listing;

static void collect(void *ctx, const char *id, const char *shown, const char *value)
{
    listing *l = ctx;
    (void)shown;
    if (l->n < MAX_OPTIONS) {
        l->name[l->n] = id;
        snprintf(l->value[l->n], sizeof l->value[l->n], "%s", value);
        l->n++;
    }
}

static listing before, after;

/* Every option of cfg as CONFIG GET shows it, and the per-database directives. */
static void list_all(const server_config *cfg, listing *l)
{
    l->n = 0;
    config_get(cfg, "*", 1, collect, l);
}

static bool same(const server_config *a, const server_config *b)
{
    list_all(a, &before);
    list_all(b, &after);
    if (before.n != after.n)
        return false;
    for (int i = 0; i < before.n; i++)
        if (before.name[i] != after.name[i] || strcmp(before.value[i], after.value[i]) != 0)
            return false;
    return memcmp(a->db_compaction_style, b->db_compaction_style, sizeof a->db_compaction_style) == 0 &&
           memcmp(a->db_fifo_max_size, b->db_fifo_max_size, sizeof a->db_fifo_max_size) == 0;
}

static int load(const char *path, server_config *cfg)
{
    char *argv[] = {"shale-server", (char *)path}, err[512];
    config_default(cfg);
    return config_load(cfg, 2, argv, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static server_config a, b;
    if (size < 2)
        return 0;
    char path[64];
    if (data[1] & 2) { /* the loader on arbitrary bytes */
        if (fuzz_write_file(path, data + 2, size - 2) == 0)
            load(path, &b);
        unlink(path);
        return 0;
    }
    if (memchr(data + 2, '\0', size - 2)) /* options are C strings */
        return 0;
    char *value = strndup((const char *)data + 2, size - 2);
    config_default(&a);
    list_all(&a, &before);
    const char *name = data[0] % 4 == 3 ? (data[0] & 4 ? "db3-fifo-max-size" : "db3-compaction-style")
                                        : before.name[data[0] % before.n];
    char err[512];
    const char *refusal = NULL;
    int rc = (data[1] & 1) && config_option_name(&a, name, value, &refusal) && !refusal
                 ? config_set_value(&a, name, value, err, sizeof err)
                 : config_set(&a, name, 1, &value, err, sizeof err);
    free(value);
    if (rc != 0)
        return 0; /* refused: nothing to round trip */
    snprintf(path, sizeof path, "/tmp/shale-fuzz-config-%d.conf", (int)getpid());
    snprintf(a.config_file, sizeof a.config_file, "%s", path);
    if (config_rewrite(&a) != 0 || load(path, &b) != 0 || !same(&a, &b))
        __builtin_trap();
    unlink(path);
    return 0;
}

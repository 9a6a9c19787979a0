/*
 * options.c - the documented defaults (docs/tuning.md), validation and value parsing.
 * Defaults follow RocksDB's and Badger's where they have the knob.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIB (UINT64_C(1) << 20)

void shale_options_default(shale_options *o)
{
    memset(o, 0, sizeof *o);
    o->create_if_missing = 1;
    o->error_if_exists = 0;
    o->memtable_size = 64 * MIB;
    o->num_memtables = 2;
    o->sync_writes = 0;
    o->sync_interval_ms = 1000;
    o->l0_compaction_trigger = 4;
    o->l0_slowdown_trigger = 20;
    o->l0_stop_trigger = 36;
    o->delayed_write_rate = 16 * MIB;
    o->write_stall_timeout_ms = 0;
    o->compaction_style = SHALE_COMPACTION_LEVELED;
    o->num_compactors = 1;
    o->num_levels = 7;
    o->base_level_size = 256 * MIB;
    o->level_size_multiplier = 10;
    o->table_size = 64 * MIB;
    o->compaction_rate_limit = 0;
    o->fifo_max_size = 1024 * MIB;
    o->tiered_size_ratio = 1;
    o->tiered_min_merge_width = 2;
    o->tiered_max_size_amplification = 200;
    o->tombstone_compaction_ratio = 50;
    o->tombstone_compaction_min_entries = 1000;
    o->iter_skip_compaction_trigger = 1000;
    o->compression = SHALE_COMPRESSION_LZ4;
    o->block_size = 4096;
    o->block_restart_interval = 16;
    o->block_cache_size = 32 * MIB;
    o->bloom_bits_per_key = 10;
    o->max_open_files = 1000;
    o->value_threshold = 512;
    o->vlog_file_size = 256 * MIB;
    o->vlog_gc_interval_s = 300;
    o->vlog_gc_discard_ratio = 0.7;
    o->vlog_gc_rewrite = 1;
}

void shale_read_options_default(shale_read_options *ro)
{
    memset(ro, 0, sizeof *ro);
    ro->fill_cache = 1;
}

int options_validate(const shale_options *o, const char **why)
{
#define CHECK(cond, msg)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            *why = msg;                                                                            \
            return -EINVAL;                                                                        \
        }                                                                                          \
    } while (0)
    CHECK(o->memtable_size >= 64 * 1024, "memtable_size must be at least 64 KiB");
    CHECK(o->num_memtables >= 2 && o->num_memtables <= 64, "num_memtables must be 2..64");
    CHECK(o->l0_compaction_trigger >= 1, "l0_compaction_trigger must be at least 1");
    CHECK(o->l0_slowdown_trigger >= o->l0_compaction_trigger,
          "l0_slowdown_trigger must be >= l0_compaction_trigger");
    CHECK(o->l0_stop_trigger >= o->l0_slowdown_trigger,
          "l0_stop_trigger must be >= l0_slowdown_trigger");
    CHECK(o->delayed_write_rate >= 1024, "delayed_write_rate must be at least 1 KiB/s");
    CHECK(o->compaction_style >= SHALE_COMPACTION_LEVELED &&
              o->compaction_style <= SHALE_COMPACTION_FIFO,
          "compaction_style must be leveled, tiered or fifo");
    CHECK(o->num_compactors >= 1 && o->num_compactors <= 64, "num_compactors must be 1..64");
    CHECK(o->num_levels >= 2 && o->num_levels <= SHALE_MAX_LEVELS, "num_levels must be 2..12");
    CHECK(o->base_level_size >= 64 * 1024, "base_level_size must be at least 64 KiB");
    CHECK(o->level_size_multiplier >= 2, "level_size_multiplier must be at least 2");
    CHECK(o->table_size >= 64 * 1024, "table_size must be at least 64 KiB");
    CHECK(o->tiered_min_merge_width >= 2, "tiered_min_merge_width must be at least 2");
    CHECK(o->tiered_size_ratio >= 0, "tiered_size_ratio must be >= 0");
    CHECK(o->tiered_max_size_amplification >= 1, "tiered_max_size_amplification must be >= 1");
    CHECK(o->tombstone_compaction_ratio >= 0 && o->tombstone_compaction_ratio <= 100,
          "tombstone_compaction_ratio must be 0..100");
    CHECK(o->compression == SHALE_COMPRESSION_NONE || o->compression == SHALE_COMPRESSION_LZ4,
          "compression must be none or lz4");
    CHECK(o->block_size >= 256 && o->block_size <= (64u << 20), "block_size must be 256 B..64 MiB");
    CHECK(o->block_restart_interval >= 1, "block_restart_interval must be at least 1");
    CHECK(o->bloom_bits_per_key >= 0 && o->bloom_bits_per_key <= 64,
          "bloom_bits_per_key must be 0..64");
    CHECK(o->max_open_files >= 16, "max_open_files must be at least 16");
    CHECK(o->vlog_file_size >= 1 << 20, "vlog_file_size must be at least 1 MiB");
    CHECK(o->vlog_gc_discard_ratio > 0 && o->vlog_gc_discard_ratio < 1,
          "vlog_gc_discard_ratio must be between 0 and 1");
    CHECK(o->vlog_gc_rewrite == 0 || o->vlog_gc_rewrite == 1, "vlog_gc_rewrite must be 0 or 1");
#undef CHECK
    return 0;
}

int options_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    uint64_t mul = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mul = 1024;
            break;
        case 'm':
            mul = 1024 * 1024;
            break;
        case 'g':
            mul = 1024 * 1024 * 1024;
            break;
        default:
            return -EINVAL;
        }
        end++;
        if (tolower((unsigned char)*end) == 'b')
            end++;
        if (*end)
            return -EINVAL;
    }
    if (v > UINT64_MAX / mul)
        return -EINVAL;
    *out = (uint64_t)v * mul;
    return 0;
}

int options_parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"yes", "true", "1", "on"};
    static const char *no[] = {"no", "false", "0", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

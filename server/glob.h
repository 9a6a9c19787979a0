/* glob.h - glob patterns as Redis 7.0's KEYS, SCAN MATCH and CONFIG GET match them. */
#ifndef SHALE_GLOB_H
#define SHALE_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* Glob match as Redis's stringmatchlen (* ? [a-z] [^x] \x), case-sensitive unless nocase. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

#endif

/* glob.h - glob patterns as Redis 7.0's KEYS, SCAN MATCH and CONFIG GET match them. */
#ifndef SHALE_GLOB_H
#define SHALE_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..slen) matches the glob pat[0..plen) as Redis's stringmatchlen answers: * any
   run, ? one byte, [abc] [^a] [a-z] classes, \x the byte x; case-sensitive unless nocase
   (CONFIG GET). Never recursive: O(plen x slen) at worst (a star followed by a piece that
   almost matches everywhere), one pass for most patterns. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

#endif

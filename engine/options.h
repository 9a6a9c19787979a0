/*
 * options.h - option defaults, validation and run-time parsing (shale_set_option and the
 * server's CONFIG SET share parse_size/parse_bool).
 */
#ifndef SHALE_OPTIONS_H
#define SHALE_OPTIONS_H

#include <stdint.h>

#include "shale.h"

#define SHALE_MAX_LEVELS 12

/* -EINVAL with a reason in *why (static string) when an option is out of range. */
int options_validate(const shale_options *o, const char **why);

/* "64m", "1g", "4096", "16k" -> bytes. -EINVAL on junk or overflow. */
int options_parse_size(const char *s, uint64_t *out);
/* yes/no/true/false/1/0/on/off. -EINVAL otherwise. */
int options_parse_bool(const char *s, int *out);

#endif

/* config.h - redis.conf-style options from a file and the command line. */
#ifndef SHALE_CONFIG_H
#define SHALE_CONFIG_H

#include "server.h"

void config_default(server_config *cfg);
/* Applies one directive (name and its arguments). 0, or -1 with a message in err. */
int config_set(server_config *cfg, const char *name, int argc, char **argv, char *err,
               size_t errlen);
/* Reads a config file, then "--name value..." arguments (argv[0] is the program). */
int config_load(server_config *cfg, int argc, char **argv, char *err, size_t errlen);

#endif

/*
 * store.h - how the server opens its store: the main engine with the server's options
 * and the key layer's compaction filter, and the options of the fifo databases' engines.
 * Shared by start-up (main.c) and a replica's full sync (repl_swap.c).
 */
#ifndef SHALE_STORE_H
#define SHALE_STORE_H

#include "server.h"

/* The main engine's options (config, caps, the filter over s->ks) and the fifo engines'. */
void server_store_options(server *s, shale_options *main_opts, shale_options *fifo_opts);

#endif

/*
 * store.c - the options the server opens its engines with (store.h).
 */
#include "store.h"

#include "repl.h"
#include "repl_backlog.h"

void server_store_options(server *s, shale_options *main_opts, shale_options *fifo_opts)
{
    shale_options_default(main_opts);
    config_engine_options(&s->cfg, main_opts);
    caps_engine_options(s, main_opts);
    main_opts->compaction_filter = ks_compaction_filter; /* stale hash fields, flushed dbs */
    main_opts->compaction_filter_ctx = &s->ks;
    if (s->repl) { /* the main engine's records feed the replication backlog */
        main_opts->commit_tap = repl_backlog_tap;
        main_opts->commit_tap_ctx = repl_backlog_of(s);
    }
    shale_options_default(fifo_opts);
    config_fifo_options(&s->cfg, fifo_opts);
}

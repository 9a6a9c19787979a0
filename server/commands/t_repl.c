/* t_repl.c - the replication commands a client sends (repl/repl.h does the work). */
#include "repl.h"
#include "server.h"

void cmd_role(server *s, client *c)
{
    repl_role(s, c);
}

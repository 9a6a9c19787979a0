/* progress.c - a progress bar on a terminal, plain lines otherwise (see shale_tool.h). */
#include <stdio.h>
#include <unistd.h>

#include "shale_tool.h"

void progress_start(progress *p, const char *what, uint64_t total)
{
    p->what = what;
    p->total = total ? total : 1;
    p->done = 0;
    p->last_tenth = -1;
    p->tty = isatty(STDERR_FILENO);
    progress_add(p, 0);
}

void progress_add(progress *p, uint64_t n)
{
    p->done += n;
    uint64_t pct = p->done >= p->total ? 100 : p->done * 100 / p->total;
    if (p->tty) {
        char bar[41];
        int fill = (int)(pct * 40 / 100);
        for (int i = 0; i < 40; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[40] = '\0';
        fprintf(stderr, "\r%s [%s] %3llu%%", p->what, bar, (unsigned long long)pct);
    } else if ((int)(pct / 10) > p->last_tenth) {
        p->last_tenth = (int)(pct / 10);
        fprintf(stderr, "%s: %llu%%\n", p->what, (unsigned long long)pct);
    }
}

void progress_end(progress *p)
{
    if (p->done < p->total)
        progress_add(p, p->total - p->done);
    if (p->tty)
        fputc('\n', stderr);
}

#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ld_progress_init(ld_progress *p, long total)
{
    p->enabled = isatty(STDERR_FILENO);
    p->shown = 0;
    p->total = total;
    p->done = 0;
    p->t0 = p->last = now_s();
}

static void draw(ld_progress *p, double t)
{
    char bar[BAR_WIDTH + 1];
    long fill = p->total > 0 ? p->done * BAR_WIDTH / p->total : 0;
    for (long i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[BAR_WIDTH] = '\0';
    double el = t - p->t0, rate = el > 0 ? (double)p->done / el : 0.0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0.0;
    /* \r + erase to end of line: redraw in place */
    fprintf(stderr, "\r\033[K[%s] %ld/%ld  %.1f images/s  ETA %.0fs", bar, p->done, p->total, rate, eta);
    fflush(stderr);
    p->shown = 1;
    p->last = t;
}

void ld_progress_step(ld_progress *p)
{
    p->done++;
    if (!p->enabled)
        return;
    double t = now_s();
    if (!p->shown || t - p->last >= 0.1 || p->done == p->total)
        draw(p, t);
}

void ld_progress_clear(ld_progress *p)
{
    if (p->enabled && p->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->shown = 0;
    }
}

void ld_progress_end(ld_progress *p)
{
    if (!p->enabled)
        return;
    draw(p, now_s()); /* the final count and rate stay on screen */
    fputc('\n', stderr);
    p->shown = 0;
}

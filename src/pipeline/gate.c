/* The pipeline's thread budget (gate.h). */
#include "pipeline/gate.h"

#include <string.h>

#include "core/error.h"

leandet_status ld_gate_init(ld_gate *g, int capacity, leandet_error *err)
{
    memset(g, 0, sizeof *g);
    g->capacity = capacity > 0 ? capacity : 0;
    if (!g->capacity)
        return LEANDET_OK;
    if (pthread_mutex_init(&g->mu, NULL) != 0)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "pipeline: cannot create a mutex");
    if (pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "pipeline: cannot create a condition variable");
    }
    return LEANDET_OK;
}

void ld_gate_destroy(ld_gate *g)
{
    if (!g->capacity)
        return;
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    g->capacity = 0;
}

static int clamp(const ld_gate *g, int units)
{
    return units < 1 ? 1 : units > g->capacity ? g->capacity : units;
}

void ld_gate_enter(ld_gate *g, int units)
{
    if (!g->capacity)
        return;
    units = clamp(g, units);
    pthread_mutex_lock(&g->mu);
    unsigned long ticket = g->next_ticket++;
    while (ticket != g->serving || g->busy + units > g->capacity)
        pthread_cond_wait(&g->cv, &g->mu);
    g->busy += units;
    g->peak = g->busy > g->peak ? g->busy : g->peak;
    g->serving++;
    /* the next ticket may fit in what is left */
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void ld_gate_leave(ld_gate *g, int units)
{
    if (!g->capacity)
        return;
    units = clamp(g, units);
    pthread_mutex_lock(&g->mu);
    g->busy -= units;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

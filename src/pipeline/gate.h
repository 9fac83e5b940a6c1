/* A thread budget shared by the pipeline's workers: at most `capacity`
 * threads compute at once, however many workers exist. Decode workers take
 * one unit while they prepare an input, an inference worker takes its
 * session's thread count while it invokes; a worker waiting for input holds
 * nothing. So there can be a decoder per thread (decoding keeps up when the
 * model is fast) without ever running more threads than the budget.
 *
 * Units are granted in arrival order (a ticket queue), so a session that
 * needs two units is not overtaken forever by decoders needing one. */
#ifndef LD_PIPELINE_GATE_H
#define LD_PIPELINE_GATE_H

#include <pthread.h>

#include "leandet.h"

typedef struct ld_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int capacity;            /* 0: no gate, enter/leave do nothing */
    int busy;                /* units held now */
    int peak;                /* most units ever held at once (for tests) */
    unsigned long next_ticket, serving;
} ld_gate;

/* capacity <= 0: unlimited. */
leandet_status ld_gate_init(ld_gate *g, int capacity, leandet_error *err);
void ld_gate_destroy(ld_gate *g);

/* Wait for `units` (clamped to the capacity), take them. Every enter is
 * matched by a leave with the same count; holders never wait for others,
 * so this cannot deadlock. */
void ld_gate_enter(ld_gate *g, int units);
void ld_gate_leave(ld_gate *g, int units);

#endif

/* Session internals, shared by the session, its plan report, the detection
 * front end and the CLI's planning tools. */
#ifndef LD_RUNTIME_SESSION_INTERNAL_H
#define LD_RUNTIME_SESSION_INTERNAL_H

#include "graph/plan.h"
#include "kernels/kernel.h"
#include "runtime/model_internal.h"
#include "runtime/threadpool.h"

typedef struct ld_op_slot {
    ld_op_ctx ctx;
    const ld_kernel *kernel;   /* chosen in prepare: optimized or reference */
    const char *isa;           /* "ref" or the optimized kernel's ISA */
    int folded;                /* prepare computed the outputs: no eval */
    int fused;                 /* a later op's fused kernel does this op's work: no eval */
    int fused_into;            /* that later op (when fused) */
    size_t state_bytes;        /* what prepare allocated for this op (c->state) */
    int state_released;        /* plan only: c->state was measured, then freed */
    int dropped;               /* folded, and every reader packed its own copy: the
                                  outputs were freed during prepare (runtime/folded.c) */
    int mapped;                /* its state is pages of its own (a fold that waited for its reader) */
    int borrowed;              /* ctx.state (and folded outputs) belong to the session the
                                  weights are shared with: never freed here */
    size_t scratch_need;       /* the scratch bytes prepare asked for */
} ld_op_slot;

struct leandet_session {
    const leandet_model *model;
    ld_alloc alloc;
    ld_tensor *tensors;        /* one per model tensor */
    ld_op_slot *ops;           /* in execution order */
    ld_tensor **io;            /* backing store of every ctx.in / ctx.out array */
    uint8_t *arena;            /* planned activations; NULL while released */
    size_t arena_bytes;
    uint8_t *scratch;          /* largest scratch any op asked for */
    size_t scratch_bytes;
    int keep_all;              /* debugging: no arena sharing */
    ld_backend backend;
    ld_pool *pool;             /* NULL: single-threaded */
    size_t naive_bytes;        /* sum of all activation tensors, for reporting */
    ld_arena_plan plan;        /* offsets of every arena tensor, kept to re-acquire */
    leandet_session_options opt; /* as created (report pointer cleared) */
    int threads, batch;        /* as configured, >= 1 */
    size_t prepare_peak;       /* most bytes prepare held at once, counting what planning
                                  released early (released_bytes) as still held */
    size_t released_bytes;
    const leandet_session *donor; /* share_weights: shareable op states and folded weights
                                  come from this session (same model, backend, batch) */
    int plan_only;             /* LD_BUILD_PLAN: never runs, so packed weights and other
                                  private op state are freed as soon as measured */
    double *profile_ms;        /* NULL: off. Else one entry per op: invoke adds each
                                  op's wall time in ms (see ld_session_set_profile) */
};

/* Folded weights that only packing kernels read (runtime/folded.c): per
 * model tensor, the folding op, the readers not yet prepared, and whether
 * some reader reads it at eval. */
typedef struct ld_folded {
    int *producer, *pending;
    uint8_t *needed;
    uint8_t *waiting;          /* per op: a fold put off until its first reader */
} ld_folded;

/* Start tracking (nothing is tracked for keep_all_tensors sessions). */
leandet_status ld_folded_begin(leandet_session *s, ld_folded *f, leandet_error *err);
/* Op i was prepared: count it as a reader, free folded tensors nobody reads
 * at eval any more. */
void ld_folded_prepared(leandet_session *s, ld_folded *f, int i);
/* Whether op i (a DEQUANTIZE of model constants) waits for its first
 * reader; then ld_folded_waiting(f, t) for each input t of each op gives
 * the waiting op that makes t (once), or -1. */
int ld_folded_defer(const leandet_session *s, ld_folded *f, int i);
int ld_folded_waiting(ld_folded *f, int t);
void ld_folded_end(leandet_session *s, ld_folded *f);

/* Per-op timing for profiling (leandet bench --profile). `op_ms` holds
 * model.n_ops doubles owned by the caller; every invoke adds each evaluated
 * op's wall time (CLOCK_MONOTONIC, ms) to its entry, so the caller zeroes
 * it and divides by its run count. NULL turns profiling off (the default:
 * invoke then reads no clock). Nothing is allocated. */
void ld_session_set_profile(leandet_session *s, double *op_ms);

/* How far ld_session_build goes. */
typedef enum ld_build_mode {
    LD_BUILD_FULL = 0,  /* prepare (within the budget), plan, check, allocate: leandet_session_create */
    LD_BUILD_PLAN,      /* prepare and plan without any limit; never refuses (leandet plan,
                           suggestions). Each op's private state (packed weights) is freed
                           once measured, so planning holds little more than folded
                           weights: a refusal must not take the memory it refuses. The
                           session cannot be committed or invoked. */
    LD_BUILD_STAGED     /* prepare (within the budget) and plan; the caller may adjust the
                           caller-declared bytes in s->opt, then ld_session_commit */
} ld_build_mode;

/* Whether a session of `model` built with these settings may take its
 * weights from `donor` (share_weights). */
int ld_session_can_share(const leandet_session *donor, const leandet_model *model, ld_backend backend, int batch,
                         int keep_all);

/* Create a session up to `mode`. A planned session has no arena, scratch
 * or worker threads. */
leandet_status ld_session_build(const leandet_model *model, const leandet_session_options *options,
                                ld_build_mode mode, leandet_session **out, leandet_error *err);
/* Check a planned session against its budget (refusal: message with the
 * breakdown and cheaper alternatives, report to s->opt.report's original
 * pointer), then allocate the arena, scratch and threads. On failure the
 * session is destroyed. */
leandet_status ld_session_commit(leandet_session *s, leandet_plan_report *report, leandet_error *err);

/* The report of a built session (runtime/plan.c). */
void ld_session_report(const leandet_session *s, leandet_plan_report *r);
/* The part of report r of session s (packed weights, folded weights) that
 * sessions sharing its weights (share_weights) do not hold themselves. */
void ld_session_shared_bytes(const leandet_session *s, const leandet_plan_report *r, size_t *packed,
                             size_t *folded);
/* Bytes of the report's categories that the session's allocator does not
 * hold: what its allocation limit leaves out of max_memory. */
size_t ld_session_outside_bytes(const leandet_model *model, const leandet_session_options *o, int threads);
/* Fill the cheaper totals of a report that does not fit (re-plans the model
 * with other options; allocations are freed before returning). */
void ld_plan_suggest(const leandet_model *model, const leandet_session_options *o, leandet_plan_report *r);
/* LEANDET_ERR_BUDGET with "<model>: needs X, over the budget ...: breakdown; would fit: ..." */
leandet_status ld_budget_refusal(const leandet_model *model, const leandet_plan_report *r, leandet_error *err);

#endif

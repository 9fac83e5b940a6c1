/* Session internals, shared by the session and the detection front end. */
#ifndef LD_RUNTIME_SESSION_INTERNAL_H
#define LD_RUNTIME_SESSION_INTERNAL_H

#include "kernels/kernel.h"
#include "runtime/model_internal.h"
#include "runtime/threadpool.h"

typedef struct ld_op_slot {
    ld_op_ctx ctx;
    const ld_kernel *kernel;   /* chosen in prepare: optimized or reference */
    const char *isa;           /* "ref" or the optimized kernel's ISA */
    int folded;                /* prepare computed the outputs: no eval */
} ld_op_slot;

struct leandet_session {
    const leandet_model *model;
    ld_alloc alloc;
    ld_tensor *tensors;        /* one per model tensor */
    ld_op_slot *ops;           /* in execution order */
    ld_tensor **io;            /* backing store of every ctx.in / ctx.out array */
    uint8_t *arena;            /* planned activations */
    size_t arena_bytes;
    uint8_t *scratch;          /* largest scratch any op asked for */
    size_t scratch_bytes;
    int keep_all;              /* debugging: no arena sharing */
    ld_backend backend;
    ld_pool *pool;             /* NULL: single-threaded */
    size_t naive_bytes;        /* sum of all activation tensors, for reporting */
};

#endif

/* The kernel contract. Each operator is a {prepare, eval} pair, looked up
 * once when a session is created (see registry.c).
 *
 * prepare: runs once per session. Checks input types and shapes, writes the
 *   output shapes (out[i]->shape; type and quantization come from the model),
 *   may allocate one block of persistent per-op state with ld_malloc(c->alloc)
 *   into c->state (the session frees it), and may request scratch bytes for
 *   eval in c->scratch_bytes. Constant inputs (in[i]->is_const) have their
 *   data available; activations do not (data == NULL). Values that decide
 *   shapes (reshape target, paddings, slice bounds, axes, resize size) must be
 *   constant: otherwise return LEANDET_ERR_UNSUPPORTED.
 * eval: runs every invoke. Reads in[i]->data, writes out[i]->data. Must not
 *   allocate, must not write inputs. c->scratch holds c->scratch_bytes bytes.
 *
 * Constant folding: when every input is constant, prepare may compute the
 *   outputs itself into c->state, point out[i]->data there and set
 *   out[i]->is_const = 1; the session then never plans those outputs nor
 *   runs eval for the op (e.g. DEQUANTIZE of float16 weights, done once).
 *
 * Packing: a prepare that copies constant in[k] into its state and never
 *   reads in[k]->data at eval sets bit k of c->packed_inputs; the session may
 *   then free that input's data when it was folded (float16 weights
 *   dequantized once), since no eval reads it. Such a prepare also sets
 *   c->shareable: a session sharing weights must take the op as prepared,
 *   as its folded input may be gone.
 *
 * Sharing: a prepare whose state holds only what the op, its shapes and its
 *   constants decide (packed weights, requantization tables) sets
 *   c->shareable; a session created with share_weights then takes that state
 *   from the other session instead of preparing the op again.
 *
 * Errors: return ld_op_fail(c, status, "..."), which prefixes the op index
 * and name, e.g. "op 12 CONV_2D: input 0 is int16, expected float32/uint8/int8". */
#ifndef LD_KERNELS_KERNEL_H
#define LD_KERNELS_KERNEL_H

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"
#include "model/ops.h"

/* A tensor as one session sees it. */
typedef struct ld_tensor {
    ld_dtype type;
    ld_shape shape;
    const ld_quant *quant;        /* model's quantization (count 0 if none) */
    void *data;                   /* arena, the model's constant data, or NULL before planning */
    size_t bytes;                 /* element count * element size */
    int is_const;                 /* data comes from the model and never changes */
    const ld_tensor_desc *desc;   /* name etc. */
} ld_tensor;

typedef struct ld_op_ctx {
    const ld_op_desc *op;
    int index;                    /* position in execution order */
    int n_in, n_out;
    ld_tensor **in;               /* in[i] == NULL: omitted optional input */
    ld_tensor **out;
    void *state;                  /* persistent, from prepare */
    size_t scratch_bytes;
    void *scratch;                /* eval only */
    ld_alloc *alloc;              /* prepare only */
    leandet_error *err;
    struct ld_pool *pool;         /* eval: worker pool to split the op across
                                     (runtime/threadpool.h); NULL: run serially */
    unsigned packed_inputs;       /* set by prepare: bit k when the state holds all that eval
                                     needs of constant in[k] (packed weights and bias), so eval
                                     never reads in[k]->data and folded weights can be freed */
    int shareable;                /* set by prepare: c->state depends only on the op, its shapes and
                                     constants, points only into itself or the model, and eval
                                     never writes it, so sessions of one model may share it */
} ld_op_ctx;

typedef struct ld_kernel {
    int builtin;                  /* LD_OP_*; LD_OP_CUSTOM with custom_name for custom ops; -1 ends a table */
    const char *custom_name;
    leandet_status (*prepare)(ld_op_ctx *c);
    leandet_status (*eval)(ld_op_ctx *c);
} ld_kernel;

#define LD_KERNEL_TABLE_END { -1, NULL, NULL, NULL }

/* An optimized kernel: used instead of the reference kernel when `accepts`
 * says it handles this op as prepared so far (input types and shapes are
 * known, outputs are not). It must produce the same bytes as the reference
 * for integer types, and stay within float tolerance otherwise. */
typedef struct ld_opt_kernel {
    ld_kernel k;
    int (*accepts)(const ld_op_ctx *c);
    const char *isa;              /* "avx2", ... for reports */
} ld_opt_kernel;

#define LD_OPT_KERNEL_TABLE_END { LD_KERNEL_TABLE_END, NULL, NULL }

typedef enum ld_backend { LD_BACKEND_AUTO = 0, LD_BACKEND_REFERENCE = 1 } ld_backend;

/* The reference kernel for an op, or NULL if leandet has none. */
const ld_kernel *ld_kernel_find(const ld_op_desc *op);
/* The kernel to run this op: an optimized one that accepts it (backend AUTO
 * and the CPU supports it), else the reference one. `isa` receives "ref" or
 * the optimized kernel's ISA. */
const ld_kernel *ld_kernel_select(const ld_op_ctx *c, ld_backend backend, const char **isa);

/* Format an error prefixed with "op <index> <NAME>: ". */
leandet_status ld_op_fail(ld_op_ctx *c, leandet_status st, const char *fmt, ...) LD_PRINTF(3, 4);

/* Common checks used by many prepares. Each returns LEANDET_OK or an
 * ld_op_fail error naming the input/output. */
leandet_status ld_check_io(ld_op_ctx *c, int min_in, int max_in, int n_out);
leandet_status ld_check_rank(ld_op_ctx *c, const ld_tensor *t, const char *what, int rank);
leandet_status ld_check_same_type(ld_op_ctx *c, const ld_tensor *a, const ld_tensor *b, const char *what);
leandet_status ld_check_quantized(ld_op_ctx *c, const ld_tensor *t, const char *what); /* uint8/int8 need a per-tensor scale */
/* Constant int32 (or int64) vector input `i` read into dst (at most max entries). */
leandet_status ld_const_ints(ld_op_ctx *c, int i, int32_t *dst, int max, int *n);

#endif

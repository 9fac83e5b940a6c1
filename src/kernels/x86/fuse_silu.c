/* SiLU, MUL(x, LOGISTIC(x)), as one op (YOLOv5/v8 activations: the pair
 * costs two passes over the tensor and a third buffer).
 *
 * 8-bit: the MUL's output byte depends on x's byte alone, so the pair is a
 * 256-entry table, read out of the reference kernels themselves (LOGISTIC
 * on every byte, then MUL of every byte by its logistic): byte-exact, and
 * run by the 8-bit table kernel (ld_ew8_lut_eval).
 * float32: x * logistic(x) in cache-sized blocks, with the optimized float
 * LOGISTIC (within 1e-6 of the reference) and one multiply: within 1e-6
 * relative of the reference pair. A float CONV_2D whose output only the
 * SiLU reads fuses in too: the SiLU is applied to each output tile as the
 * convolution stores it (ld_f32_conv_eval_silu), the same values. */
#include <immintrin.h>
#include <string.h>

#include "kernels/x86/conv8.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/float_ew.h"
#include "kernels/x86/move.h"

#define SILU_BLOCK 1024   /* floats per block: x and y stay in L1 */

typedef struct silu8 {
    uint8_t lut[256];     /* first: ld_ew8_lut_eval reads the table at c->state */
    int xi;               /* the MUL's operand that is x */
} silu8;

typedef struct silu_f32 {
    void (*logistic)(const float *x, float *y, size_t n);
    int xi;
} silu_f32;

static int per_tensor8(const ld_tensor *t, ld_dtype type)
{
    return t->type == type && t->quant && t->quant->count == 1;
}

/* lut[b] = the reference MUL of byte b (operand xi) by sig[b]. */
static int probe_mul(ld_op_ctx *cons, int xi, const uint8_t sig[256], uint8_t lut[256])
{
    const ld_kernel *ref = ld_kernel_find(cons->op);
    if (!ref)
        return 0;
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    ld_tensor a = *cons->in[xi], b = *cons->in[1 - xi], y = *cons->out[0];
    ld_shape s = { 1, { 256 } };
    a.shape = b.shape = y.shape = s;
    a.bytes = b.bytes = y.bytes = 256;
    a.is_const = b.is_const = 0;
    a.data = bytes;
    b.data = (void *)sig;
    y.data = lut;
    ld_tensor *ins[2], *outs[1] = { &y };
    ins[xi] = &a;
    ins[1 - xi] = &b;
    ld_op_ctx p = *cons;
    p.in = ins;
    p.out = outs;
    p.state = NULL;
    p.scratch = NULL;
    p.scratch_bytes = 0;
    p.pool = NULL;
    leandet_status st = ref->prepare(&p);
    if (st == LEANDET_OK && p.scratch_bytes == 0)
        st = ref->eval(&p);
    else if (st == LEANDET_OK)
        st = LEANDET_ERR_UNSUPPORTED;
    ld_free(p.alloc, p.state);
    return st == LEANDET_OK;
}

static leandet_status silu8_eval(ld_op_ctx *c)
{
    const silu8 *s = c->state;
    ld_tensor *x[1] = { c->in[s->xi] };
    ld_op_ctx f = *c;
    f.in = x;
    f.n_in = 1;
    return ld_ew8_lut_eval(&f);
}

static int fuse8(ld_op_ctx *prod, ld_op_ctx *cons, int xi, ld_alloc *alloc)
{
    ld_dtype t = prod->in[0]->type;
    if ((t != LEANDET_UINT8 && t != LEANDET_INT8) || !per_tensor8(prod->in[0], t) || !per_tensor8(prod->out[0], t) ||
        !per_tensor8(cons->out[0], t))
        return 0;
    silu8 *s = ld_malloc(alloc, sizeof *s);
    if (!s)
        return -1;
    uint8_t sig[256];
    leandet_error err; /* a refused probe only means: no fusion */
    ld_op_ctx p = *prod, q = *cons;
    p.alloc = q.alloc = alloc;
    p.err = q.err = &err;
    const leandet_status ps = ld_ew8_probe_lut(&p, sig);
    if (ps != LEANDET_OK || !probe_mul(&q, xi, sig, s->lut)) {
        ld_free(alloc, s);
        return ps == LEANDET_ERR_NO_MEMORY ? -1 : 0;
    }
    s->xi = xi;
    ld_free(alloc, cons->state);
    cons->state = s;
    return 1;
}

typedef struct silu_job {
    const silu_f32 *s;
    const float *x;
    float *y;
    size_t blocks, n;
    int parts;
} silu_job;

LD_AVX2 void ld_f32_silu(void (*logistic)(const float *x, float *y, size_t n), const float *x, float *y, size_t n)
{
    float t[256]; /* the logistic of a piece: x may be y */
    for (size_t lo = 0; lo < n; lo += 256) {
        const size_t m = n - lo < 256 ? n - lo : 256;
        logistic(x + lo, t, m);
        size_t i = 0;
        for (; i + 8 <= m; i += 8)
            _mm256_storeu_ps(y + lo + i, _mm256_mul_ps(_mm256_loadu_ps(x + lo + i), _mm256_loadu_ps(t + i)));
        for (; i < m; i++)
            y[lo + i] = x[lo + i] * t[i];
    }
}

static void silu_task(void *ctx, int task, int thread)
{
    (void)thread;
    const silu_job *j = ctx;
    size_t b0, b1;
    ld_f32_part(j->blocks, j->parts, task, &b0, &b1);
    for (size_t b = b0; b < b1; b++) {
        size_t lo = b * SILU_BLOCK, n = j->n - lo < SILU_BLOCK ? j->n - lo : SILU_BLOCK;
        ld_f32_silu(j->s->logistic, j->x + lo, j->y + lo, n);
    }
}

static leandet_status silu_f32_eval(ld_op_ctx *c)
{
    const silu_f32 *s = c->state;
    silu_job j = { s, c->in[s->xi]->data, c->out[0]->data, 0, ld_shape_count(&c->out[0]->shape), 1 };
    j.blocks = (j.n + SILU_BLOCK - 1) / SILU_BLOCK;
    j.parts = ld_f32_parts(c->pool, j.blocks, 8, 2);
    ld_pool_run(c->pool, j.parts, silu_task, &j);
    return LEANDET_OK;
}

/* The float LOGISTIC of the fused SiLUs, for this CPU. */
static void (*pick_logistic(void))(const float *, float *, size_t)
{
    return ld_f32_has_avx512() ? ld_f32_logistic_avx512 : ld_f32_logistic_avx2;
}

static int fuse_f32(ld_op_ctx *prod, ld_op_ctx *cons, int xi, ld_alloc *alloc)
{
    if (!ld_f32_is(prod->in[0]) || !ld_f32_is(prod->out[0]) || !ld_f32_is(cons->out[0]) ||
        cons->op->params.arith.act != LD_ACT_NONE)
        return 0;
    silu_f32 *s = ld_malloc(alloc, sizeof *s);
    if (!s)
        return -1;
    s->logistic = pick_logistic();
    s->xi = xi;
    ld_free(alloc, cons->state);
    cons->state = s;
    return 1;
}

static const ld_kernel silu8_kernel = { LD_OP_MUL, NULL, NULL, silu8_eval };
static const ld_kernel silu_f32_kernel = { LD_OP_MUL, NULL, NULL, silu_f32_eval };

/* CONV_2D + SiLU: the convolution's context (its inputs, and its packed
 * state, which stays the CONV_2D op's) run into the MUL's output, then the
 * SiLU on what it stored: the float one (logistic) or the 8-bit table. */
typedef struct conv_silu {
    ld_op_ctx conv;
    void (*logistic)(const float *x, float *y, size_t n);
    uint8_t lut[256];
} conv_silu;

/* The producer's context run in the consumer's place: its inputs, the
 * consumer's outputs, and what invoke gave the consumer. */
static ld_op_ctx as_consumer(const ld_op_ctx *conv, const ld_op_ctx *c)
{
    ld_op_ctx f = *conv;
    f.out = c->out;
    f.pool = c->pool;
    f.scratch = c->scratch;
    f.scratch_bytes = c->scratch_bytes;
    f.err = c->err;
    return f;
}

static leandet_status conv_silu_eval(ld_op_ctx *c)
{
    const conv_silu *s = c->state;
    ld_op_ctx f = as_consumer(&s->conv, c);
    return ld_f32_conv_eval_silu(&f, s->logistic);
}

static leandet_status conv_silu8_eval(ld_op_ctx *c)
{
    const conv_silu *s = c->state;
    ld_op_ctx f = as_consumer(&s->conv, c);
    return ld_conv8_eval_lut(&f, s->lut);
}

static const ld_kernel conv_silu_kernel = { LD_OP_MUL, NULL, NULL, conv_silu_eval };
static const ld_kernel conv_silu8_kernel = { LD_OP_MUL, NULL, NULL, conv_silu8_eval };

int ld_fuse_conv_silu(ld_op_ctx *prod, const ld_kernel *prod_kernel, ld_op_ctx *cons, ld_alloc *alloc,
                      const ld_kernel **kernel)
{
    /* Decided from kernels and tensors only: when planning, the states are
     * already released, and the plan must fuse what the run fuses. */
    const int f32 = *kernel == &silu_f32_kernel && prod_kernel && prod_kernel->eval == ld_f32_conv_eval &&
                    ld_f32_is(prod->out[0]);
    const int q8 = *kernel == &silu8_kernel && ld_conv8_is_conv(prod_kernel);
    if ((!f32 && !q8) || prod->op->builtin != LD_OP_CONV_2D || prod->n_out != 1 || cons->n_in != 2 ||
        (cons->in[0] != prod->out[0] && cons->in[1] != prod->out[0]))
        return 0;
    conv_silu *s = ld_malloc(alloc, sizeof *s);
    if (!s)
        return -1;
    memset(s, 0, sizeof *s);
    s->conv = *prod;
    s->conv.alloc = NULL;
    s->logistic = pick_logistic();
    if (q8 && cons->state) /* when planning, the SiLU's table is already released: never run */
        memcpy(s->lut, ((const silu8 *)cons->state)->lut, sizeof s->lut);
    ld_free(alloc, cons->state);
    cons->state = s;
    *kernel = f32 ? &conv_silu_kernel : &conv_silu8_kernel;
    return 1;
}

int ld_fuse_silu(ld_op_ctx *prod, ld_op_ctx *cons, ld_alloc *alloc, const ld_kernel **kernel)
{
    if (prod->op->builtin != LD_OP_LOGISTIC || cons->op->builtin != LD_OP_MUL || prod->n_in != 1 ||
        prod->n_out != 1 || cons->n_in != 2 || cons->n_out != 1 || !prod->in[0] || !cons->in[0] || !cons->in[1])
        return 0;
    const ld_tensor *x = prod->in[0], *sig = prod->out[0];
    int xi = cons->in[0] == x && cons->in[1] == sig ? 0 : (cons->in[1] == x && cons->in[0] == sig ? 1 : -1);
    if (xi < 0 || x->is_const || !ld_shape_equal(&x->shape, &cons->out[0]->shape) ||
        !ld_shape_equal(&sig->shape, &x->shape))
        return 0;
    const int r = x->type == LEANDET_FLOAT32 ? fuse_f32(prod, cons, xi, alloc) : fuse8(prod, cons, xi, alloc);
    if (r > 0)
        *kernel = x->type == LEANDET_FLOAT32 ? &silu_f32_kernel : &silu8_kernel;
    return r;
}

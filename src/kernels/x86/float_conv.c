/* float32 CONV_2D and FULLY_CONNECTED on the packed GEMM (float_gemm.h).
 *
 * CONV_2D: output pixels are the GEMM rows. For each tile of LD_F32_MR
 * pixels the input pointers are computed on the stack (the reference window
 * geometry: ld_window): with dilation_w 1 and the tile's windows inside the
 * input in x, one pointer per filter row, whose f_w taps are contiguous in
 * NHWC (f_w * in_c floats: this keeps the first layer, 3 channels, efficient);
 * otherwise one per tap, taps in the padding pointing at zeros kept in the
 * state. A 1x1 convolution with stride 1 reads the input rows in place.
 * FULLY_CONNECTED is that pointwise case with the input seen as
 * [batches, depth].
 *
 * Threads: tiles of pixels (and, when there are few, panels of output
 * channels) are split into tasks over c->pool. No scratch: the pointers of
 * a tile are on the task's stack (at most 6 KiB, MAX_TAPS). */
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/float_gemm.h"
#include "kernels/x86/move.h"

/* Filters with more taps fall back to the reference kernel: the tap
 * pointers of one tile live on the stack (6 KiB). */
#define MAX_TAPS 128

typedef struct conv_f32 {
    ld_f32_gemm g;
    ld_window win;
    size_t rows;          /* GEMM rows: batches * out_h * out_w, or FC batches */
    int in_c;
    int pointwise;        /* row r reads input row r in place */
    int merge;            /* dilation_w 1: a filter row inside the input is one vector */
    const float *zeros;   /* f_w * in_c zeros for taps in the padding */
} conv_f32;

static const float *bias_of(const ld_op_ctx *c)
{
    return c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
}

/* Float32 operands with constant weights (and bias, if any). */
static int operands_ok(const ld_op_ctx *c)
{
    if (c->n_in < 2 || c->n_out != 1 || !ld_f32_is(c->in[0]) || !ld_f32_is_const(c->in[1]) ||
        !ld_f32_is(c->out[0]))
        return 0;
    const ld_tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
    return !bias || ld_f32_is_const(bias);
}

int ld_f32_conv_accepts(const ld_op_ctx *c)
{
    if (!operands_ok(c))
        return 0;
    const ld_shape *in = &c->in[0]->shape, *w = &c->in[1]->shape;
    /* grouped convolutions stay on the reference kernel */
    return in->rank == 4 && w->rank == 4 && w->d[3] == in->d[3] && (int64_t)w->d[1] * w->d[2] <= MAX_TAPS;
}

int ld_f32_fc_accepts(const ld_op_ctx *c)
{
    return operands_ok(c) && c->op->params.fc.weights_format == 0 && c->in[1]->shape.rank == 2;
}

int ld_f32_conv_accepts512(const ld_op_ctx *c)
{
    return ld_f32_has_avx512() && ld_f32_conv_accepts(c);
}

int ld_f32_fc_accepts512(const ld_op_ctx *c)
{
    return ld_f32_has_avx512() && ld_f32_fc_accepts(c);
}

/* One block: the state, then (64-byte aligned) the packed weights, then the zeros. */
static leandet_status alloc_state(ld_op_ctx *c, int nr, int n, size_t kc, size_t taps, size_t zeros,
                                  conv_f32 **out)
{
    const size_t head = (sizeof(conv_f32) + 63) / 64 * 64;
    const size_t packed = ld_f32_gemm_packed_floats(n, kc, taps, nr);
    if (!packed || packed > (SIZE_MAX - head) / sizeof(float) - zeros)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "weights of %d x %zu x %zu values are too large", n, taps, kc);
    const size_t bytes = head + (packed + zeros) * sizeof(float);
    conv_f32 *s = ld_malloc(c->alloc, bytes);
    if (!s)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of packed weights", bytes);
    memset(s, 0, sizeof *s);
    float *w = (float *)((char *)s + head);
    memset(w + packed, 0, zeros * sizeof(float));
    s->zeros = w + packed;
    ld_f32_gemm_pack(&s->g, c->in[1]->data, bias_of(c), n, kc, taps, nr, 0.0f, 0.0f, w);
    c->state = s;
    c->shareable = 1; /* packed from constants only: sessions of this model may share it */
    c->packed_inputs = 1u << 1 | 1u << 2; /* weights and bias now live in the panels */
    *out = s;
    return LEANDET_OK;
}

/* nr: the GEMM panel width, 16 (AVX2) or 32 (AVX-512). */
static leandet_status conv_prepare(ld_op_ctx *c, int nr)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    const ld_conv_params *p = &c->op->params.conv;
    const ld_shape *in = &c->in[0]->shape, *w = &c->in[1]->shape;
    ld_window win;
    if ((st = ld_window_init(c, p->padding, in->d[1], in->d[2], w->d[1], w->d[2], p->stride_h, p->stride_w,
                             p->dilation_h, p->dilation_w, &win)) != LEANDET_OK)
        return st;
    const int in_c = in->d[3], taps = win.f_h * win.f_w;
    conv_f32 *s = NULL;
    if ((st = alloc_state(c, nr, w->d[0], (size_t)in_c, (size_t)taps, (size_t)win.f_w * (size_t)in_c, &s)) !=
        LEANDET_OK)
        return st;
    ld_act_range_float(p->act, &s->g.lo, &s->g.hi);
    s->win = win;
    s->in_c = in_c;
    s->rows = (size_t)in->d[0] * (size_t)win.out_h * (size_t)win.out_w;
    s->merge = win.dil_w == 1;
    s->pointwise = taps == 1 && win.stride_h == 1 && win.stride_w == 1 && win.pad_h == 0 && win.pad_w == 0;
    return LEANDET_OK;
}

static leandet_status fc_prepare(ld_op_ctx *c, int nr)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    const ld_shape *w = &c->in[1]->shape;
    const int units = w->d[0], depth = w->d[1];
    conv_f32 *s = NULL;
    if ((st = alloc_state(c, nr, units, (size_t)depth, 1, 0, &s)) != LEANDET_OK)
        return st;
    ld_act_range_float(c->op->params.fc.act, &s->g.lo, &s->g.hi);
    s->in_c = depth;
    s->rows = ld_shape_count(&c->in[0]->shape) / (size_t)depth; /* checked by the reference prepare */
    s->pointwise = 1;
    return LEANDET_OK;
}

leandet_status ld_f32_conv_prepare(ld_op_ctx *c)
{
    return conv_prepare(c, 16);
}

leandet_status ld_f32_conv_prepare512(ld_op_ctx *c)
{
    return conv_prepare(c, 32);
}

leandet_status ld_f32_fc_prepare(ld_op_ctx *c)
{
    return fc_prepare(c, 16);
}

leandet_status ld_f32_fc_prepare512(ld_op_ctx *c)
{
    return fc_prepare(c, 32);
}

/* Position of a GEMM row in the output: batch, y, x. */
typedef struct pos {
    int b, oy, ox;
} pos;

static void pos_next(const ld_window *w, pos *q)
{
    if (++q->ox < w->out_w)
        return;
    q->ox = 0;
    if (++q->oy < w->out_h)
        return;
    q->oy = 0;
    q->b++;
}

/* Input coordinates of tap (0, 0) of the pixel at q. */
static void origin(const ld_window *w, const pos *q, int *iy0, int *ix0)
{
    *iy0 = q->oy * w->stride_h - w->pad_h;
    *ix0 = q->ox * w->stride_w - w->pad_w;
}

/* Whether all `mr` pixels from q have their whole filter row inside the
 * input: then the f_w taps of a filter row (dilation 1) are one contiguous
 * vector of f_w * in_c floats, which the GEMM reads as a single longer tap.
 * That matters for few input channels (the first layer: 3). */
static int rows_inside(const conv_f32 *s, pos q, size_t mr)
{
    const ld_window *w = &s->win;
    if (!s->merge)
        return 0;
    for (size_t r = 0; r < mr; r++, pos_next(w, &q)) {
        int iy0, ix0;
        origin(w, &q, &iy0, &ix0);
        if (ix0 < 0 || ix0 + w->f_w > w->in_w)
            return 0;
    }
    return 1;
}

/* Pointers for `mr` pixels from q (advanced past them): one per filter row
 * (merged) or one per tap; taps in the padding read zeros. Returns the
 * number of pointer groups. */
static size_t window_rows(const conv_f32 *s, const float *x, pos *q, size_t mr, int merged, const float **a)
{
    const ld_window *w = &s->win;
    const size_t row = (size_t)w->in_w * (size_t)s->in_c;
    const int kx_n = merged ? 1 : w->f_w;
    for (size_t r = 0; r < mr; r++, pos_next(w, q)) {
        int iy0, ix0;
        origin(w, q, &iy0, &ix0);
        const float *img = x + (size_t)q->b * (size_t)w->in_h * row;
        const float **ar = a + r;
        for (int ky = 0; ky < w->f_h; ky++) {
            const int y = iy0 + ky * w->dil_h;
            const int y_in = y >= 0 && y < w->in_h;
            for (int kx = 0; kx < kx_n; kx++, ar += LD_F32_MR) {
                const int xx = ix0 + kx * w->dil_w;
                *ar = y_in && xx >= 0 && xx < w->in_w ? img + (size_t)y * row + (size_t)xx * (size_t)s->in_c
                                                      : s->zeros;
            }
        }
    }
    return (size_t)w->f_h * (size_t)kx_n;
}

/* The common case, cheaply: `mr` pixels of one output row whose windows lie
 * wholly inside the input (dilation_w 1): pointer (ky, r) is the start of
 * filter row ky of pixel r. Returns 0 (nothing done) otherwise. */
static int inside_rows(const conv_f32 *s, const float *x, pos *q, size_t mr, const float **a)
{
    const ld_window *w = &s->win;
    int iy0, ix0;
    origin(w, q, &iy0, &ix0);
    const int ix_last = ix0 + (int)(mr - 1) * w->stride_w;
    if (!s->merge || q->ox + (int)mr > w->out_w || ix0 < 0 || ix_last + w->f_w > w->in_w || iy0 < 0 ||
        iy0 + (w->f_h - 1) * w->dil_h >= w->in_h)
        return 0;
    const size_t c = (size_t)s->in_c, row = (size_t)w->in_w * c, step = (size_t)w->stride_w * c;
    const float *p = x + ((size_t)q->b * (size_t)w->in_h + (size_t)iy0) * row + (size_t)ix0 * c;
    for (int ky = 0; ky < w->f_h; ky++, p += (size_t)w->dil_h * row)
        for (size_t r = 0; r < mr; r++)
            a[(size_t)ky * LD_F32_MR + r] = p + r * step;
    q->ox += (int)mr - 1; /* still in this row; pos_next wraps */
    pos_next(w, q);
    return 1;
}

typedef struct conv_job {
    const conv_f32 *s;
    const float *x;
    float *y;
    size_t tiles;
    int mparts, nparts;
    void (*logistic)(const float *x, float *y, size_t n); /* fused SiLU, or NULL */
} conv_job;

/* The fused SiLU on the rows a tile just stored, channels [c0, c1). */
static void silu_tile(const conv_job *j, float *y, size_t mr, size_t c0, size_t c1)
{
    const size_t out_c = (size_t)j->s->g.n;
    if (c0 == 0 && c1 == out_c) {
        ld_f32_silu(j->logistic, y, y, mr * out_c);
        return;
    }
    for (size_t r = 0; r < mr; r++)
        ld_f32_silu(j->logistic, y + r * out_c + c0, y + r * out_c + c0, c1 - c0);
}

static void conv_task(void *ctx, int task, int thread)
{
    (void)thread;
    const conv_job *j = ctx;
    const conv_f32 *s = j->s;
    size_t t0, t1, q0, q1;
    ld_f32_part(j->tiles, j->mparts, task / j->nparts, &t0, &t1);
    ld_f32_part((size_t)s->g.panels, j->nparts, task % j->nparts, &q0, &q1);
    const size_t out_c = (size_t)s->g.n, k = s->g.kc * s->g.taps;
    const float *a[LD_F32_MR * MAX_TAPS];
    pos q = { 0, 0, 0 };
    if (!s->pointwise) {
        size_t first = t0 * LD_F32_MR, plane = (size_t)s->win.out_h * (size_t)s->win.out_w;
        q.b = (int)(first / plane);
        q.oy = (int)(first % plane / (size_t)s->win.out_w);
        q.ox = (int)(first % (size_t)s->win.out_w);
    }
    for (size_t t = t0; t < t1; t++) {
        const size_t r0 = t * LD_F32_MR;
        const size_t mr = s->rows - r0 < LD_F32_MR ? s->rows - r0 : LD_F32_MR;
        size_t groups = 1;
        if (s->pointwise) {
            for (size_t r = 0; r < LD_F32_MR; r++)
                a[r] = j->x + (r0 + (r < mr ? r : mr - 1)) * (size_t)s->in_c;
        } else {
            if (inside_rows(s, j->x, &q, mr, a))
                groups = (size_t)s->win.f_h;
            else
                groups = window_rows(s, j->x, &q, mr, rows_inside(s, q, mr), a);
            for (size_t r = mr; r < LD_F32_MR; r++)
                for (size_t g = 0; g < groups; g++)
                    a[g * LD_F32_MR + r] = a[g * LD_F32_MR + mr - 1];
        }
        ld_f32_gemm_rows(&s->g, (int)q0, (int)q1, mr, k / groups, groups, a, j->y + r0 * out_c, out_c);
        if (j->logistic) {
            const size_t nr = (size_t)s->g.nr, c1 = q1 * nr < out_c ? q1 * nr : out_c;
            silu_tile(j, j->y + r0 * out_c, mr, q0 * nr, c1);
        }
    }
}

static leandet_status run(ld_op_ctx *c, void (*logistic)(const float *x, float *y, size_t n))
{
    const conv_f32 *s = c->state;
    conv_job j = { s, c->in[0]->data, c->out[0]->data, (s->rows + LD_F32_MR - 1) / LD_F32_MR, 1, 1, logistic };
    const int threads = ld_pool_threads(c->pool);
    j.mparts = ld_f32_parts(c->pool, j.tiles, 1, 4);
    if (j.mparts < 2 * threads && s->g.panels > 1) { /* few pixels: split the channels as well */
        int want = (2 * threads + j.mparts - 1) / j.mparts;
        j.nparts = want < s->g.panels ? want : s->g.panels;
    }
    ld_pool_run(c->pool, j.mparts * j.nparts, conv_task, &j);
    return LEANDET_OK;
}

leandet_status ld_f32_conv_eval(ld_op_ctx *c)
{
    return run(c, NULL);
}

leandet_status ld_f32_conv_eval_silu(ld_op_ctx *c, void (*logistic)(const float *x, float *y, size_t n))
{
    return run(c, logistic);
}

leandet_status ld_f32_fc_eval(ld_op_ctx *c)
{
    return run(c, NULL);
}

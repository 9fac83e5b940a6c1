/* Hybrid DEPTHWISE_CONV_2D (float32 activations, int8 weights, depth
 * multiplier 1) on AVX2, byte-exact with the reference kernel: the input
 * quantized per batch by the reference's function, then per output pixel
 * and 8 channels at a time the int32 sum of w * (x - offset) over the taps
 * inside the image (exact products; int32 sums wrap like the reference's),
 * then the reference's float steps in its order, without FMA:
 * acc * (w_scale * input_scale) + bias, then the clamp. Output rows are
 * split across c->pool. */
#include <immintrin.h>
#include <string.h>

#include "kernels/ref/conv_quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/hybrid.h"

#define ROW_MACS (1 << 15) /* work per task at least */

typedef struct hdw {
    ld_window win;
    int batches, c, cp;   /* channels, rounded up to 8 */
    float f_lo, f_hi;
    int32_t *w;           /* [f_h * f_w][cp], 32-byte aligned, inside this block */
    float *ws;            /* [cp] weight scales (one repeated when per tensor) */
    float *bias;          /* [cp], zeros without a bias */
} hdw;

int ld_hybrid_dw_accepts(const ld_op_ctx *c)
{
    if (c->n_in < 2 || c->n_out != 1 || !c->in[0] || !c->in[1])
        return 0;
    const ld_tensor *in = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    return in->type == LEANDET_FLOAT32 && in->shape.rank == 4 && w->type == LEANDET_INT8 && w->is_const &&
           w->shape.rank == 4 && w->quant && w->quant->count >= 1 && w->shape.d[3] == in->shape.d[3] &&
           c->op->params.conv.depth_multiplier == 1 && (!b || (b->type == LEANDET_FLOAT32 && b->is_const)) &&
           c->out[0]->type == LEANDET_FLOAT32;
}

leandet_status ld_hybrid_dw_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* every check, the output shape */
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    const ld_conv_params *p = &c->op->params.conv;
    hdw h;
    memset(&h, 0, sizeof h);
    if ((st = ld_window_init(c, p->padding, in->shape.d[1], in->shape.d[2], w->shape.d[1], w->shape.d[2],
                             p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, &h.win)) != LEANDET_OK)
        return st;
    h.batches = in->shape.d[0];
    h.c = in->shape.d[3];
    h.cp = (h.c + 7) & ~7;
    ld_act_range_float(p->act, &h.f_lo, &h.f_hi);
    const size_t n = ld_shape_count(&in->shape);
    c->scratch_bytes = ld_hybrid_scratch_bytes(n, (size_t)h.batches);
    const size_t taps = (size_t)h.win.f_h * (size_t)h.win.f_w, cp = (size_t)h.cp;
    hdw *s = ld_malloc(c->alloc, sizeof *s + 32 + (taps * cp + 2 * cp) * 4);
    if (!s)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate the packed weights");
    *s = h;
    s->w = (int32_t *)(((uintptr_t)(s + 1) + 31) & ~(uintptr_t)31);
    s->ws = (float *)(s->w + taps * cp);
    s->bias = s->ws + cp;
    const int8_t *src = w->data;
    const ld_quant *q = w->quant;
    for (size_t t = 0; t < taps; t++)
        for (size_t k = 0; k < cp; k++)
            s->w[t * cp + k] = k < (size_t)h.c ? src[t * (size_t)h.c + k] : 0;
    for (size_t k = 0; k < cp; k++) {
        s->ws[k] = k < (size_t)h.c ? q->scale[q->count > 1 ? k : 0] : 0.0f;
        s->bias[k] = b && k < (size_t)h.c ? ((const float *)b->data)[k] : 0.0f;
    }
    c->state = s;
    c->shareable = 1; /* packed from constants only: sessions of this model may share it */
    return LEANDET_OK;
}

typedef struct job {
    const hdw *s;
    const int8_t *q;
    const float *scale;
    const int32_t *offset;
    float *out;
    int rows, tasks;      /* output rows of all batches */
} job;

LD_AVX2 static void row(const job *j, int r)
{
    const hdw *s = j->s;
    const ld_window *w = &s->win;
    const int b = r / w->out_h, oy = r % w->out_h;
    const int8_t *img = j->q + (size_t)b * (size_t)w->in_h * (size_t)w->in_w * (size_t)s->c;
    const __m256i off = _mm256_set1_epi32(j->offset[b]);
    const __m256 sf = _mm256_set1_ps(j->scale[b]), lo = _mm256_set1_ps(s->f_lo), hi = _mm256_set1_ps(s->f_hi);
    int ky0, ky1;
    ld_window_taps(oy * w->stride_h - w->pad_h, w->dil_h, w->f_h, w->in_h, &ky0, &ky1);
    for (int ox = 0; ox < w->out_w; ox++) {
        int kx0, kx1;
        const int ix0 = ox * w->stride_w - w->pad_w, iy0 = oy * w->stride_h - w->pad_h;
        ld_window_taps(ix0, w->dil_w, w->f_w, w->in_w, &kx0, &kx1);
        float *y = j->out + (((size_t)b * (size_t)w->out_h + (size_t)oy) * (size_t)w->out_w + (size_t)ox) * (size_t)s->c;
        for (int c0 = 0; c0 < s->c; c0 += 8) {
            const int n = s->c - c0 < 8 ? s->c - c0 : 8;
            __m256i acc = _mm256_setzero_si256();
            for (int ky = ky0; ky < ky1; ky++) {
                const int iy = iy0 + ky * w->dil_h;
                for (int kx = kx0; kx < kx1; kx++) {
                    const int ix = ix0 + kx * w->dil_w;
                    const int8_t *x = img + ((size_t)iy * (size_t)w->in_w + (size_t)ix) * (size_t)s->c + (size_t)c0;
                    int64_t bytes = 0;
                    memcpy(&bytes, x, (size_t)n); /* channels past the last read as 0 */
                    const __m256i xv = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bytes)), off);
                    const __m256i wv = _mm256_load_si256(
                        (const __m256i *)(const void *)(s->w + (size_t)(ky * w->f_w + kx) * (size_t)s->cp + (size_t)c0));
                    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(xv, wv));
                }
            }
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(_mm256_loadu_ps(s->ws + c0), sf));
            v = ld_f32_clamp8(_mm256_add_ps(v, _mm256_loadu_ps(s->bias + c0)), lo, hi);
            float tmp[8];
            _mm256_storeu_ps(tmp, v);
            memcpy(y + c0, tmp, (size_t)n * sizeof *tmp);
        }
    }
}

static void task(void *ctx, int t, int thread)
{
    (void)thread;
    const job *j = ctx;
    const int r0 = (int)((int64_t)j->rows * t / j->tasks), r1 = (int)((int64_t)j->rows * (t + 1) / j->tasks);
    for (int r = r0; r < r1; r++)
        row(j, r);
}

leandet_status ld_hybrid_dw_eval(ld_op_ctx *c)
{
    const hdw *s = c->state;
    if (!c->scratch || c->scratch_bytes < ld_hybrid_scratch_bytes(ld_shape_count(&c->in[0]->shape), (size_t)s->batches))
        return ld_op_fail(c, LEANDET_ERR_INTERNAL, "scratch of %zu bytes is too small", c->scratch_bytes);
    const size_t n = ld_shape_count(&c->in[0]->shape);
    ld_hybrid_conv_quantize(c->in[0]->data, n / (size_t)s->batches, (size_t)s->batches, 1, 0.0f, c->scratch,
                            &ld_hybrid_avx2_ops);
    int8_t *q;
    float *scale;
    int32_t *offset;
    ld_hybrid_scratch(c->scratch, n, (size_t)s->batches, &q, &scale, &offset);
    job j = { s, q, scale, offset, c->out[0]->data, s->batches * s->win.out_h, 1 };
    const double macs = (double)j.rows * s->win.out_w * s->cp * s->win.f_h * s->win.f_w;
    const int threads = ld_pool_threads(c->pool);
    int tasks = ld_pool_split_fine(c->pool) ? j.rows : threads > 1 ? (int)(macs / ROW_MACS) : 1;
    tasks = tasks > 4 * threads ? 4 * threads : tasks;
    j.tasks = tasks < 1 ? 1 : tasks > j.rows ? j.rows : tasks;
    ld_pool_run(c->pool, j.tasks, task, &j);
    return LEANDET_OK;
}

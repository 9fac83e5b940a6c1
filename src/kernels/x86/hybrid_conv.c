/* Hybrid CONV_2D (float32 activations, int8 weights: what `leandet quantize
 * --mode dynamic` writes) on AVX2, byte-exact with the reference kernel.
 *
 * The input is quantized per batch exactly as the reference does (the same
 * function). Each output value is then an int32 sum of (x - offset) * w
 * over the taps inside the image: here each pixel's patch is laid out as
 * int16 (x - offset, zero for taps outside the image, which adds nothing),
 * the weights as int16 pairs, and vpmaddwd multiplies exactly (|x - offset|
 * <= 255, |w| <= 127). The int32 sums wrap like the reference's, so they
 * are equal whatever the order; the float steps after them are the
 * reference's, in its order, without FMA: ((acc * w_scale) * input_scale
 * per channel, acc * scale per tensor) + bias, then the clamp.
 *
 * A tile is 4 output pixels by 16 channels (8 accumulators); eval splits
 * the pixel tiles across c->pool, each task with its own patch slice of
 * scratch. (SSD MobileNet dynamic-range: the reference ran 395 ms per
 * invoke, TensorFlow Lite 62 ms.) */
#include <immintrin.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/conv_quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/hybrid.h"

#define MR 4          /* pixels per tile */
#define SLOTS 8       /* patch slices in scratch: tasks per op at most */
#define TASK_MACS (1 << 18)

typedef struct hconv {
    ld_window win;
    int batches, in_c, out_c;
    int k, kp;        /* patch length f_h*f_w*in_c, and rounded up to even */
    int blocks;       /* of 8 output channels */
    int per_channel;
    float f_lo, f_hi;
    size_t q_bytes;   /* the quantized input's part of scratch (64-byte multiple) */
    size_t slot_bytes;
    int16_t *w;       /* [blocks][kp / 2][8][2], 32-byte aligned, inside this block */
} hconv;

int ld_hybrid_conv_accepts(const ld_op_ctx *c)
{
    if (c->n_in < 2 || c->n_out != 1 || !c->in[0] || !c->in[1])
        return 0;
    const ld_tensor *in = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    return in->type == LEANDET_FLOAT32 && in->shape.rank == 4 && w->type == LEANDET_INT8 && w->is_const &&
           w->shape.rank == 4 && w->quant && w->quant->count >= 1 && w->shape.d[3] == in->shape.d[3] &&
           (!b || b->type == LEANDET_FLOAT32) && c->out[0]->type == LEANDET_FLOAT32;
}

leandet_status ld_hybrid_conv_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* every check, the output shape */
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0], *w = c->in[1];
    const ld_conv_params *p = &c->op->params.conv;
    hconv h;
    memset(&h, 0, sizeof h);
    if ((st = ld_window_init(c, p->padding, in->shape.d[1], in->shape.d[2], w->shape.d[1], w->shape.d[2],
                             p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, &h.win)) != LEANDET_OK)
        return st;
    h.batches = in->shape.d[0];
    h.in_c = in->shape.d[3];
    h.out_c = w->shape.d[0];
    h.k = w->shape.d[1] * w->shape.d[2] * h.in_c; /* the reference checked the sizes */
    h.kp = (h.k + 1) & ~1;
    h.blocks = (h.out_c + 7) / 8;
    h.per_channel = ld_hybrid_conv_per_channel(w, 0, 0);
    ld_act_range_float(p->act, &h.f_lo, &h.f_hi);
    const size_t n = ld_shape_count(&in->shape);
    h.q_bytes = (ld_hybrid_scratch_bytes(n, (size_t)h.batches) + 63) & ~(size_t)63;
    h.slot_bytes = ((size_t)MR * (size_t)h.kp * sizeof(int16_t) + 63) & ~(size_t)63;
    c->scratch_bytes = h.q_bytes + SLOTS * h.slot_bytes + 64;

    const size_t wbytes = (size_t)h.blocks * (size_t)h.kp * 8 * sizeof(int16_t);
    hconv *s = ld_malloc(c->alloc, sizeof *s + 32 + wbytes);
    if (!s)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of packed weights", wbytes);
    *s = h;
    s->w = (int16_t *)(((uintptr_t)(s + 1) + 31) & ~(uintptr_t)31);
    const int8_t *src = w->data;
    for (int b = 0; b < h.blocks; b++)
        for (int pr = 0; pr < h.kp / 2; pr++)
            for (int j = 0; j < 8; j++)
                for (int t = 0; t < 2; t++) {
                    const int oc = b * 8 + j, k = 2 * pr + t;
                    s->w[(((size_t)b * (size_t)(h.kp / 2) + (size_t)pr) * 8 + (size_t)j) * 2 + (size_t)t] =
                        oc < h.out_c && k < h.k ? src[(size_t)oc * (size_t)h.k + (size_t)k] : 0;
                }
    c->state = s;
    c->shareable = 1; /* packed from constants only: sessions of this model may share it */
    return LEANDET_OK;
}

typedef struct job {
    const hconv *s;
    const int8_t *q;
    const float *scale;
    const int32_t *offset;
    const float *wscale;  /* per channel: out_c scales (or one) */
    int wscale_count;
    const float *bias;
    float *out;
    uint8_t *slots;
    int pixels, tiles, tasks;
} job;

/* The patch of output pixel m (x - offset; 0 outside the image and past
 * the patch), or all zeros past the last pixel. */
static void patch(const job *j, int m, int16_t *dst)
{
    const hconv *s = j->s;
    if (m >= j->pixels) {
        memset(dst, 0, (size_t)s->kp * sizeof *dst);
        return;
    }
    const ld_window *w = &s->win;
    const int per_image = w->out_h * w->out_w, b = m / per_image, r = m % per_image;
    const int oy = r / w->out_w, ox = r % w->out_w;
    const int16_t off = (int16_t)j->offset[b];
    const int8_t *img = j->q + (size_t)b * (size_t)w->in_h * (size_t)w->in_w * (size_t)s->in_c;
    int16_t *d = dst;
    for (int ky = 0; ky < w->f_h; ky++) {
        const int iy = oy * w->stride_h - w->pad_h + ky * w->dil_h;
        for (int kx = 0; kx < w->f_w; kx++, d += s->in_c) {
            const int ix = ox * w->stride_w - w->pad_w + kx * w->dil_w;
            if (iy < 0 || iy >= w->in_h || ix < 0 || ix >= w->in_w) {
                memset(d, 0, (size_t)s->in_c * sizeof *d);
                continue;
            }
            const int8_t *x = img + ((size_t)iy * (size_t)w->in_w + (size_t)ix) * (size_t)s->in_c;
            for (int c = 0; c < s->in_c; c++)
                d[c] = (int16_t)(x[c] - off);
        }
    }
    if (s->kp > s->k)
        dst[s->k] = 0;
}

/* The reference's float steps on 8 sums of channels oc0.. of pixel m. */
LD_AVX2 static void store8(const job *j, int m, int oc0, __m256i acc)
{
    const hconv *s = j->s;
    const int b = m / (s->win.out_h * s->win.out_w), n = s->out_c - oc0 < 8 ? s->out_c - oc0 : 8;
    float ws[8], bias[8] = { 0 }, y[8];
    for (int i = 0; i < n; i++) {
        ws[i] = j->wscale[j->wscale_count > 1 ? oc0 + i : 0];
        if (j->bias)
            bias[i] = j->bias[oc0 + i];
    }
    for (int i = n; i < 8; i++)
        ws[i] = 0.0f;
    __m256 v = _mm256_cvtepi32_ps(acc);
    const __m256 sf = _mm256_set1_ps(j->scale[b]);
    if (s->per_channel)
        v = _mm256_mul_ps(_mm256_mul_ps(v, _mm256_loadu_ps(ws)), sf);
    else
        v = _mm256_mul_ps(v, sf);
    v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
    v = ld_f32_clamp8(v, _mm256_set1_ps(s->f_lo), _mm256_set1_ps(s->f_hi)); /* the reference's clamp, NaN too */
    _mm256_storeu_ps(y, v);
    memcpy(j->out + (size_t)m * (size_t)s->out_c + (size_t)oc0, y, (size_t)n * sizeof *y);
}

LD_AVX2 static void tile(const job *j, int m0, const int16_t *pt)
{
    const hconv *s = j->s;
    const int pairs = s->kp / 2;
    const int mr = j->pixels - m0 < MR ? j->pixels - m0 : MR;
    for (int b = 0; b < s->blocks; b += 2) {
        const int two = b + 1 < s->blocks;
        const int16_t *w0 = s->w + (size_t)b * (size_t)pairs * 16, *w1 = two ? w0 + (size_t)pairs * 16 : w0;
        __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                a31 = a00;
        const int32_t *x0 = (const int32_t *)(const void *)pt, *x1 = x0 + pairs, *x2 = x1 + pairs, *x3 = x2 + pairs;
        for (int p = 0; p < pairs; p++) {
            const __m256i v0 = _mm256_load_si256((const __m256i *)(const void *)(w0 + (size_t)p * 16));
            const __m256i v1 = _mm256_load_si256((const __m256i *)(const void *)(w1 + (size_t)p * 16));
            __m256i x = _mm256_set1_epi32(x0[p]);
            a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(x, v0));
            a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(x, v1));
            x = _mm256_set1_epi32(x1[p]);
            a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(x, v0));
            a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(x, v1));
            x = _mm256_set1_epi32(x2[p]);
            a20 = _mm256_add_epi32(a20, _mm256_madd_epi16(x, v0));
            a21 = _mm256_add_epi32(a21, _mm256_madd_epi16(x, v1));
            x = _mm256_set1_epi32(x3[p]);
            a30 = _mm256_add_epi32(a30, _mm256_madd_epi16(x, v0));
            a31 = _mm256_add_epi32(a31, _mm256_madd_epi16(x, v1));
        }
        const __m256i acc[MR][2] = { { a00, a01 }, { a10, a11 }, { a20, a21 }, { a30, a31 } };
        for (int i = 0; i < mr; i++) {
            store8(j, m0 + i, b * 8, acc[i][0]);
            if (two)
                store8(j, m0 + i, b * 8 + 8, acc[i][1]);
        }
    }
}

static void task(void *ctx, int t, int thread)
{
    (void)thread;
    const job *j = ctx;
    const int t0 = (int)((int64_t)j->tiles * t / j->tasks), t1 = (int)((int64_t)j->tiles * (t + 1) / j->tasks);
    int16_t *pt = (int16_t *)(void *)(j->slots + (size_t)t * j->s->slot_bytes);
    for (int k = t0; k < t1; k++) {
        for (int i = 0; i < MR; i++)
            patch(j, k * MR + i, pt + (size_t)i * (size_t)j->s->kp);
        tile(j, k * MR, pt);
    }
}

leandet_status ld_hybrid_conv_eval(ld_op_ctx *c)
{
    const hconv *s = c->state;
    if (!c->scratch || c->scratch_bytes < s->q_bytes + SLOTS * s->slot_bytes + 64)
        return ld_op_fail(c, LEANDET_ERR_INTERNAL, "scratch of %zu bytes is too small", c->scratch_bytes);
    const size_t n = ld_shape_count(&c->in[0]->shape);
    ld_hybrid_conv_quantize(c->in[0]->data, n / (size_t)s->batches, (size_t)s->batches, s->per_channel,
                            c->in[1]->quant->scale[0], c->scratch,
                            &ld_hybrid_avx2_ops);
    int8_t *q;
    float *scale;
    int32_t *offset;
    ld_hybrid_scratch(c->scratch, n, (size_t)s->batches, &q, &scale, &offset);
    job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    j.q = q;
    j.scale = scale;
    j.offset = offset;
    j.wscale = c->in[1]->quant->scale;
    j.wscale_count = c->in[1]->quant->count;
    j.bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    j.out = c->out[0]->data;
    uintptr_t base = (uintptr_t)c->scratch + s->q_bytes;
    j.slots = (uint8_t *)((base + 63) & ~(uintptr_t)63);
    j.pixels = s->batches * s->win.out_h * s->win.out_w;
    j.tiles = (j.pixels + MR - 1) / MR;
    const double macs = (double)j.pixels * s->kp * s->blocks * 8;
    const int threads = ld_pool_threads(c->pool);
    int tasks = threads > 1 ? (int)(macs / TASK_MACS) : 1;
    if (ld_pool_split_fine(c->pool))
        tasks = j.tiles;
    tasks = tasks > 2 * threads ? 2 * threads : tasks;
    tasks = tasks > SLOTS ? SLOTS : tasks > j.tiles ? j.tiles : tasks;
    j.tasks = tasks < 1 ? 1 : tasks;
    ld_pool_run(c->pool, j.tasks, task, &j);
    return LEANDET_OK;
}

/* float32 DEPTHWISE_CONV_2D with depth multiplier 1 (AVX2+FMA), any filter
 * size, stride and dilation.
 *
 * Channels are contiguous in NHWC, so 8 channels of one pixel are one
 * vector: out[c] = bias[c] + sum over taps x[tap][c] * w[tap][c]. Weights are
 * repacked as [taps][C rounded up to the vector width] with the bias behind
 * them, zero padded, so weight loads never need a mask. Pixels whose window
 * lies inside the input are done four at a time (one weight load feeds four
 * FMAs); pixels at the borders take the reference geometry's tap range
 * (ld_window_taps) one at a time. The loops exist for AVX2 (8 channels a
 * vector, here) and AVX-512 (16, float_dw512.c, where the CPU has it).
 *
 * Threads: output rows are split into tasks over c->pool. No scratch. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/float_dw.h"

int ld_f32_dw_accepts(const ld_op_ctx *c)
{
    if (c->n_in < 2 || c->n_out != 1 || !ld_f32_is(c->in[0]) || !ld_f32_is_const(c->in[1]) ||
        !ld_f32_is(c->out[0]))
        return 0;
    const ld_tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
    const ld_shape *in = &c->in[0]->shape, *w = &c->in[1]->shape;
    return (!bias || ld_f32_is_const(bias)) && in->rank == 4 && w->rank == 4 && w->d[3] == in->d[3];
}

/* AVX-512 where the channels fill its vectors; the AVX2 loops do other
 * counts (24, 28, ...) without wasted lanes. */
int ld_f32_dw_accepts512(const ld_op_ctx *c)
{
    return ld_f32_has_avx512() && ld_f32_dw_accepts(c) && c->in[0]->shape.d[3] % 16 == 0;
}

/* Clamp and store one vector (masked for a partial last block). */
LD_AVX2 static inline void put(const ld_dw_f32 *s, float *o, __m256 v, int tail, __m256i m)
{
    const __m256 y = ld_f32_clamp8(v, _mm256_set1_ps(s->lo), _mm256_set1_ps(s->hi));
    if (tail)
        _mm256_maskstore_ps(o, m, y);
    else
        _mm256_storeu_ps(o, y);
}

/* Four consecutive interior pixels (every tap inside the input), channel
 * blocks [cb, cb + 8) and, if `two`, [cb + 8, cb + 16): x points at tap
 * (0, 0) of the first pixel. Taps are one flat loop over precomputed
 * offsets; a weight load feeds four FMAs into independent sums. A partial
 * last block (`tail`, one block only) masks loads and stores. */
LD_AVX2 __attribute__((always_inline)) static inline void interior_block(const ld_dw_f32 *s, const float *x, float *out,
                                                                          int cb, int two, int tail, __m256i m)
{
    const size_t ch = (size_t)s->ch, chp = (size_t)s->chp, step = (size_t)s->win.stride_w * ch;
    const float *w = s->w + cb;
    x += cb;
    __m256 a0 = _mm256_load_ps(w + s->taps * chp), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = two ? _mm256_load_ps(w + s->taps * chp + 8) : a0, b1 = b0, b2 = b0, b3 = b0;
    for (size_t t = 0; t < s->taps; t++, w += chp) {
        const __m256 wv = _mm256_load_ps(w);
        const float *xp = x + s->off[t];
        if (tail) {
            a0 = _mm256_fmadd_ps(_mm256_maskload_ps(xp, m), wv, a0);
            a1 = _mm256_fmadd_ps(_mm256_maskload_ps(xp + step, m), wv, a1);
            a2 = _mm256_fmadd_ps(_mm256_maskload_ps(xp + 2 * step, m), wv, a2);
            a3 = _mm256_fmadd_ps(_mm256_maskload_ps(xp + 3 * step, m), wv, a3);
        } else {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp), wv, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + step), wv, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 2 * step), wv, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 3 * step), wv, a3);
        }
        if (two) {
            const __m256 wv1 = _mm256_load_ps(w + 8);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 8), wv1, b0);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + step + 8), wv1, b1);
            b2 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 2 * step + 8), wv1, b2);
            b3 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 3 * step + 8), wv1, b3);
        }
    }
    out += cb;
    put(s, out, a0, tail, m);
    put(s, out + ch, a1, tail, m);
    put(s, out + 2 * ch, a2, tail, m);
    put(s, out + 3 * ch, a3, tail, m);
    if (two) {
        put(s, out + 8, b0, 0, m);
        put(s, out + ch + 8, b1, 0, m);
        put(s, out + 2 * ch + 8, b2, 0, m);
        put(s, out + 3 * ch + 8, b3, 0, m);
    }
}

/* The channel mask of the last, partial block. */
LD_AVX2 static inline __m256i tail_mask(const ld_dw_f32 *s, int full)
{
    return ld_f32_mask8(s->ch - full);
}

LD_AVX2 void ld_dw_interior4_avx2(const ld_dw_f32 *s, const float *x, float *out)
{
    const int full = s->ch / 8 * 8;
    const __m256i m = tail_mask(s, full);
    int cb = 0;
    for (; cb + 16 <= full; cb += 16)
        interior_block(s, x, out, cb, 1, 0, m);
    if (cb < full)
        interior_block(s, x, out, cb, 0, 0, m);
    if (full < s->ch)
        interior_block(s, x, out, full, 0, 1, m);
}

/* Channel blocks cb .. cb + 8 * (nb - 1) (nb 1 or 4; only the tensor's last
 * block partial, mask m, `tail`) of one pixel whose taps inside the input
 * are [ky0, ky1) x [kx0, kx1) (a border pixel): four blocks give four
 * independent sums, one block two alternating ones. */
LD_AVX2 __attribute__((always_inline)) static inline void border_blocks(const ld_dw_f32 *s, const ld_dw_at *at,
                                                                         int cb, int nb, int tail, __m256i m)
{
    const ld_window *wn = &s->win;
    const size_t ch = (size_t)s->ch, chp = (size_t)s->chp, row = (size_t)wn->in_w * ch;
    const float *w = s->w + cb;
    const float *bias = w + s->taps * chp;
    __m256 a0 = _mm256_load_ps(bias), a1 = nb == 4 ? _mm256_load_ps(bias + 8) : _mm256_setzero_ps();
    __m256 a2 = nb == 4 ? _mm256_load_ps(bias + 16) : a1, a3 = nb == 4 ? _mm256_load_ps(bias + 24) : a1;
    int odd = 0;
    for (int ky = at->ky0; ky < at->ky1; ky++) {
        const float *xr = at->img + (size_t)(at->iy0 + ky * wn->dil_h) * row + cb;
        const float *wr = w + (size_t)ky * (size_t)wn->f_w * chp;
        for (int kx = at->kx0; kx < at->kx1; kx++, odd ^= 1) {
            const float *xp = xr + (size_t)(at->ix0 + kx * wn->dil_w) * ch, *wp = wr + (size_t)kx * chp;
            if (nb == 4) {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp), _mm256_load_ps(wp), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 8), _mm256_load_ps(wp + 8), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 16), _mm256_load_ps(wp + 16), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 24), _mm256_load_ps(wp + 24), a3);
            } else {
                const __m256 x = tail ? _mm256_maskload_ps(xp, m) : _mm256_loadu_ps(xp);
                const __m256 p = _mm256_load_ps(wp);
                if (odd)
                    a1 = _mm256_fmadd_ps(x, p, a1);
                else
                    a0 = _mm256_fmadd_ps(x, p, a0);
            }
        }
    }
    if (nb == 4) {
        put(s, at->out + cb, a0, 0, m);
        put(s, at->out + cb + 8, a1, 0, m);
        put(s, at->out + cb + 16, a2, 0, m);
        put(s, at->out + cb + 24, a3, 0, m);
    } else {
        put(s, at->out + cb, _mm256_add_ps(a0, a1), tail, m);
    }
}

LD_AVX2 void ld_dw_border_avx2(const ld_dw_f32 *s, const ld_dw_at *at)
{
    const int full = s->ch / 8 * 8;
    const __m256i m = tail_mask(s, full);
    int cb = 0;
    for (; cb + 32 <= full; cb += 32)
        border_blocks(s, at, cb, 4, 0, m);
    for (; cb < full; cb += 8)
        border_blocks(s, at, cb, 1, 0, m);
    if (full < s->ch)
        border_blocks(s, at, full, 1, 1, m);
}

/* wide: the AVX-512 loops (16 channels a vector), else AVX2 (8). */
static leandet_status dw_prepare(ld_op_ctx *c, int wide)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    const ld_conv_params *p = &c->op->params.conv;
    const ld_shape *in = &c->in[0]->shape, *ws = &c->in[1]->shape;
    ld_window win;
    if ((st = ld_window_init(c, p->padding, in->d[1], in->d[2], ws->d[1], ws->d[2], p->stride_h, p->stride_w,
                             p->dilation_h, p->dilation_w, &win)) != LEANDET_OK)
        return st;
    const size_t vec = wide ? 16 : 8;
    const size_t ch = (size_t)in->d[3], chp = (ch + vec - 1) / vec * vec, taps = (size_t)win.f_h * (size_t)win.f_w;
    const size_t head = (sizeof(ld_dw_f32) + 63) / 64 * 64;
    if (taps + 1 > (SIZE_MAX - head) / sizeof(float) / (chp + 2))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "weights of %zu x %zu values are too large", taps, ch);
    const size_t wbytes = (taps + 1) * chp * sizeof(float), bytes = head + wbytes + taps * sizeof(size_t);
    ld_dw_f32 *s = ld_malloc(c->alloc, bytes);
    if (!s)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of packed weights", bytes);
    memset(s, 0, bytes);
    float *w = (float *)((char *)s + head);
    const float *src = c->in[1]->data, *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    for (size_t t = 0; t < taps; t++)
        memcpy(w + t * chp, src + t * ch, ch * sizeof(float));
    if (bias)
        memcpy(w + taps * chp, bias, ch * sizeof(float));
    size_t *off = (size_t *)((char *)w + wbytes);
    for (int ky = 0, t = 0; ky < win.f_h; ky++)
        for (int kx = 0; kx < win.f_w; kx++, t++)
            off[t] = ((size_t)ky * (size_t)win.dil_h * (size_t)win.in_w + (size_t)kx * (size_t)win.dil_w) * ch;
    s->off = off;
    s->taps = taps;
    s->win = win;
    s->batches = in->d[0];
    s->ch = (int)ch;
    s->chp = (int)chp;
    s->w = w;
    s->interior4 = wide ? ld_dw_interior4_avx512 : ld_dw_interior4_avx2;
    s->border = wide ? ld_dw_border_avx512 : ld_dw_border_avx2;
    ld_act_range_float(p->act, &s->lo, &s->hi);
    c->state = s;
    c->shareable = 1; /* packed from constants only: sessions of this model may share it */
    c->packed_inputs = 1u << 1 | 1u << 2; /* weights and bias copied, padded */
    return LEANDET_OK;
}

leandet_status ld_f32_dw_prepare(ld_op_ctx *c)
{
    return dw_prepare(c, 0);
}

leandet_status ld_f32_dw_prepare512(ld_op_ctx *c)
{
    return dw_prepare(c, 1);
}

/* First output x whose window starts inside the input, and one past the
 * last whose window ends inside it (interior pixels: [*lo, *hi)). */
static void interior(const ld_window *w, int *lo, int *hi)
{
    const int extent = (w->f_w - 1) * w->dil_w + 1;
    *lo = (w->pad_w + w->stride_w - 1) / w->stride_w;
    *hi = w->in_w - extent + w->pad_w < 0 ? 0 : (w->in_w - extent + w->pad_w) / w->stride_w + 1;
    if (*hi > w->out_w)
        *hi = w->out_w;
    if (*lo > *hi)
        *lo = *hi;
}

typedef struct dw_job {
    const ld_dw_f32 *s;
    const float *x;
    float *y;
    size_t rows;          /* batches * out_h */
    int parts;
} dw_job;

static void dw_task(void *ctx, int task, int thread)
{
    (void)thread;
    const dw_job *j = ctx;
    const ld_dw_f32 *s = j->s;
    const ld_window *w = &s->win;
    size_t r0, r1;
    ld_f32_part(j->rows, j->parts, task, &r0, &r1);
    int in_lo, in_hi;
    interior(w, &in_lo, &in_hi);
    const size_t ch = (size_t)s->ch, img = (size_t)w->in_h * (size_t)w->in_w * ch;
    for (size_t r = r0; r < r1; r++) {
        const int b = (int)(r / (size_t)w->out_h), oy = (int)(r % (size_t)w->out_h);
        ld_dw_at at;
        at.img = j->x + (size_t)b * img;
        at.iy0 = oy * w->stride_h - w->pad_h;
        ld_window_taps(at.iy0, w->dil_h, w->f_h, w->in_h, &at.ky0, &at.ky1);
        const int row_inside = at.ky0 == 0 && at.ky1 == w->f_h;
        float *out_row = j->y + r * (size_t)w->out_w * ch;
        int ox = 0;
        while (ox < w->out_w) {
            at.ix0 = ox * w->stride_w - w->pad_w;
            at.out = out_row + (size_t)ox * ch;
            if (row_inside && ox >= in_lo && ox + 4 <= in_hi) {
                s->interior4(s, at.img + ((size_t)at.iy0 * (size_t)w->in_w + (size_t)at.ix0) * ch, at.out);
                ox += 4;
            } else {
                ld_window_taps(at.ix0, w->dil_w, w->f_w, w->in_w, &at.kx0, &at.kx1);
                s->border(s, &at);
                ox++;
            }
        }
    }
}

leandet_status ld_f32_dw_eval(ld_op_ctx *c)
{
    const ld_dw_f32 *s = c->state;
    dw_job j = { s, c->in[0]->data, c->out[0]->data, (size_t)s->batches * (size_t)s->win.out_h, 1 };
    j.parts = ld_f32_parts(c->pool, j.rows, 1, 4);
    ld_pool_run(c->pool, j.parts, dw_task, &j);
    return LEANDET_OK;
}

/* float32 MAX_POOL_2D and AVERAGE_POOL_2D (AVX2), bit-exact with the
 * reference kernels: per channel the same taps in the same order (the
 * reference geometry's in-input range), max as `best < v ? v : best`
 * (_mm256_max_ps(v, best) picks `best` on NaN and on equal signed zeros, as
 * that does), the average as a float sum divided by the float tap count.
 *
 * Threads: output rows are split into tasks over c->pool. No scratch. */
#include <float.h>
#include <immintrin.h>
#include <stdint.h>

#include "kernels/quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/x86/float_common.h"

typedef struct pool_f32 {
    ld_window win;
    int batches, ch;
    int max;              /* MAX_POOL_2D, else AVERAGE_POOL_2D */
    float lo, hi;
} pool_f32;

int ld_f32_pool_accepts(const ld_op_ctx *c)
{
    return c->n_in == 1 && c->n_out == 1 && ld_f32_is(c->in[0]) && ld_f32_is(c->out[0]) &&
           c->in[0]->shape.rank == 4;
}

leandet_status ld_f32_pool_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    const ld_pool_params *p = &c->op->params.pool;
    const ld_shape *in = &c->in[0]->shape;
    pool_f32 s;
    if ((st = ld_window_init(c, p->padding, in->d[1], in->d[2], p->filter_h, p->filter_w, p->stride_h, p->stride_w,
                             1, 1, &s.win)) != LEANDET_OK)
        return st;
    s.batches = in->d[0];
    s.ch = in->d[3];
    s.max = c->op->builtin == LD_OP_MAX_POOL_2D;
    ld_act_range_float(p->act, &s.lo, &s.hi);
    pool_f32 *keep = ld_malloc(c->alloc, sizeof *keep);
    if (!keep)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of state", sizeof *keep);
    *keep = s;
    c->state = keep;
    return LEANDET_OK;
}

/* Channels [cb, cb + 8) of one output pixel: x is the batch's image, taps
 * [ky0, ky1) x [kx0, kx1) from input (iy0, ix0). */
LD_AVX2 __attribute__((always_inline)) static inline void pool_block(const pool_f32 *s, const float *x, float *y,
                                                                      const ld_span *p, int cb, int tail, __m256i m)
{
    const size_t ch = (size_t)s->ch, row = (size_t)s->win.in_w * ch;
    __m256 acc = s->max ? _mm256_set1_ps(-FLT_MAX) : _mm256_setzero_ps();
    for (int ky = p->ky0; ky < p->ky1; ky++) {
        const float *xr = x + (size_t)(p->iy0 + ky) * row + (size_t)cb;
        for (int kx = p->kx0; kx < p->kx1; kx++) {
            const float *xp = xr + (size_t)(p->ix0 + kx) * ch;
            const __m256 v = tail ? _mm256_maskload_ps(xp, m) : _mm256_loadu_ps(xp);
            acc = s->max ? _mm256_max_ps(v, acc) : _mm256_add_ps(acc, v);
        }
    }
    if (!s->max) /* the reference counts taps in float */
        acc = _mm256_div_ps(acc, _mm256_set1_ps((float)((p->ky1 - p->ky0) * (p->kx1 - p->kx0))));
    acc = ld_f32_clamp8(acc, _mm256_set1_ps(s->lo), _mm256_set1_ps(s->hi));
    if (tail)
        _mm256_maskstore_ps(y + cb, m, acc);
    else
        _mm256_storeu_ps(y + cb, acc);
}

typedef struct pool_job {
    const pool_f32 *s;
    const float *x;
    float *y;
    size_t rows;
    int parts;
} pool_job;

LD_AVX2 static void pool_task(void *ctx, int task, int thread)
{
    (void)thread;
    const pool_job *j = ctx;
    const pool_f32 *s = j->s;
    const ld_window *w = &s->win;
    const size_t ch = (size_t)s->ch;
    const int full = s->ch / 8 * 8;
    const __m256i m = ld_f32_mask8(s->ch - full);
    size_t r0, r1;
    ld_f32_part(j->rows, j->parts, task, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
        ld_span p;
        p.b = (int)(r / (size_t)w->out_h);
        p.iy0 = (int)(r % (size_t)w->out_h) * w->stride_h - w->pad_h;
        ld_window_taps(p.iy0, 1, w->f_h, w->in_h, &p.ky0, &p.ky1);
        const float *x = j->x + (size_t)p.b * (size_t)w->in_h * (size_t)w->in_w * ch;
        float *y = j->y + r * (size_t)w->out_w * ch;
        for (int ox = 0; ox < w->out_w; ox++, y += ch) {
            p.ix0 = ox * w->stride_w - w->pad_w;
            ld_window_taps(p.ix0, 1, w->f_w, w->in_w, &p.kx0, &p.kx1);
            for (int cb = 0; cb < full; cb += 8)
                pool_block(s, x, y, &p, cb, 0, m);
            if (full < s->ch)
                pool_block(s, x, y, &p, full, 1, m);
        }
    }
}

leandet_status ld_f32_pool_eval(ld_op_ctx *c)
{
    const pool_f32 *s = c->state;
    pool_job j = { s, c->in[0]->data, c->out[0]->data, (size_t)s->batches * (size_t)s->win.out_h, 1 };
    j.parts = ld_f32_parts(c->pool, j.rows, 1, 4);
    ld_pool_run(c->pool, j.parts, pool_task, &j);
    return LEANDET_OK;
}

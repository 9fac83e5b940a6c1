/* uint8/int8 MAX_POOL_2D (AVX2), byte-exact with the reference: the max of
 * the in-image taps (a max does not depend on their order), clamped to the
 * fused activation's quantized range. The reference prepare has already
 * required input and output to share scale and zero point, so no rescale.
 * 32 channels per vector; the channel tail goes through a 32-byte stack
 * copy. Threads: output rows are split over c->pool. */
#include <immintrin.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/conv_window.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"

typedef struct pool8 {
    ld_window win;
    int batches, ch;
    int is_signed;
    int32_t lo, hi;        /* activation clamp, in the stored type */
} pool8;

int ld_pool8_accepts(const ld_op_ctx *c)
{
    if (c->n_in != 1 || c->n_out != 1 || !c->in[0] || !c->out[0] || c->op->builtin != LD_OP_MAX_POOL_2D)
        return 0;
    ld_dtype t = c->in[0]->type;
    return (t == LEANDET_UINT8 || t == LEANDET_INT8) && c->out[0]->type == t && c->in[0]->shape.rank == 4 &&
           c->out[0]->quant && c->out[0]->quant->count > 0;
}

leandet_status ld_pool8_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    const ld_pool_params *p = &c->op->params.pool;
    const ld_shape *in = &c->in[0]->shape;
    const ld_tensor *out = c->out[0];
    pool8 s;
    if ((st = ld_window_init(c, p->padding, in->d[1], in->d[2], p->filter_h, p->filter_w, p->stride_h, p->stride_w,
                             1, 1, &s.win)) != LEANDET_OK)
        return st;
    s.batches = in->d[0];
    s.ch = in->d[3];
    s.is_signed = out->type == LEANDET_INT8;
    int32_t qmin, qmax;
    ld_type_range(out->type, &qmin, &qmax);
    ld_act_range_quant(p->act, out->quant->scale[0], out->quant->zero_point[0], qmin, qmax, &s.lo, &s.hi);
    pool8 *keep = ld_malloc(c->alloc, sizeof *keep);
    if (!keep)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of state", sizeof *keep);
    *keep = s;
    c->state = keep;
    return LEANDET_OK;
}

/* 32 channels of one output pixel from `x` (the batch's image at channel
 * cb, pixel stride ch). `tail` < 32: only that many channels exist. */
LD_AVX2 static void pool_block(const pool8 *s, const uint8_t *x, uint8_t *y, const ld_span *p, int tail)
{
    const size_t ch = (size_t)s->ch, row = (size_t)s->win.in_w * ch;
    const __m256i floor = s->is_signed ? _mm256_set1_epi8(-128) : _mm256_setzero_si256();
    __m256i acc = floor;
    uint8_t buf[32];
    for (int ky = p->ky0; ky < p->ky1; ky++) {
        const uint8_t *xr = x + (size_t)(p->iy0 + ky) * row;
        for (int kx = p->kx0; kx < p->kx1; kx++) {
            const uint8_t *xp = xr + (size_t)(p->ix0 + kx) * ch;
            __m256i v;
            if (tail < 32) {
                memcpy(buf, xp, (size_t)tail);
                memset(buf + tail, 0, 32 - (size_t)tail);
                v = _mm256_loadu_si256((const __m256i *)buf);
            } else {
                v = _mm256_loadu_si256((const __m256i *)xp);
            }
            acc = s->is_signed ? _mm256_max_epi8(acc, v) : _mm256_max_epu8(acc, v);
        }
    }
    const __m256i lo = _mm256_set1_epi8((char)s->lo), hi = _mm256_set1_epi8((char)s->hi);
    acc = s->is_signed ? _mm256_min_epi8(_mm256_max_epi8(acc, lo), hi) : _mm256_min_epu8(_mm256_max_epu8(acc, lo), hi);
    if (tail < 32) {
        _mm256_storeu_si256((__m256i *)buf, acc);
        memcpy(y, buf, (size_t)tail);
    } else {
        _mm256_storeu_si256((__m256i *)y, acc);
    }
}

typedef struct pool8_job {
    const pool8 *s;
    const uint8_t *x;
    uint8_t *y;
    size_t rows;
    int parts;
} pool8_job;

LD_AVX2 static void pool8_task(void *ctx, int task, int thread)
{
    (void)thread;
    const pool8_job *j = ctx;
    const pool8 *s = j->s;
    const ld_window *w = &s->win;
    const size_t ch = (size_t)s->ch;
    size_t r0, r1;
    ld_f32_part(j->rows, j->parts, task, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
        ld_span p;
        p.b = (int)(r / (size_t)w->out_h);
        p.iy0 = (int)(r % (size_t)w->out_h) * w->stride_h - w->pad_h;
        ld_window_taps(p.iy0, 1, w->f_h, w->in_h, &p.ky0, &p.ky1);
        const uint8_t *x = j->x + (size_t)p.b * (size_t)w->in_h * (size_t)w->in_w * ch;
        uint8_t *y = j->y + r * (size_t)w->out_w * ch;
        for (int ox = 0; ox < w->out_w; ox++, y += ch) {
            p.ix0 = ox * w->stride_w - w->pad_w;
            ld_window_taps(p.ix0, 1, w->f_w, w->in_w, &p.kx0, &p.kx1);
            for (int cb = 0; cb < s->ch; cb += 32)
                pool_block(s, x + cb, y + cb, &p, s->ch - cb < 32 ? s->ch - cb : 32);
        }
    }
}

leandet_status ld_pool8_eval(ld_op_ctx *c)
{
    const pool8 *s = c->state;
    pool8_job j = { s, c->in[0]->data, c->out[0]->data, (size_t)s->batches * (size_t)s->win.out_h, 1 };
    j.parts = ld_f32_parts(c->pool, j.rows, 1, 4);
    ld_pool_run(c->pool, j.parts, pool8_task, &j);
    return LEANDET_OK;
}

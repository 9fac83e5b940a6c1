/* float32 RESIZE_BILINEAR (AVX2), bit-exact with the reference kernel
 * (TFLite's reference_ops::ResizeBilinear): the same source coordinates,
 * computed once per output row and column in prepare, and per channel the
 * same float operations in the same order,
 *   ((v00 * (1-dy)) * (1-dx) + (v10 * dy) * (1-dx)) + (v01 * (1-dy)) * dx
 *   + (v11 * dy) * dx + 0.0f,
 * eight channels at a time (separate multiplies and adds: no FMA, which
 * would round differently). Threads: output rows are split over c->pool. */
#include <immintrin.h>
#include <math.h>

#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"

typedef struct lerp {
    float d;          /* source coordinate minus lo: the weight of hi */
    int32_t lo, hi;   /* the two source pixels (rows or columns) */
} lerp;

typedef struct resize_f32 {
    int32_t batches, in_h, in_w, depth, out_h, out_w;
    lerp *ys, *xs;    /* out_h, then out_w entries, in the same block */
} resize_f32;

int ld_resize_f32_accepts(const ld_op_ctx *c)
{
    return c->n_in == 2 && c->n_out == 1 && ld_f32_is(c->in[0]) && ld_f32_is(c->out[0]) &&
           c->in[0]->shape.rank == 4;
}

/* The reference's coordinate of output index x (TFLite's scale, optional
 * half-pixel offset, floor/ceil clamped into the input). */
static lerp coordinate(int32_t x, int32_t in, int32_t out, const ld_resize_params *p)
{
    float scale = p->align_corners && out > 1 ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
    float v = p->half_pixel_centers ? ((float)x + 0.5f) * scale - 0.5f : (float)x * scale;
    int32_t f = (int32_t)floorf(v), ce = (int32_t)ceilf(v);
    lerp l;
    l.lo = f > 0 ? f : 0;
    l.hi = ce < in - 1 ? ce : in - 1;
    l.d = v - (float)l.lo;
    return l;
}

leandet_status ld_resize_f32_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* checks, output shape */
    if (st != LEANDET_OK)
        return st;
    const ld_shape *i = &c->in[0]->shape, *o = &c->out[0]->shape;
    size_t n = (size_t)o->d[1] + (size_t)o->d[2];
    resize_f32 *s = ld_malloc(c->alloc, sizeof *s + n * sizeof(lerp));
    if (!s)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate the coordinate tables (%zu entries)", n);
    *s = (resize_f32){ i->d[0], i->d[1], i->d[2], i->d[3], o->d[1], o->d[2], NULL, NULL };
    s->ys = (lerp *)(s + 1);
    s->xs = s->ys + s->out_h;
    const ld_resize_params *p = &c->op->params.resize;
    for (int32_t y = 0; y < s->out_h; y++)
        s->ys[y] = coordinate(y, s->in_h, s->out_h, p);
    for (int32_t x = 0; x < s->out_w; x++)
        s->xs[x] = coordinate(x, s->in_w, s->out_w, p);
    c->state = s;
    return LEANDET_OK;
}

typedef struct resize_job {
    const resize_f32 *s;
    const float *x;
    float *y;
    size_t rows;
    int parts;
} resize_job;

/* One output pixel: depth channels from the four source pixels. */
LD_AVX2 static void pixel(const float *p00, const float *p10, const float *p01, const float *p11, float *out,
                          int32_t depth, float dy, float dx)
{
    const float ay = 1 - dy, ax = 1 - dx;
    const __m256 vay = _mm256_set1_ps(ay), vax = _mm256_set1_ps(ax), vdy = _mm256_set1_ps(dy),
                 vdx = _mm256_set1_ps(dx), zero = _mm256_setzero_ps();
    int32_t d = 0;
    for (; d + 8 <= depth; d += 8) {
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p00 + d), vay), vax);
        t = _mm256_add_ps(t, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p10 + d), vdy), vax));
        t = _mm256_add_ps(t, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p01 + d), vay), vdx));
        t = _mm256_add_ps(t, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p11 + d), vdy), vdx));
        _mm256_storeu_ps(out + d, _mm256_add_ps(t, zero));
    }
    for (; d < depth; d++)
        out[d] = p00[d] * ay * ax + p10[d] * dy * ax + p01[d] * ay * dx + p11[d] * dy * dx + 0.0f;
}

LD_AVX2 static void resize_task(void *ctx, int task, int thread)
{
    (void)thread;
    const resize_job *j = ctx;
    const resize_f32 *s = j->s;
    const size_t px = (size_t)s->depth, in_row = (size_t)s->in_w * px;
    size_t r0, r1;
    ld_f32_part(j->rows, j->parts, task, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
        const lerp *ly = &s->ys[r % (size_t)s->out_h];
        const float *img = j->x + r / (size_t)s->out_h * (size_t)s->in_h * in_row;
        const float *row0 = img + (size_t)ly->lo * in_row, *row1 = img + (size_t)ly->hi * in_row;
        float *out = j->y + r * (size_t)s->out_w * px;
        for (int32_t x = 0; x < s->out_w; x++, out += px) {
            const lerp *lx = &s->xs[x];
            size_t lo = (size_t)lx->lo * px, hi = (size_t)lx->hi * px;
            pixel(row0 + lo, row1 + lo, row0 + hi, row1 + hi, out, s->depth, ly->d, lx->d);
        }
    }
}

leandet_status ld_resize_f32_eval(ld_op_ctx *c)
{
    const resize_f32 *s = c->state;
    resize_job j = { s, c->in[0]->data, c->out[0]->data, (size_t)s->batches * (size_t)s->out_h, 1 };
    j.parts = ld_f32_parts(c->pool, j.rows, 1, 4);
    ld_pool_run(c->pool, j.parts, resize_task, &j);
    return LEANDET_OK;
}

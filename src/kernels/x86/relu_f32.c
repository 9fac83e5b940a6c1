/* float32 RELU and RELU6 (AVX2), bit-exact with the reference:
 *   RELU  x < 0 ? 0 : x       = _mm256_max_ps(0, x) (max(a, b) is a > b ? a : b,
 *                               so NaN and -0.0 pass through as they do there)
 *   RELU6 x > 0 ? min6 : +0   with min6 = x > 6 ? 6 : x = _mm256_min_ps(6, x),
 *                               NaN and -0.0 giving +0 as there.
 * Threads: the tensor is split into contiguous parts over c->pool. */
#include <immintrin.h>

#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"

#define RELU_GRAIN 16384 /* floats per task at least */

int ld_relu_f32_accepts(const ld_op_ctx *c)
{
    return c->n_in == 1 && c->n_out == 1 && ld_f32_is(c->in[0]) && ld_f32_is(c->out[0]);
}

leandet_status ld_relu_f32_prepare(ld_op_ctx *c)
{
    return ld_f32_ref_prepare(c); /* checks and shape; no state */
}

typedef struct relu_job {
    const float *x;
    float *y;
    size_t n;
    int parts, six;
} relu_job;

LD_AVX2 static void relu_task(void *ctx, int task, int thread)
{
    (void)thread;
    const relu_job *j = ctx;
    size_t lo, hi;
    ld_f32_part(j->n, j->parts, task, &lo, &hi);
    const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
    size_t i = lo;
    for (; i + 8 <= hi; i += 8) {
        __m256 x = _mm256_loadu_ps(j->x + i);
        __m256 y = j->six ? _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GT_OQ), _mm256_min_ps(six, x))
                          : _mm256_max_ps(zero, x);
        _mm256_storeu_ps(j->y + i, y);
    }
    for (; i < hi; i++) {
        float x = j->x[i];
        j->y[i] = j->six ? (x > 0.0f ? (x > 6.0f ? 6.0f : x) : 0.0f) : (x < 0.0f ? 0.0f : x);
    }
}

leandet_status ld_relu_f32_eval(ld_op_ctx *c)
{
    relu_job j = { c->in[0]->data, c->out[0]->data, ld_shape_count(&c->in[0]->shape), 1,
                   c->op->builtin == LD_OP_RELU6 };
    j.parts = ld_f32_parts(c->pool, j.n, RELU_GRAIN, 2);
    ld_pool_run(c->pool, j.parts, relu_task, &j);
    return LEANDET_OK;
}

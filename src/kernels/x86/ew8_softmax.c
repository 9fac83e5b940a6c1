/* uint8/int8 SOFTMAX over the last dimension, byte-exact with
 * ref/softmax.c.
 *
 * The reference evaluates a fixed-point exp per element (gemmlowp's
 * exp_on_negative_values of the rescaled difference d = x - max). That
 * value depends only on d, and an 8-bit d takes one of 256 values, so
 * prepare tabulates it with the reference's own arithmetic (same multiplier,
 * same cut-off, same fixed-point helpers) and eval looks it up; the sum,
 * reciprocal and output scaling per row are the reference's integer steps.
 * Rows are split over c->pool. */
#include <math.h>
#include <string.h>

#include "kernels/fixedpoint.h"
#include "kernels/quant.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/ew8_simd.h"
#include "kernels/x86/float_common.h"

enum { SCALED_DIFF_INT_BITS = 5, ACCUM_INT_BITS = 12, MAX_PARTS = 64 };

typedef struct softmax8 {
    size_t outer, depth;
    int is_signed;
    int32_t tmin, tmax;
    int32_t exp[256];      /* [-d]: e^d in Q0.31, -1 below the cut-off */
    int32_t acc[256];      /* [-d]: e^d as added to the Q12.19 sum (0 below the cut-off) */
} softmax8;

/* All-ones in the first m (1..8) lanes. */
LD_C8_INLINE __m256i tail_mask(size_t m)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

int ld_ew8_softmax_accepts(const ld_op_ctx *c)
{
    float s;
    int32_t z;
    return c->op->builtin == LD_OP_SOFTMAX && c->n_in == 1 && c->n_out == 1 && c->in[0] && c->out[0] &&
           ld_ew8_qparams(c->in[0], c->in[0]->type, &s, &z) && ld_ew8_qparams(c->out[0], c->in[0]->type, &s, &z);
}

leandet_status ld_ew8_softmax_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* checks beta, scales, output quantization */
    if (st != LEANDET_OK)
        return st;
    softmax8 *s = ld_ew_state(c, sizeof *s);
    if (!s)
        return LEANDET_ERR_NO_MEMORY;
    const ld_shape *sh = &c->in[0]->shape;
    s->depth = (size_t)sh->d[sh->rank - 1];
    s->outer = s->depth ? ld_shape_count(sh) / s->depth : 0;
    s->is_signed = c->in[0]->type == LEANDET_INT8;
    ld_type_range(c->in[0]->type, &s->tmin, &s->tmax);
    /* The reference's multiplier and cut-off (softmax.c, prepare_quant). */
    double real = (double)c->op->params.softmax.beta * (double)c->in[0]->quant->scale[0] *
                  (double)(1 << (31 - SCALED_DIFF_INT_BITS));
    if (real > 2147483647.0)
        real = 2147483647.0;
    int32_t mult;
    int left_shift;
    ld_quantize_multiplier(real, &mult, &left_shift);
    const int32_t diff_min =
        -(int32_t)floor(31.0 * (double)(1LL << (31 - SCALED_DIFF_INT_BITS)) / (double)(1LL << left_shift));
    for (int32_t k = 0; k < 256; k++) {
        const int32_t d = -k;
        s->exp[k] = d < diff_min ? -1
                                 : ld_fp_exp_on_negative_values(ld_mul_by_quantized_multiplier(d, mult, left_shift),
                                                                SCALED_DIFF_INT_BITS);
        s->acc[k] = s->exp[k] < 0 ? 0 : ld_fp_rescale(s->exp[k], 0, ACCUM_INT_BITS);
    }
    return LEANDET_OK;
}

/* max - x for 8 values of which the first m are in the row; 0 (a valid
 * table index) in the lanes past it. */
LD_C8_INLINE __m256i row_diff(__m256i max, const uint8_t *x, size_t m, int is_signed)
{
    const __m256i d = _mm256_sub_epi32(max, ew8_load8(x, 1, m, is_signed, _mm256_setzero_si256()));
    return m == 8 ? d : _mm256_and_si256(d, tail_mask(m));
}

/* One row, 8 values at a time: max, the sum of the tabulated exps
 * (wrapping int32 adds, as ld_fp_add, so their order does not matter),
 * the reference's reciprocal, then out = RoundingDivideByPOT(
 * SaturatingRoundingDoublingHighMul(1/sum, e), exponent) + type minimum,
 * clamped, which is c8_requant8 with multiplier 1/sum (non-negative) and
 * right shift `exponent`. Returns 0 if the sum overflows that scaling (as
 * the reference does). */
LD_C8_AVX2 static int softmax_row(const softmax8 *s, const uint8_t *x, uint8_t *y)
{
    const size_t n = s->depth;
    const __m256i zero = _mm256_setzero_si256();
    __m256i vmax = _mm256_set1_epi32(s->tmin);
    for (size_t i = 0; i < n; i += 8) {
        const size_t m = n - i < 8 ? n - i : 8;
        /* lanes past the row read as 0: they take the type minimum */
        const __m256i v = ew8_load8(x + i, 1, m, s->is_signed, zero);
        vmax = _mm256_max_epi32(vmax, m == 8 ? v : _mm256_blendv_epi8(_mm256_set1_epi32(s->tmin), v, tail_mask(m)));
    }
    const __m256i max = _mm256_set1_epi32(ew8_hmax(vmax));
    __m256i vsum = zero;
    for (size_t i = 0; i < n; i += 8) {
        const size_t m = n - i < 8 ? n - i : 8;
        const __m256i d = row_diff(max, x + i, m, s->is_signed);
        const __m256i acc = _mm256_i32gather_epi32(s->acc, d, 4);
        vsum = _mm256_add_epi32(vsum, m == 8 ? acc : _mm256_and_si256(acc, tail_mask(m)));
    }
    int bits_over_unit;
    const int32_t inv_sum = ld_fp_reciprocal(ew8_hsum(vsum), ACCUM_INT_BITS, &bits_over_unit);
    const int exponent = bits_over_unit + 31 - 8;
    if (exponent < 0 || exponent > 31)
        return 0;
    int32_t mult[8], lshift[8], rshift[8], rmask[8];
    for (int k = 0; k < 8; k++) {
        mult[k] = inv_sum;
        lshift[k] = 0;
        rshift[k] = exponent;
        rmask[k] = (int32_t)(((uint32_t)1 << exponent) - 1u);
    }
    const c8_requant rq = { mult, lshift, rshift, rmask, NULL, s->tmin, s->tmin, s->tmax, s->is_signed };
    const __m256i tmin = _mm256_set1_epi32(s->tmin);
    for (size_t i = 0; i < n; i += 8) {
        const size_t m = n - i < 8 ? n - i : 8;
        const __m256i d = row_diff(max, x + i, m, s->is_signed);
        const __m256i e = _mm256_i32gather_epi32(s->exp, d, 4);
        /* e = -1: below the cut-off, the type minimum */
        const __m256i q = _mm256_blendv_epi8(c8_requant8(e, &rq, 0), tmin, _mm256_cmpgt_epi32(zero, e));
        c8_store8(y + i, q, (int)m, s->is_signed);
    }
    return 1;
}

typedef struct softmax_job {
    const softmax8 *s;
    const uint8_t *x;
    uint8_t *y;
    int parts;
    size_t bad[MAX_PARTS]; /* first overflowing row of each part, or SIZE_MAX */
} softmax_job;

static void softmax_task(void *ctx, int task, int thread)
{
    (void)thread;
    softmax_job *j = ctx;
    const size_t depth = j->s->depth;
    size_t lo, hi;
    ld_f32_part(j->s->outer, j->parts, task, &lo, &hi);
    j->bad[task] = SIZE_MAX;
    for (size_t r = lo; r < hi; r++)
        if (!softmax_row(j->s, j->x + r * depth, j->y + r * depth)) {
            j->bad[task] = r;
            return;
        }
}

leandet_status ld_ew8_softmax_eval(ld_op_ctx *c)
{
    softmax_job j;
    j.s = c->state;
    j.x = c->in[0]->data;
    j.y = c->out[0]->data;
    if (j.s->outer == 0 || j.s->depth == 0)
        return LEANDET_OK;
    j.parts = ld_ew8_parts(c, j.s->outer * j.s->depth, 32768);
    if (j.parts > MAX_PARTS)
        j.parts = MAX_PARTS;
    ld_pool_run(c->pool, j.parts, softmax_task, &j);
    for (int k = 0; k < j.parts; k++)
        if (j.bad[k] != SIZE_MAX)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED,
                              "row %zu: the sum of exponentials (%zu values) overflows the fixed-point format",
                              j.bad[k], j.s->depth);
    return LEANDET_OK;
}

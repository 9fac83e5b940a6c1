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
#include "kernels/x86/conv8.h"
#include "kernels/x86/conv8_simd512.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/ew8_simd.h"
#include "kernels/x86/float_common.h"

enum { SCALED_DIFF_INT_BITS = 5, ACCUM_INT_BITS = 12, MAX_PARTS = 64 };

typedef struct softmax8 {
    size_t outer, depth;
    int is_signed;
    int row16;             /* rows of at most 16 on AVX-512: one vector a row (softmax_rows16) */
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
    s->row16 = s->depth <= 16 && c8_vnni_usable() && __builtin_cpu_supports("avx512cd");
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

/* ---- rows of at most 16, sixteen rows at a time (AVX-512) ------------- */

/* conv8_simd512.h's features and CD (vplzcntd). */
#define SM_512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,avx512cd")))
#define SM_INLINE512 static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,avx512cd")))

/* gemmlowp SaturatingRoundingDoublingHighMul on 16 lanes, exactly as
 * ld_sat_rounding_doubling_high_mul: (a*b + nudge) / 2^31 truncated toward
 * zero, in 64 bits for even and odd lanes. */
SM_INLINE512 __m512i srdhm16(__m512i a, __m512i b)
{
    __m512i q[2];
    for (int odd = 0; odd < 2; odd++) {
        const __m512i p = _mm512_mul_epi32(odd ? _mm512_srli_epi64(a, 32) : a, odd ? _mm512_srli_epi64(b, 32) : b);
        const __mmask8 neg = _mm512_cmplt_epi64_mask(p, _mm512_setzero_si512());
        __m512i n = _mm512_add_epi64(p, _mm512_mask_blend_epi64(neg, _mm512_set1_epi64((int64_t)1 << 30),
                                                                _mm512_set1_epi64(1 - ((int64_t)1 << 30))));
        const __mmask8 nneg = _mm512_cmplt_epi64_mask(n, _mm512_setzero_si512());
        n = _mm512_mask_add_epi64(n, nneg, n, _mm512_set1_epi64(((int64_t)1 << 31) - 1)); /* toward zero */
        q[odd] = _mm512_srai_epi64(n, 31);
    }
    const __m512i r = _mm512_mask_blend_epi32(0xAAAA, q[0], _mm512_slli_epi64(q[1], 32));
    const __m512i min = _mm512_set1_epi32(INT32_MIN);
    const __mmask16 both_min = _mm512_cmpeq_epi32_mask(a, min) & _mm512_cmpeq_epi32_mask(b, min);
    return _mm512_mask_mov_epi32(r, both_min, _mm512_set1_epi32(INT32_MAX));
}

/* x * 2^e, e > 0, saturating (ld_fp_mul_pot). */
SM_INLINE512 __m512i mul_pot16(__m512i x, int e)
{
    const __m512i threshold = _mm512_set1_epi32((int32_t)((1u << (31 - e)) - 1u));
    __m512i r = _mm512_slli_epi32(x, (unsigned)e);
    r = _mm512_mask_mov_epi32(r, _mm512_cmpgt_epi32_mask(x, threshold), _mm512_set1_epi32(INT32_MAX));
    return _mm512_mask_mov_epi32(r, _mm512_cmplt_epi32_mask(x, _mm512_sub_epi32(_mm512_setzero_si512(), threshold)),
                                 _mm512_set1_epi32(INT32_MIN));
}

/* ld_fp_reciprocal of 16 positive sums (other lanes: see the caller). */
SM_INLINE512 __m512i reciprocal16(__m512i sum, __m512i *bits_over_unit)
{
    const __m512i hp = _mm512_lzcnt_epi32(sum);
    *bits_over_unit = _mm512_sub_epi32(_mm512_set1_epi32(ACCUM_INT_BITS), hp);
    /* shifted - 2^31 is in [0, 2^31) for a positive sum, so the rounding
     * half sum with INT32_MAX is (a + 2^31) / 2 = a / 2 + 2^30 */
    const __m512i a = _mm512_xor_si512(_mm512_sllv_epi32(sum, hp), _mm512_set1_epi32(INT32_MIN));
    const __m512i half = _mm512_add_epi32(_mm512_srli_epi32(a, 1), _mm512_set1_epi32(1 << 30));
    __m512i x = _mm512_add_epi32(_mm512_set1_epi32(1515870810), srdhm16(half, _mm512_set1_epi32(-1010580540)));
    for (int i = 0; i < 3; i++) {
        const __m512i one_minus = _mm512_sub_epi32(_mm512_set1_epi32(1 << 29), srdhm16(half, x));
        x = _mm512_add_epi32(x, mul_pot16(srdhm16(x, one_minus), 2));
    }
    return mul_pot16(x, 1);
}

/* requant16's constants for one multiplier m and right shift r on every lane. */
SM_INLINE512 rq16 rq16_uniform(int32_t m, int r)
{
    rq16 k;
    k.lshift = _mm512_setzero_si512();
    for (int odd = 0; odd < 2; odd++) {
        k.mult[odd] = _mm512_set1_epi64((int64_t)(uint32_t)m);
        k.round[odd] = _mm512_set1_epi64(((int64_t)1 << 30) + (r >= 1 ? (int64_t)1 << (30 + r) : 0));
        k.neg[odd] = _mm512_set1_epi64(r >= 1 ? (int64_t)1 << 31 : 0);
        k.shift[odd] = _mm512_set1_epi64(31 + r);
    }
    return k;
}

/* max - x of one row of n <= 16 values in 16 lanes (0 past the row: a valid index). */
SM_INLINE512 __m512i row16_diff(const softmax8 *s, const uint8_t *x, __mmask16 in_row, int32_t *max)
{
    const __m128i b = _mm_maskz_loadu_epi8(in_row, x);
    const __m512i v = s->is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    *max = _mm512_reduce_max_epi32(_mm512_mask_mov_epi32(_mm512_set1_epi32(s->tmin), in_row, v));
    return _mm512_maskz_sub_epi32(in_row, _mm512_set1_epi32(*max), v);
}

/* softmax_row over rows [0, rows) of depth <= 16: each row one vector, and
 * the reciprocals of sixteen rows' sums at once (its Newton steps are the
 * latency of a row done alone). Returns the first row whose sum overflows
 * the scaling (as softmax_row's 0), or SIZE_MAX. */
SM_512 static size_t softmax_rows16(const softmax8 *s, const uint8_t *x, uint8_t *y, size_t rows)
{
    const size_t n = s->depth;
    const __mmask16 in_row = (__mmask16)((1u << n) - 1u);
    const c8_requant q = { NULL, NULL, NULL, NULL, NULL, s->tmin, s->tmin, s->tmax, s->is_signed };
    for (size_t r0 = 0; r0 < rows; r0 += 16) {
        const size_t nr = rows - r0 < 16 ? rows - r0 : 16;
        int32_t sums[16], inv[16], bits[16], max;
        for (size_t i = 0; i < 16; i++) {
            if (i >= nr) {
                sums[i] = 1;
                continue;
            }
            const __m512i d = row16_diff(s, x + (r0 + i) * n, in_row, &max);
            sums[i] = (int32_t)(uint32_t)_mm512_mask_reduce_add_epi32(in_row, _mm512_i32gather_epi32(d, s->acc, 4));
        }
        __m512i vbits;
        _mm512_storeu_si512(inv, reciprocal16(_mm512_loadu_si512(sums), &vbits));
        _mm512_storeu_si512(bits, vbits);
        for (size_t i = 0; i < nr; i++) {
            if (sums[i] <= 0) /* wrapped: the scalar steps, as the reference */
                inv[i] = ld_fp_reciprocal(sums[i], ACCUM_INT_BITS, &bits[i]);
            const int exponent = bits[i] + 31 - 8;
            if (exponent < 0 || exponent > 31)
                return r0 + i;
            const __m512i d = row16_diff(s, x + (r0 + i) * n, in_row, &max);
            const __m512i e = _mm512_i32gather_epi32(d, s->exp, 4);
            const rq16 k = rq16_uniform(inv[i], exponent);
            /* e = -1: below the cut-off, the type minimum */
            const __m512i out = _mm512_mask_mov_epi32(requant16(e, &k, &q),
                                                      _mm512_cmplt_epi32_mask(e, _mm512_setzero_si512()),
                                                      _mm512_set1_epi32(s->tmin));
            store16(y + (r0 + i) * n, out, (int)n);
        }
    }
    return SIZE_MAX;
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
    if (j->s->row16) {
        const size_t bad = softmax_rows16(j->s, j->x + lo * depth, j->y + lo * depth, hi - lo);
        j->bad[task] = bad == SIZE_MAX ? SIZE_MAX : lo + bad;
        return;
    }
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

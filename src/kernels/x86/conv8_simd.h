/* AVX2 building blocks shared by the 8-bit convolution kernels: the exact
 * vector form of TFLite's requantization (MultiplyByQuantizedMultiplier with
 * its double rounding, zero point, activation clamp) and the stores that
 * turn 16 int32 sums into 16 output bytes.
 *
 * Lane order. Sums of 16 output channels live in two vectors whose lanes
 * hold channels {0-3, 8-11} and {4-7, 12-15}: that is the order in which
 * AVX2's in-lane unpack and pack instructions leave them, so packing the two
 * vectors back gives channels 0..15 in order with no extra shuffle. Every
 * per-channel table (packed weights, multipliers, folded constants) is laid
 * out in this order; c8_lane_channel maps a lane to its channel (the
 * AVX-512 kernels use other orders, listed there). */
#ifndef LD_KERNELS_X86_CONV8_SIMD_H
#define LD_KERNELS_X86_CONV8_SIMD_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define LD_C8_AVX2 __attribute__((target("avx2,fma")))
#define LD_C8_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* Channel of lane j (0..15) of a 16-channel block. */
static inline int c8_perm16(int j)
{
    return (j & 3) | ((j & 4) << 1) | ((j & 8) >> 1);
}

/* Requantization constants of channels laid out in lane order (see above):
 * entry i belongs to channel c8_lane_channel(i, ...). */
typedef struct c8_requant {
    int32_t *mult;      /* QuantizeMultiplier fraction, [2^30, 2^31) or 0 */
    int32_t *lshift;    /* max(shift, 0) */
    int32_t *rshift;    /* max(-shift, 0) */
    int32_t *rmask;     /* (1 << rshift) - 1 */
    int32_t *fold;      /* initial accumulator: bias - input_zp * sum of centred weights */
    int32_t out_zp, act_min, act_max;
    int out_signed;     /* int8 output (else uint8) */
} c8_requant;

/* Lane orders of the per-channel tables. */
typedef enum c8_order {
    C8_ORDER_AVX2,      /* blocks of 16 as above; a narrow tail block of 8 in natural order */
    C8_ORDER_DW512,     /* blocks of 32 holding {0-3, 8-11, 16-19, 24-27} then the other 16: the
                           order of zmm in-lane unpacks, undone by one in-lane pack */
    C8_ORDER_GEMM512    /* blocks of 32 as DW512; a narrow tail block of 16 in natural order */
} c8_order;

/* Channel of entry i in tables padded to n_pad channels. */
static inline int c8_lane_channel(int i, int n_pad, c8_order order, int narrow_tail)
{
    if (order == C8_ORDER_GEMM512 && narrow_tail && (i & ~31) + 16 == n_pad)
        return i;
    if (order == C8_ORDER_DW512 || order == C8_ORDER_GEMM512) {
        int j = i & 31, v = j >> 4, l = j & 15;
        return (i & ~31) + 8 * (l >> 2) + 4 * v + (l & 3);
    }
    int base = i & ~15;
    if (narrow_tail && base + 8 == n_pad)
        return i;
    return base + c8_perm16(i & 15);
}

/* MultiplyByQuantizedMultiplier on 8 lanes, bit-exact:
 *   x << lshift (wrapping, as TFLite's int32 multiply does in practice),
 *   SaturatingRoundingDoublingHighMul: (x * m + nudge) / 2^31 truncated; for
 *     m >= 0 the saturating case (both INT32_MIN) cannot occur, and both
 *     nudges come out as floor((x * m + 2^30) / 2^31), which the 64-bit
 *     products give through a logical shift (the quotient fits in int32),
 *   RoundingDivideByPOT: arithmetic shift plus one when the remainder
 *     exceeds half the divisor (a tie rounds away from zero).
 * Then + output zero point (wrapping) and the activation clamp. */
LD_C8_INLINE __m256i c8_requant8(__m256i acc, const c8_requant *q, int at)
{
    const __m256i mult = _mm256_loadu_si256((const __m256i *)(q->mult + at));
    const __m256i rsh = _mm256_loadu_si256((const __m256i *)(q->rshift + at));
    const __m256i mask = _mm256_loadu_si256((const __m256i *)(q->rmask + at));
    const __m256i half = _mm256_set1_epi64x((int64_t)1 << 30);
    __m256i x = _mm256_sllv_epi32(acc, _mm256_loadu_si256((const __m256i *)(q->lshift + at)));
    __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, mult), half), 31);
    __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(mult, 32)), half);
    __m256i high = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 1), 0xAA);
    __m256i neg = _mm256_cmpgt_epi32(_mm256_setzero_si256(), high);
    __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), neg);
    __m256i rem = _mm256_and_si256(high, mask);
    __m256i v = _mm256_sub_epi32(_mm256_srav_epi32(high, rsh), _mm256_cmpgt_epi32(rem, threshold));
    v = _mm256_add_epi32(v, _mm256_set1_epi32(q->out_zp));
    v = _mm256_max_epi32(v, _mm256_set1_epi32(q->act_min));
    return _mm256_min_epi32(v, _mm256_set1_epi32(q->act_max));
}

/* Store n (1..16) bytes of 16 clamped channel values held in lane order. */
LD_C8_INLINE void c8_store16(void *dst, __m256i v0, __m256i v1, int n, int out_signed)
{
    __m256i w = _mm256_packs_epi32(v0, v1); /* channels 0..7 | 8..15 as int16 */
    __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
    __m128i b = out_signed ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
    if (n >= 16) {
        _mm_storeu_si128((__m128i *)dst, b);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, b);
        memcpy(dst, tmp, (size_t)n);
    }
}

/* Store n (1..8) bytes of 8 clamped channel values in natural order. */
LD_C8_INLINE void c8_store8(void *dst, __m256i v, int n, int out_signed)
{
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    __m128i b = out_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    if (n >= 8) {
        _mm_storel_epi64((__m128i *)dst, b);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, b);
        memcpy(dst, tmp, (size_t)n);
    }
}

#endif

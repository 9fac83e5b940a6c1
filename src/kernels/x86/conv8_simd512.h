/* AVX-512 (F, BW, VL, VNNI) building blocks of the 8-bit convolutions:
 * c8_requant8 of conv8_simd.h on 16 lanes, and byte stores. Functions are
 * compiled for these features only; callers check c8_vnni_usable(). */
#ifndef LD_KERNELS_X86_CONV8_SIMD512_H
#define LD_KERNELS_X86_CONV8_SIMD512_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels/x86/conv8_simd.h"

#define LD_C8_512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#define LD_C8_INLINE512 \
    static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

/* MultiplyByQuantizedMultiplier on 16 lanes, bit-exact, with both
 * roundings folded into one 64-bit rounding shift. With t = (x << l) * m
 * (64-bit exact) and r the right shift:
 *   SaturatingRoundingDoublingHighMul is h = floor((t + 2^30) / 2^31)
 *     (see c8_requant8);
 *   RoundingDivideByPOT(h, r), for r >= 1, is
 *     floor((h + 2^(r-1) - [h < 0]) / 2^r), TFLite's remainder test
 *     rewritten; h + c = floor((t + 2^30 + c 2^31) / 2^31) for integer c
 *     and nested floor divisions compose, so the result is
 *     floor((t + 2^30 + 2^(30+r) - [t < -2^30] 2^31) / 2^(31+r)),
 *   and for r = 0 simply h.
 * |t| < 2^62, so the sum fits in int64 and the result in int32. Even and
 * odd lanes take one 64-bit pass each. The per-channel terms are formed
 * once per block of 16 channels (c8_rq16_load). */
typedef struct rq16 {
    __m512i lshift;
    __m512i mult[2];       /* [even, odd lanes]: m in the low half of each 64-bit lane */
    __m512i round[2];      /* 2^30 + (r >= 1 ? 2^(30+r) : 0) */
    __m512i neg[2];        /* subtracted when t < -2^30: r >= 1 ? 2^31 : 0 */
    __m512i shift[2];      /* 31 + r */
} rq16;

LD_C8_INLINE512 rq16 rq16_load(const c8_requant *q, int at)
{
    const __m512i low = _mm512_set1_epi64(0xffffffff), zero = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi64(1), half = _mm512_set1_epi64((int64_t)1 << 30);
    const __m512i mult = _mm512_loadu_si512(q->mult + at), rsh = _mm512_loadu_si512(q->rshift + at);
    rq16 k;
    k.lshift = _mm512_loadu_si512(q->lshift + at);
    for (int odd = 0; odd < 2; odd++) {
        __m512i r = odd ? _mm512_srli_epi64(rsh, 32) : _mm512_and_si512(rsh, low);
        __mmask8 shifted = _mm512_cmpgt_epi64_mask(r, zero);
        k.mult[odd] = odd ? _mm512_srli_epi64(mult, 32) : mult;
        k.round[odd] = _mm512_mask_add_epi64(half, shifted, half,
                                             _mm512_sllv_epi64(one, _mm512_add_epi64(r, _mm512_set1_epi64(30))));
        k.neg[odd] = _mm512_maskz_mov_epi64(shifted, _mm512_set1_epi64((int64_t)1 << 31));
        k.shift[odd] = _mm512_add_epi64(r, _mm512_set1_epi64(31));
    }
    return k;
}

LD_C8_INLINE512 __m512i requant16(__m512i acc, const rq16 *k, const c8_requant *q)
{
    const __m512i limit = _mm512_set1_epi64(-((int64_t)1 << 30));
    /* lane 2j: even pass, lane j's low half; lane 2j + 1: odd pass, the same */
    const __m512i interleave = _mm512_set_epi32(30, 14, 28, 12, 26, 10, 24, 8, 22, 6, 20, 4, 18, 2, 16, 0);
    __m512i x = _mm512_sllv_epi32(acc, k->lshift);
    __m512i res[2];
    for (int odd = 0; odd < 2; odd++) {
        __m512i t = _mm512_mul_epi32(odd ? _mm512_srli_epi64(x, 32) : x, k->mult[odd]);
        __m512i u = _mm512_add_epi64(t, k->round[odd]);
        u = _mm512_mask_sub_epi64(u, _mm512_cmplt_epi64_mask(t, limit), u, k->neg[odd]);
        res[odd] = _mm512_srav_epi64(u, k->shift[odd]);
    }
    __m512i v = _mm512_permutex2var_epi32(res[0], interleave, res[1]);
    v = _mm512_add_epi32(v, _mm512_set1_epi32(q->out_zp));
    v = _mm512_max_epi32(v, _mm512_set1_epi32(q->act_min));
    return _mm512_min_epi32(v, _mm512_set1_epi32(q->act_max));
}

/* The low byte of each lane (values are clamped to the output type), n of 16. */
LD_C8_INLINE512 void store16(uint8_t *dst, __m512i v, int n)
{
    __m128i b = _mm512_cvtepi32_epi8(v);
    if (n >= 16)
        _mm_storeu_si128((__m128i *)dst, b);
    else
        _mm_mask_storeu_epi8(dst, (__mmask16)((1u << n) - 1u), b);
}

/* 32 clamped channel values in C8_ORDER_DW512 lanes: n (1..32) bytes. */
LD_C8_INLINE512 void store32(uint8_t *dst, __m512i v0, __m512i v1, int n)
{
    __m256i b = _mm512_cvtepi16_epi8(_mm512_packs_epi32(v0, v1));
    if (n >= 32)
        _mm256_storeu_si256((__m256i *)dst, b);
    else
        _mm256_mask_storeu_epi8(dst, (__mmask32)((1u << n) - 1u), b);
}

#endif

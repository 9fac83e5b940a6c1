/* DEPTHWISE_CONV_2D (8-bit, depth multiplier 1) on AVX-512: conv8_dw.c's
 * method with 32 channels per vector. The widened channels of a tap pair
 * are interleaved by the in-lane unpacks, so one accumulator holds
 * channels {0-3, 8-11, 16-19, 24-27} and the other the remaining 16
 * (C8_ORDER_DW512); vpdpwssd adds x_a w_a + x_b w_b per channel exactly.
 * Packing the two back (vpackssdw, in-lane) restores channels 0..31 in
 * order. Partial blocks use masked loads and stores. */
#include "kernels/x86/conv8.h"

#include "kernels/x86/conv8_simd512.h"

LD_C8_INLINE512 __m512i widen(__m256i b, int is_signed)
{
    return is_signed ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b);
}

/* One output pixel: every block of 32 channels over the tap pairs. */
LD_C8_INLINE512 void pixel(const c8_conv *s, const uint8_t *const *tp, uint8_t *out, int is_signed)
{
    const int16_t *w = (const int16_t *)s->w;
    for (int base = 0; base < s->n_pad; base += 32) {
        const int n = s->in_c - base;
        const __mmask32 m = n >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << n) - 1u);
        __m512i acc0 = _mm512_loadu_si512(s->q.fold + base);
        __m512i acc1 = _mm512_loadu_si512(s->q.fold + base + 16);
        for (int p = 0; p < s->pairs; p++, w += 64) {
            __m512i xa = widen(_mm256_maskz_loadu_epi8(m, tp[2 * p] + base), is_signed);
            __m512i xb = widen(_mm256_maskz_loadu_epi8(m, tp[2 * p + 1] + base), is_signed);
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_unpacklo_epi16(xa, xb), _mm512_load_si512(w));
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_unpackhi_epi16(xa, xb), _mm512_load_si512(w + 32));
        }
        const rq16 k0 = rq16_load(&s->q, base), k1 = rq16_load(&s->q, base + 16);
        store32(out + base, requant16(acc0, &k0, &s->q), requant16(acc1, &k1, &s->q), n);
    }
}

C8_DW_DRIVER(c8_dw512_run, LD_C8_512, pixel)

/* AVX2 helpers shared by the 8-bit elementwise kernels (ew8_*.c). */
#ifndef LD_KERNELS_X86_EW8_SIMD_H
#define LD_KERNELS_X86_EW8_SIMD_H

#include "kernels/x86/conv8_simd.h"

/* 8 bytes from p (stride 0: one value repeated, 1: contiguous, else
 * strided) as int32 (int8 when is_signed, else uint8) plus off; only the
 * first n (1..8) are read, the other lanes hold off. */
LD_C8_INLINE __m256i ew8_load8(const uint8_t *p, size_t stride, size_t n, int is_signed, __m256i off)
{
    uint8_t tmp[8] = { 0 };
    if (stride == 0)
        memset(tmp, p[0], 8);
    else if (stride == 1 && n >= 8)
        memcpy(tmp, p, 8);
    else
        for (size_t i = 0; i < n; i++)
            tmp[i] = p[i * stride];
    const __m128i b = _mm_loadl_epi64((const __m128i *)tmp);
    return _mm256_add_epi32(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b), off);
}

/* Horizontal max and sum (wrapping) of 8 int32 lanes. */
LD_C8_INLINE int32_t ew8_hmax(__m256i v)
{
    __m128i x = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_max_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    return _mm_cvtsi128_si32(_mm_max_epi32(x, _mm_shuffle_epi32(x, 0xb1)));
}

LD_C8_INLINE int32_t ew8_hsum(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    return _mm_cvtsi128_si32(_mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1)));
}

#endif

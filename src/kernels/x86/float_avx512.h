/* Shared parts of the AVX-512 float32 loops (float_*512.c). They run only
 * from the "avx512" table entries, which require ld_f32_has_avx512(); every
 * function using AVX-512 carries LD_AVX512, as the AVX2 ones carry LD_AVX2. */
#ifndef LD_KERNELS_X86_FLOAT_AVX512_H
#define LD_KERNELS_X86_FLOAT_AVX512_H

#include <immintrin.h>

#define LD_AVX512 __attribute__((target("avx512f")))

/* The first `count` lanes of a zmm (count clamped to 0..16). */
static inline __mmask16 ld_f32_lanes16(int count)
{
    return count >= 16 ? (__mmask16)0xffff : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1u);
}

/* min(hi, max(lo, x)), x second: NaN passes as in the reference clamp. */
LD_AVX512 static inline __m512 ld_f32_clamp16(__m512 x, __m512 lo, __m512 hi)
{
    return _mm512_min_ps(hi, _mm512_max_ps(lo, x));
}

#endif

/* float32 LOGISTIC over n contiguous values, per ISA (float_ew.c: AVX2,
 * float_ew512.c: AVX-512F, only where the CPU has it). Within 1e-6 of the
 * reference kernel. */
#ifndef LD_KERNELS_X86_FLOAT_EW_H
#define LD_KERNELS_X86_FLOAT_EW_H

#include <stddef.h>

void ld_f32_logistic_avx2(const float *x, float *y, size_t n);
void ld_f32_logistic_avx512(const float *x, float *y, size_t n);

#endif

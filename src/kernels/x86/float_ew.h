/* float32 LOGISTIC over n contiguous values, per ISA (float_ew.c: AVX2,
 * float_ew512.c: AVX-512F, only where the CPU has it). Within 1e-6 of the
 * reference kernel. */
#ifndef LD_KERNELS_X86_FLOAT_EW_H
#define LD_KERNELS_X86_FLOAT_EW_H

#include <stddef.h>

#include "kernels/kernel.h"

void ld_f32_logistic_avx2(const float *x, float *y, size_t n);
void ld_f32_logistic_avx512(const float *x, float *y, size_t n);

/* Producer ADD/SUB (float, no fused activation) read only by a RELU/RELU6,
 * or ADD read only by a PRELU with per-channel constant alpha: the
 * consumer's kernel becomes one pass doing both (*kernel, its state in
 * cons->state from alloc). 1 if fused, 0 if not, -1 out of memory. */
int ld_fuse_binary_act_f32(ld_op_ctx *prod, ld_op_ctx *cons, ld_alloc *alloc, const ld_kernel **kernel);

#endif

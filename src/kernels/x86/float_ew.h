/* float32 LOGISTIC over n contiguous values, per ISA (float_ew.c: AVX2,
 * float_ew512.c: AVX-512F, only where the CPU has it). Within 1e-6 of the
 * reference kernel. */
#ifndef LD_KERNELS_X86_FLOAT_EW_H
#define LD_KERNELS_X86_FLOAT_EW_H

#include <stddef.h>

#include "kernels/kernel.h"

void ld_f32_logistic_avx2(const float *x, float *y, size_t n);
void ld_f32_logistic_avx512(const float *x, float *y, size_t n);

/* Float pairs run as one pass at the consumer's place (*kernel, its state
 * in cons->state from alloc), as ld_opt_fuse: 1 fused, 0 not, -1 out of
 * memory. ADD/SUB without a fused activation read only by a RELU/RELU6: */
int ld_fuse_binary_act_f32(ld_op_ctx *prod, ld_op_ctx *cons, ld_alloc *alloc, const ld_kernel **kernel);
/* ADD read only by a PRELU whose alpha is constant over the last dim: */
int ld_fuse_add_prelu_f32(ld_op_ctx *prod, ld_op_ctx *cons, ld_alloc *alloc, const ld_kernel **kernel);

#endif

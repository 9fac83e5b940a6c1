/* Hybrid operators (float32 activations, int8 weights) on AVX2, byte-exact
 * with the reference kernels (hybrid_conv.c, hybrid_dw.c). In the float
 * family's table. */
#ifndef LD_KERNELS_X86_HYBRID_H
#define LD_KERNELS_X86_HYBRID_H

#include "kernels/kernel.h"
#include "kernels/ref/conv_quant.h"

/* The input quantizer's loops, with the reference's results (hybrid_quant.c). */
extern const ld_hybrid_ops ld_hybrid_avx2_ops;

int ld_hybrid_conv_accepts(const ld_op_ctx *c);
leandet_status ld_hybrid_conv_prepare(ld_op_ctx *c);
leandet_status ld_hybrid_conv_eval(ld_op_ctx *c);

int ld_hybrid_dw_accepts(const ld_op_ctx *c);
leandet_status ld_hybrid_dw_prepare(ld_op_ctx *c);
leandet_status ld_hybrid_dw_eval(ld_op_ctx *c);

#endif

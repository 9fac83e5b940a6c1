/* x86-64 optimized kernel families (AVX2 + FMA). Functions that use AVX2
 * are compiled with __attribute__((target("avx2,fma"))) so the rest of the
 * library stays portable; opt.c offers these tables only when the CPU has
 * the features. */
#ifndef LD_KERNELS_X86_H
#define LD_KERNELS_X86_H

#include "kernels/kernel.h"

extern const ld_opt_kernel ld_avx2_conv8[];  /* uint8/int8 CONV_2D, DEPTHWISE_CONV_2D, ... */
extern const ld_opt_kernel ld_avx2_float[];  /* float32 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ... */
extern const ld_opt_kernel ld_avx2_ew8[];    /* uint8/int8 MUL, ADD, SUB, LOGISTIC, SOFTMAX, ... */
extern const ld_opt_kernel ld_avx2_postprocess[]; /* TFLite_Detection_PostProcess, 8-bit scores, fast NMS */

#endif

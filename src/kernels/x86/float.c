/* The float32 family for AVX2+FMA CPUs: the kernels live in float_*.c, the
 * shared contract in float_common.h. Each entry takes an op only when its
 * accepts() says so (float32 operands; CONV_2D, DEPTHWISE_CONV_2D and
 * FULLY_CONNECTED also need constant weights, which they pack in prepare);
 * anything else stays on the reference kernel. Hybrid CONV_2D and
 * DEPTHWISE_CONV_2D (int8 weights, hybrid_*.c) sit here too: their
 * activations are float. The first match wins: an
 * "avx512" entry, whose accepts() also needs AVX-512F, comes before the
 * AVX2 entry of the same op (the pattern of ld_avx2_conv8). */
#include "kernels/x86/float_common.h"
#include "kernels/x86/hybrid.h"
#include "kernels/x86/x86.h"

#define ENTRY(op, name) { { op, NULL, ld_f32_##name##_prepare, ld_f32_##name##_eval }, ld_f32_##name##_accepts, "avx2" }
#define ENTRY512(op, name)                                                                                     \
    { { op, NULL, ld_f32_##name##_prepare512, ld_f32_##name##_eval }, ld_f32_##name##_accepts512, "avx512" }

const ld_opt_kernel ld_avx2_float[] = {
    { { LD_OP_CONV_2D, NULL, ld_hybrid_conv_prepare, ld_hybrid_conv_eval }, ld_hybrid_conv_accepts, "avx2" },
    { { LD_OP_DEPTHWISE_CONV_2D, NULL, ld_hybrid_dw_prepare, ld_hybrid_dw_eval }, ld_hybrid_dw_accepts, "avx2" },
    ENTRY512(LD_OP_CONV_2D, conv),
    ENTRY(LD_OP_CONV_2D, conv),
    ENTRY512(LD_OP_DEPTHWISE_CONV_2D, dw),
    ENTRY(LD_OP_DEPTHWISE_CONV_2D, dw),
    ENTRY512(LD_OP_FULLY_CONNECTED, fc),
    ENTRY(LD_OP_FULLY_CONNECTED, fc),
    ENTRY(LD_OP_MAX_POOL_2D, pool),
    ENTRY(LD_OP_AVERAGE_POOL_2D, pool),
    ENTRY512(LD_OP_LOGISTIC, unary),
    ENTRY(LD_OP_LOGISTIC, unary),
    ENTRY(LD_OP_ADD, binary),
    ENTRY(LD_OP_SUB, binary),
    ENTRY(LD_OP_MUL, binary),
    ENTRY(LD_OP_PRELU, binary),
    LD_OPT_KERNEL_TABLE_END,
};

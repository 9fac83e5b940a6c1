/* The table of move.h's kernels, offered on AVX2+FMA CPUs (PAD is plain C
 * but sits with them: the reference backend stays the untouched oracle). */
#include "kernels/x86/move.h"

const ld_opt_kernel ld_avx2_move[] = {
    { { LD_OP_PAD, NULL, ld_move_pad_prepare, ld_move_pad_eval }, ld_move_pad_accepts, "avx2" },
    { { LD_OP_PADV2, NULL, ld_move_pad_prepare, ld_move_pad_eval }, ld_move_pad_accepts, "avx2" },
    { { LD_OP_CONCATENATION, NULL, ld_concat8_prepare, ld_concat8_eval }, ld_concat8_accepts, "avx2" },
    { { LD_OP_MAX_POOL_2D, NULL, ld_pool8_prepare, ld_pool8_eval }, ld_pool8_accepts, "avx2" },
    { { LD_OP_TRANSPOSE, NULL, ld_transpose_prepare, ld_transpose_eval }, ld_transpose_accepts, "sse2" },
    { { LD_OP_STRIDED_SLICE, NULL, ld_slice_prepare, ld_slice_eval }, ld_slice_accepts, "avx2" },
    { { LD_OP_RELU, NULL, ld_relu_f32_prepare, ld_relu_f32_eval }, ld_relu_f32_accepts, "avx2" },
    { { LD_OP_RELU6, NULL, ld_relu_f32_prepare, ld_relu_f32_eval }, ld_relu_f32_accepts, "avx2" },
    { { LD_OP_RESIZE_BILINEAR, NULL, ld_resize_f32_prepare, ld_resize_f32_eval }, ld_resize_f32_accepts, "avx2" },
    LD_OPT_KERNEL_TABLE_END,
};

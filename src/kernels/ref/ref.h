/* Reference kernel families: portable C, the oracle and fallback for every
 * optimized kernel. One file per family, each exporting one table. */
#ifndef LD_KERNELS_REF_H
#define LD_KERNELS_REF_H

#include "kernels/kernel.h"

extern const ld_kernel ld_ref_conv[];                  /* CONV_2D, DEPTHWISE_CONV_2D */
extern const ld_kernel ld_ref_fully_connected[];       /* FULLY_CONNECTED */
extern const ld_kernel ld_ref_pool[];                  /* AVERAGE_POOL_2D, MAX_POOL_2D */
extern const ld_kernel ld_ref_arith[];                 /* ADD, SUB, MUL */
extern const ld_kernel ld_ref_activation[];            /* RELU, RELU6, PRELU, HARD_SWISH, LOGISTIC, TANH */
extern const ld_kernel ld_ref_softmax[];               /* SOFTMAX */
extern const ld_kernel ld_ref_quantize[];              /* QUANTIZE, DEQUANTIZE */
extern const ld_kernel ld_ref_reshape[];               /* RESHAPE, SQUEEZE */
extern const ld_kernel ld_ref_concat[];                /* CONCATENATION */
extern const ld_kernel ld_ref_transpose[];             /* TRANSPOSE */
extern const ld_kernel ld_ref_strided_slice[];         /* STRIDED_SLICE */

/* What a prepared STRIDED_SLICE copies: from element `base` of its input,
 * count[k] elements along dim k, src_stride[k] elements apart (negative for
 * reversed dims), into its dense output; empty when a count is 0. */
typedef struct ld_slice_box {
    int rank, empty;
    ptrdiff_t base;
    ptrdiff_t src_stride[LD_MAX_DIMS];
    int32_t count[LD_MAX_DIMS];
} ld_slice_box;
leandet_status ld_strided_slice_box(ld_op_ctx *c, ld_slice_box *b);
/* The reference's walk of box b: es-byte elements from src into dense dst. */
void ld_slice_box_copy(const ld_slice_box *b, void *dst, const void *src, size_t es);
extern const ld_kernel ld_ref_pad[];                   /* PAD, PADV2 */
extern const ld_kernel ld_ref_mean[];                  /* MEAN */
extern const ld_kernel ld_ref_resize[];                /* RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR */
extern const ld_kernel ld_ref_depth_to_space[];        /* DEPTH_TO_SPACE */
extern const ld_kernel ld_ref_densify[];               /* DENSIFY */
extern const ld_kernel ld_ref_detection_postprocess[]; /* CUSTOM TFLite_Detection_PostProcess */

#endif

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
extern const ld_kernel ld_ref_pad[];                   /* PAD, PADV2 */
extern const ld_kernel ld_ref_mean[];                  /* MEAN */
extern const ld_kernel ld_ref_resize[];                /* RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR */
extern const ld_kernel ld_ref_depth_to_space[];        /* DEPTH_TO_SPACE */
extern const ld_kernel ld_ref_densify[];               /* DENSIFY */
extern const ld_kernel ld_ref_detection_postprocess[]; /* CUSTOM TFLite_Detection_PostProcess */

#endif

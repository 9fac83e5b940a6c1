/* Model rewrites between float and quantized forms, on an editable model
 * (tools/model_edit.h); write the result with tools/tflite_writer.h.
 *
 * Dynamic-range quantization (TensorFlow Lite's "weights only" scheme):
 * the weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with at
 * least LD_QUANT_MIN_ELEMENTS elements become symmetric int8, one scale per
 * output channel (max |w| / 127, zero point 0); activations and biases stay
 * float32, and those operators then run as hybrid kernels (inputs quantized
 * on the fly, per batch). Float16 weights (float16 constants expanded by
 * DEQUANTIZE) are folded to float32 first.
 *
 * Dequantization: every uint8/int8 tensor becomes float32 holding the real
 * values (constants (q - zero_point) * scale, int32 biases q * input scale *
 * weight scale), QUANTIZE/DEQUANTIZE operators between activations
 * disappear. The graph input then takes real values (the SSD model's uint8
 * input with scale 1/128 and zero point 128 becomes float in [-1, 1]). */
#ifndef LD_TOOLS_QUANTIZE_H
#define LD_TOOLS_QUANTIZE_H

#include <stddef.h>

#include "tools/calibrate.h"
#include "tools/model_edit.h"

#define LD_QUANT_MIN_ELEMENTS 1024

typedef struct ld_quant_report {
    int weights;          /* weight tensors quantized (or dequantized) */
    int hybrid_ops;       /* operators now running hybrid */
    int folded;           /* DEQUANTIZE operators of float16 constants folded */
    int tensors;          /* tensors whose type changed (dequantize) */
    int removed_ops;      /* operators removed (folded or bypassed) */
    int added_ops;        /* QUANTIZE/DEQUANTIZE operators added (int8) */
    int clamps;           /* activations implied by an 8-bit output range, made explicit */
    size_t const_bytes_before, const_bytes_after; /* bytes of constants */
} ld_quant_report;

/* Quantize a float (or float16-weight) model in place. Refused with
 * LEANDET_ERR_UNSUPPORTED: a model that is already quantized (any uint8,
 * int8 or int16 tensor with quantization), an operator the quantizer does
 * not know; errors name e->file and the tensor or operator. */
leandet_status ld_quantize_dynamic(ld_edit *e, ld_quant_report *r);

/* Turn a uint8/int8 (or hybrid) model into float32 in place. Refused: a
 * model with nothing quantized, int16 quantization, quantized sparse
 * constants, an operator leandet does not know. */
leandet_status ld_dequantize(ld_edit *e, ld_quant_report *r);

/* Full-integer quantization (TensorFlow Lite's post-training int8 scheme)
 * from calibrated ranges (tools/calibrate.h): float32 activations become
 * asymmetric int8 per tensor (range widened to hold 0, scale (max-min)/255),
 * CONV_2D/DEPTHWISE_CONV_2D weights symmetric int8 per output channel
 * (FULLY_CONNECTED per tensor), biases int32 with scale input scale x weight
 * scale and zero point 0, other float constants asymmetric int8; LOGISTIC and
 * SOFTMAX outputs 1/256, -128; pooling, PAD, RESHAPE, SQUEEZE, TRANSPOSE,
 * STRIDED_SLICE and nearest resize share their input's parameters. The
 * detection post-process (and every operator named by keep_float: operator
 * name in any case, operator index "#12" or "12", or output tensor name;
 * an entry naming nothing is refused) stays float behind DEQUANTIZE/
 * QUANTIZE. An int8 CONCATENATION input whose parameters differ from the
 * output's after sharing (a LOGISTIC output, a tensor feeding two
 * concatenations) is requantized by a QUANTIZE int8 -> int8; float
 * constants it reads take the output's parameters. Float16 weights
 * (DEQUANTIZE of float16 constants) are folded to float32 and quantized
 * like float ones. In the report, `weights` counts the constants
 * quantized, `hybrid_ops` the operators now int8. */
typedef enum { LD_IO_FLOAT = 0, LD_IO_UINT8, LD_IO_INT8 } ld_int8_io;

typedef struct ld_int8_options {
    const ld_calib_range *ranges;   /* one per tensor of the float model */
    ld_int8_io io;                  /* graph inputs/outputs: float (QUANTIZE/DEQUANTIZE
                                       inside), uint8 or int8 */
    const char *const *keep_float;
    int n_keep_float;
} ld_int8_options;

leandet_status ld_quantize_int8(ld_edit *e, const ld_int8_options *o, ld_quant_report *r);

/* The refusals of ld_quantize_int8 (already quantized, unknown operator,
 * --keep-float names that match nothing) without calibrated ranges
 * (o->ranges unused), so they come before the images are run. */
leandet_status ld_quantize_int8_check(ld_edit *e, const ld_int8_options *o);

/* Shared by both: the float32 values of constant tensor t (float16
 * expanded, uint8/int8 dequantized per its quantization), computed by
 * leandet's DEQUANTIZE kernel as TensorFlow Lite computes them, in memory
 * owned by the edit. */
leandet_status ld_quant_const_to_float(ld_edit *e, int t, float **out);

/* Fold every DEQUANTIZE of a float16 constant (that is not a graph output)
 * into a float32 constant: the operator is removed (r->folded and
 * r->removed_ops count them), tensors keep their numbers. */
leandet_status ld_quant_fold_float16(ld_edit *e, ld_quant_report *r);

/* Bytes of all constant data of the edited model (each buffer once). */
size_t ld_quant_const_bytes(const ld_model_desc *m);

#endif

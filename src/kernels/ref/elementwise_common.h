/* Shared parts of the elementwise reference kernels (arith, activation,
 * softmax, quantize): NumPy broadcasting, common prepare checks, and 256-entry
 * lookup tables for 8-bit unary maps.
 *
 * An 8-bit unary op whose output depends only on the input byte is run as a
 * table lookup: prepare evaluates TFLite's exact integer (or float) formula
 * for all 256 inputs, so the table is bit-identical to per-element evaluation
 * and eval is a plain gather. */
#ifndef LD_KERNELS_REF_ELEMENTWISE_COMMON_H
#define LD_KERNELS_REF_ELEMENTWISE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* Type sets for ld_ew_check_type: one bit per ld_dtype. */
#define LD_EW_BIT(t) (1u << (unsigned)(t))
#define LD_EW_F32 LD_EW_BIT(LEANDET_FLOAT32)
#define LD_EW_Q8 (LD_EW_BIT(LEANDET_UINT8) | LD_EW_BIT(LEANDET_INT8))

/* Iteration plan of a broadcast binary op, after dropping unit dimensions and
 * merging dimensions that are contiguous in both inputs. Strides are in
 * elements; a stride of 0 repeats that input along the dimension. */
typedef struct ld_bcast {
    int rank;                      /* >= 1 */
    size_t n[LD_MAX_DIMS];
    size_t sa[LD_MAX_DIMS], sb[LD_MAX_DIMS];
} ld_bcast;

/* Process n output elements of one innermost row: out[i] = f(a[i*sa], b[i*sb]). */
typedef void (*ld_bcast_row)(const void *state, const void *a, size_t sa, const void *b, size_t sb,
                             void *out, size_t n);

/* NumPy broadcast shape of a and b (right-aligned; equal dims or one of them 1)
 * into *out and the plan to iterate it. Fails naming both shapes. */
leandet_status ld_bcast_prepare(ld_op_ctx *c, const ld_tensor *a, const ld_tensor *b, ld_shape *out,
                                ld_bcast *plan);
/* Run `row` over the whole output; esize is the element size of a, b and out. */
void ld_bcast_run(const ld_bcast *plan, size_t esize, const void *a, const void *b, void *out,
                  ld_bcast_row row, const void *state);

/* Input/output `t` (named by `what`, e.g. "input 1") must have a type in `mask`. */
leandet_status ld_ew_check_type(ld_op_ctx *c, const ld_tensor *t, const char *what, unsigned mask);

/* Per-tensor scale and zero point of a uint8/int8 tensor; rejects per-channel
 * quantization, non-positive scales and zero points outside the type. */
leandet_status ld_ew_qparams(ld_op_ctx *c, const ld_tensor *t, const char *what, float *scale, int32_t *zp);

/* The constants of 8-bit ADD, SUB and MUL (TFLite add.cc, sub.cc, mul.cc),
 * computed in one place so the reference and the optimized kernels
 * requantize identically. */
typedef struct ld_arith_q {
    int32_t in1_offset, in2_offset, out_offset;
    int32_t qmin, qmax;              /* activation clamp */
    int left_shift;                  /* ADD/SUB: 20 */
    int32_t in1_mult, in2_mult, out_mult;
    int in1_shift, in2_shift, out_shift;
    double real_out;                 /* output multiplier before quantizing (ADD needs < 1) */
} ld_arith_q;

void ld_arith_q_init(int op, ld_activation act, ld_dtype type, float s1, int32_t z1, float s2, int32_t z2, float so,
                     int32_t zo, ld_arith_q *q);

/* Common prepare of a one-input one-output op that keeps the shape: checks
 * counts, input type in `mask`, output type equal to input, writes out shape. */
leandet_status ld_ew_unary_prepare(ld_op_ctx *c, unsigned mask);

/* Allocate the op's persistent state (zeroed) into c->state. */
void *ld_ew_state(ld_op_ctx *c, size_t bytes);

/* Table of an 8-bit map: lut[byte of q] = byte of f(q) for every q of type t
 * (uint8 or int8). f must return a value already inside the type's range. */
typedef int32_t (*ld_ew_qmap)(const void *ctx, int32_t q);
void ld_ew_lut_build(uint8_t lut[256], ld_dtype t, ld_ew_qmap f, const void *ctx);

/* TFLite's LUTPopulate<int8/uint8>: dequantize q in float, apply fn, requantize
 * with roundf and clamp to the type. */
void ld_ew_lut_from_float(uint8_t lut[256], ld_dtype t, float in_scale, int32_t in_zp, float out_scale,
                          int32_t out_zp, float (*fn)(float));

/* Element i of raw 8-bit data as an integer (int8 when is_signed, else uint8). */
static inline int32_t ld_ew_load8(const void *p, size_t i, int is_signed)
{
    const uint8_t b = ((const uint8_t *)p)[i];
    return is_signed ? (int32_t)(int8_t)b : (int32_t)b;
}

/* out[i] = lut[in byte i] for n bytes. */
void ld_ew_lut_apply(const uint8_t lut[256], const void *in, void *out, size_t n);

#endif

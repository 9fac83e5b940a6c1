/* 8-bit elementwise kernels for AVX2 CPUs (ew8*.c): MUL/ADD/SUB, LOGISTIC,
 * SOFTMAX and QUANTIZE from float, byte-exact with the reference kernels.
 *
 * Exactness comes from the reference itself: every prepare first runs the
 * reference prepare (ld_f32_ref_prepare: same checks, same errors, same
 * output shape), then rebuilds the reference's integer constants with the
 * same helpers (quant.h) or, for table-driven unary ops, reads the table
 * straight out of the reference by evaluating it on all 256 input bytes
 * (ld_ew8_probe_lut). Evals then do the same integer arithmetic, vectorized
 * and split over c->pool. */
#ifndef LD_KERNELS_X86_EW8_H
#define LD_KERNELS_X86_EW8_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* Per-tensor scale and zero point of an 8-bit tensor whose type is `t`;
 * 0 if it is not one (the reference then reports why). */
int ld_ew8_qparams(const ld_tensor *x, ld_dtype t, float *scale, int32_t *zp);

/* lut[b] = what the reference kernel of c's op writes for input byte b,
 * for a one-input op whose output byte depends only on its input byte. */
leandet_status ld_ew8_probe_lut(ld_op_ctx *c, uint8_t lut[256]);
/* The same for input i of a several-input op, run alone (n_in 1) on a
 * rank-`rank` tensor holding the 256 bytes along `axis` (8-bit CONCATENATION). */
leandet_status ld_ew8_probe_input(ld_op_ctx *c, int i, int rank, int axis, uint8_t lut[256]);

/* Parts to split n items into (>= grain items each) on c's pool. */
int ld_ew8_parts(const ld_op_ctx *c, size_t n, size_t grain);

int ld_ew8_binary_accepts(const ld_op_ctx *c);
leandet_status ld_ew8_binary_prepare(ld_op_ctx *c);
leandet_status ld_ew8_binary_eval(ld_op_ctx *c);
/* The same ops with 16-lane rows where c8_vnni_usable() (same prepare). */
int ld_ew8_binary512_accepts(const ld_op_ctx *c);
leandet_status ld_ew8_binary512_eval(ld_op_ctx *c);

int ld_ew8_lut_accepts(const ld_op_ctx *c);
leandet_status ld_ew8_lut_prepare(ld_op_ctx *c);
leandet_status ld_ew8_lut_eval(ld_op_ctx *c);

/* y[i] = lut[x[i]] for n bytes: AVX2 (vbmi 0) or AVX-512 VBMI (vbmi 1, only
 * where ld_ew8_has_vbmi()). The eval picks VBMI where the CPU has it. */
void ld_ew8_lut_apply(const uint8_t lut[256], const uint8_t *x, uint8_t *y, size_t n, int vbmi);
int ld_ew8_has_vbmi(void);

int ld_ew8_quantize_accepts(const ld_op_ctx *c); /* float32 -> 8-bit, per tensor */
leandet_status ld_ew8_quantize_prepare(ld_op_ctx *c);
leandet_status ld_ew8_quantize_eval(ld_op_ctx *c);

int ld_ew8_softmax_accepts(const ld_op_ctx *c);
leandet_status ld_ew8_softmax_prepare(ld_op_ctx *c);
leandet_status ld_ew8_softmax_eval(ld_op_ctx *c);

#endif

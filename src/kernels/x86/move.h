/* Data-movement and small fused kernels (move.c, concat8.c, pool8.c, relu_f32.c,
 * resize_f32.c, transpose.c, fuse_silu.c; the table in move_table.c).
 * Like the other optimized families they validate through the reference
 * prepare (ld_f32_ref_prepare) and are byte-exact with the reference, except
 * the float SiLU fusion (within 1e-6 relative, the float LOGISTIC's bound). */
#ifndef LD_KERNELS_X86_MOVE_H
#define LD_KERNELS_X86_MOVE_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernel.h"

/* PAD/PADV2 (any element type), CONCATENATION (8-bit requantized, or copies), uint8/int8 MAX_POOL_2D, float RELU/RELU6,
 * float RESIZE_BILINEAR. */
extern const ld_opt_kernel ld_avx2_move[];

int ld_move_pad_accepts(const ld_op_ctx *c);
leandet_status ld_move_pad_prepare(ld_op_ctx *c);
leandet_status ld_move_pad_eval(ld_op_ctx *c);

/* n bytes from src to dst (not overlapping): inline moves for the short
 * pieces of concatenations and slices, where a memcpy call per piece of
 * 8-64 bytes costs more than the copy; memcpy beyond 256 bytes. */
__attribute__((target("avx2"))) static inline void ld_move_piece(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n > 256) {
        memcpy(dst, src, n);
        return;
    }
    for (; n >= 32; n -= 32, dst += 32, src += 32)
        _mm256_storeu_si256((__m256i *)dst, _mm256_loadu_si256((const __m256i *)src));
    if (n >= 16) {
        _mm_storeu_si128((__m128i *)dst, _mm_loadu_si128((const __m128i *)src));
        n -= 16, dst += 16, src += 16;
    }
    if (n >= 8) {
        memcpy(dst, src, 8);
        n -= 8, dst += 8, src += 8;
    }
    if (n)
        memcpy(dst, src, n);
}

/* STRIDED_SLICE whose innermost dim is contiguous (slice.c): any type. */
int ld_slice_accepts(const ld_op_ctx *c);
leandet_status ld_slice_prepare(ld_op_ctx *c);
leandet_status ld_slice_eval(ld_op_ctx *c);

/* CONCATENATION: 8-bit with requantized inputs or an activation, or plain copies of any type (concat8.c). */
#define LD_CONCAT8_MAX_INPUTS 16
int ld_concat8_accepts(const ld_op_ctx *c);
leandet_status ld_concat8_prepare(ld_op_ctx *c);
leandet_status ld_concat8_eval(ld_op_ctx *c);

/* TRANSPOSE that is a batch of 2-D transposes (transpose.c): any type. */
int ld_transpose_accepts(const ld_op_ctx *c);
leandet_status ld_transpose_prepare(ld_op_ctx *c);
leandet_status ld_transpose_eval(ld_op_ctx *c);

int ld_pool8_accepts(const ld_op_ctx *c);
leandet_status ld_pool8_prepare(ld_op_ctx *c);
leandet_status ld_pool8_eval(ld_op_ctx *c);

int ld_relu_f32_accepts(const ld_op_ctx *c);
leandet_status ld_relu_f32_prepare(ld_op_ctx *c);
leandet_status ld_relu_f32_eval(ld_op_ctx *c);

int ld_resize_f32_accepts(const ld_op_ctx *c);
leandet_status ld_resize_f32_prepare(ld_op_ctx *c);
leandet_status ld_resize_f32_eval(ld_op_ctx *c);

/* SiLU: `consumer` is MUL(x, LOGISTIC(x)) (either operand order) and
 * `producer` that LOGISTIC, both prepared, and the caller has checked that
 * the LOGISTIC's output feeds nothing else and is not a model output. On
 * success the consumer's state is replaced (allocated with `alloc`), *kernel
 * receives the fused kernel that computes the MUL from x alone, and the
 * producer need not run any more; returns 1. Returns 0 (nothing changed)
 * when the pair does not match or the fused kernel does not handle it. */
int ld_fuse_silu(ld_op_ctx *producer, ld_op_ctx *consumer, ld_alloc *alloc, const ld_kernel **kernel); /* as ld_opt_fuse */

/* CONV_2D + SiLU: `consumer` already runs a SiLU (ld_fuse_silu) and
 * `producer`, run by the optimized CONV_2D of its type (float:
 * ld_f32_conv_eval; 8-bit: ld_conv8_is_conv), makes its x. The fused
 * kernel runs the convolution into the SiLU's output and applies the SiLU
 * (x * logistic(x), or the 8-bit table) to each tile or task output as it
 * is stored, while in cache: the same values as the two passes, without
 * writing and reading x. */
int ld_fuse_conv_silu(ld_op_ctx *producer, const ld_kernel *producer_kernel, ld_op_ctx *consumer, ld_alloc *alloc,
                      const ld_kernel **kernel);

/* y[i] = x[i] * logistic(x[i]) for n floats (y may be x), the float SiLU
 * of the fused kernels, by `logistic` (ld_f32_logistic_avx2 or _avx512). */
void ld_f32_silu(void (*logistic)(const float *x, float *y, size_t n), const float *x, float *y, size_t n);

#endif

/* Shared parts of the AVX2+FMA float32 kernels (float_*.c).
 *
 * Every function that uses AVX2 carries LD_AVX2 (a per-function target
 * attribute, understood by gcc and clang) so the library needs no global
 * -mavx2: opt.c offers the table only on CPUs with AVX2 and FMA.
 *
 * Validation is never duplicated: each optimized prepare first runs the
 * reference prepare of the same op (ld_f32_ref_prepare), which checks the
 * operands, reports errors and writes the output shape exactly as the
 * reference backend does; its state is then dropped and replaced. */
#ifndef LD_KERNELS_X86_FLOAT_COMMON_H
#define LD_KERNELS_X86_FLOAT_COMMON_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"
#include "runtime/threadpool.h"

#define LD_AVX2 __attribute__((target("avx2,fma")))

/* 8 set lanes then 8 clear ones: a window into it is a lane mask. */
extern const int32_t ld_f32_lane_mask[16];

/* Mask of the first `count` lanes of a ymm (count clamped to 0..8), for
 * the masked loads and stores of a partial last vector. */
LD_AVX2 static inline __m256i ld_f32_mask8(int count)
{
    count = count < 0 ? 0 : (count > 8 ? 8 : count);
    return _mm256_loadu_si256((const __m256i *)(ld_f32_lane_mask + 8 - count));
}

/* min(hi, max(lo, x)) with x the second operand of max: a NaN x passes
 * through, as it does through the reference clamp (ld_clampf). */
LD_AVX2 static inline __m256 ld_f32_clamp8(__m256 x, __m256 lo, __m256 hi)
{
    return _mm256_min_ps(hi, _mm256_max_ps(lo, x));
}

/* Whether the CPU has AVX-512F, for the accepts() of the AVX-512 entries
 * (16-lane loops: twice the FLOPs per cycle on cores with 512-bit FMA
 * units). The answer is the CPU's, not mutable state. */
int ld_f32_has_avx512(void);

/* Run the reference prepare of c's op, then free the state it made (the
 * optimized kernel keeps its own). */
leandet_status ld_f32_ref_prepare(ld_op_ctx *c);

/* Tensor `t` is float32 (and present). */
static inline int ld_f32_is(const ld_tensor *t)
{
    return t && t->type == LEANDET_FLOAT32;
}

/* Tensor `t` is float32 and constant with its data at hand (weights). */
static inline int ld_f32_is_const(const ld_tensor *t)
{
    return ld_f32_is(t) && t->is_const && t->data;
}

/* Split [0, n) into parts of at least `grain` items, about `per_thread` parts
 * per pool thread (one part when the pool is NULL or single-threaded). Part k
 * is [k * n / parts, (k + 1) * n / parts): see ld_f32_part. */
int ld_f32_parts(const ld_pool *pool, size_t n, size_t grain, int per_thread);

static inline void ld_f32_part(size_t n, int parts, int k, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)k / (size_t)parts;
    *hi = n * (size_t)(k + 1) / (size_t)parts;
}

/* The entry points listed in float.c's table; *512 are the AVX-512
 * variants (same eval, AVX-512 loops chosen by their prepare). */
int ld_f32_conv_accepts(const ld_op_ctx *c);
int ld_f32_conv_accepts512(const ld_op_ctx *c);
leandet_status ld_f32_conv_prepare(ld_op_ctx *c);
leandet_status ld_f32_conv_prepare512(ld_op_ctx *c);
leandet_status ld_f32_conv_eval(ld_op_ctx *c);
/* The same, then y = y * logistic(y) on each stored tile (CONV_2D + SiLU,
 * fuse_silu.c). */
leandet_status ld_f32_conv_eval_silu(ld_op_ctx *c, void (*logistic)(const float *x, float *y, size_t n));
int ld_f32_fc_accepts(const ld_op_ctx *c);
int ld_f32_fc_accepts512(const ld_op_ctx *c);
leandet_status ld_f32_fc_prepare(ld_op_ctx *c);
leandet_status ld_f32_fc_prepare512(ld_op_ctx *c);
leandet_status ld_f32_fc_eval(ld_op_ctx *c);
int ld_f32_dw_accepts(const ld_op_ctx *c);
int ld_f32_dw_accepts512(const ld_op_ctx *c);
leandet_status ld_f32_dw_prepare(ld_op_ctx *c);
leandet_status ld_f32_dw_prepare512(ld_op_ctx *c);
leandet_status ld_f32_dw_eval(ld_op_ctx *c);
int ld_f32_pool_accepts(const ld_op_ctx *c);
leandet_status ld_f32_pool_prepare(ld_op_ctx *c);
leandet_status ld_f32_pool_eval(ld_op_ctx *c);
int ld_f32_unary_accepts(const ld_op_ctx *c);
int ld_f32_unary_accepts512(const ld_op_ctx *c);
leandet_status ld_f32_unary_prepare(ld_op_ctx *c);
leandet_status ld_f32_unary_prepare512(ld_op_ctx *c);
leandet_status ld_f32_unary_eval(ld_op_ctx *c);
int ld_f32_binary_accepts(const ld_op_ctx *c);
leandet_status ld_f32_binary_prepare(ld_op_ctx *c);
leandet_status ld_f32_binary_eval(ld_op_ctx *c);

#endif

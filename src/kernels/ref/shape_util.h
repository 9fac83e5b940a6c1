/* N-D index arithmetic shared by the data-movement kernels (reshape, concat,
 * transpose, strided slice, pad, depth-to-space, resize, mean, densify).
 * These ops move elements without looking at them, so most of them work on
 * any fixed-size element type through its byte size. */
#ifndef LD_KERNELS_REF_SHAPE_UTIL_H
#define LD_KERNELS_REF_SHAPE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* `axis` in [-rank, rank) made non-negative; -1 if out of range. */
int ld_axis_norm(int axis, int rank);

/* Product of the dims [from, to) of s (1 for an empty range). Only for
 * shapes already validated (a tensor's own shape, or one that passed
 * ld_set_output_shape), whose element count fits size_t. */
size_t ld_dims_product(const ld_shape *s, int from, int to);

/* The common start of a data-movement prepare: n_in in [min_in, max_in],
 * one output, input 0 of a type that can be moved element by element
 * (anything but string) and equal to the output's. Sets *esize (may be
 * NULL) to the element byte size. */
leandet_status ld_prepare_move(ld_op_ctx *c, int min_in, int max_in, size_t *esize);

static inline int ld_is_q8(ld_dtype t)
{
    return t == LEANDET_UINT8 || t == LEANDET_INT8;
}

/* Validate a computed shape (rank <= LD_MAX_DIMS, dims >= 0, element count
 * times out[i]'s element size representable) and make it out[i]'s shape. */
leandet_status ld_set_output_shape(ld_op_ctx *c, int i, const ld_shape *s);

/* Row-major element strides of s (stride[rank-1] == 1). */
void ld_shape_strides(const ld_shape *s, ptrdiff_t *stride);

/* Copy a box of count[0] x ... x count[rank-1] elements of `esize` bytes:
 * the element at multi-index i moves from src + sum(i_k * src_stride[k])
 * elements to dst + sum(i_k * dst_stride[k]). Strides are in elements and
 * may be negative (reversed slices); rank <= LD_MAX_DIMS (0 copies one
 * element). The caller guarantees every addressed element is in bounds. */
void ld_copy_nd(void *dst, const ptrdiff_t *dst_stride, const void *src, const ptrdiff_t *src_stride,
                const int32_t *count, int rank, size_t esize);

/* Write the `esize`-byte pattern `value` into n consecutive elements. */
void ld_fill_elems(void *dst, size_t n, const void *value, size_t esize);

#endif

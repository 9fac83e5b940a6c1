/* TRANSPOSE up to 6-D with a constant permutation: output dim i is input dim
 * perm[i], so the copy walks the output in order with the input's strides
 * permuted. */
#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

/* Read and validate the permutation (constant input 1). */
static leandet_status read_perm(ld_op_ctx *c, int32_t *perm)
{
    int rank = c->in[0]->shape.rank, n;
    leandet_status st = ld_const_ints(c, 1, perm, LD_MAX_DIMS, &n);
    if (st != LEANDET_OK)
        return st;
    if (n != rank)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "perm has %d entries, input has rank %d", n, rank);
    int seen[LD_MAX_DIMS] = { 0 };
    for (int i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]])
            return ld_op_fail(c, LEANDET_ERR_MODEL, "perm[%d] = %d is not a permutation of 0..%d", i, (int)perm[i],
                              rank - 1);
        seen[perm[i]] = 1;
    }
    return LEANDET_OK;
}

static leandet_status transpose_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 2, 2, NULL);
    if (st != LEANDET_OK)
        return st;
    const ld_shape *in = &c->in[0]->shape;
    if (in->rank > LD_MAX_DIMS)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input rank %d exceeds %d", in->rank, LD_MAX_DIMS);
    int32_t perm[LD_MAX_DIMS];
    if ((st = read_perm(c, perm)) != LEANDET_OK)
        return st;
    ld_shape s = { .rank = in->rank };
    for (int i = 0; i < in->rank; i++)
        s.d[i] = in->d[perm[i]];
    return ld_set_output_shape(c, 0, &s);
}

static leandet_status transpose_eval(ld_op_ctx *c)
{
    const ld_tensor *in = c->in[0];
    ld_tensor *out = c->out[0];
    int32_t perm[LD_MAX_DIMS];
    leandet_status st = read_perm(c, perm);
    if (st != LEANDET_OK)
        return st;
    ptrdiff_t in_stride[LD_MAX_DIMS], src_stride[LD_MAX_DIMS], dst_stride[LD_MAX_DIMS];
    ld_shape_strides(&in->shape, in_stride);
    ld_shape_strides(&out->shape, dst_stride);
    for (int i = 0; i < out->shape.rank; i++)
        src_stride[i] = in_stride[perm[i]];
    ld_copy_nd(out->data, dst_stride, in->data, src_stride, out->shape.d, out->shape.rank,
               leandet_dtype_size(out->type));
    return LEANDET_OK;
}

const ld_kernel ld_ref_transpose[] = {
    { LD_OP_TRANSPOSE, NULL, transpose_prepare, transpose_eval },
    LD_KERNEL_TABLE_END,
};

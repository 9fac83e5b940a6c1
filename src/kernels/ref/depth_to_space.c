/* DEPTH_TO_SPACE (NHWC, TFLite's DCR order): output pixel (h*bs + by,
 * w*bs + bx) channel d comes from input pixel (h, w) channel
 * (by*bs + bx) * out_depth + d. Seen as 6-D, the input [B,H,W,bs,bs,D]
 * becomes the output [B,H,bs,W,bs,D]: one strided copy. */
#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

static leandet_status d2s_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 1, 1, NULL);
    if (st == LEANDET_OK)
        st = ld_check_rank(c, c->in[0], "input 0", 4);
    if (st != LEANDET_OK)
        return st;
    const ld_shape *in = &c->in[0]->shape;
    int64_t bs = c->op->params.depth_to_space.block_size;
    if (bs < 1 || bs > 65535)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "block_size %lld is out of range 1..65535", (long long)bs);
    if (in->d[3] % (bs * bs) != 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "depth %d is not a multiple of block_size^2 = %lld", (int)in->d[3],
                          (long long)(bs * bs));
    int64_t h = in->d[1] * bs, w = in->d[2] * bs;
    if (h > INT32_MAX || w > INT32_MAX)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "output would be %lld x %lld", (long long)h, (long long)w);
    ld_shape s = { 4, { in->d[0], (int32_t)h, (int32_t)w, (int32_t)(in->d[3] / (bs * bs)) } };
    return ld_set_output_shape(c, 0, &s);
}

static leandet_status d2s_eval(ld_op_ctx *c)
{
    const ld_shape *in = &c->in[0]->shape;
    int32_t bs = (int32_t)c->op->params.depth_to_space.block_size, od = c->out[0]->shape.d[3];
    ld_shape src6 = { 6, { in->d[0], in->d[1], in->d[2], bs, bs, od } };
    ld_shape box = { 6, { in->d[0], in->d[1], bs, in->d[2], bs, od } };
    ptrdiff_t s6[6], src_stride[6], dst_stride[6];
    ld_shape_strides(&src6, s6);
    ld_shape_strides(&box, dst_stride);
    /* box dims (B, H, by, W, bx, D) walk source dims (0, 1, 3, 2, 4, 5) */
    static const int from[6] = { 0, 1, 3, 2, 4, 5 };
    for (int k = 0; k < 6; k++)
        src_stride[k] = s6[from[k]];
    ld_copy_nd(c->out[0]->data, dst_stride, c->in[0]->data, src_stride, box.d, 6,
               leandet_dtype_size(c->out[0]->type));
    return LEANDET_OK;
}

const ld_kernel ld_ref_depth_to_space[] = {
    { LD_OP_DEPTH_TO_SPACE, NULL, d2s_prepare, d2s_eval },
    LD_KERNEL_TABLE_END,
};

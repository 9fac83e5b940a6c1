/* PAD and PADV2 with constant paddings ([rank, 2], non-negative). The pad
 * value is PADV2's constant_values element when given, else the output zero
 * point for uint8/int8 (TFLite's "zero" of a quantized tensor; 0 when the
 * tensor has no quantization), else 0. The output is filled with it, then
 * the input is copied into the interior. */
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

static leandet_status read_paddings(ld_op_ctx *c, int32_t *pad)
{
    const ld_tensor *p = c->in[1];
    int rank = c->in[0]->shape.rank, n;
    if (p->shape.rank != 2 || p->shape.d[0] != rank || p->shape.d[1] != 2)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "paddings must have shape [%d, 2]", rank);
    leandet_status st = ld_const_ints(c, 1, pad, 2 * LD_MAX_DIMS, &n);
    if (st != LEANDET_OK)
        return st;
    for (int i = 0; i < n; i++)
        if (pad[i] < 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "padding of dim %d is %d (negative)", i / 2, (int)pad[i]);
    return LEANDET_OK;
}

static const ld_tensor *constant_values(const ld_op_ctx *c)
{
    return c->n_in > 2 ? c->in[2] : NULL;
}

static leandet_status pad_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 2, 3, NULL);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0], *cv = constant_values(c);
    if (in->shape.rank > LD_MAX_DIMS)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input rank %d exceeds %d", in->shape.rank, LD_MAX_DIMS);
    if (cv) {
        if ((st = ld_check_same_type(c, cv, in, "constant_values and input 0")) != LEANDET_OK)
            return st;
        if (ld_shape_count(&cv->shape) != 1)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "constant_values must hold one element, has %zu",
                              ld_shape_count(&cv->shape));
    }
    int32_t pad[2 * LD_MAX_DIMS];
    if ((st = read_paddings(c, pad)) != LEANDET_OK)
        return st;
    ld_shape s = in->shape;
    for (int k = 0; k < s.rank; k++) {
        int64_t d = (int64_t)s.d[k] + pad[2 * k] + pad[2 * k + 1];
        if (d > INT32_MAX)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "padded dim %d would be %lld", k, (long long)d);
        s.d[k] = (int32_t)d;
    }
    return ld_set_output_shape(c, 0, &s);
}

static leandet_status pad_eval(ld_op_ctx *c)
{
    const ld_tensor *in = c->in[0], *cv = constant_values(c);
    ld_tensor *out = c->out[0];
    size_t es = leandet_dtype_size(out->type);
    int32_t pad[2 * LD_MAX_DIMS];
    leandet_status st = read_paddings(c, pad);
    if (st != LEANDET_OK)
        return st;

    unsigned char value[8] = { 0 }; /* all-zero bytes are 0 / 0.0f in every supported type */
    int32_t zp = out->quant && out->quant->count > 0 ? out->quant->zero_point[0] : 0;
    if (cv) {
        memcpy(value, cv->data, es);
    } else if (out->type == LEANDET_UINT8) {
        value[0] = (unsigned char)(uint8_t)zp;
    } else if (out->type == LEANDET_INT8) {
        int8_t z = (int8_t)zp;
        memcpy(value, &z, 1);
    }
    ld_fill_elems(out->data, ld_shape_count(&out->shape), value, es);

    int rank = in->shape.rank;
    ptrdiff_t in_stride[LD_MAX_DIMS], out_stride[LD_MAX_DIMS], base = 0;
    ld_shape_strides(&in->shape, in_stride);
    ld_shape_strides(&out->shape, out_stride);
    for (int k = 0; k < rank; k++) {
        if (in->shape.d[k] == 0)
            return LEANDET_OK;
        base += out_stride[k] * pad[2 * k];
    }
    ld_copy_nd((unsigned char *)out->data + base * (ptrdiff_t)es, out_stride, in->data, in_stride, in->shape.d, rank,
               es);
    return LEANDET_OK;
}

const ld_kernel ld_ref_pad[] = {
    { LD_OP_PAD, NULL, pad_prepare, pad_eval },
    { LD_OP_PADV2, NULL, pad_prepare, pad_eval },
    LD_KERNEL_TABLE_END,
};

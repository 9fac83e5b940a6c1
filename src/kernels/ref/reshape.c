/* RESHAPE and SQUEEZE: same bytes, new shape. Eval is one copy (skipped when
 * the planner let the output share the input's bytes). */
#include <stdint.h>
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

/* a * b, saturating at UINT64_MAX: every real element count is below 2^63,
 * so a saturated product can never pass the equality check below. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* The requested shape, in TFLite's order of preference: a 1-D int vector
 * input 1, then the new_shape option, then (no option at all) the shape the
 * model declares for the output. */
static leandet_status requested_shape(ld_op_ctx *c, ld_shape *s)
{
    const ld_tensor *shp = c->n_in > 1 ? c->in[1] : NULL;
    const ld_reshape_params *p = &c->op->params.reshape;
    if (shp && shp->shape.rank == 1 && (shp->type == LEANDET_INT32 || shp->type == LEANDET_INT64)) {
        if (shp->shape.d[0] > LD_MAX_DIMS)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "new shape has %d dims, at most %d supported",
                              (int)shp->shape.d[0], LD_MAX_DIMS);
        return ld_const_ints(c, 1, s->d, LD_MAX_DIMS, &s->rank);
    }
    if (p->n >= 0) {
        if (p->n > LD_MAX_DIMS)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "new_shape has %d dims, at most %d supported", p->n,
                              LD_MAX_DIMS);
        s->rank = p->n;
        memcpy(s->d, p->shape, sizeof s->d);
        if (s->rank == 1 && s->d[0] == 0) /* legacy converters wrote [0] for a scalar */
            s->rank = 0;
        return LEANDET_OK;
    }
    *s = c->out[0]->desc ? c->out[0]->desc->shape : c->out[0]->shape;
    return LEANDET_OK;
}

static leandet_status reshape_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 1, 2, NULL);
    ld_shape s = { 0 };
    if (st == LEANDET_OK)
        st = requested_shape(c, &s);
    if (st != LEANDET_OK)
        return st;

    const ld_tensor *in = c->in[0];
    uint64_t in_n = 1, in_nz = 1, out_n = 1, out_nz = 1;
    for (int k = 0; k < in->shape.rank; k++) {
        in_n *= (uint64_t)in->shape.d[k];
        in_nz *= in->shape.d[k] ? (uint64_t)in->shape.d[k] : 1;
    }
    int stretch = -1;
    for (int k = 0; k < s.rank; k++) {
        if (s.d[k] == -1) {
            if (stretch >= 0)
                return ld_op_fail(c, LEANDET_ERR_MODEL, "new shape has more than one -1 (dims %d and %d)", stretch, k);
            stretch = k;
            continue;
        }
        if (s.d[k] < 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "new shape dim %d is %d", k, (int)s.d[k]);
        out_n = mul_sat(out_n, (uint64_t)s.d[k]);
        out_nz = mul_sat(out_nz, s.d[k] ? (uint64_t)s.d[k] : 1);
    }
    if (stretch >= 0) {
        /* Same inference as TFLite: zeros are left out of both products. */
        uint64_t v = in_n == 0 && out_n != 0 ? 0 : in_nz / out_nz;
        if (v > INT32_MAX)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "inferred dim %d would be %llu", stretch, (unsigned long long)v);
        s.d[stretch] = (int32_t)v;
        out_n = mul_sat(out_n, v);
    }
    if (out_n != in_n)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "cannot reshape %llu elements into a shape of %llu elements",
                          (unsigned long long)in_n, (unsigned long long)out_n);
    return ld_set_output_shape(c, 0, &s);
}

static leandet_status squeeze_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 1, 1, NULL);
    if (st != LEANDET_OK)
        return st;
    const ld_shape *in = &c->in[0]->shape;
    const ld_squeeze_params *p = &c->op->params.squeeze;
    int drop[LD_MAX_DIMS] = { 0 };
    if (p->n < 0 || p->n > LD_MAX_DIMS)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "squeeze_dims has %d entries", p->n);
    for (int k = 0; k < in->rank; k++)
        drop[k] = p->n == 0 && in->d[k] == 1;
    for (int i = 0; i < p->n; i++) {
        int a = ld_axis_norm(p->dims[i], in->rank);
        if (a < 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "squeeze dim %d is out of range for rank %d", (int)p->dims[i],
                              in->rank);
        if (in->d[a] != 1)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "cannot squeeze dim %d of size %d", a, (int)in->d[a]);
        drop[a] = 1;
    }
    ld_shape s = { 0 };
    for (int k = 0; k < in->rank; k++)
        if (!drop[k])
            s.d[s.rank++] = in->d[k];
    return ld_set_output_shape(c, 0, &s);
}

static leandet_status copy_eval(ld_op_ctx *c)
{
    const ld_tensor *in = c->in[0];
    ld_tensor *out = c->out[0];
    size_t bytes = ld_shape_count(&out->shape) * leandet_dtype_size(out->type);
    if (out->data != in->data && bytes)
        memmove(out->data, in->data, bytes);
    return LEANDET_OK;
}

const ld_kernel ld_ref_reshape[] = {
    { LD_OP_RESHAPE, NULL, reshape_prepare, copy_eval },
    { LD_OP_SQUEEZE, NULL, squeeze_prepare, copy_eval },
    LD_KERNEL_TABLE_END,
};

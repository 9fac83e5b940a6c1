/* CONCATENATION along any axis. Bytes are copied, except 8-bit inputs whose
 * scale or zero point differ from the output's: those are requantized with
 * the float arithmetic of TFLite's reference ConcatenationWithScaling, so the
 * result is bit-exact with it (TFLite only takes that path for uint8; int8
 * uses the same formula here). A fused RELU/RELU6/RELU_N1_TO_1, which
 * TFLite's kernel refuses, clamps the result. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

static leandet_status concat_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 1, INT_MAX, NULL);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *t0 = c->in[0];
    ld_tensor *out = c->out[0];

    const ld_concat_params *p = &c->op->params.concat;
    if (p->act != LD_ACT_NONE && p->act != LD_ACT_RELU && p->act != LD_ACT_RELU6 && p->act != LD_ACT_RELU_N1_TO_1)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "fused activation %d is not supported", (int)p->act);
    if (p->act != LD_ACT_NONE && t0->type != LEANDET_FLOAT32 && !ld_is_q8(t0->type))
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "fused activation on %s is not supported",
                          leandet_dtype_name(t0->type));

    /* Scalars concatenate into a vector, as in TFLite. */
    int rank = t0->shape.rank;
    int axis = rank == 0 && p->axis == 0 ? 0 : ld_axis_norm(p->axis, rank);
    if (axis < 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "axis %d is out of range for rank %d", p->axis, rank);

    ld_shape s = t0->shape;
    int64_t sum = 0;
    for (int i = 0; i < c->n_in; i++) {
        const ld_tensor *t = c->in[i];
        if (!t)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d is missing", i);
        if ((st = ld_check_same_type(c, t, t0, "inputs")) != LEANDET_OK)
            return st;
        if (t->shape.rank != rank)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d has rank %d, input 0 has rank %d", i, t->shape.rank, rank);
        for (int k = 0; k < rank; k++)
            if (k != axis && t->shape.d[k] != t0->shape.d[k])
                return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d dim %d is %d, input 0 has %d", i, k,
                                  (int)t->shape.d[k], (int)t0->shape.d[k]);
        sum += rank ? t->shape.d[axis] : 1;
        if (ld_is_q8(t->type) && (st = ld_check_quantized(c, t, "input")) != LEANDET_OK)
            return st;
    }
    if (sum > INT32_MAX)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "concatenated dim would be %lld", (long long)sum);
    if (ld_is_q8(out->type) && (st = ld_check_quantized(c, out, "output")) != LEANDET_OK)
        return st;
    if (rank == 0)
        s.rank = 1;
    s.d[axis] = (int32_t)sum;
    return ld_set_output_shape(c, 0, &s);
}

/* float -> int32 with roundf, saturating instead of overflowing (the
 * saturated values end up clamped to the 8-bit range anyway). */
static int32_t round_sat(float v)
{
    if (!(v > -2147483648.0f))
        return INT32_MIN;
    if (v >= 2147483648.0f)
        return INT32_MAX;
    return (int32_t)roundf(v);
}

/* TFLite: scale = in_scale * (1 / out_scale), bias = -in_zp * scale, and
 * q = round(x * scale + bias) + out_zp, all in float. */
static void requant8(const ld_tensor *in, const ld_tensor *out, const void *src, void *dst, size_t n)
{
    float scale = in->quant->scale[0] * (1.0f / out->quant->scale[0]);
    float bias = (float)-(int64_t)in->quant->zero_point[0] * scale;
    int64_t ozp = out->quant->zero_point[0];
    int32_t lo, hi;
    ld_type_range(out->type, &lo, &hi);
    for (size_t j = 0; j < n; j++) {
        int32_t x = in->type == LEANDET_UINT8 ? ((const uint8_t *)src)[j] : ((const int8_t *)src)[j];
        int64_t v = (int64_t)round_sat((float)x * scale + bias) + ozp;
        int32_t q = (int32_t)(v < lo ? lo : (v > hi ? hi : v));
        if (out->type == LEANDET_UINT8)
            ((uint8_t *)dst)[j] = (uint8_t)q;
        else
            ((int8_t *)dst)[j] = (int8_t)q;
    }
}

static int same_quant(const ld_tensor *a, const ld_tensor *b)
{
    return a->quant->scale[0] == b->quant->scale[0] && a->quant->zero_point[0] == b->quant->zero_point[0];
}

static void apply_activation(const ld_tensor *out, ld_activation act, size_t n)
{
    if (out->type == LEANDET_FLOAT32) {
        float lo, hi, *o = out->data;
        ld_act_range_float(act, &lo, &hi);
        for (size_t j = 0; j < n; j++)
            o[j] = ld_clampf(o[j], lo, hi);
        return;
    }
    int32_t qmin, qmax, lo, hi;
    ld_type_range(out->type, &qmin, &qmax);
    ld_act_range_quant(act, out->quant->scale[0], out->quant->zero_point[0], qmin, qmax, &lo, &hi);
    for (size_t j = 0; j < n; j++) {
        if (out->type == LEANDET_UINT8) {
            uint8_t *o = out->data;
            o[j] = (uint8_t)ld_clampi(o[j], lo, hi);
        } else {
            int8_t *o = out->data;
            o[j] = (int8_t)ld_clampi(o[j], lo, hi);
        }
    }
}

static leandet_status concat_eval(ld_op_ctx *c)
{
    ld_tensor *out = c->out[0];
    size_t es = leandet_dtype_size(out->type);
    int rank = out->shape.rank;
    int axis = c->in[0]->shape.rank == 0 ? 0 : ld_axis_norm(c->op->params.concat.axis, rank);
    size_t outer = ld_dims_product(&out->shape, 0, axis);
    size_t inner = ld_dims_product(&out->shape, axis + 1, rank);
    int q8 = ld_is_q8(out->type);
    unsigned char *dst = out->data;
    for (size_t k = 0; k < outer; k++) {
        for (int i = 0; i < c->n_in; i++) {
            const ld_tensor *in = c->in[i];
            size_t n = (in->shape.rank ? (size_t)in->shape.d[axis] : 1) * inner;
            const unsigned char *src = (const unsigned char *)in->data + k * n * es;
            if (q8 && !same_quant(in, out))
                requant8(in, out, src, dst, n);
            else if (n)
                memcpy(dst, src, n * es);
            dst += n * es;
        }
    }
    if (c->op->params.concat.act != LD_ACT_NONE)
        apply_activation(out, c->op->params.concat.act, ld_shape_count(&out->shape));
    return LEANDET_OK;
}

const ld_kernel ld_ref_concat[] = {
    { LD_OP_CONCATENATION, NULL, concat_prepare, concat_eval },
    LD_KERNEL_TABLE_END,
};

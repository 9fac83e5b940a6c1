/* MEAN over constant axes, as TFLite's reference path computes it:
 *  - inputs are summed in input order into one accumulator per output
 *    (float for float32, int64 for int32/int64, wrapping int32 for 8-bit);
 *  - float32/int32/int64: sum / count (integer division truncates);
 *  - uint8/int8 (reference_ops::QuantizedMeanOrSum): the multiplier of
 *    in_scale / out_scale absorbs 1/count as (m << s) / count with
 *    s = min(floor(log2 count), 32, 31 + shift), then
 *    out = MultiplyByQuantizedMultiplier(sum - in_zp * count) + out_zp.
 * The accumulators live in scratch. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

#define AXES_MAX 64 /* entries of the axis tensor (duplicates allowed) */

static size_t acc_size(ld_dtype t)
{
    return t == LEANDET_FLOAT32 || ld_is_q8(t) ? 4 : 8;
}

/* reduced[k] = 1 for each input dim named by the (constant) axis input. */
static leandet_status read_axes(ld_op_ctx *c, int *reduced)
{
    int32_t axes[AXES_MAX];
    int n, rank = c->in[0]->shape.rank;
    leandet_status st = ld_const_ints(c, 1, axes, AXES_MAX, &n);
    if (st != LEANDET_OK)
        return st;
    memset(reduced, 0, sizeof(int) * LD_MAX_DIMS);
    if (rank == 0) /* a scalar's mean is itself; TFLite ignores the axes */
        return LEANDET_OK;
    for (int i = 0; i < n; i++) {
        int a = ld_axis_norm(axes[i], rank);
        if (a < 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "axis %d is out of range for rank %d", (int)axes[i], rank);
        reduced[a] = 1;
    }
    return LEANDET_OK;
}

static leandet_status mean_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 2, 2, 1);
    if (st != LEANDET_OK)
        return st;
    const ld_tensor *in = c->in[0];
    ld_tensor *out = c->out[0];
    if (in->type != LEANDET_FLOAT32 && in->type != LEANDET_INT32 && in->type != LEANDET_INT64 && !ld_is_q8(in->type))
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input is %s, expected float32/int32/int64/uint8/int8",
                          leandet_dtype_name(in->type));
    if ((st = ld_check_same_type(c, in, out, "input 0 and output 0")) != LEANDET_OK ||
        (st = ld_check_quantized(c, in, "input")) != LEANDET_OK ||
        (st = ld_check_quantized(c, out, "output")) != LEANDET_OK)
        return st;
    if (in->shape.rank > LD_MAX_DIMS)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input rank %d exceeds %d", in->shape.rank, LD_MAX_DIMS);
    int reduced[LD_MAX_DIMS];
    if ((st = read_axes(c, reduced)) != LEANDET_OK)
        return st;
    ld_shape s = { 0 };
    for (int k = 0; k < in->shape.rank; k++) {
        if (!reduced[k])
            s.d[s.rank++] = in->shape.d[k];
        else if (c->op->params.reducer.keep_dims)
            s.d[s.rank++] = 1;
    }
    if ((st = ld_set_output_shape(c, 0, &s)) != LEANDET_OK)
        return st;
    c->scratch_bytes = ld_shape_count(&s) * acc_size(in->type);
    return LEANDET_OK;
}

/* Walks the input in order and tracks the matching output index: output
 * strides are those of the keep_dims shape, with 0 on reduced dims. */
typedef struct out_iter {
    int32_t idx[LD_MAX_DIMS];
    size_t o;
} out_iter;

static void out_iter_next(out_iter *it, const ld_shape *s, const ptrdiff_t *ostride)
{
    for (int k = s->rank - 1; k >= 0; k--) {
        if (++it->idx[k] < s->d[k]) {
            it->o += (size_t)ostride[k];
            return;
        }
        it->o -= (size_t)ostride[k] * (size_t)(s->d[k] - 1);
        it->idx[k] = 0;
    }
}

static int64_t wrap_add64(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int32_t wrap_add32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* TFLite reduces 1/count into the output multiplier (QuantizedMeanOrSum). */
static void mean_multiplier(const ld_tensor *in, const ld_tensor *out, int64_t count, int32_t *mult, int *shift)
{
    ld_quantize_multiplier((double)in->quant->scale[0] / (double)out->quant->scale[0], mult, shift);
    int s = 0;
    while (s < 63 && ((uint64_t)count >> (s + 1)) != 0)
        s++;
    if (s > 32)
        s = 32;
    if (s > 31 + *shift)
        s = 31 + *shift;
    *mult = (int32_t)(((int64_t)*mult << s) / count);
    *shift -= s;
}

static leandet_status mean_eval(ld_op_ctx *c)
{
    const ld_tensor *in = c->in[0];
    ld_tensor *out = c->out[0];
    int reduced[LD_MAX_DIMS];
    leandet_status st = read_axes(c, reduced);
    if (st != LEANDET_OK)
        return st;
    const ld_shape *is = &in->shape;
    size_t n_out = ld_shape_count(&out->shape), n_in = ld_shape_count(is);
    if (n_in == 0) { /* TFLite's empty-input result: NaN, or 0 for integer types */
        if (out->type == LEANDET_FLOAT32) {
            for (size_t j = 0; j < n_out; j++)
                ((float *)out->data)[j] = NAN;
        } else if (n_out) {
            memset(out->data, 0, n_out * leandet_dtype_size(out->type));
        }
        return LEANDET_OK;
    }
    ld_shape kept = *is;
    int64_t count = 1;
    for (int k = 0; k < is->rank; k++)
        if (reduced[k]) {
            kept.d[k] = 1;
            count *= is->d[k];
        }
    ptrdiff_t ostride[LD_MAX_DIMS];
    ld_shape_strides(&kept, ostride);
    for (int k = 0; k < is->rank; k++)
        if (reduced[k])
            ostride[k] = 0;
    memset(c->scratch, 0, n_out * acc_size(in->type));
    out_iter it = { { 0 }, 0 };

    switch (in->type) {
    case LEANDET_FLOAT32: {
        float *acc = c->scratch, *o = out->data;
        const float *x = in->data;
        for (size_t i = 0; i < n_in; i++, out_iter_next(&it, is, ostride))
            acc[it.o] += x[i];
        for (size_t j = 0; j < n_out; j++)
            o[j] = acc[j] / (float)count;
        break;
    }
    case LEANDET_INT32: {
        int64_t *acc = c->scratch;
        const int32_t *x = in->data;
        for (size_t i = 0; i < n_in; i++, out_iter_next(&it, is, ostride))
            acc[it.o] = wrap_add64(acc[it.o], x[i]);
        for (size_t j = 0; j < n_out; j++)
            ((int32_t *)out->data)[j] = (int32_t)(acc[j] / count);
        break;
    }
    case LEANDET_INT64: {
        int64_t *acc = c->scratch;
        const int64_t *x = in->data;
        for (size_t i = 0; i < n_in; i++, out_iter_next(&it, is, ostride))
            acc[it.o] = wrap_add64(acc[it.o], x[i]);
        for (size_t j = 0; j < n_out; j++)
            ((int64_t *)out->data)[j] = acc[j] / count;
        break;
    }
    default: { /* uint8 / int8 */
        int32_t *acc = c->scratch;
        if (in->type == LEANDET_UINT8) {
            const uint8_t *x = in->data;
            for (size_t i = 0; i < n_in; i++, out_iter_next(&it, is, ostride))
                acc[it.o] = wrap_add32(acc[it.o], x[i]);
        } else {
            const int8_t *x = in->data;
            for (size_t i = 0; i < n_in; i++, out_iter_next(&it, is, ostride))
                acc[it.o] = wrap_add32(acc[it.o], x[i]);
        }
        int32_t mult, lo, hi;
        int shift;
        mean_multiplier(in, out, count, &mult, &shift);
        ld_type_range(out->type, &lo, &hi);
        int64_t zp_sum = (int64_t)in->quant->zero_point[0] * count;
        for (size_t j = 0; j < n_out; j++) {
            int32_t shifted = (int32_t)(uint32_t)((uint64_t)(int64_t)acc[j] - (uint64_t)zp_sum);
            int64_t v = (int64_t)ld_mul_by_quantized_multiplier(shifted, mult, shift) + out->quant->zero_point[0];
            int32_t q = (int32_t)(v < lo ? lo : (v > hi ? hi : v));
            if (out->type == LEANDET_UINT8)
                ((uint8_t *)out->data)[j] = (uint8_t)q;
            else
                ((int8_t *)out->data)[j] = (int8_t)q;
        }
        break;
    }
    }
    return LEANDET_OK;
}

const ld_kernel ld_ref_mean[] = {
    { LD_OP_MEAN, NULL, mean_prepare, mean_eval },
    LD_KERNEL_TABLE_END,
};

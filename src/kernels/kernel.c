#include "kernels/kernel.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

leandet_status ld_op_fail(ld_op_ctx *c, leandet_status st, const char *fmt, ...)
{
    if (c->err) {
        char name[32];
        const char *n = c->op->builtin == LD_OP_CUSTOM && c->op->custom_name
                            ? c->op->custom_name
                            : ld_op_name(c->op->builtin, name, sizeof name);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
        va_end(ap);
        ld_fail_prefix(c->err, st, "op %d %s: ", c->index, n);
    }
    return st;
}

leandet_status ld_check_io(ld_op_ctx *c, int min_in, int max_in, int n_out)
{
    if (c->n_in < min_in || c->n_in > max_in)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "has %d inputs, expected %d..%d", c->n_in, min_in, max_in);
    if (c->n_out != n_out)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "has %d outputs, expected %d", c->n_out, n_out);
    for (int i = 0; i < min_in; i++)
        if (!c->in[i])
            return ld_op_fail(c, LEANDET_ERR_MODEL, "required input %d is missing", i);
    return LEANDET_OK;
}

leandet_status ld_check_rank(ld_op_ctx *c, const ld_tensor *t, const char *what, int rank)
{
    if (t->shape.rank != rank)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s' has rank %d, expected %d", what,
                          t->desc ? t->desc->name : "", t->shape.rank, rank);
    return LEANDET_OK;
}

leandet_status ld_check_same_type(ld_op_ctx *c, const ld_tensor *a, const ld_tensor *b, const char *what)
{
    if (a->type != b->type)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s: types differ (%s vs %s)", what,
                          leandet_dtype_name(a->type), leandet_dtype_name(b->type));
    return LEANDET_OK;
}

leandet_status ld_check_quantized(ld_op_ctx *c, const ld_tensor *t, const char *what)
{
    if (t->type != LEANDET_UINT8 && t->type != LEANDET_INT8)
        return LEANDET_OK;
    if (!t->quant || t->quant->count < 1 || !(t->quant->scale[0] > 0.0f))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%s '%s' is %s without a positive quantization scale", what,
                          t->desc ? t->desc->name : "", leandet_dtype_name(t->type));
    return LEANDET_OK;
}

leandet_status ld_const_ints(ld_op_ctx *c, int i, int32_t *dst, int max, int *n)
{
    const ld_tensor *t = i < c->n_in ? c->in[i] : NULL;
    if (!t)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d is missing", i);
    if (!t->is_const || !t->data)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input %d '%s' must be constant (dynamic shapes are not supported)",
                          i, t->desc ? t->desc->name : "");
    size_t count = ld_shape_count(&t->shape);
    if (count > (size_t)max)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d has %zu values, at most %d allowed", i, count, max);
    for (size_t k = 0; k < count; k++) {
        if (t->type == LEANDET_INT32) {
            dst[k] = ((const int32_t *)t->data)[k];
        } else if (t->type == LEANDET_INT64) {
            int64_t v = ((const int64_t *)t->data)[k];
            if (v < INT32_MIN || v > INT32_MAX)
                return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d value %lld out of range", i, (long long)v);
            dst[k] = (int32_t)v;
        } else {
            return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d is %s, expected int32/int64", i,
                              leandet_dtype_name(t->type));
        }
    }
    *n = (int)count;
    return LEANDET_OK;
}

/* uint8/int8 CONCATENATION whose inputs need requantizing (or a fused
 * activation), byte-exact with the reference: an input's output byte
 * depends on its own byte alone, so each input gets a 256-entry table read
 * out of the reference kernel itself (the reference run on the 256 byte
 * values as a one-input concatenation), and eval is one lookup per byte
 * where the reference does float arithmetic and roundf. Inputs whose table
 * is the identity are copied. (SSD MobileNet: the class predictions, 1917 x
 * 91 bytes from six scales, were 4.5% of an invoke.) */
#include <string.h>

#include "kernels/ref/shape_util.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"

typedef struct concat8 {
    int n, axis;
    int copy[LD_CONCAT8_MAX_INPUTS];            /* table is the identity */
    uint8_t lut[LD_CONCAT8_MAX_INPUTS][256];
} concat8;

static int per_tensor(const ld_tensor *t, ld_dtype type)
{
    return t && t->type == type && t->quant && t->quant->count == 1;
}

int ld_concat8_accepts(const ld_op_ctx *c)
{
    const ld_tensor *out = c->out[0];
    if (c->n_out != 1 || c->n_in < 1 || c->n_in > LD_CONCAT8_MAX_INPUTS || !ld_is_q8(out->type) ||
        !per_tensor(out, out->type))
        return 0;
    int needs = c->op->params.concat.act != LD_ACT_NONE;
    for (int i = 0; i < c->n_in; i++) {
        /* outputs are not shaped yet: the inputs' common rank decides */
        if (!per_tensor(c->in[i], out->type) || c->in[i]->is_const || c->in[i]->shape.rank < 1 ||
            c->in[i]->shape.rank != c->in[0]->shape.rank)
            return 0;
        needs |= c->in[i]->quant->scale[0] != out->quant->scale[0] ||
                 c->in[i]->quant->zero_point[0] != out->quant->zero_point[0];
    }
    return needs; /* otherwise the reference is already all memcpy */
}

leandet_status ld_concat8_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* checks, output shape */
    if (st != LEANDET_OK)
        return st;
    const int rank = c->out[0]->shape.rank;
    concat8 *s = ld_malloc(c->alloc, sizeof *s);
    if (!s)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "out of memory for the requantization tables");
    c->state = s;
    s->n = c->n_in;
    s->axis = ld_axis_norm(c->op->params.concat.axis, rank);
    for (int i = 0; i < s->n; i++) {
        if ((st = ld_ew8_probe_input(c, i, rank, s->axis, s->lut[i])) != LEANDET_OK)
            return st;
        s->copy[i] = 1;
        for (int b = 0; b < 256; b++)
            s->copy[i] &= s->lut[i][b] == b;
    }
    return LEANDET_OK;
}

leandet_status ld_concat8_eval(ld_op_ctx *c)
{
    const concat8 *s = c->state;
    const ld_tensor *out = c->out[0];
    const size_t outer = ld_dims_product(&out->shape, 0, s->axis);
    const size_t inner = ld_dims_product(&out->shape, s->axis + 1, out->shape.rank);
    uint8_t *dst = out->data;
    for (size_t k = 0; k < outer; k++) {
        for (int i = 0; i < s->n; i++) {
            const size_t n = (size_t)c->in[i]->shape.d[s->axis] * inner;
            const uint8_t *src = (const uint8_t *)c->in[i]->data + k * n;
            if (s->copy[i]) {
                if (n)
                    memcpy(dst, src, n);
            } else {
                const uint8_t *lut = s->lut[i];
                for (size_t j = 0; j < n; j++)
                    dst[j] = lut[src[j]];
            }
            dst += n;
        }
    }
    return LEANDET_OK;
}

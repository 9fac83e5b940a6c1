/* CONCATENATION, byte-exact with the reference, in two kinds:
 * - 8-bit inputs that need requantizing (or a fused activation): an
 *   input's output byte depends on its own byte alone, so each input gets a
 *   256-entry table read out of the reference kernel itself (the reference
 *   run on the 256 byte values as a one-input concatenation), and eval is
 *   one lookup per byte where the reference does float arithmetic and
 *   roundf. Inputs whose table is the identity are copied. (SSD MobileNet:
 *   the class predictions, 1917 x 91 bytes from six scales, were 4.5% of an
 *   invoke.)
 * - plain copies, any element type: the reference's one memcpy per input
 *   and outer index costs a call per 16-64 bytes on channel concatenations
 *   (yolov8n: 25600 rows of three 16-byte pieces), so short pieces are
 *   copied inline, and the outer rows are split over the pool. */
#include <string.h>

#include "kernels/ref/shape_util.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"

typedef struct concat8 {
    int n, axis;
    size_t es;                                  /* element size */
    int copy[LD_CONCAT8_MAX_INPUTS];            /* table is the identity (always, when not 8-bit) */
    uint8_t lut[LD_CONCAT8_MAX_INPUTS][256];
} concat8;

static int per_tensor(const ld_tensor *t, ld_dtype type)
{
    return t && t->type == type && t->quant && t->quant->count == 1;
}

/* Every input has the output's type and the inputs' common rank (outputs
 * are not shaped yet); 8-bit ones are quantized per tensor. */
static int same_kind(const ld_op_ctx *c, int q8)
{
    for (int i = 0; i < c->n_in; i++) {
        const ld_tensor *t = c->in[i];
        if (!t || t->type != c->out[0]->type || (q8 && !per_tensor(t, t->type)) || (!q8 && t->quant && t->quant->count) ||
            t->is_const || t->shape.rank < 1 || t->shape.rank != c->in[0]->shape.rank)
            return 0;
    }
    return 1;
}

int ld_concat8_accepts(const ld_op_ctx *c)
{
    if (c->n_out != 1 || c->n_in < 1 || c->n_in > LD_CONCAT8_MAX_INPUTS || !c->out[0])
        return 0;
    const ld_tensor *out = c->out[0];
    if (!ld_is_q8(out->type)) /* copies only: no activation, nothing quantized */
        return c->op->params.concat.act == LD_ACT_NONE && leandet_dtype_size(out->type) > 0 &&
               !(out->quant && out->quant->count) && same_kind(c, 0);
    return per_tensor(out, out->type) && same_kind(c, 1);
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
    s->es = leandet_dtype_size(c->out[0]->type);
    for (int i = 0; !ld_is_q8(c->out[0]->type) && i < s->n; i++)
        s->copy[i] = 1;
    for (int i = 0; ld_is_q8(c->out[0]->type) && i < s->n; i++) {
        if ((st = ld_ew8_probe_input(c, i, rank, s->axis, s->lut[i])) != LEANDET_OK)
            return st;
        s->copy[i] = 1;
        for (int b = 0; b < 256; b++)
            s->copy[i] &= s->lut[i][b] == b;
    }
    return LEANDET_OK;
}

typedef struct concat_job {
    const concat8 *s;
    const ld_op_ctx *c;
    size_t outer, row;          /* outer indices, and output bytes per outer index */
    size_t piece[LD_CONCAT8_MAX_INPUTS]; /* bytes of input i per outer index */
    int parts;
} concat_job;

__attribute__((target("avx2"))) static void concat_task(void *ctx, int task, int thread)
{
    (void)thread;
    const concat_job *j = ctx;
    const concat8 *s = j->s;
    size_t lo, hi;
    ld_f32_part(j->outer, j->parts, task, &lo, &hi);
    uint8_t *dst = (uint8_t *)j->c->out[0]->data + lo * j->row;
    for (size_t k = lo; k < hi; k++) {
        for (int i = 0; i < s->n; i++) {
            const size_t n = j->piece[i];
            const uint8_t *src = (const uint8_t *)j->c->in[i]->data + k * n;
            if (s->copy[i]) {
                ld_move_piece(dst, src, n);
            } else {
                const uint8_t *lut = s->lut[i];
                for (size_t b = 0; b < n; b++)
                    dst[b] = lut[src[b]];
            }
            dst += n;
        }
    }
}

leandet_status ld_concat8_eval(ld_op_ctx *c)
{
    const concat8 *s = c->state;
    const ld_tensor *out = c->out[0];
    const size_t inner = ld_dims_product(&out->shape, s->axis + 1, out->shape.rank) * s->es;
    concat_job j = { s, c, ld_dims_product(&out->shape, 0, s->axis), 0, { 0 }, 1 };
    for (int i = 0; i < s->n; i++) {
        j.piece[i] = (size_t)c->in[i]->shape.d[s->axis] * inner;
        j.row += j.piece[i];
    }
    if (j.outer == 0 || j.row == 0)
        return LEANDET_OK;
    j.parts = ld_ew8_parts(c, j.outer * j.row, 65536);
    if ((size_t)j.parts > j.outer)
        j.parts = (int)j.outer;
    ld_pool_run(c->pool, j.parts, concat_task, &j);
    return LEANDET_OK;
}

/* PAD and PADV2 by rows: the output is cut at the innermost padded dim k;
 * each of its rows (out.d[k] * inner elements, inner = the unpadded dims
 * after k) is either all padding, or padding + one contiguous copy of an
 * input row + padding. Every output byte is written once, with memcpy /
 * memset-sized calls, where the reference fills the whole output and then
 * copies element runs of the last dim only (one call per pixel of an NHWC
 * image padded in H and W). Byte-exact: the same value bytes, the same
 * placement. Threads: output rows are split over c->pool. */
#include <string.h>

#include "kernels/ref/shape_util.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"

typedef struct pad_geom {
    int k;                          /* innermost padded dim (-1: a plain copy) */
    int32_t out_d[LD_MAX_DIMS];     /* output dims 0..k-1 */
    int32_t lo[LD_MAX_DIMS], in_d[LD_MAX_DIMS];
    size_t in_row_stride[LD_MAX_DIMS]; /* input rows per step of dim j < k */
    size_t rows;                    /* output rows: product of out_d[0..k-1] */
    size_t row, pre, run;           /* bytes: output row, leading padding, copied run */
    size_t es, total;               /* element size, output bytes */
    unsigned char value[8];         /* the pad element */
    int uniform;                    /* its bytes are all equal: memset fills */
} pad_geom;

int ld_move_pad_accepts(const ld_op_ctx *c)
{
    if (c->n_in < 2 || c->n_in > 3 || c->n_out != 1 || !c->in[0] || !c->in[1] || !c->in[1]->is_const)
        return 0;
    const ld_tensor *cv = c->n_in > 2 ? c->in[2] : NULL;
    size_t es = leandet_dtype_size(c->in[0]->type);
    return es > 0 && es <= 8 && c->in[0]->shape.rank >= 1 && (!cv || (cv->is_const && cv->data));
}

/* The reference's pad value: constant_values, else the output zero point
 * for 8-bit types, else zero bytes. */
static void pad_value(const ld_op_ctx *c, size_t es, unsigned char value[8])
{
    const ld_tensor *out = c->out[0], *cv = c->n_in > 2 ? c->in[2] : NULL;
    int32_t zp = out->quant && out->quant->count > 0 ? out->quant->zero_point[0] : 0;
    memset(value, 0, 8);
    if (cv)
        memcpy(value, cv->data, es);
    else if (out->type == LEANDET_UINT8)
        value[0] = (unsigned char)(uint8_t)zp;
    else if (out->type == LEANDET_INT8)
        value[0] = (unsigned char)(int8_t)zp;
}

leandet_status ld_move_pad_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* checks, output shape */
    if (st != LEANDET_OK)
        return st;
    const ld_shape *in = &c->in[0]->shape, *out = &c->out[0]->shape;
    int32_t pad[2 * LD_MAX_DIMS];
    int n;
    if ((st = ld_const_ints(c, 1, pad, 2 * LD_MAX_DIMS, &n)) != LEANDET_OK)
        return st;
    pad_geom g;
    memset(&g, 0, sizeof g);
    g.es = leandet_dtype_size(c->in[0]->type);
    pad_value(c, g.es, g.value);
    g.uniform = 1;
    for (size_t i = 0; i < g.es; i++)
        g.uniform &= g.value[i] == g.value[0];
    g.k = -1;
    for (int j = 0; j < in->rank; j++)
        if (pad[2 * j] || pad[2 * j + 1])
            g.k = j;
    size_t inner = g.es;
    for (int j = in->rank - 1; j > g.k; j--)
        inner *= (size_t)in->d[j];
    g.total = ld_shape_count(out) * g.es;
    g.rows = 1;
    if (g.k >= 0) {
        for (int j = 0; j < g.k; j++) {
            g.out_d[j] = out->d[j];
            g.lo[j] = pad[2 * j];
            g.in_d[j] = in->d[j];
            g.rows *= (size_t)out->d[j];
        }
        size_t stride = 1; /* input rows of dims j+1..k-1 */
        for (int j = g.k - 1; j >= 0; j--) {
            g.in_row_stride[j] = stride;
            stride *= (size_t)in->d[j];
        }
        g.row = (size_t)out->d[g.k] * inner;
        g.pre = (size_t)pad[2 * g.k] * inner;
        g.run = (size_t)in->d[g.k] * inner;
    }
    pad_geom *keep = ld_malloc(c->alloc, sizeof *keep);
    if (!keep)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of state", sizeof *keep);
    *keep = g;
    c->state = keep;
    return LEANDET_OK;
}

static void fill(unsigned char *dst, size_t bytes, const pad_geom *g)
{
    if (bytes == 0)
        return;
    if (g->uniform) /* one repeated byte (0, 0.0f, any 8-bit value) */
        memset(dst, g->value[0], bytes);
    else
        ld_fill_elems(dst, bytes / g->es, g->value, g->es);
}

typedef struct pad_job {
    const pad_geom *g;
    const unsigned char *x;
    unsigned char *y;
    int parts;
} pad_job;

/* Output rows [r0, r1), their indices in dims 0..k-1 kept as an odometer
 * (one division per dim for the first row only: per row they cost more
 * than a short row's copy). A row outside the copied box in some dim is
 * all padding. */
static void pad_rows(const pad_job *j, size_t r0, size_t r1)
{
    const pad_geom *g = j->g;
    int64_t idx[LD_MAX_DIMS];
    size_t rem = r0;
    for (int d = g->k - 1; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (size_t)g->out_d[d]);
        rem /= (size_t)g->out_d[d];
    }
    for (size_t r = r0; r < r1; r++) {
        unsigned char *y = j->y + r * g->row;
        size_t src = 0;
        int inside = 1;
        for (int d = 0; d < g->k && inside; d++) {
            const int64_t o = idx[d] - g->lo[d];
            inside = o >= 0 && o < g->in_d[d];
            src += (size_t)o * g->in_row_stride[d];
        }
        if (inside) {
            fill(y, g->pre, g);
            memcpy(y + g->pre, j->x + src * g->run, g->run);
            fill(y + g->pre + g->run, g->row - g->pre - g->run, g);
        } else {
            fill(y, g->row, g);
        }
        for (int d = g->k - 1; d >= 0 && ++idx[d] == g->out_d[d]; d--)
            idx[d] = 0;
    }
}

static void pad_task(void *ctx, int task, int thread)
{
    (void)thread;
    const pad_job *j = ctx;
    size_t r0, r1;
    ld_f32_part(j->g->rows, j->parts, task, &r0, &r1);
    pad_rows(j, r0, r1);
}

leandet_status ld_move_pad_eval(ld_op_ctx *c)
{
    const pad_geom *g = c->state;
    if (g->total == 0)
        return LEANDET_OK;
    if (g->k < 0) { /* nothing padded */
        memcpy(c->out[0]->data, c->in[0]->data, g->total);
        return LEANDET_OK;
    }
    if (g->run == 0) { /* an empty input: all padding */
        fill(c->out[0]->data, g->total, g);
        return LEANDET_OK;
    }
    pad_job j = { g, c->in[0]->data, c->out[0]->data, 1 };
    /* Rows of at least 16 KiB per task: smaller ones do not pay a wake-up. */
    size_t grain = g->row ? 16384 / g->row + 1 : 1;
    j.parts = ld_f32_parts(c->pool, g->rows, grain, 2);
    ld_pool_run(c->pool, j.parts, pad_task, &j);
    return LEANDET_OK;
}

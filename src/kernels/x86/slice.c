/* STRIDED_SLICE whose innermost dim is contiguous in the input, any
 * element type: rows of count[last] elements copied with ld_move_piece,
 * split over the pool. The reference walks the same box (its own
 * ld_strided_slice_box, so the masks' semantics are its own) with a
 * memcpy call per row: yolov5n's heads take 2 of 85 floats from each of
 * 19200 rows, yolov8n's splits 16-64 channel pieces. Adjacent dims that are
 * contiguous in the input merge first, for longer rows. */
#include <string.h>

#include "kernels/ref/ref.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"
#include "runtime/threadpool.h"

typedef struct slice_copy {
    ld_slice_box box; /* merged: the last dim contiguous */
    size_t es, rows;  /* rows: product of the counts before the last */
} slice_copy;

int ld_slice_accepts(const ld_op_ctx *c)
{
    if (c->n_in != 4 || c->n_out != 1 || !c->in[0] || c->in[0]->is_const || leandet_dtype_size(c->in[0]->type) == 0)
        return 0;
    for (int i = 1; i < 4; i++)
        if (!c->in[i] || !c->in[i]->is_const)
            return 0;
    return 1;
}

/* Merge dim k into k + 1 while walking k continues where k + 1 ends. */
static void merge_dims(ld_slice_box *b)
{
    int r = 0;
    for (int k = 0; k < b->rank; k++) {
        if (r > 0 && b->src_stride[r - 1] == b->src_stride[k] * b->count[k] &&
            (int64_t)b->count[r - 1] * b->count[k] <= INT32_MAX) {
            b->count[r - 1] *= b->count[k];
            b->src_stride[r - 1] = b->src_stride[k];
            continue;
        }
        b->count[r] = b->count[k];
        b->src_stride[r] = b->src_stride[k];
        r++;
    }
    b->rank = r;
}

leandet_status ld_slice_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* checks, masks, output shape */
    if (st != LEANDET_OK)
        return st;
    slice_copy *s = ld_malloc(c->alloc, sizeof *s);
    if (!s)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "out of memory for the slice");
    memset(s, 0, sizeof *s);
    c->state = s;
    c->shareable = 1; /* shapes and constants only */
    if ((st = ld_strided_slice_box(c, &s->box)) != LEANDET_OK)
        return st;
    s->es = leandet_dtype_size(c->in[0]->type);
    /* a dim of one element moves nowhere: its stride is free */
    for (int k = s->box.rank - 1; k >= 0; k--)
        if (s->box.count[k] == 1)
            s->box.src_stride[k] = k + 1 < s->box.rank ? s->box.src_stride[k + 1] * s->box.count[k + 1] : 1;
    merge_dims(&s->box);
    s->rows = 1;
    for (int k = 0; k + 1 < s->box.rank; k++)
        s->rows *= (size_t)s->box.count[k];
    return LEANDET_OK;
}

typedef struct slice_job {
    const slice_copy *s;
    const uint8_t *src;
    uint8_t *dst;
    int parts;
} slice_job;

__attribute__((target("avx2"))) static void slice_task(void *ctx, int task, int thread)
{
    (void)thread;
    const slice_job *j = ctx;
    const ld_slice_box *b = &j->s->box;
    const int last = b->rank - 1;
    const size_t row = (size_t)b->count[last] * j->s->es;
    size_t lo, hi;
    ld_f32_part(j->s->rows, j->parts, task, &lo, &hi);
    if (lo >= hi)
        return;
    /* the odometer at row lo */
    int32_t idx[LD_MAX_DIMS] = { 0 };
    ptrdiff_t off = b->base;
    size_t below = 1;
    for (int k = last - 1; k >= 0; below *= (size_t)b->count[k], k--) {
        idx[k] = (int32_t)(lo / below % (size_t)b->count[k]);
        off += (ptrdiff_t)idx[k] * b->src_stride[k];
    }
    const ptrdiff_t es = (ptrdiff_t)j->s->es;
    uint8_t *dst = j->dst + lo * row;
    for (size_t r = lo; r < hi; r++, dst += row) {
        ld_move_piece(dst, j->src + off * es, row);
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < b->count[k]) {
                off += b->src_stride[k];
                break;
            }
            off -= b->src_stride[k] * (b->count[k] - 1);
            idx[k] = 0;
        }
    }
}

leandet_status ld_slice_eval(ld_op_ctx *c)
{
    const slice_copy *s = c->state;
    const ld_slice_box *b = &s->box;
    if (b->empty)
        return LEANDET_OK;
    if (b->rank == 0 || b->src_stride[b->rank - 1] != 1) { /* rows not contiguous: the reference walk */
        ld_slice_box_copy(b, c->out[0]->data, c->in[0]->data, s->es);
        return LEANDET_OK;
    }
    slice_job j = { s, c->in[0]->data, c->out[0]->data, 1 };
    j.parts = ld_ew8_parts(c, s->rows * (size_t)b->count[b->rank - 1] * s->es, 65536);
    if ((size_t)j.parts > s->rows)
        j.parts = (int)s->rows;
    ld_pool_run(c->pool, j.parts, slice_task, &j);
    return LEANDET_OK;
}

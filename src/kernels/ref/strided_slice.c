/* STRIDED_SLICE with constant begin/end/strides and TFLite's exact mask
 * semantics (tflite/kernels/strided_slice.cc, reference/strided_slice.h):
 *  1. the spec is expanded to "effective" dims: the ellipsis covers the dims
 *     the spec leaves out, new_axis inserts a dim of 1, dims past the spec
 *     are taken whole;
 *  2. per effective dim, start/stop are resolved (negative indices, masks,
 *     clamping) as StartForAxis/EndForAxis do;
 *  3. the copy walks the input dims with (start, stride, count).
 * Differences, only where TFLite leaves output bytes unwritten: a shrunk
 * axis always takes its start element, and an out-of-range shrink index is
 * rejected. */
#include <stdint.h>

#include "kernels/ref/ref.h"
#include "kernels/ref/shape_util.h"

#define SPEC_MAX 31               /* TFLite's limit on begin/end/strides entries */
#define EFF_MAX (2 * LD_MAX_DIMS) /* each effective dim is an input dim or a new output dim of 1 */

typedef struct slice_plan {
    int32_t start[LD_MAX_DIMS];   /* per input dim */
    int32_t stride[LD_MAX_DIMS];
    int32_t count[LD_MAX_DIMS];
    ld_shape out;
} slice_plan;

static uint32_t bit(uint32_t mask, int i)
{
    return i >= 0 && i < 32 ? (mask >> i) & 1u : 0;
}

static int32_t clamp32(int64_t v, int64_t lo, int64_t hi)
{
    return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* StartForAxis / EndForAxis of TFLite's reference StridedSlice. */
static int32_t start_for_axis(int32_t begin, int32_t stride, int32_t size, int masked)
{
    int64_t s = begin;
    if (s < 0)
        s += size;
    s = stride > 0 ? clamp32(s, 0, size) : clamp32(s, -1, (int64_t)size - 1);
    if (masked)
        s = stride > 0 ? 0 : (int64_t)size - 1;
    return (int32_t)s;
}

static int32_t end_for_axis(int32_t end, int32_t stride, int32_t size, int32_t start, int masked, int offset)
{
    int64_t e = end;
    if (offset)
        e += start;
    if (e < 0)
        e += size;
    e = stride > 0 ? clamp32(e, 0, size) : clamp32(e, -1, (int64_t)size - 1);
    if (masked)
        e = stride > 0 ? size : -1;
    return (int32_t)e;
}

static leandet_status read_spec(ld_op_ctx *c, int32_t *begin, int32_t *end, int32_t *strides, int *n)
{
    int nb = 0, ne = 0, ns = 0;
    leandet_status st;
    for (int i = 1; i <= 3; i++)
        if (c->in[i]->shape.rank != 1)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "input %d must be 1-D, has rank %d", i, c->in[i]->shape.rank);
    if ((st = ld_const_ints(c, 1, begin, SPEC_MAX, &nb)) != LEANDET_OK ||
        (st = ld_const_ints(c, 2, end, SPEC_MAX, &ne)) != LEANDET_OK ||
        (st = ld_const_ints(c, 3, strides, SPEC_MAX, &ns)) != LEANDET_OK)
        return st;
    if (nb != ne || nb != ns)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "begin, end and strides have %d, %d and %d entries", nb, ne, ns);
    *n = nb;
    return LEANDET_OK;
}

/* Everything prepare validates and eval needs, from the constant inputs. */
static leandet_status make_plan(ld_op_ctx *c, slice_plan *pl)
{
    const ld_strided_slice_params *p = &c->op->params.strided_slice;
    const ld_shape *in = &c->in[0]->shape;
    int32_t begin[SPEC_MAX], end[SPEC_MAX], strides[SPEC_MAX];
    int nspec = 0;
    leandet_status st = read_spec(c, begin, end, strides, &nspec);
    if (st != LEANDET_OK)
        return st;
    uint32_t ellipsis = (uint32_t)p->ellipsis_mask, new_axis = (uint32_t)p->new_axis_mask;

    /* New axes outside the ellipsis add effective dims. */
    int num_add = 0;
    for (int i = 0; i < nspec; i++)
        if (!bit(ellipsis, i) && bit(new_axis, i))
            num_add++;
    int eff = in->rank + num_add;
    if (eff > EFF_MAX)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "slice adds %d new axes to rank %d, output rank would exceed %d",
                          num_add, in->rank, LD_MAX_DIMS);

    /* Where the ellipsis sits and how far it expands (a new_axis bit at the
     * ellipsis position has no effect). */
    uint32_t eff_ellipsis = 0, eff_new = 0;
    int ellipsis_start = eff, expanded = 0;
    for (int i = 0; i < eff;) {
        if (bit(ellipsis, i)) {
            ellipsis_start = i;
            int e = i + 1 + num_add + in->rank - nspec;
            e = e < eff ? e : eff;
            e = e > i + 1 ? e : i + 1;
            expanded = e - ellipsis_start - 1;
            for (; i < e; i++)
                eff_ellipsis |= 1u << i;
            continue;
        }
        if (bit(new_axis, i - expanded))
            eff_new |= 1u << i;
        i++;
    }

    /* Effective dims -> per input dim (start, stride, count) and output dims. */
    ld_shape out = { 0 };
    int added_ellipsis = 0, added_axes = 0;
    for (int i = 0; i < eff; i++) {
        int32_t b = 0, e = 0, s = 1;
        int bmask = 0, emask = 0, shrink = 0;
        if (bit(eff_new, i) && !bit(eff_ellipsis, i)) {
            added_axes++;
            if (out.rank == LD_MAX_DIMS)
                return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "output rank would exceed %d", LD_MAX_DIMS);
            out.d[out.rank++] = 1;
            continue;
        }
        if (bit(eff_ellipsis, i)) {
            added_ellipsis = i - ellipsis_start > 0 ? i - ellipsis_start : 0;
            bmask = emask = 1;
        } else if (i >= nspec + expanded) {
            bmask = emask = 1;
        } else {
            int o = i - added_ellipsis;
            if (o < 0 || o >= nspec)
                return ld_op_fail(c, LEANDET_ERR_MODEL, "masks do not match the %d-entry slice spec", nspec);
            b = begin[o];
            e = end[o];
            s = strides[o];
            bmask = (int)bit((uint32_t)p->begin_mask, o);
            emask = (int)bit((uint32_t)p->end_mask, o);
            shrink = (int)bit((uint32_t)p->shrink_axis_mask, o);
        }
        int k = i - added_axes; /* the input dim this effective dim walks */
        if (k < 0 || k >= in->rank)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "slice spec and masks address dim %d of a rank-%d input", k,
                              in->rank);
        if (s == 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "stride of dim %d is 0", k);
        if (s == INT32_MIN)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "stride INT32_MIN is not supported");
        int32_t size = in->d[k];
        int32_t start = start_for_axis(b, s, size, bmask);
        pl->start[k] = start;
        pl->stride[k] = s;
        if (shrink) {
            if (start < 0 || start >= size)
                return ld_op_fail(c, LEANDET_ERR_MODEL, "shrunk dim %d: index %d is out of range for size %d", k,
                                  (int)b, (int)size);
            pl->count[k] = 1;
            continue;
        }
        int64_t stop = end_for_axis(e, s, size, start, emask, p->offset);
        int64_t len = stop - start, n;
        if ((len < 0) != (s < 0))
            n = 0;
        else if (s < 0)
            n = (len + 1) / s + 1;
        else
            n = len == 0 ? 0 : (len - 1) / s + 1;
        pl->count[k] = (int32_t)n;
        if (out.rank == LD_MAX_DIMS)
            return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "output rank would exceed %d", LD_MAX_DIMS);
        out.d[out.rank++] = (int32_t)n;
    }
    if (added_axes != num_add || eff - added_axes != in->rank)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "masks do not match input rank %d", in->rank);
    pl->out = out;
    return LEANDET_OK;
}

static leandet_status slice_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_prepare_move(c, 4, 4, NULL);
    if (st != LEANDET_OK)
        return st;
    if (c->in[0]->shape.rank > LD_MAX_DIMS)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "input rank %d exceeds %d", c->in[0]->shape.rank, LD_MAX_DIMS);
    slice_plan pl;
    if ((st = make_plan(c, &pl)) != LEANDET_OK)
        return st;
    return ld_set_output_shape(c, 0, &pl.out);
}

leandet_status ld_strided_slice_box(ld_op_ctx *c, ld_slice_box *b)
{
    const ld_tensor *in = c->in[0];
    slice_plan pl;
    leandet_status st = make_plan(c, &pl);
    if (st != LEANDET_OK)
        return st;
    ptrdiff_t in_stride[LD_MAX_DIMS];
    ld_shape_strides(&in->shape, in_stride);
    b->rank = in->shape.rank;
    b->base = 0;
    b->empty = 0;
    for (int k = 0; k < b->rank; k++) {
        b->empty |= pl.count[k] == 0;
        b->count[k] = pl.count[k];
        b->src_stride[k] = in_stride[k] * pl.stride[k];
        b->base += in_stride[k] * pl.start[k];
    }
    return LEANDET_OK;
}

void ld_slice_box_copy(const ld_slice_box *b, void *dst, const void *src, size_t es)
{
    if (b->empty)
        return;
    ptrdiff_t dst_stride[LD_MAX_DIMS];
    ld_shape box = { .rank = b->rank };
    for (int k = 0; k < b->rank; k++)
        box.d[k] = b->count[k];
    ld_shape_strides(&box, dst_stride);
    ld_copy_nd(dst, dst_stride, (const unsigned char *)src + b->base * (ptrdiff_t)es, b->src_stride, box.d, b->rank,
               es);
}

static leandet_status slice_eval(ld_op_ctx *c)
{
    ld_slice_box b;
    leandet_status st = ld_strided_slice_box(c, &b);
    if (st == LEANDET_OK)
        ld_slice_box_copy(&b, c->out[0]->data, c->in[0]->data, leandet_dtype_size(c->in[0]->type));
    return st;
}

const ld_kernel ld_ref_strided_slice[] = {
    { LD_OP_STRIDED_SLICE, NULL, slice_prepare, slice_eval },
    LD_KERNEL_TABLE_END,
};

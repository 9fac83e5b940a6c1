#include "kernels/ref/shape_util.h"

#include <stdint.h>
#include <string.h>

int ld_axis_norm(int axis, int rank)
{
    if (axis < 0)
        axis += rank;
    return axis >= 0 && axis < rank ? axis : -1;
}

size_t ld_dims_product(const ld_shape *s, int from, int to)
{
    size_t n = 1;
    for (int i = from; i < to; i++)
        n *= (size_t)s->d[i];
    return n;
}

static leandet_status check_copyable(ld_op_ctx *c, const ld_tensor *t, const char *what, size_t *esize)
{
    size_t es = leandet_dtype_size(t->type);
    if (es == 0)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "%s '%s' has type %s, which this op cannot move", what,
                          t->desc ? t->desc->name : "", leandet_dtype_name(t->type));
    *esize = es;
    return LEANDET_OK;
}

leandet_status ld_prepare_move(ld_op_ctx *c, int min_in, int max_in, size_t *esize)
{
    size_t es = 0;
    leandet_status st = ld_check_io(c, min_in, max_in, 1);
    if (st == LEANDET_OK)
        st = check_copyable(c, c->in[0], "input 0", &es);
    if (st == LEANDET_OK)
        st = ld_check_same_type(c, c->in[0], c->out[0], "input 0 and output 0");
    if (st == LEANDET_OK && esize)
        *esize = es;
    return st;
}

leandet_status ld_set_output_shape(ld_op_ctx *c, int i, const ld_shape *s)
{
    ld_tensor *out = c->out[i];
    size_t es = leandet_dtype_size(out->type);
    if (es == 0)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "output %d '%s' has unsupported type %s", i,
                          out->desc ? out->desc->name : "", leandet_dtype_name(out->type));
    if (s->rank < 0 || s->rank > LD_MAX_DIMS)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "output %d would have rank %d, at most %d supported", i, s->rank,
                          LD_MAX_DIMS);
    /* Element offsets are ptrdiff_t in the kernels: keep every byte count below PTRDIFF_MAX. */
    size_t limit = (size_t)PTRDIFF_MAX / es, n = 1;
    for (int k = 0; k < s->rank; k++) {
        if (s->d[k] < 0)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "output %d dimension %d would be %d (negative)", i, k, (int)s->d[k]);
        /* Zero dims are skipped so the bound also covers the other dims of an empty tensor. */
        if (s->d[k] == 0)
            continue;
        if (n > limit / (size_t)s->d[k])
            return ld_op_fail(c, LEANDET_ERR_MODEL, "output %d '%s' would be too large (element count overflows)", i,
                              out->desc ? out->desc->name : "");
        n *= (size_t)s->d[k];
    }
    out->shape = *s;
    return LEANDET_OK;
}

void ld_shape_strides(const ld_shape *s, ptrdiff_t *stride)
{
    ptrdiff_t acc = 1;
    for (int k = s->rank - 1; k >= 0; k--) {
        stride[k] = acc;
        acc *= s->d[k];
    }
}

/* One row of `n` elements with the given element strides. Typed copies for
 * the common sizes keep transposes from paying a memcpy call per element;
 * offsets stay integers so reversed rows never form out-of-range pointers. */
static void copy_row(unsigned char *dst, ptrdiff_t ds, const unsigned char *src, ptrdiff_t ss, int32_t n, size_t es)
{
    if (ds == 1 && ss == 1) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    ptrdiff_t db = ds * (ptrdiff_t)es, sb = ss * (ptrdiff_t)es;
    switch (es) {
    case 1:
        for (int32_t i = 0; i < n; i++)
            dst[i * db] = src[i * sb];
        break;
    case 4:
        for (int32_t i = 0; i < n; i++)
            memcpy(dst + i * db, src + i * sb, 4);
        break;
    default:
        for (int32_t i = 0; i < n; i++)
            memcpy(dst + i * db, src + i * sb, es);
        break;
    }
}

void ld_copy_nd(void *dst, const ptrdiff_t *dst_stride, const void *src, const ptrdiff_t *src_stride,
                const int32_t *count, int rank, size_t esize)
{
    if (rank == 0) {
        memcpy(dst, src, esize);
        return;
    }
    for (int k = 0; k < rank; k++)
        if (count[k] <= 0)
            return;
    int32_t idx[LD_MAX_DIMS] = { 0 };
    ptrdiff_t doff = 0, soff = 0, es = (ptrdiff_t)esize; /* element offsets of the current row */
    int last = rank - 1;
    for (;;) {
        copy_row((unsigned char *)dst + doff * es, dst_stride[last], (const unsigned char *)src + soff * es,
                 src_stride[last], count[last], esize);
        /* Advance the outer dims like an odometer; a wrapped dim rewinds. */
        int k = last - 1;
        for (; k >= 0; k--) {
            if (++idx[k] < count[k]) {
                doff += dst_stride[k];
                soff += src_stride[k];
                break;
            }
            doff -= dst_stride[k] * (count[k] - 1);
            soff -= src_stride[k] * (count[k] - 1);
            idx[k] = 0;
        }
        if (k < 0)
            return;
    }
}

void ld_fill_elems(void *dst, size_t n, const void *value, size_t esize)
{
    unsigned char *d = dst;
    if (n == 0)
        return;
    memcpy(d, value, esize);
    /* Double the filled prefix each step: O(log n) memcpy calls. */
    size_t done = 1;
    while (done < n) {
        size_t k = done < n - done ? done : n - done;
        memcpy(d + done * esize, d, k * esize);
        done += k;
    }
}

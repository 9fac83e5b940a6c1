/* TRANSPOSE that moves blocks: after dropping unit dims and merging the
 * dims that stay adjacent and in order, most model transposes (YOLOv8's
 * NHWC -> NCHW head, [1,80,80,144] -> [1,144,80,80]) are a batch of 2-D
 * transposes of elements of some bytes each. Those are copied in 32 x 32
 * tiles, so reads and writes both stay within a few cache lines per row,
 * where the reference walks the output with one strided read per element;
 * bytes go 16 x 16 at a time through SSE2 unpacks.
 * The other permutations stay on the reference. Bytes are moved, never
 * converted: the result is the reference's. */
#include <emmintrin.h>
#include <string.h>

#include "kernels/ref/elementwise_common.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/move.h"

enum { TILE = 32, MAX_PARTS = 64 };

/* in [batch][rows][cols] of `es`-byte elements -> out [batch][cols][rows]. */
typedef struct tr_plan {
    size_t batch, rows, cols, es;
} tr_plan;

/* The plan of c's permutation, or 0 when it is not a batched 2-D transpose
 * (a plain copy counts: rows or cols 1). */
static int plan_of(const ld_op_ctx *c, tr_plan *t)
{
    if (c->n_in != 2 || c->n_out != 1 || !c->in[0] || !c->in[1] || !c->out[0] || !c->in[1]->is_const ||
        c->in[1]->type != LEANDET_INT32 || !c->in[1]->data || c->in[0]->type != c->out[0]->type)
        return 0;
    const ld_shape *in = &c->in[0]->shape;
    const int r = in->rank;
    const size_t es = leandet_dtype_size(c->in[0]->type);
    if (r < 1 || r > LD_MAX_DIMS || es == 0 || ld_shape_count(&c->in[1]->shape) != (size_t)r)
        return 0;
    const int32_t *perm = c->in[1]->data;
    int seen[LD_MAX_DIMS] = { 0 };
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]] || in->d[perm[i]] < 0)
            return 0;
        seen[perm[i]] = 1;
    }
    /* Groups of input dims, in output order: a run of output dims reading
     * consecutive input dims is one group; unit dims are left out. */
    int first[LD_MAX_DIMS], n = 0;
    size_t size[LD_MAX_DIMS];
    int prev = -2;
    for (int i = 0; i < r; i++) {
        const int d = perm[i];
        if (in->d[d] == 1)
            continue;
        if (n && d == prev + 1) {
            size[n - 1] *= (size_t)in->d[d];
        } else {
            first[n] = d;
            size[n++] = (size_t)in->d[d];
        }
        prev = d;
    }
    /* Rank of each group in input order. */
    int rank[LD_MAX_DIMS];
    for (int g = 0; g < n; g++) {
        rank[g] = 0;
        for (int h = 0; h < n; h++)
            rank[g] += first[h] < first[g];
    }
    t->es = es;
    t->batch = t->rows = t->cols = 1;
    if (n && rank[n - 1] == n - 1) { /* the innermost group stays innermost: a bigger element */
        t->es *= size[n - 1];
        n--;
    }
    if (n <= 1) { /* a copy */
        t->cols = n ? size[0] : 1;
        return 1;
    }
    if (n == 2 && rank[0] == 1 && rank[1] == 0) {
        t->rows = size[1];
        t->cols = size[0];
        return 1;
    }
    if (n == 3 && rank[0] == 0 && rank[1] == 2 && rank[2] == 1) {
        t->batch = size[0];
        t->rows = size[2];
        t->cols = size[1];
        return 1;
    }
    return 0;
}

int ld_transpose_accepts(const ld_op_ctx *c)
{
    tr_plan t;
    return c->op->builtin == LD_OP_TRANSPOSE && plan_of(c, &t);
}

leandet_status ld_transpose_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c); /* validates, shapes the output */
    if (st != LEANDET_OK)
        return st;
    tr_plan *t = ld_ew_state(c, sizeof *t);
    if (!t)
        return LEANDET_ERR_NO_MEMORY;
    if (!plan_of(c, t))
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "permutation not handled by the block transpose");
    return LEANDET_OK;
}

/* One tile: out[j][i] = in[i][j] for i in [i0, i1), j in [j0, j1). */
#define TILE_LOOP(T)                                                                \
    do {                                                                            \
        const T *s_ = (const T *)src;                                               \
        T *d_ = (T *)dst;                                                           \
        for (size_t j = j0; j < j1; j++)                                            \
            for (size_t i = i0; i < i1; i++)                                        \
                d_[j * t->rows + i] = s_[i * t->cols + j];                          \
    } while (0)

/* 16 x 16 bytes: dst row m = byte m of the 16 src rows. Each round
 * interleaves row i with row i + 8, which rotates the 8 bits (row, byte)
 * of every element's place left by one; four rounds swap row and byte. */
static void t16x16(const uint8_t *src, size_t ss, uint8_t *dst, size_t ds)
{
    __m128i x[16], y[16];
    for (int i = 0; i < 16; i++)
        x[i] = _mm_loadu_si128((const __m128i *)(src + (size_t)i * ss));
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 8; i++) {
            y[2 * i] = _mm_unpacklo_epi8(x[i], x[i + 8]);
            y[2 * i + 1] = _mm_unpackhi_epi8(x[i], x[i + 8]);
        }
        memcpy(x, y, sizeof x);
    }
    for (int i = 0; i < 16; i++)
        _mm_storeu_si128((__m128i *)(dst + (size_t)i * ds), x[i]);
}

static void tile(const tr_plan *t, const uint8_t *src, uint8_t *dst, size_t i0, size_t i1, size_t j0, size_t j1)
{
    if (t->es == 1 && i1 - i0 >= 16 && j1 - j0 >= 16) {
        /* whole 16 x 16 blocks by SSE2, the edges below */
        const size_t ie = i0 + (i1 - i0) / 16 * 16, je = j0 + (j1 - j0) / 16 * 16;
        for (size_t i = i0; i < ie; i += 16)
            for (size_t j = j0; j < je; j += 16)
                t16x16(src + i * t->cols + j, t->cols, dst + j * t->rows + i, t->rows);
        if (je < j1)
            tile(t, src, dst, i0, ie, je, j1);
        if (ie < i1)
            tile(t, src, dst, ie, i1, j0, j1);
        return;
    }
    switch (t->es) {
    case 1: TILE_LOOP(uint8_t); break;
    case 2: TILE_LOOP(uint16_t); break;
    case 4: TILE_LOOP(uint32_t); break;
    case 8: TILE_LOOP(uint64_t); break;
    default:
        for (size_t j = j0; j < j1; j++)
            for (size_t i = i0; i < i1; i++)
                memcpy(dst + (j * t->rows + i) * t->es, src + (i * t->cols + j) * t->es, t->es);
    }
}

typedef struct tr_job {
    const tr_plan *t;
    const uint8_t *in;
    uint8_t *out;
    size_t strips; /* per batch: output rows (input cols) in strips of TILE */
    int parts;
} tr_job;

static void tr_task(void *ctx, int task, int thread)
{
    (void)thread;
    const tr_job *j = ctx;
    const tr_plan *t = j->t;
    size_t lo, hi;
    ld_f32_part(t->batch * j->strips, j->parts, task, &lo, &hi);
    const size_t plane = t->rows * t->cols * t->es;
    for (size_t k = lo; k < hi; k++) {
        const size_t b = k / j->strips, j0 = k % j->strips * TILE, j1 = j0 + TILE < t->cols ? j0 + TILE : t->cols;
        const uint8_t *src = j->in + b * plane;
        uint8_t *dst = j->out + b * plane;
        for (size_t i0 = 0; i0 < t->rows; i0 += TILE)
            tile(t, src, dst, i0, i0 + TILE < t->rows ? i0 + TILE : t->rows, j0, j1);
    }
}

leandet_status ld_transpose_eval(ld_op_ctx *c)
{
    const tr_plan *t = c->state;
    const size_t bytes = t->batch * t->rows * t->cols * t->es;
    if (bytes == 0)
        return LEANDET_OK;
    if (t->rows == 1 || t->cols == 1) {
        memcpy(c->out[0]->data, c->in[0]->data, bytes);
        return LEANDET_OK;
    }
    tr_job j = { t, c->in[0]->data, c->out[0]->data, (t->cols + TILE - 1) / TILE, 1 };
    const size_t units = t->batch * j.strips;
    j.parts = bytes < 65536 ? 1 : ld_f32_parts(c->pool, units, 1, 2);
    j.parts = j.parts > MAX_PARTS ? MAX_PARTS : j.parts;
    ld_pool_run(c->pool, j.parts, tr_task, &j);
    return LEANDET_OK;
}

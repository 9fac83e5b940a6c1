/* x86 kernels for uint8/int8 CONV_2D (one group) and DEPTHWISE_CONV_2D
 * (depth multiplier 1), bit-exact with the reference kernels (ref/conv.c):
 * AVX2 for every CPU the family is offered on, AVX-512 VNNI variants
 * first where the CPU has AVX-512 F/BW/VL/VNNI.
 *
 * Operands are validated and quantized with the reference's own helpers
 * (conv_quant.h, conv_window.h), so an op this file accepts fails or
 * succeeds exactly as the reference would. prepare packs the weights and
 * the per-channel constants once into c->state (one allocation); eval
 * splits the output across c->pool (NULL: serially). Scratch (CONV_2D
 * only): LD_C8_SLOTS slices of slot_bytes, one per thread (see conv8.h). */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "kernels/ref/conv_quant.h"
#include "kernels/x86/conv8.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/x86.h"
#include "runtime/threadpool.h"

int c8_vnni_usable(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

c8_conv *c8_conv_alloc(ld_alloc *a, const c8_conv *plan, size_t w_bytes, size_t zrow_bytes)
{
    const size_t table = c8_align64((size_t)plan->n_pad * sizeof(int32_t));
    const size_t head = c8_align64(sizeof(c8_conv));
    if (w_bytes > SIZE_MAX / 2 || zrow_bytes > SIZE_MAX / 2 - w_bytes - head - 5 * table - 128)
        return NULL;
    size_t bytes = head + 5 * table + c8_align64(w_bytes) + c8_align64(zrow_bytes);
    uint8_t *p = ld_calloc(a, 1, bytes); /* 64-byte aligned */
    if (!p)
        return NULL;
    c8_conv *s = (c8_conv *)p;
    *s = *plan;
    p += head;
    int32_t **tables[5] = { &s->q.mult, &s->q.lshift, &s->q.rshift, &s->q.rmask, &s->q.fold };
    for (int i = 0; i < 5; i++, p += table)
        *tables[i] = (int32_t *)p;
    s->w = p;
    s->zrow = p + c8_align64(w_bytes);
    memset(s->zrow, s->zp_byte, zrow_bytes);
    return s;
}

void c8_requant_fill(c8_conv *s, const int32_t *mult, const int32_t *shift, const uint32_t *fold)
{
    c8_requant *q = &s->q;
    for (int i = 0; i < s->n_pad; i++) {
        int ch = c8_lane_channel(i, s->n_pad, s->order, s->narrow_tail);
        if (ch >= s->out_c)
            continue; /* padding lanes: zeros, never stored */
        q->mult[i] = mult[ch];
        q->lshift[i] = shift[ch] > 0 ? shift[ch] : 0;
        q->rshift[i] = shift[ch] > 0 ? 0 : -shift[ch];
        q->rmask[i] = (int32_t)((1u << q->rshift[i]) - 1u);
        q->fold[i] = (int32_t)fold[ch];
    }
}

void c8_fold(const uint8_t *w, int w_signed, int32_t w_zp, size_t ch_step, size_t k_step, int k_len,
             const int32_t *bias, int32_t zx, int channels, uint32_t *fold)
{
    for (int ch = 0; ch < channels; ch++) {
        uint32_t sum = 0;
        for (int k = 0; k < k_len; k++) {
            uint8_t b = w[(size_t)ch * ch_step + (size_t)k * k_step];
            sum += (uint32_t)((w_signed ? (int32_t)(int8_t)b : (int32_t)b) - w_zp);
        }
        fold[ch] = (bias ? (uint32_t)bias[ch] : 0u) - (uint32_t)zx * sum;
    }
}

/* ---- acceptance -------------------------------------------------------- */

static int dims_positive(const ld_tensor *t)
{
    for (int i = 0; i < t->shape.rank; i++)
        if (t->shape.d[i] <= 0)
            return 0;
    return 1;
}

/* Structure only; values (quantization, strides, activation) are checked
 * in prepare by the reference's helpers. */
static int accepts(const ld_op_ctx *c, int depthwise)
{
    if (c->n_in < 2 || c->n_in > 3 || c->n_out != 1 || !c->in[0] || !c->in[1])
        return 0;
    const ld_tensor *in = c->in[0], *w = c->in[1], *bias = c->n_in > 2 ? c->in[2] : NULL, *out = c->out[0];
    if (in->type != LEANDET_UINT8 && in->type != LEANDET_INT8)
        return 0;
    if (w->type != in->type || out->type != in->type || !w->is_const || !w->data)
        return 0;
    if (bias && (bias->type != LEANDET_INT32 || !bias->is_const || !bias->data))
        return 0;
    if (in->shape.rank != 4 || w->shape.rank != 4 || !dims_positive(in) || !dims_positive(w))
        return 0;
    const int in_c = in->shape.d[3];
    int out_c;
    if (depthwise) {
        if (w->shape.d[0] != 1 || w->shape.d[3] != in_c || w->shape.d[1] * w->shape.d[2] > LD_C8_MAX_TAPS)
            return 0;
        out_c = in_c;
    } else {
        if (w->shape.d[3] != in_c) /* grouped convolutions stay with the reference */
            return 0;
        out_c = w->shape.d[0];
    }
    /* Indices are int: bound the output (at most batches*in_h*in_w pixels)
     * and the patch length. */
    int64_t pixels = (int64_t)in->shape.d[0] * in->shape.d[1] * in->shape.d[2];
    int64_t widest = out_c > in_c ? out_c : in_c;
    if (pixels > INT_MAX / 4 || pixels * widest > INT_MAX / 4 ||
        (int64_t)w->shape.d[1] * w->shape.d[2] * in_c > (1 << 20))
        return 0;
    return 1;
}

static int conv_accepts(const ld_op_ctx *c)
{
    return accepts(c, 0);
}

static int vnni_accepts(const ld_op_ctx *c)
{
    return c8_vnni_usable() && accepts(c, 0);
}

static int dw_accepts(const ld_op_ctx *c)
{
    return accepts(c, 1);
}

static int dw512_accepts(const ld_op_ctx *c)
{
    return c8_vnni_usable() && accepts(c, 1);
}

/* ---- prepare ------------------------------------------------------------- */

/* Per-channel values in natural order, freed after packing. */
typedef struct per_channel {
    int32_t *mult, *shift;
    uint32_t *fold;
} per_channel;

typedef enum kind { GEMM_AVX2, GEMM_VNNI, DW_AVX2, DW_512 } kind;

static leandet_status prepare(ld_op_ctx *c, kind how)
{
    const int depthwise = how == DW_AVX2 || how == DW_512;
    const ld_tensor *in = c->in[0], *w = c->in[1], *bias = c->n_in > 2 ? c->in[2] : NULL;
    ld_tensor *out = c->out[0];
    const ld_conv_params *p = &c->op->params.conv;
    const int in_c = in->shape.d[3], out_c = depthwise ? in_c : w->shape.d[0];
    int quantized;
    ld_window win;
    leandet_status st = ld_conv_check_operands(c, in, w, bias, out, out_c, depthwise ? 3 : 0, 0, &quantized);
    if (st == LEANDET_OK)
        st = ld_conv_check_act(c, p->act, out);
    if (st == LEANDET_OK)
        st = ld_window_init(c, p->padding, in->shape.d[1], in->shape.d[2], w->shape.d[1], w->shape.d[2],
                            p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, &win);
    if (st != LEANDET_OK)
        return st;

    c8_conv plan = { 0 };
    plan.win = win;
    plan.batches = in->shape.d[0];
    plan.in_c = in_c;
    plan.out_c = out_c;
    plan.in_signed = in->type == LEANDET_INT8;
    plan.in_zp = in->quant->zero_point[0];
    plan.zp_byte = (uint8_t)plan.in_zp;
    size_t w_bytes, zrow;
    if (depthwise) {
        plan.order = how == DW_512 ? C8_ORDER_DW512 : C8_ORDER_AVX2;
        plan.n_pad = how == DW_512 ? (out_c + 31) & ~31 : (out_c + 15) & ~15;
        plan.taps = win.f_h * win.f_w;
        plan.pairs = (plan.taps + 1) / 2;
        c8_tap_plan(&plan);
        w_bytes = c8_dw_weight_bytes(&plan);
        zrow = (size_t)plan.n_pad;
    } else if (how == GEMM_VNNI) {
        plan.n_pad = (out_c + 15) & ~15;
        plan.narrow_tail = plan.n_pad % 32 != 0;
        c8_vnni_plan(&plan);
        w_bytes = c8_vnni_weight_bytes(&plan);
        zrow = c8_vnni_zrow_bytes(&plan);
    } else {
        plan.n_pad = (out_c + 7) & ~7;
        plan.narrow_tail = plan.n_pad % 16 != 0;
        c8_gemm_plan(&plan);
        w_bytes = c8_gemm_weight_bytes(&plan);
        zrow = (size_t)plan.kp;
    }

    ld_conv_quant cq;
    ld_conv_quant_init(&cq, in, w, out, p->act);
    plan.q.out_zp = cq.out_zp;
    plan.q.act_min = cq.act_min;
    plan.q.act_max = cq.act_max;
    plan.q.out_signed = out->type == LEANDET_INT8;

    per_channel tmp = { 0 };
    c8_conv *s = c8_conv_alloc(c->alloc, &plan, w_bytes, zrow);
    tmp.mult = ld_malloc(c->alloc, (size_t)out_c * 3 * sizeof(int32_t));
    if (!s || !tmp.mult) {
        ld_free(c->alloc, s);
        ld_free(c->alloc, tmp.mult);
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate the packed weights (%zu bytes)", w_bytes);
    }
    tmp.shift = tmp.mult + out_c;
    tmp.fold = (uint32_t *)(tmp.shift + out_c);
    /* uint8 keeps TFLite's legacy float-product multiplier, as the reference */
    st = ld_conv_multipliers(c, in, w, out, out_c, in->type == LEANDET_UINT8, tmp.mult, tmp.shift);
    if (st != LEANDET_OK) {
        ld_free(c->alloc, s);
        ld_free(c->alloc, tmp.mult);
        return st;
    }

    const int w_signed = w->type == LEANDET_INT8;
    const int32_t w_zp = w->quant->zero_point[0]; /* per-channel int8 weights are symmetric (checked) */
    const int32_t *b = bias ? bias->data : NULL;
    if (depthwise)
        c8_dw_pack(s, w->data, w_signed, w_zp, b, tmp.fold);
    else if (how == GEMM_VNNI)
        c8_vnni_pack(s, w->data, w_signed, w_zp, b, tmp.fold);
    else
        c8_gemm_pack(s, w->data, w_signed, w_zp, b, tmp.fold);
    c8_requant_fill(s, tmp.mult, tmp.shift, tmp.fold);
    ld_free(c->alloc, tmp.mult);

    out->shape.rank = 4;
    out->shape.d[0] = s->batches;
    out->shape.d[1] = win.out_h;
    out->shape.d[2] = win.out_w;
    out->shape.d[3] = out_c;
    if (!depthwise)
        c->scratch_bytes = LD_C8_SLOTS * s->slot_bytes + s->flip_bytes + 64; /* + aligning the base */
    c->state = s;
    c->shareable = 1; /* packed from constants only: sessions of this model may share it */
    return LEANDET_OK;
}

static leandet_status conv_prepare(ld_op_ctx *c)
{
    return prepare(c, GEMM_AVX2);
}

static leandet_status vnni_prepare(ld_op_ctx *c)
{
    return prepare(c, GEMM_VNNI);
}

static leandet_status dw_prepare(ld_op_ctx *c)
{
    return prepare(c, DW_AVX2);
}

static leandet_status dw512_prepare(ld_op_ctx *c)
{
    return prepare(c, DW_512);
}

/* ---- eval ---------------------------------------------------------------- */

/* A GEMM op is a grid of pixel tiles (s->mr pixels) by channel blocks
 * (s->nr channels); a task is one rectangle of pixel_groups x chan_groups
 * equal parts of it. Splitting channels too keeps small-image layers
 * (5x5, 3x3 outputs with hundreds of channels) balanced where pixel tiles
 * alone are too few. Depthwise splits its output pixels evenly. Tasks are
 * claimed from the pool's counter, so a thread that is held up (shared
 * CPUs) just takes fewer of them. */
typedef struct job {
    const c8_conv *s;
    const uint8_t *in;
    uint8_t *out;
    int pixels;
    int tiles, blocks;      /* GEMM: pixel tiles, channel blocks */
    int pgroups, cgroups;   /* GEMM: the grid of tasks; depthwise: pgroups tasks over pixels */
    int per_thread;         /* GEMM: scratch slice by thread (else by task) */
    uint8_t *scratch;       /* GEMM: 64-byte aligned, LD_C8_SLOTS slices */
    const uint8_t *lut;     /* GEMM: a fused 8-bit table op on the output (SiLU), or NULL */
    int vbmi;               /* ... looked up by AVX-512 VBMI */
} job;

/* Work per task below which splitting costs more than it saves (handing a
 * task to a waiting worker costs about a microsecond); in multiply-adds,
 * about 1-2 us of each path's throughput. */
#define C8_TASK_MACS_VNNI (1 << 19)
#define C8_TASK_MACS_AVX2 (1 << 17)
#define C8_TASK_MACS_DW (1 << 15)
/* Tasks per thread at most: enough that uneven tasks and a thread held up
 * by other processes even out, few enough that per-task setup (pointer
 * tables, panel packing) stays small. */
#define C8_TASKS_PER_THREAD 4

/* How many tasks `macs` multiply-adds over at most `units` pieces get: 1
 * (serial) unless each of at least two would have min_macs. */
static int task_count(const ld_op_ctx *c, int64_t units, double macs, double min_macs, int slot_bound)
{
    int threads = ld_pool_threads(c->pool);
    if (threads <= 1)
        return 1;
    double want = ld_pool_split_fine(c->pool) ? (double)units : macs / min_macs;
    int64_t most = (int64_t)threads * C8_TASKS_PER_THREAD;
    if (slot_bound && most > LD_C8_SLOTS)
        most = LD_C8_SLOTS;
    if (most > units)
        most = units;
    int n = want < (double)most ? (int)want : (int)most;
    return n < 2 ? 1 : n;
}

/* [lo, hi) of part i of n equal parts of `count`. */
static void part(int count, int n, int i, int *lo, int *hi)
{
    *lo = (int)((int64_t)count * i / n);
    *hi = (int)((int64_t)count * (i + 1) / n);
}

static void gemm_task(void *ctx, int task, int thread)
{
    const job *j = ctx;
    const c8_conv *s = j->s;
    int t0, t1, b0, b1;
    part(j->tiles, j->pgroups, task / j->cgroups, &t0, &t1);
    part(j->blocks, j->cgroups, task % j->cgroups, &b0, &b1);
    if (t0 >= t1 || b0 >= b1)
        return;
    const int m0 = t0 * s->mr, m1 = t1 * s->mr < j->pixels ? t1 * s->mr : j->pixels;
    const int n0 = b0 * s->nr, n1 = b1 * s->nr < s->n_pad ? b1 * s->nr : s->n_pad;
    void *slot = j->scratch + (size_t)(j->per_thread ? thread : task) * s->slot_bytes;
    if (s->order == C8_ORDER_GEMM512)
        c8_vnni_run(s, j->in, j->out, m0, m1, n0, n1, slot);
    else
        c8_gemm_run(s, j->in, j->out, m0, m1, n0, n1, slot);
    if (!j->lut)
        return;
    /* the task's output, still in cache: its pixels x channels [n0, c1) */
    const size_t out_c = (size_t)s->out_c, c1 = (size_t)n1 < out_c ? (size_t)n1 : out_c;
    uint8_t *o = j->out + (size_t)m0 * out_c;
    if (n0 == 0 && c1 == out_c)
        ld_ew8_lut_apply(j->lut, o, o, (size_t)(m1 - m0) * out_c, j->vbmi);
    else
        for (int m = m0; m < m1; m++, o += out_c)
            ld_ew8_lut_apply(j->lut, o + n0, o + n0, c1 - (size_t)n0, j->vbmi);
}

static void dw_task(void *ctx, int task, int thread)
{
    (void)thread;
    const job *j = ctx;
    int m0, m1;
    part(j->pixels, j->pgroups, task, &m0, &m1);
    if (m0 >= m1)
        return;
    if (j->s->order == C8_ORDER_DW512)
        c8_dw512_run(j->s, j->in, j->out, m0, m1);
    else
        c8_dw_run(j->s, j->in, j->out, m0, m1);
}

static leandet_status conv_run(ld_op_ctx *c, const uint8_t *lut)
{
    const c8_conv *s = c->state;
    job j = { s, c->in[0]->data, c->out[0]->data, 0, 0, 0, 1, 1, 0, NULL, lut, lut && ld_ew8_has_vbmi() };
    j.pixels = s->batches * s->win.out_h * s->win.out_w;
    j.tiles = (j.pixels + s->mr - 1) / s->mr;
    j.blocks = (s->n_pad + s->nr - 1) / s->nr;
    uintptr_t base = (uintptr_t)c->scratch;
    j.scratch = (uint8_t *)c->scratch + ((64 - base % 64) % 64);
    if (!c->scratch || c->scratch_bytes < LD_C8_SLOTS * s->slot_bytes + s->flip_bytes + 64)
        return ld_op_fail(c, LEANDET_ERR_INTERNAL, "scratch of %zu bytes, %zu needed", c->scratch_bytes,
                          LD_C8_SLOTS * s->slot_bytes + s->flip_bytes + 64);
    if (s->preflip) { /* the tiles then read uint8 bytes: no xor per broadcast */
        uint8_t *flipped = j.scratch + LD_C8_SLOTS * s->slot_bytes;
        c8_vnni_flip_input(flipped, j.in, c->in[0]->bytes);
        j.in = flipped;
    }
    j.per_thread = ld_pool_threads(c->pool) <= LD_C8_SLOTS;
    const double macs = (double)j.tiles * s->mr * s->kp * s->n_pad;
    const int n = task_count(c, (int64_t)j.tiles * j.blocks, macs,
                             s->order == C8_ORDER_GEMM512 ? C8_TASK_MACS_VNNI : C8_TASK_MACS_AVX2, !j.per_thread);
    /* pixel groups first (each task builds its pixels' rows once), then
     * channel groups for what the tiles cannot give */
    j.pgroups = n < j.tiles ? n : j.tiles;
    j.cgroups = (n + j.pgroups - 1) / j.pgroups;
    if (j.cgroups > j.blocks)
        j.cgroups = j.blocks;
    if (!j.per_thread && j.pgroups * j.cgroups > LD_C8_SLOTS)
        j.cgroups = 1;
    ld_pool_run(c->pool, j.pgroups * j.cgroups, gemm_task, &j);
    return LEANDET_OK;
}

static leandet_status conv_eval(ld_op_ctx *c)
{
    return conv_run(c, NULL);
}

int ld_conv8_is_conv(const ld_kernel *k)
{
    return k && k->eval == conv_eval;
}

leandet_status ld_conv8_eval_lut(ld_op_ctx *c, const uint8_t lut[256])
{
    return conv_run(c, lut);
}

static leandet_status dw_eval(ld_op_ctx *c)
{
    const c8_conv *s = c->state;
    job j = { s, c->in[0]->data, c->out[0]->data, 0, 0, 0, 1, 1, 0, NULL, NULL, 0 };
    j.pixels = s->batches * s->win.out_h * s->win.out_w;
    const double macs = (double)j.pixels * s->taps * s->n_pad;
    j.pgroups = task_count(c, j.pixels, macs, C8_TASK_MACS_DW, 0);
    ld_pool_run(c->pool, j.pgroups, dw_task, &j);
    return LEANDET_OK;
}

/* First match wins: AVX-512 (F, BW, VL, VNNI) where the CPU has it. */
const ld_opt_kernel ld_avx2_conv8[] = {
    { { LD_OP_CONV_2D, NULL, vnni_prepare, conv_eval }, vnni_accepts, "avx512vnni" },
    { { LD_OP_CONV_2D, NULL, conv_prepare, conv_eval }, conv_accepts, "avx2" },
    { { LD_OP_DEPTHWISE_CONV_2D, NULL, dw512_prepare, dw_eval }, dw512_accepts, "avx512vnni" },
    { { LD_OP_DEPTHWISE_CONV_2D, NULL, dw_prepare, dw_eval }, dw_accepts, "avx2" },
    LD_OPT_KERNEL_TABLE_END,
};

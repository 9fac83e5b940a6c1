/* The 8-bit elementwise family (see ew8.h) and its shared pieces: reading
 * quantization parameters in accepts(), probing a reference lookup table,
 * sizing the thread split; plus the table-driven unary ops (RELU, RELU6,
 * HARD_SWISH, LOGISTIC, TANH, and QUANTIZE from 8-bit to the same type),
 * whose reference eval for 8-bit data is a function of each byte (a
 * 256-entry lookup in activation.c; a requantization), read out of the
 * reference into a table and applied 32 bytes at a time, or 64 with
 * AVX-512 VBMI (two 128-byte permutes). */
#include <string.h>

#include "kernels/ref/elementwise_common.h"
#include "kernels/x86/conv8_simd.h"
#include "kernels/x86/ew8.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/x86.h"

#define ENTRY(op, name) { { op, NULL, ld_ew8_##name##_prepare, ld_ew8_##name##_eval }, ld_ew8_##name##_accepts, "avx2" }

#define ENTRY512(op) { { op, NULL, ld_ew8_binary_prepare, ld_ew8_binary512_eval }, ld_ew8_binary512_accepts, "avx512" }

const ld_opt_kernel ld_avx2_ew8[] = {
    ENTRY512(LD_OP_MUL),
    ENTRY512(LD_OP_ADD),
    ENTRY512(LD_OP_SUB),
    ENTRY(LD_OP_MUL, binary),
    ENTRY(LD_OP_ADD, binary),
    ENTRY(LD_OP_SUB, binary),
    ENTRY(LD_OP_LOGISTIC, lut),
    ENTRY(LD_OP_TANH, lut),
    ENTRY(LD_OP_RELU, lut),
    ENTRY(LD_OP_RELU6, lut),
    ENTRY(LD_OP_HARD_SWISH, lut),
    ENTRY(LD_OP_SOFTMAX, softmax),
    ENTRY(LD_OP_QUANTIZE, quantize),
    ENTRY(LD_OP_QUANTIZE, lut), /* 8-bit -> 8-bit of the same type: a requantization, per byte */
    LD_OPT_KERNEL_TABLE_END,
};

/* Bytes per part at least (about 2 us of a lookup or a binary op; handing
 * a part to a waiting worker costs about 1 us): below twice this an op
 * runs on the calling thread only. */
#define PARALLEL_MIN 16384

int ld_ew8_qparams(const ld_tensor *x, ld_dtype t, float *scale, int32_t *zp)
{
    if (!x || x->type != t || (t != LEANDET_INT8 && t != LEANDET_UINT8) || !x->quant || x->quant->count != 1)
        return 0;
    *scale = x->quant->scale[0];
    *zp = x->quant->zero_point[0];
    return *scale > 0.0f;
}

/* Two parts per thread when there is enough work (a thread held up by
 * another process then delays the op less), else one, else as many as
 * there are grains. Whole rounds where possible: with 3 parts on 2
 * threads one thread would do twice the other's work. */
int ld_ew8_parts(const ld_op_ctx *c, size_t n, size_t grain)
{
    const size_t threads = (size_t)ld_pool_threads(c->pool);
    const size_t most = grain ? n / grain : n;
    if (threads <= 1 || most < 2)
        return 1;
    size_t parts = 2 * threads < most ? 2 * threads : most;
    if (parts >= threads)
        parts -= parts % threads;
    return (int)parts;
}

leandet_status ld_ew8_probe_input(ld_op_ctx *c, int i, int rank, int axis, uint8_t lut[256])
{
    const ld_kernel *ref = ld_kernel_find(c->op);
    if (!ref)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "has no reference kernel");
    uint8_t bytes[256];
    for (int b = 0; b < 256; b++)
        bytes[b] = (uint8_t)b;
    ld_tensor in = *c->in[i], out = *c->out[0];
    memset(&in.shape, 0, sizeof in.shape);
    in.shape.rank = rank;
    for (int k = 0; k < rank; k++)
        in.shape.d[k] = k == axis ? 256 : 1;
    in.bytes = 256;
    in.data = bytes;
    in.is_const = 0;
    out.shape = in.shape;
    out.bytes = 256;
    out.data = lut;
    ld_tensor *ins[1] = { &in }, *outs[1] = { &out };
    ld_op_ctx p = *c;
    p.n_in = 1;
    p.in = ins;
    p.out = outs;
    p.state = NULL;
    p.scratch_bytes = 0;
    p.scratch = NULL;
    p.pool = NULL;
    leandet_status st = ref->prepare(&p);
    if (st == LEANDET_OK && p.scratch_bytes)
        st = ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "reference table probe needs scratch memory");
    if (st == LEANDET_OK)
        st = ref->eval(&p);
    ld_free(c->alloc, p.state);
    return st;
}

leandet_status ld_ew8_probe_lut(ld_op_ctx *c, uint8_t lut[256])
{
    return ld_ew8_probe_input(c, 0, 1, 0, lut);
}

/* ---- table-driven unary ops ------------------------------------------------ */

int ld_ew8_lut_accepts(const ld_op_ctx *c)
{
    float s;
    int32_t z;
    return c->n_in == 1 && c->n_out == 1 && c->in[0] && c->out[0] && ld_ew8_qparams(c->in[0], c->in[0]->type, &s, &z) &&
           ld_ew8_qparams(c->out[0], c->in[0]->type, &s, &z);
}

leandet_status ld_ew8_lut_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_f32_ref_prepare(c);
    if (st != LEANDET_OK)
        return st;
    uint8_t *lut = ld_ew_state(c, 256);
    if (!lut)
        return LEANDET_ERR_NO_MEMORY;
    return ld_ew8_probe_lut(c, lut);
}

/* 32 lookups by pshufb, which reads a 16-byte row at the low nibble of its
 * index and gives 0 when the index's top bit is set. The table's 16 rows
 * are kept as deltas d[k] = row k ^ row k-1 within each half (d[0], d[8]:
 * rows 0 and 8). For a byte x < 128 the index x - 16k (wrapping) has its top
 * bit clear exactly when k <= x >> 4, so the XOR of the pshufb results over
 * k = 0..7 telescopes to row (x >> 4) at x & 15; bytes >= 128 do the same
 * with x - 128 over the upper half, and the top bit of x picks the half. */
LD_C8_INLINE __m256i lut32(const __m256i d[16], __m256i x)
{
    const __m256i step = _mm256_set1_epi8(16);
    __m256i i_lo = x, i_hi = _mm256_xor_si256(x, _mm256_set1_epi8((char)0x80));
    __m256i lo = _mm256_shuffle_epi8(d[0], i_lo), hi = _mm256_shuffle_epi8(d[8], i_hi);
    for (int k = 1; k < 8; k++) {
        i_lo = _mm256_sub_epi8(i_lo, step);
        i_hi = _mm256_sub_epi8(i_hi, step);
        lo = _mm256_xor_si256(lo, _mm256_shuffle_epi8(d[k], i_lo));
        hi = _mm256_xor_si256(hi, _mm256_shuffle_epi8(d[8 + k], i_hi));
    }
    return _mm256_blendv_epi8(lo, hi, x);
}

LD_C8_AVX2 static void lut_run(const uint8_t lut[256], const uint8_t *x, uint8_t *y, size_t n)
{
    __m256i d[16];
    for (int k = 0; k < 16; k++) {
        __m128i row = _mm_loadu_si128((const __m128i *)(lut + 16 * k));
        if (k % 8)
            row = _mm_xor_si128(row, _mm_loadu_si128((const __m128i *)(lut + 16 * (k - 1))));
        d[k] = _mm256_broadcastsi128_si256(row);
    }
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm256_storeu_si256((__m256i *)(y + i), lut32(d, _mm256_loadu_si256((const __m256i *)(x + i))));
    for (; i < n; i++)
        y[i] = lut[x[i]];
}

#define LD_EW8_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))

/* vpermt2b looks up 64 bytes in a 128-byte table (index bits 0-6); one
 * permute per half of the table, and x's top bit picks the half. Same
 * table, same bytes as lut_run: about a tenth of its instructions. */
LD_EW8_VBMI static void lut_run_vbmi(const uint8_t lut[256], const uint8_t *x, uint8_t *y, size_t n)
{
    const __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
    const __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512i v = _mm512_loadu_si512(x + i);
        const __m512i lo = _mm512_permutex2var_epi8(t0, v, t1), hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi));
    }
    if (i < n) {
        const __mmask64 m = ((__mmask64)1 << (n - i)) - 1; /* n - i < 64 */
        const __m512i v = _mm512_maskz_loadu_epi8(m, x + i);
        const __m512i lo = _mm512_permutex2var_epi8(t0, v, t1), hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_mask_storeu_epi8(y + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi));
    }
}

void ld_ew8_lut_apply(const uint8_t lut[256], const uint8_t *x, uint8_t *y, size_t n, int vbmi)
{
    (vbmi ? lut_run_vbmi : lut_run)(lut, x, y, n);
}

int ld_ew8_has_vbmi(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi");
}

typedef struct lut_job {
    const uint8_t *lut, *x;
    uint8_t *y;
    size_t n;
    int parts, vbmi;
} lut_job;

static void lut_task(void *ctx, int task, int thread)
{
    (void)thread;
    const lut_job *j = ctx;
    size_t lo, hi;
    ld_f32_part(j->n, j->parts, task, &lo, &hi);
    ld_ew8_lut_apply(j->lut, j->x + lo, j->y + lo, hi - lo, j->vbmi);
}

leandet_status ld_ew8_lut_eval(ld_op_ctx *c)
{
    lut_job j = { c->state, c->in[0]->data, c->out[0]->data, ld_shape_count(&c->in[0]->shape), 1,
                  ld_ew8_has_vbmi() };
    j.parts = ld_ew8_parts(c, j.n, PARALLEL_MIN);
    ld_pool_run(c->pool, j.parts, lut_task, &j);
    return LEANDET_OK;
}

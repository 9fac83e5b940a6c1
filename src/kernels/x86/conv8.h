/* Internals of the x86 8-bit CONV_2D / DEPTHWISE_CONV_2D kernels:
 *   conv8.c        the table, acceptance, prepare (packing), eval (tasks)
 *   conv8_gemm.c   CONV_2D as a packed int16 GEMM (AVX2, vpmaddwd)
 *   conv8_vnni.c   CONV_2D as an indirect uint8 x int8 GEMM (AVX-512 VNNI)
 *   conv8_dw.c     DEPTHWISE_CONV_2D (AVX2); conv8_dw512.c (AVX-512)
 *   conv8_patch.c  pixel positions, tap pointers, patch gathering
 *   conv8_simd.h, conv8_simd512.h  exact vector requantization, stores
 *
 * Arithmetic. With x the input values, zx its zero point, and w' = w - zw
 * the weights with their zero point removed at packing time, the reference
 * accumulates sum over taps inside the input of (x - zx) * w' + bias. Taps
 * outside the input contribute nothing there; here they read zx (so
 * x - zx = 0) and every pixel sums over all taps:
 *     acc = sum_all x * w'  +  (bias - zx * sum_all w').
 * The bracket is a per-channel constant ("fold") computed once (the VNNI
 * path shifts x and w to fit its operand types; see conv8_vnni.c). The
 * products are exact, and every sum wraps modulo 2^32 exactly as the
 * reference's uint32 accumulator does, so the accumulators equal the
 * reference's for every input: no overflow bound is needed. */
#ifndef LD_KERNELS_X86_CONV8_H
#define LD_KERNELS_X86_CONV8_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/ref/conv_window.h"
#include "kernels/x86/conv8_simd.h"

/* Scratch is one buffer shared by every op and thread of a session, sized
 * at prepare when the thread count is unknown: this many slices. With at
 * most this many threads, thread i uses slice i (any number of tasks);
 * with more, eval makes at most this many tasks and task i uses slice i.
 * Either way concurrent tasks never share a slice. */
#define LD_C8_SLOTS 8

/* AVX2 GEMM tiles: LD_C8_MR output pixels by 16 (or a last 8) channels. */
#define LD_C8_MR 4

/* Tap pointer tables hold up to this many taps per pixel (larger
 * depthwise filters stay with the reference; CONV_2D gathers instead). */
#define LD_C8_MAX_TAPS 63

static inline size_t c8_align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

typedef struct c8_conv {
    ld_window win;
    int batches, in_c, out_c;
    int in_signed;          /* int8 input (else uint8) */
    int32_t in_zp;
    uint8_t zp_byte;        /* the input's zero point as stored */
    int n_pad;              /* channels padded to whole blocks (8 or 16 AVX2, 16 or 32 AVX-512) */
    int narrow_tail;        /* GEMM: the last channel block is half wide */
    c8_order order;         /* lane order of the per-channel tables */
    c8_requant q;
    void *w;                /* packed weights (layout of the kernel's path) */
    uint8_t *zrow;          /* zp_byte repeated: reads of padding taps and absent rows */
    /* GEMM */
    int k, kp;              /* patch length f_h*f_w*in_c; packed length (AVX2: k rounded up to 8) */
    int direct;             /* AVX2: 1x1 without padding and k == kp, pixels read in place */
    int mr;                 /* pixels per tile */
    int nr;                 /* channels per tile (the last may be narrower): eval splits channels in these */
    int mc;                 /* pixels per packed panel (multiple of mr) */
    size_t slot_bytes;      /* per-task scratch */
    /* VNNI GEMM: unsigned activations times signed weights (conv8_vnni.c) */
    enum { C8_ROWS_TAPS, C8_ROWS_KROWS, C8_ROWS_GATHER } rows; /* how patches are read */
    int run, len;           /* patch bytes per row pointer, and bytes read there */
    int32_t row_mult;       /* d of conv8_vnni.c: times each patch's sum of input values */
    int preflip;            /* VNNI, int8 input: eval flips the input to xu once into scratch
                               (flip_bytes after the slots), not at every broadcast */
    size_t flip_bytes;
    const uint8_t *zrow_flip; /* zrow's bytes ^ 0x80 (kp of them), when preflip */
    int taps;               /* depthwise: f_h*f_w; VNNI: pointers per pixel */
    ptrdiff_t tap_off[LD_C8_MAX_TAPS]; /* byte offset of each tap from tap (0, 0), inside the input */
    int pairs;              /* depthwise: taps rounded up to pairs */
} c8_conv;

/* The one allocation of a c8_conv: a copy of `plan` with its tables (the
 * requant tables for plan->n_pad channels, `w_bytes` of packed weights,
 * `zrow_bytes` copies of plan->zp_byte). NULL if out of memory. */
c8_conv *c8_conv_alloc(ld_alloc *a, const c8_conv *plan, size_t w_bytes, size_t zrow_bytes);

/* Fill s->q from per-channel multipliers/shifts and folded constants given
 * in natural channel order (out_c entries). */
void c8_requant_fill(c8_conv *s, const int32_t *mult, const int32_t *shift, const uint32_t *fold);

/* fold[ch] = bias[ch] - zx * sum over k < k_len of (w - w_zp), wrapping,
 * for `channels` channels of weight bytes at w[ch * ch_step + k * k_step]
 * (bias may be NULL). */
void c8_fold(const uint8_t *w, int w_signed, int32_t w_zp, size_t ch_step, size_t k_step, int k_len,
             const int32_t *bias, int32_t zx, int channels, uint32_t *fold);

/* Output pixel position, walked one pixel at a time (no divisions). */
typedef struct c8_pos {
    int b, oy, ox;
} c8_pos;

void c8_pos_init(const c8_conv *s, int m, c8_pos *p);

static inline void c8_pos_next(const c8_conv *s, c8_pos *p)
{
    if (++p->ox == s->win.out_w) {
        p->ox = 0;
        if (++p->oy == s->win.out_h) {
            p->oy = 0;
            p->b++;
        }
    }
}

/* The patch of pixel *p (k bytes, weight order), then advance *p: in place
 * when s->direct, else gathered into tmp by c8_gather (padding taps read
 * the zero point). */
const uint8_t *c8_patch_row(const c8_conv *s, const uint8_t *in, c8_pos *p, uint8_t *tmp);
void c8_gather(const c8_conv *s, const uint8_t *in, const c8_pos *p, uint8_t *dst);

/* Pointers to the in_c input bytes under each tap (f_h * f_w, weight
 * order) of pixel *p; padding taps point at zrow. c8_tap_plan fills
 * s->tap_off first (f_h * f_w <= LD_C8_MAX_TAPS). */
void c8_tap_plan(c8_conv *s);
void c8_tap_pointers(const c8_conv *s, const uint8_t *in, const c8_pos *p, const uint8_t **tp);
/* Output columns [*lo, *hi) of output row oy whose taps are all inside the
 * input (empty if none): there the next pixel's tap pointers are these
 * plus stride_w * in_c. */
void c8_interior_cols(const c8_conv *s, int oy, int *lo, int *hi);

/* Walks output pixels in order with the tap pointers of each: inside the
 * input, the next pixel's pointers are the last ones plus stride_w * in_c. */
typedef struct c8_cursor {
    const uint8_t *tp[LD_C8_MAX_TAPS + 1]; /* taps of the loaded pixel; tp[taps] = zrow */
    c8_pos p;
    int lo, hi;                            /* c8_interior_cols of p's row */
    int loaded;                            /* tp holds the previous pixel's taps */
    ptrdiff_t step;
} c8_cursor;

/* Positioned at pixel m (flattened over batches), nothing loaded yet. */
void c8_cursor_init(c8_cursor *c, const c8_conv *s, int m);

/* Tap pointers of c->p into c->tp (after the previous pixel's, if any). */
static inline void c8_cursor_load(c8_cursor *c, const c8_conv *s, const uint8_t *in)
{
    if (c->loaded && c->p.ox > c->lo && c->p.ox < c->hi) {
        for (int t = 0; t < s->taps; t++)
            c->tp[t] += c->step;
    } else {
        c8_tap_pointers(s, in, &c->p, c->tp);
    }
    c->loaded = 1;
}

/* To the next pixel; c8_cursor_load for each pixel keeps the shortcut valid. */
static inline void c8_cursor_next(c8_cursor *c, const c8_conv *s)
{
    c8_pos_next(s, &c->p);
    if (c->p.ox == 0)
        c8_interior_cols(s, c->p.oy, &c->lo, &c->hi);
}

/* GEMM: sizes (k, kp, direct, mc, slot_bytes) from the shapes. */
void c8_gemm_plan(c8_conv *s);
/* Bytes of packed weights the GEMM needs. */
size_t c8_gemm_weight_bytes(const c8_conv *s);
/* Pack weights [out_c][k] (bytes of the weight type, zero point w_zp) and
 * compute the folded constants into fold[out_c] (bias may be NULL). */
void c8_gemm_pack(c8_conv *s, const uint8_t *w, int w_signed, int32_t w_zp, const int32_t *bias, uint32_t *fold);
/* Output pixels [m0, m1) (all batches flattened) by padded channels
 * [n0, n1) (multiples of s->nr, n1 <= n_pad) with one scratch slice. */
void c8_gemm_run(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1, int n0, int n1, void *slot);

/* The same with AVX-512 VNNI (vpdpbusd): whether the CPU has it, plan,
 * packed-weight bytes, packing, run. */
int c8_vnni_usable(void);

/* Whether k is the 8-bit CONV_2D of ld_avx2_conv8 (either entry), and its
 * eval followed on each task's output by the 8-bit table lut (a fused
 * SiLU: fuse_silu.c), with the same bytes as the two ops apart. */
int ld_conv8_is_conv(const ld_kernel *k);
leandet_status ld_conv8_eval_lut(ld_op_ctx *c, const uint8_t lut[256]);
void c8_vnni_plan(c8_conv *s);
size_t c8_vnni_weight_bytes(const c8_conv *s);
/* Bytes of zero-point rows the VNNI path needs (zrow, and zrow_flip when preflip). */
size_t c8_vnni_zrow_bytes(const c8_conv *s);
void c8_vnni_pack(c8_conv *s, const uint8_t *w, int w_signed, int32_t w_zp, const int32_t *bias, uint32_t *fold);
/* `in`: the input, or when s->preflip its copy made by c8_vnni_flip_input. */
void c8_vnni_run(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1, int n0, int n1, void *slot);
/* dst = src ^ 0x80 over n bytes. */
void c8_vnni_flip_input(uint8_t *dst, const uint8_t *src, size_t n);

/* Depthwise (multiplier 1): packed-weight bytes, packing, and output
 * pixels [m0, m1) (all batches flattened). */
size_t c8_dw_weight_bytes(const c8_conv *s);
void c8_dw_pack(c8_conv *s, const uint8_t *w, int w_signed, int32_t w_zp, const int32_t *bias, uint32_t *fold);
void c8_dw_run(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1);
/* The same on AVX-512 (tables in C8_ORDER_DW512, n_pad a multiple of 32). */
void c8_dw512_run(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1);

/* The row loop both depthwise files share: defines `name` (c8_dw_run,
 * c8_dw512_run) over `pixel(s, tp, out, is_signed)`, an always-inline
 * function of the file, compiled for `attr` in a uint8 and an int8 copy. */
#define C8_DW_DRIVER(name, attr, pixel)                                                              \
    static inline __attribute__((always_inline)) attr void name##_rows(                               \
        const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1, int is_signed)            \
    {                                                                                                \
        const size_t c = (size_t)s->in_c;                                                            \
        c8_cursor cur;                                                                               \
        c8_cursor_init(&cur, s, m0);                                                  \
        uint8_t *o = out + (size_t)m0 * c;                                    \
        for (int n = m1 - m0; n > 0; n--, o += c) {                                 \
            c8_cursor_load(&cur, s, in);                                                             \
            pixel(s, cur.tp, o, is_signed);                                                          \
            c8_cursor_next(&cur, s);                                                                 \
        }                                                                                            \
    }                                                                                                \
    static attr void name##_u8(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1)   \
    {                                                                                                \
        name##_rows(s, in, out, m0, m1, 0);                                                          \
    }                                                                                                \
    static attr void name##_s8(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1)   \
    {                                                                                                \
        name##_rows(s, in, out, m0, m1, 1);                                                          \
    }                                                                                                \
    void name(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1)                     \
    {                                                                                                \
        (s->in_signed ? name##_s8 : name##_u8)(s, in, out, m0, m1);                                  \
    }

#endif

/* Packed-weight float32 GEMM for CONV_2D and FULLY_CONNECTED (AVX2+FMA; AVX-512F).
 *
 * C[m][n] = clamp(bias[n] + sum_t sum_i A_t[m][i] * W[n][t * kc + i]): each
 * output row m reads `taps` input vectors of kc floats through pointers
 * (XNNPACK's "indirect" GEMM), so a KxK convolution needs no im2col copy:
 * a tap outside the input points at a vector of zeros, and a 1x1
 * convolution or a fully connected layer is the case taps == 1.
 *
 * Weights are packed once in prepare into panels of nr output channels: the
 * panel's bias, then for every k its nr weights, so the micro-kernel reads
 * them with aligned loads in the order it uses them. The last panel is
 * nr / 2 or nr wide and zero padded. A micro-kernel computes LD_F32_MR rows
 * by one panel in registers: AVX2 6x16 (12 ymm accumulators), or on CPUs
 * with AVX-512 6x32 (12 zmm, float_gemm512.c): twice the FLOPs per cycle
 * where the CPU has full-width 512-bit FMA units (AMD Zen 5, Intel server
 * cores), which is what XNNPACK runs there. */
#ifndef LD_KERNELS_X86_FLOAT_GEMM_H
#define LD_KERNELS_X86_FLOAT_GEMM_H

#include <stddef.h>

#define LD_F32_MR 6

typedef struct ld_f32_gemm {
    int n;                /* output channels */
    int nr;               /* panel width: 16 (AVX2) or 32 (AVX-512) */
    int panels;           /* full panels, plus one nr / 2 or nr wide tail */
    size_t kc, taps;      /* floats per input vector, vectors per row */
    size_t panel_floats;  /* floats in one full panel: nr * (1 + taps * kc) */
    float lo, hi;         /* fused activation */
    const float *w;       /* packed, 64-byte aligned */
} ld_f32_gemm;

/* Floats needed to pack n x (taps * kc) weights in panels of nr; 0 if that
 * overflows. */
size_t ld_f32_gemm_packed_floats(int n, size_t kc, size_t taps, int nr);

/* Pack w ([n][taps * kc], row-major) and bias (n values or NULL: zeros)
 * into dst (ld_f32_gemm_packed_floats floats, 64-byte aligned) in panels of
 * nr (16; 32 runs the AVX-512 micro-kernels: only where ld_f32_has_avx512)
 * and set up g. */
void ld_f32_gemm_pack(ld_f32_gemm *g, const float *w, const float *bias, int n, size_t kc, size_t taps, int nr,
                      float lo, float hi, float *dst);

/* Rows 0..mr-1 (mr <= LD_F32_MR) times panels [p0, p1): a holds `taps`
 * groups of LD_F32_MR row pointers (a[t * LD_F32_MR + r]; rows >= mr may
 * repeat a valid row), each to `kc` floats; taps * kc must equal the packed
 * g->taps * g->kc (a caller may merge taps that are adjacent in memory into
 * one longer vector). Row r of the result goes to c + r * cs (column 0 =
 * channel 0). */
void ld_f32_gemm_rows(const ld_f32_gemm *g, int p0, int p1, size_t mr, size_t kc, size_t taps,
                      const float *const *a, float *c, size_t cs);

/* AVX-512 micro-kernels (float_gemm512.c): LD_F32_MR rows by one panel of
 * `width` 32 or 16 channels, nc of them stored. */
void ld_f32_tile512(const ld_f32_gemm *g, const float *w, int width, int nc, size_t mr, size_t kc, size_t taps,
                    const float *const *a, float *c, size_t cs);

#endif

/* Shared state of the float32 DEPTHWISE_CONV_2D kernels: the geometry and
 * row driver live in float_dw.c, the vector loops per ISA (AVX2 there,
 * AVX-512 in float_dw512.c) are chosen in prepare. */
#ifndef LD_KERNELS_X86_FLOAT_DW_H
#define LD_KERNELS_X86_FLOAT_DW_H

#include <stddef.h>

#include "kernels/ref/conv_window.h"

typedef struct ld_dw_f32 ld_dw_f32;

/* One output pixel at the border: its image, output, origin and the taps
 * that fall inside the input. */
typedef struct ld_dw_at {
    const float *img;     /* the batch's image */
    float *out;           /* the pixel's output */
    int iy0, ix0;         /* input coordinates of tap (0, 0) */
    int ky0, ky1, kx0, kx1;
} ld_dw_at;

struct ld_dw_f32 {
    ld_window win;
    int batches, ch;
    int chp;               /* channels rounded up to the vector width */
    float lo, hi;
    size_t taps;
    const float *w;        /* [taps][chp], then bias[chp], zero padded */
    const size_t *off;     /* taps: input offset of each tap from tap (0, 0) */
    /* all channels of four consecutive interior pixels (x: tap (0, 0) of the first) */
    void (*interior4)(const ld_dw_f32 *s, const float *x, float *out);
    /* all channels of one border pixel */
    void (*border)(const ld_dw_f32 *s, const ld_dw_at *at);
};

/* The loops per ISA. The AVX2 ones work with any padding that is a multiple
 * of 8, so they also run on weights packed for AVX-512 (tests use that). */
void ld_dw_interior4_avx2(const ld_dw_f32 *s, const float *x, float *out);
void ld_dw_border_avx2(const ld_dw_f32 *s, const ld_dw_at *at);
void ld_dw_interior4_avx512(const ld_dw_f32 *s, const float *x, float *out);
void ld_dw_border_avx512(const ld_dw_f32 *s, const ld_dw_at *at);

#endif

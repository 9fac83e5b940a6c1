/* CONV_2D (8-bit, one group) as an indirect GEMM on AVX-512 VNNI.
 *
 * vpdpbusd adds four products of an unsigned byte by a signed byte into
 * each int32 lane, exactly (no intermediate saturation; the int32 add wraps
 * like the reference's sum). Activations are the unsigned operand:
 * xu = x, or x + 128 for int8 (byte ^ 0x80, applied as each group of 4 is
 * broadcast), zero point zx' = zx (+128). Weights are the signed one:
 * w8 = w for int8 (symmetric, zw = 0), w - 128 for uint8 (byte ^ 0x80).
 * With d = 128 - zw for uint8 weights and 0 for int8, w - zw = w8 + d and
 *     (xu - zx') (w - zw) = xu * w8 + d * xu - zx' (w - zw),
 * so over a patch
 *     acc = dot + d * (sum of the patch's xu) + fold,
 * with the per-channel fold = bias - zx' * sum (w - zw). Padding taps read
 * the zero point (xu = zx'), whose terms cancel exactly, like the
 * reference's skipped taps. Only uint8 models need the patch sums.
 *
 * Rows. The kernel reads each pixel's patch through a table of pointers,
 * each to `len` bytes (a multiple of 4) of which the first `run` are patch
 * values in weight order; the weights of the others centre to 0, so
 * whatever bytes sit there add nothing. Three ways, best first:
 *   taps:   in_c % 4 == 0: one pointer per tap, into the input (run = len
 *           = in_c; padding taps point at zero-point bytes);
 *   krows:  dilation_w 1: one pointer per kernel row, f_w * in_c bytes
 *           into the input, padded up to len by reading on (pixels at a
 *           left/right border or at the very end of the input get a copy);
 *   gather: one pointer per pixel to a copy of its whole patch.
 * The patch sums times d are formed from the table (vpsadbw), once per
 * pixel, when d != 0.
 *
 * Tiles are C8_VNNI_MR = 6 pixels by 64 (a last block: 16, 32 or 48)
 * channels: 24 zmm accumulators; per 4 k, 6 broadcasts of 4 activation
 * bytes and 4 weight vectors. The broadcasts are what limits the speed:
 * wide tiles need fewer per multiply-add. Weights are packed as
 * [channel block][k/4][channels][4], in C8_ORDER_GEMM512 like the requant
 * tables (one in-lane pack then puts 32 channels in order). A chunk of mc
 * pixels gets its pointer table, then every channel block runs over its
 * tiles (the block's weights stay in L1 or L2).
 *
 * Pre-flipped input. With int8 activations every broadcast takes an xor,
 * and a narrow tile has only one or two multiply-adds per broadcast to
 * share it. So eval copies an int8 input once, flipped, into scratch
 * (c8_vnni_flip_input), and the tiles read it as uint8 with the flipped
 * zero point: the same bytes reach vpdpbusd, so the sums are the same. */
#include "kernels/x86/conv8.h"

#include <string.h>

#include "kernels/x86/conv8_simd512.h"

#define C8_VNNI_MR 6

/* The largest input flipped into scratch before the tiles run. */
#define C8_FLIP_MAX ((size_t)1 << 20)

/* Per-slot scratch: the pointer table (taps per pixel), the row
 * corrections, and the gathered rows when the input is not read in place. */
static size_t table_bytes(const c8_conv *s)
{
    return c8_align64((size_t)s->mc * (size_t)s->taps * sizeof(const uint8_t *));
}

static size_t corr_bytes(const c8_conv *s)
{
    return c8_align64((size_t)s->mc * sizeof(int32_t));
}

void c8_vnni_plan(c8_conv *s)
{
    const ld_window *w = &s->win;
    s->mr = C8_VNNI_MR;
    s->nr = 64;
    s->order = C8_ORDER_GEMM512;
    s->k = w->f_h * w->f_w * s->in_c;
    if (s->in_c % 4 == 0 && w->f_h * w->f_w <= LD_C8_MAX_TAPS) {
        s->rows = C8_ROWS_TAPS;
        s->taps = w->f_h * w->f_w;
        s->run = s->in_c;
        c8_tap_plan(s);
    } else if (w->dil_w == 1 && w->f_h <= LD_C8_MAX_TAPS) {
        s->rows = C8_ROWS_KROWS;
        s->taps = w->f_h;
        s->run = w->f_w * s->in_c;
    } else {
        s->rows = C8_ROWS_GATHER;
        s->taps = 1;
        s->run = s->k;
    }
    s->len = (s->run + 3) & ~3;
    s->kp = s->taps * s->len;
    /* Tables of about 2048 pointers; gathered patches: about 32 KiB. */
    int mc = s->rows == C8_ROWS_GATHER ? (int)(32768 / (size_t)s->kp) : 2048 / s->taps;
    mc = mc / C8_VNNI_MR * C8_VNNI_MR;
    if (mc < C8_VNNI_MR)
        mc = C8_VNNI_MR;
    size_t m = (size_t)s->batches * (size_t)w->out_h * (size_t)w->out_w;
    size_t m_round = (m + C8_VNNI_MR - 1) / C8_VNNI_MR * C8_VNNI_MR;
    if ((size_t)mc > m_round)
        mc = (int)m_round;
    s->mc = mc;
    /* copies: a whole patch per pixel (gather) or one per kernel row (krows) */
    size_t copies = s->rows == C8_ROWS_TAPS ? 0 : c8_align64((size_t)mc * (size_t)s->kp);
    s->slot_bytes = table_bytes(s) + corr_bytes(s) + copies;
    const size_t in_bytes = (size_t)s->batches * (size_t)w->in_h * (size_t)w->in_w * (size_t)s->in_c;
    s->preflip = s->in_signed && in_bytes <= C8_FLIP_MAX;
    s->flip_bytes = s->preflip ? c8_align64(in_bytes) : 0;
}

size_t c8_vnni_zrow_bytes(const c8_conv *s)
{
    return s->preflip ? 2 * c8_align64((size_t)s->kp) : (size_t)s->kp;
}

size_t c8_vnni_weight_bytes(const c8_conv *s)
{
    return (size_t)s->n_pad * (size_t)s->kp;
}

/* Packed weight byte i of a channel is byte i % len of row pointer i / len:
 * a patch value while below run, else the byte whose centred value is 0.
 * Packing walks a block's channels for each group of 4 bytes, so the
 * positions' sources and the lanes' channels are worked out once (prepare
 * time matters: SSD packs 4.3 MB). */
void c8_vnni_pack(c8_conv *s, const uint8_t *w, int w_signed, int32_t w_zp, const int32_t *bias, uint32_t *fold)
{
    const int kp = s->kp;
    s->row_mult = w_signed ? 0 : 128 - w_zp;
    if (s->row_mult) { /* uint8 weights: the row sums are of the bytes as stored */
        s->preflip = 0;
        s->flip_bytes = 0;
    }
    if (s->preflip) {
        uint8_t *flipped = s->zrow + c8_align64((size_t)kp);
        memset(flipped, s->zp_byte ^ 0x80, (size_t)kp);
        s->zrow_flip = flipped;
    }
    c8_fold(w, w_signed, w_zp, (size_t)s->k, 1, s->k, bias, s->in_zp + (s->in_signed ? 128 : 0), s->out_c, fold);
    const uint8_t flip = w_signed ? 0 : 0x80, centre = (uint8_t)((uint8_t)w_zp ^ flip);
    for (int base = 0; base < s->n_pad; base += 64) {
        const int nb = s->n_pad - base < 64 ? s->n_pad - base : 64; /* as the tiles take them */
        const uint8_t *row[64];  /* the channel of each lane, NULL for padding lanes */
        for (int j = 0; j < nb; j++) {
            const int ch = c8_lane_channel(base + j, s->n_pad, s->order, s->narrow_tail);
            row[j] = ch < s->out_c ? w + (size_t)ch * (size_t)s->k : NULL;
        }
        uint8_t *dst = (uint8_t *)s->w + (size_t)base * (size_t)kp;
        for (int i0 = 0; i0 < kp; i0 += 4) {
            int src[4]; /* offset in a channel's weights, -1: past the row pointer's run */
            for (int e = 0; e < 4; e++) {
                const int i = i0 + e, at = i % s->len;
                src[e] = at < s->run ? i / s->len * s->run + at : -1;
            }
            for (int j = 0; j < nb; j++, dst += 4)
                for (int e = 0; e < 4; e++)
                    dst[e] = !row[j] ? 0 : src[e] < 0 ? centre : (uint8_t)(row[j][src[e]] ^ flip);
        }
    }
}

/* Byte sums (vpsadbw, in 64-bit lanes) of n bytes at p. */
LD_C8_INLINE512 __m128i sad_bytes(const uint8_t *p, int n)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i acc = zero;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(p + i)), zero));
    if (i < n) {
        __mmask16 m = (__mmask16)(0xffffu >> (16 - (n - i)));
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_maskz_loadu_epi8(m, p + i), zero));
    }
    return acc;
}

/* Kernel-row pointers of pixel p (krows): into the input where the whole
 * len bytes lie inside it and the row has no left/right padding, else to
 * a copy in `copy` (f_h * len bytes). Returns whether all point into the
 * input. */
static int krow_pointers(const c8_conv *s, const uint8_t *in, const uint8_t *end, const c8_pos *p, uint8_t *copy,
                         const uint8_t **tp)
{
    const ld_window *w = &s->win;
    const size_t c = (size_t)s->in_c;
    const int iy0 = p->oy * w->stride_h - w->pad_h, ix0 = p->ox * w->stride_w - w->pad_w;
    const int inside = ix0 >= 0 && ix0 + w->f_w <= w->in_w;
    int all = 1;
    for (int ky = 0; ky < w->f_h; ky++, copy += s->len) {
        const int iy = iy0 + ky * w->dil_h;
        if (iy < 0 || iy >= w->in_h) {
            tp[ky] = s->zrow;
            all = 0;
            continue;
        }
        const uint8_t *row = in + ((size_t)p->b * (size_t)w->in_h + (size_t)iy) * (size_t)w->in_w * c;
        if (inside && (size_t)(end - row) >= (size_t)ix0 * c + (size_t)s->len) {
            tp[ky] = row + (size_t)ix0 * c;
            continue;
        }
        for (int kx = 0; kx < w->f_w; kx++) {
            const int ix = ix0 + kx;
            if (ix < 0 || ix >= w->in_w)
                memset(copy + (size_t)kx * c, s->zp_byte, c);
            else
                memcpy(copy + (size_t)kx * c, row + (size_t)ix * c, c);
        }
        memset(copy + s->run, 0, (size_t)(s->len - s->run));
        tp[ky] = copy;
        all = 0;
    }
    return all;
}

/* Pointer table and row corrections of pixels [m, m + n), padded with
 * zrow rows to whole tiles. Table layout: [tile][tap][row]. A row's
 * correction is d times the sum of its xu (uint8 models only: else 0).
 * One loop per way of reading rows, each calling PUT(pixel, pointers). */
#define C8_PUT(i, src)                                                                       \
    do {                                                                                     \
        const uint8_t **t_ = table + (size_t)((i) / C8_VNNI_MR) * tile_ptrs + (i) % C8_VNNI_MR; \
        for (int j_ = 0; j_ < taps; j_++)                                                    \
            t_[(size_t)j_ * C8_VNNI_MR] = (src)[j_];                                         \
    } while (0)

static LD_C8_512 void build_chunk(const c8_conv *s, const uint8_t *in, int m, int n, const uint8_t **table,
                                  int32_t *corr, uint8_t *copies)
{
    const int taps = s->taps;
    const ld_window *wn = &s->win;
    const uint8_t *end = in + (size_t)s->batches * (size_t)wn->in_h * (size_t)wn->in_w * (size_t)s->in_c;
    const size_t tile_ptrs = (size_t)taps * C8_VNNI_MR;
    c8_cursor cur;
    c8_cursor_init(&cur, s, m);
    if (s->rows == C8_ROWS_TAPS && taps == 1 && wn->stride_h == 1 && wn->stride_w == 1 && wn->pad_h == 0 &&
        wn->pad_w == 0) {
        /* 1x1, stride 1, no padding: pixel m's row is input pixel m */
        for (int i = 0; i < n; i++) {
            const uint8_t *row = in + ((size_t)m + (size_t)i) * (size_t)s->in_c;
            C8_PUT(i, &row);
        }
    } else if (s->rows == C8_ROWS_TAPS) {
        for (int i = 0; i < n; i++, c8_cursor_next(&cur, s)) {
            c8_cursor_load(&cur, s, in);
            C8_PUT(i, cur.tp);
        }
    } else if (s->rows == C8_ROWS_KROWS) {
        const ptrdiff_t step = (ptrdiff_t)wn->stride_w * s->in_c;
        const uint8_t *kr[LD_C8_MAX_TAPS]; /* the last pixel's pointers */
        int kr_direct = 0;                 /* ... all into the input */
        for (int i = 0; i < n; i++, c8_cursor_next(&cur, s)) {
            /* inside the input, the next pixel's rows are step bytes on */
            if (kr_direct && cur.p.ox > cur.lo && cur.p.ox < cur.hi && end - kr[taps - 1] >= step + s->len) {
                for (int j = 0; j < taps; j++)
                    kr[j] += step;
            } else {
                kr_direct = krow_pointers(s, in, end, &cur.p, copies + (size_t)i * (size_t)s->kp, kr);
            }
            C8_PUT(i, kr);
        }
    } else {
        for (int i = 0; i < n; i++, c8_cursor_next(&cur, s)) {
            const uint8_t *row = copies + (size_t)i * (size_t)s->kp;
            c8_gather(s, in, &cur.p, copies + (size_t)i * (size_t)s->kp);
            C8_PUT(i, &row);
        }
    }
    for (int i = n; i % C8_VNNI_MR; i++)
        for (int j = 0; j < taps; j++)
            table[(size_t)(i / C8_VNNI_MR) * tile_ptrs + (size_t)j * C8_VNNI_MR + i % C8_VNNI_MR] = s->zrow;
    if (!s->row_mult) {
        memset(corr, 0, (size_t)n * sizeof *corr);
        return;
    }
    /* Sums in a second pass: reading a row just copied by small stores
     * would stall on store forwarding. */
    for (int i = 0; i < n; i++) {
        const uint8_t *const *t = table + (size_t)(i / C8_VNNI_MR) * tile_ptrs + i % C8_VNNI_MR;
        __m128i sums = _mm_setzero_si128();
        for (int j = 0; j < taps; j++)
            sums = _mm_add_epi64(sums, sad_bytes(t[(size_t)j * C8_VNNI_MR], s->len));
        uint32_t sum = (uint32_t)_mm_cvtsi128_si32(sums) + (uint32_t)_mm_extract_epi32(sums, 2);
        corr[i] = (int32_t)(sum * (uint32_t)s->row_mult);
    }
}
#undef C8_PUT

LD_C8_INLINE512 int32_t load32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Rows of a tile, for named accumulators and pointers (with arrays, gcc
 * copies registers around at every step). */
#define C8_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

/* One tile: C8_VNNI_MR pixels x 16 * nv channels from channel `base`.
 * flip: int8 input, whose bytes become xu = byte ^ 0x80 as broadcast. */
LD_C8_INLINE512 void tile(const c8_conv *s, const uint8_t *const *table, const int32_t *corr, const int8_t *w,
                          int base, int nv, int flip, uint8_t *out, int rows)
{
    const int quads = s->len / 4;
    __m512i f[4];
    for (int v = 0; v < 4; v++)
        f[v] = v < nv ? _mm512_loadu_si512(s->q.fold + base + 16 * v) : _mm512_setzero_si512();
#define C8_DECL(r) __m512i c##r##_0 = f[0], c##r##_1 = f[1], c##r##_2 = f[2], c##r##_3 = f[3];
    C8_ROWS(C8_DECL)
#undef C8_DECL
    const __m512i flips = _mm512_set1_epi8((char)0x80);
#define C8_BCAST(p) (flip ? _mm512_xor_si512(_mm512_set1_epi32(load32(p)), flips) : _mm512_set1_epi32(load32(p)))
    for (int t = 0; t < s->taps; t++, table += C8_VNNI_MR) {
#define C8_PTR(r) const uint8_t *p##r = table[r];
        C8_ROWS(C8_PTR)
#undef C8_PTR
        for (int q = 0; q < quads; q++, w += 64 * nv) {
            const __m512i w0 = _mm512_load_si512(w);
            const __m512i w1 = nv > 1 ? _mm512_load_si512(w + 64) : w0;
            const __m512i w2 = nv > 2 ? _mm512_load_si512(w + 128) : w0;
            const __m512i w3 = nv > 3 ? _mm512_load_si512(w + 192) : w0;
            __m512i x;
#define C8_STEP(r)                                           \
    x = C8_BCAST(p##r + 4 * q);                              \
    c##r##_0 = _mm512_dpbusd_epi32(c##r##_0, x, w0);         \
    if (nv > 1)                                              \
        c##r##_1 = _mm512_dpbusd_epi32(c##r##_1, x, w1);     \
    if (nv > 2)                                              \
        c##r##_2 = _mm512_dpbusd_epi32(c##r##_2, x, w2);     \
    if (nv > 3)                                              \
        c##r##_3 = _mm512_dpbusd_epi32(c##r##_3, x, w3);
            C8_ROWS(C8_STEP)
#undef C8_STEP
        }
    }
#undef C8_BCAST
#define C8_ACC(r) { c##r##_0, c##r##_1, c##r##_2, c##r##_3 },
    const __m512i acc[C8_VNNI_MR][4] = { C8_ROWS(C8_ACC) };
#undef C8_ACC
    const int n = s->out_c - base;
    rq16 k[4];
    for (int v = 0; v < nv; v++)
        k[v] = rq16_load(&s->q, base + 16 * v);
    for (int r = 0; r < rows; r++) {
        const __m512i c = _mm512_set1_epi32(corr[r]);
        uint8_t *o = out + (size_t)r * (size_t)s->out_c;
        __m512i v[4];
        for (int i = 0; i < nv; i++)
            v[i] = requant16(_mm512_add_epi32(acc[r][i], c), &k[i], &s->q);
        /* 32-channel halves in C8_ORDER_GEMM512, a last 16 in order */
        for (int i = 0; i + 1 < nv; i += 2)
            store32(o + 16 * i, v[i], v[i + 1], n - 16 * i);
        if (nv % 2)
            store16(o + 16 * (nv - 1), v[nv - 1], n - 16 * (nv - 1));
    }
}

/* dst = src ^ 0x80, n bytes. */
LD_C8_512 void c8_vnni_flip_input(uint8_t *dst, const uint8_t *src, size_t n)
{
    const __m512i flips = _mm512_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), flips));
    if (i < n) {
        const __mmask64 m = (__mmask64)(~0ull >> (64 - (n - i)));
        _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), flips));
    }
}

typedef void (*tile_fn)(const c8_conv *s, const uint8_t *const *table, const int32_t *corr, const int8_t *w,
                        int base, uint8_t *out, int rows);

#define C8_TILE(name, nv, flip)                                                                        \
    static LD_C8_512 void name(const c8_conv *s, const uint8_t *const *table, const int32_t *corr,      \
                               const int8_t *w, int base, uint8_t *out, int rows)                       \
    {                                                                                                  \
        tile(s, table, corr, w, base, nv, flip, out, rows);                                            \
    }
C8_TILE(tile16_u8, 1, 0)
C8_TILE(tile32_u8, 2, 0)
C8_TILE(tile48_u8, 3, 0)
C8_TILE(tile64_u8, 4, 0)
C8_TILE(tile16_s8, 1, 1)
C8_TILE(tile32_s8, 2, 1)
C8_TILE(tile48_s8, 3, 1)
C8_TILE(tile64_s8, 4, 1)
#undef C8_TILE

#undef C8_ROWS

/* [int8 input][channels / 16 - 1] */
static const tile_fn tiles[2][4] = { { tile16_u8, tile32_u8, tile48_u8, tile64_u8 },
                                     { tile16_s8, tile32_s8, tile48_s8, tile64_s8 } };

void c8_vnni_run(const c8_conv *s, const uint8_t *in, uint8_t *out, int m0, int m1, int n0, int n1, void *slot)
{
    c8_conv flipped; /* `in` is flipped: read it as uint8 with the flipped zero point */
    if (s->preflip) {
        flipped = *s;
        flipped.zrow = (uint8_t *)s->zrow_flip;
        flipped.zp_byte = (uint8_t)(s->zp_byte ^ 0x80);
        flipped.in_signed = 0;
        s = &flipped;
    }
    const uint8_t **table = slot;
    int32_t *corr = (int32_t *)((uint8_t *)slot + table_bytes(s));
    uint8_t *copies = (uint8_t *)corr + corr_bytes(s);
    if (s->rows == C8_ROWS_GATHER) /* defined bytes past k in gathered patches */
        for (int i = 0; i < s->mc; i++)
            memset(copies + (size_t)i * (size_t)s->kp + s->k, 0, (size_t)(s->kp - s->k));
    const size_t tile_ptrs = (size_t)s->taps * C8_VNNI_MR;
    for (int m = m0; m < m1; m += s->mc) {
        int n = m1 - m < s->mc ? m1 - m : s->mc;
        build_chunk(s, in, m, n, table, corr, copies);
        for (int base = n0; base < n1; base += 64) {
            const int8_t *w = (const int8_t *)s->w + (size_t)base * (size_t)s->kp;
            const int width = s->n_pad - base < 64 ? s->n_pad - base : 64;
            const tile_fn fn = tiles[s->in_signed][width / 16 - 1];
            for (int t = 0; t * C8_VNNI_MR < n; t++) {
                int rows_here = n - t * C8_VNNI_MR < C8_VNNI_MR ? n - t * C8_VNNI_MR : C8_VNNI_MR;
                uint8_t *o = out + ((size_t)m + (size_t)t * C8_VNNI_MR) * (size_t)s->out_c + (size_t)base;
                fn(s, table + (size_t)t * tile_ptrs, corr + (size_t)t * C8_VNNI_MR, w, base, o, rows_here);
            }
        }
    }
}

/* Image layer: decoders (real files, synthetic files written here from the
 * format specs, malformed and hostile inputs), save round trips,
 * preprocessing (resize against an independent reference, letterbox
 * geometry, int8 quantization) and drawing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <spng.h>

#include "core/alloc.h"
#include "harness.h"
#include "image/draw.h"
#include "image/image.h"
#include "image/preprocess.h"

static char g_dir[64];

static const char *tmp_path(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", g_dir, name);
    return buf;
}

static int write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    size_t w = n ? fwrite(d, 1, n, f) : 0;
    return fclose(f) == 0 && w == n;
}

static int has(const leandet_error *e, const char *s) { return strstr(e->message, s) != NULL; }

/* Decode a copy that is exactly `n` bytes long, so that any read past the
 * end is caught by AddressSanitizer. */
static leandet_status decode_exact(const char *name, const uint8_t *d, size_t n, leandet_image *im,
                                   leandet_error *e)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (n)
        memcpy(copy, d, n);
    memset(e, 0, sizeof *e);
    leandet_status st = ld_image_decode_mem(name, copy, n, 1, NULL, im, e);
    free(copy);
    return st;
}

/* The streamed preprocess (rows resized as they decode) of an exact-size
 * copy of the file against decode + preprocess of the whole image: the
 * same status, and on success the same tensor bytes. Returns 1 if so. */
static int stream_agrees(const char *name, const uint8_t *d, size_t n, int denom, const ld_preprocess *p)
{
    size_t bytes = ld_preprocess_bytes(p);
    uint8_t *copy = malloc(n ? n : 1), *want = malloc(bytes), *got = malloc(bytes);
    if (n)
        memcpy(copy, d, n);
    leandet_image im = {0, 0, NULL};
    leandet_error e1 = {0}, e2 = {0};
    ld_letterbox t1, t2;
    leandet_status s1 = ld_image_decode_mem(name, copy, n, denom, NULL, &im, &e1);
    if (s1 == LEANDET_OK)
        s1 = ld_preprocess_image(&im, p, want, bytes, &t1, &e1);
    ld_image_info info;
    size_t scratch_n = 1;
    if (ld_image_probe(name, copy, n, &info, NULL) == LEANDET_OK) {
        int w = 0, h = 0;
        ld_image_scaled_size(&info, denom, &w, &h);
        scratch_n = ld_preprocess_stream_bytes(p, w);
    }
    void *scratch = malloc(scratch_n);
    leandet_status s2 = ld_preprocess_stream(name, copy, n, denom, p, got, bytes, scratch, scratch_n, &t2, &e2);
    int ok = s1 == s2 && (s1 != LEANDET_OK || (memcmp(want, got, bytes) == 0 && memcmp(&t1, &t2, sizeof t1) == 0)) &&
             (s2 == LEANDET_OK || has(&e2, name));
    if (!ok)
        fprintf(stderr, "  %s 1/%d -> %dx%d: whole %d (%s), streamed %d (%s)\n", name, denom, p->width, p->height,
                (int)s1, e1.message, (int)s2, e2.message);
    leandet_image_free(&im);
    free(scratch);
    free(got);
    free(want);
    free(copy);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Real images                                                          */

/* Sizes are facts of the files (checked with PIL and `file`). */
static const struct {
    const char *file;
    int w, h;
} k_real[] = {
    {"bus.jpg", 810, 1080},   {"cat.bmp", 512, 341},         {"cat_720p.jpg", 1280, 720},
    {"face.jpg", 512, 355},   {"grace_hopper.bmp", 512, 600}, {"pets.jpg", 512, 430},
    {"zidane.jpg", 1280, 720},
};

static void test_real_images(void)
{
    char path[512];
    for (size_t i = 0; i < sizeof k_real / sizeof k_real[0]; i++) {
        ld_test_image(k_real[i].file, path, sizeof path);
        leandet_image im = {0, 0, NULL};
        leandet_error e = {0, ""};
        leandet_status st = leandet_image_load(path, &im, &e);
        CHECK_MSG(st == LEANDET_OK, "%s: %s", path, e.message);
        CHECK_MSG(im.width == k_real[i].w && im.height == k_real[i].h, "%s: %dx%d", path, im.width,
                  im.height);
        /* The header alone gives the same size. */
        size_t n;
        uint8_t *d = ld_test_read(path, &n);
        CHECK(d != NULL);
        ld_image_info info;
        if (d) {
            CHECK(ld_image_probe(path, d, n, &info, &e) == LEANDET_OK);
            CHECK(info.width == k_real[i].w && info.height == k_real[i].h);
            CHECK(info.format == (strstr(path, ".jpg") ? LD_IMAGE_JPEG : LD_IMAGE_BMP));
        }
        free(d);
        leandet_image_free(&im);
        CHECK(im.pixels == NULL);
    }
}

/* Pixels from the caller's allocator: the same pixels as with malloc, every
 * byte returned, and a limit below the image fails cleanly. */
static void test_caller_allocator(void)
{
    char path[512];
    ld_test_image("grace_hopper.bmp", path, sizeof path);
    leandet_image ref = {0, 0, NULL}, im = {0, 0, NULL};
    leandet_error e = {0, ""};
    CHECK(leandet_image_load(path, &ref, &e) == LEANDET_OK);
    ld_alloc pool;
    ld_alloc_init(&pool, NULL);
    leandet_allocator a = ld_alloc_public(&pool);
    CHECK(leandet_image_load_with(path, &a, &im, &e) == LEANDET_OK);
    CHECK(pool.current == 512u * 600u * 3u && pool.count == 1);
    CHECK(im.pixels && ref.pixels && memcmp(im.pixels, ref.pixels, 512u * 600u * 3u) == 0);
    leandet_image_free_with(&im, &a);
    CHECK(pool.current == 0 && im.pixels == NULL);
    pool.limit = 512u * 600u * 3u - 1;
    CHECK(leandet_image_load_with(path, &a, &im, &e) == LEANDET_ERR_NO_MEMORY);
    CHECK_MSG(has(&e, "grace_hopper.bmp") && has(&e, "512x600"), "%s", e.message);
    CHECK(pool.limit_hit && pool.current == 0 && im.pixels == NULL);
    leandet_image_free(&ref);
}

/* Pixels of the BMPs read independently with PIL:
 *   Image.open(f).convert("RGB").getpixel((x, y)). */
static void test_bmp_pixels(void)
{
    static const struct {
        const char *file;
        int x, y;
        uint8_t rgb[3];
    } px[] = {
        {"cat.bmp", 0, 0, {223, 124, 82}},          {"cat.bmp", 511, 0, {107, 122, 99}},
        {"cat.bmp", 0, 340, {139, 54, 57}},         {"cat.bmp", 511, 340, {159, 101, 63}},
        {"cat.bmp", 256, 170, {176, 94, 55}},       {"cat.bmp", 311, 17, {181, 135, 101}},
        {"grace_hopper.bmp", 0, 0, {21, 26, 82}},   {"grace_hopper.bmp", 511, 0, {72, 110, 185}},
        {"grace_hopper.bmp", 0, 599, {150, 3, 11}}, {"grace_hopper.bmp", 511, 599, {13, 12, 18}},
        {"grace_hopper.bmp", 100, 200, {157, 125, 100}},
    };
    char path[512];
    leandet_image im = {0, 0, NULL};
    const char *loaded = NULL;
    for (size_t i = 0; i < sizeof px / sizeof px[0]; i++) {
        if (!loaded || strcmp(loaded, px[i].file) != 0) {
            leandet_image_free(&im);
            leandet_error e;
            loaded = px[i].file;
            CHECK(leandet_image_load(ld_test_image(loaded, path, sizeof path), &im, &e) == LEANDET_OK);
        }
        if (!im.pixels)
            continue;
        const uint8_t *p = im.pixels + ((size_t)px[i].y * (size_t)im.width + (size_t)px[i].x) * 3;
        CHECK_MSG(memcmp(p, px[i].rgb, 3) == 0, "%s (%d,%d) = %d %d %d", px[i].file, px[i].x, px[i].y,
                  p[0], p[1], p[2]);
    }
    leandet_image_free(&im);
}

/* JPEG DCT scaling: size ceil(w/d) and the choice of d for a target. */
static void test_jpeg_scale(void)
{
    char path[512];
    ld_test_image("bus.jpg", path, sizeof path); /* 810 x 1080 */
    size_t n;
    uint8_t *d = ld_test_read(path, &n);
    CHECK(d != NULL);
    if (!d)
        return;
    ld_image_info info;
    leandet_error e;
    CHECK(ld_image_probe(path, d, n, &info, &e) == LEANDET_OK);
    static const struct { int denom, w, h; } sc[] = {{2, 405, 540}, {4, 203, 270}, {8, 102, 135}};
    for (int i = 0; i < 3; i++) {
        int w, h;
        ld_image_scaled_size(&info, sc[i].denom, &w, &h);
        CHECK(w == sc[i].w && h == sc[i].h);
        leandet_image im;
        CHECK(ld_image_decode_mem(path, d, n, sc[i].denom, NULL, &im, &e) == LEANDET_OK);
        CHECK(im.width == sc[i].w && im.height == sc[i].h);
        leandet_image_free(&im);
    }
    CHECK(ld_image_pick_scale(&info, 300, 300) == 2);  /* 1/4 would give 203 wide */
    CHECK(ld_image_pick_scale(&info, 200, 200) == 4);  /* 203 x 270 */
    CHECK(ld_image_pick_scale(&info, 100, 100) == 8);  /* 102 x 135 */
    CHECK(ld_image_pick_scale(&info, 640, 640) == 1);
    CHECK(ld_image_pick_scale(&info, 102, 136) == 4);  /* 1/8 is one row short */
    /* Into a caller buffer: too small is refused, exact fits. */
    uint8_t *buf = malloc(102 * 135 * 3);
    int w = 0, h = 0;
    CHECK(ld_image_decode_into(path, d, n, 8, buf, 102 * 135 * 3 - 1, &w, &h, &e) == LEANDET_ERR_ARGUMENT);
    CHECK(ld_image_decode_into(path, d, n, 8, buf, 102 * 135 * 3, &w, &h, &e) == LEANDET_OK);
    CHECK(w == 102 && h == 135);
    CHECK(ld_image_decode_mem(path, d, n, 3, NULL, &(leandet_image){0, 0, NULL}, &e) == LEANDET_ERR_ARGUMENT);
    free(buf);
    free(d);
}

/* ------------------------------------------------------------------ */
/* Synthetic files, written here from the format specifications          */

typedef struct bytes {
    uint8_t *d;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put8(bytes *b, unsigned v) { uint8_t x = (uint8_t)v; put(b, &x, 1); }
static void put16(bytes *b, unsigned v) { put8(b, v & 0xff), put8(b, v >> 8); }
static void put32(bytes *b, uint32_t v) { put16(b, v & 0xffff), put16(b, v >> 16); }

/* Test pattern: a different colour per pixel. */
static void pattern(int x, int y, uint8_t rgb[3])
{
    rgb[0] = (uint8_t)(x * 37 + y * 11);
    rgb[1] = (uint8_t)(x * 5 + y * 53 + 7);
    rgb[2] = (uint8_t)(x * y + 101);
}

/* BMP with a BITMAPINFOHEADER (40 bytes) or V4 (108) header. For 16/32
 * bits with bit fields, masks (r, g, b) go after a 40-byte header. Pixel
 * (x, y) of the picture is fetched through `value` (bpp <= 8: an index;
 * otherwise an already packed pixel or, for 24, 0xRRGGBB). */
typedef uint32_t (*bmp_value_fn)(int x, int y);
static bytes make_bmp(int w, int h, int top_down, int bpp, int compression, int hdr,
                      const uint32_t masks[3], const uint8_t *palette, int pal_n, bmp_value_fn value)
{
    bytes b = {0};
    int nmasks = (compression == 3 && hdr == 40) ? 3 : 0;
    uint32_t stride = (uint32_t)((w * bpp + 31) / 32 * 4);
    uint32_t off = 14 + (uint32_t)hdr + 4u * (uint32_t)nmasks + 4u * (uint32_t)pal_n;
    put8(&b, 'B'), put8(&b, 'M'), put32(&b, off + stride * (uint32_t)h), put32(&b, 0), put32(&b, off);
    put32(&b, (uint32_t)hdr), put32(&b, (uint32_t)w), put32(&b, (uint32_t)(top_down ? -h : h));
    put16(&b, 1), put16(&b, (unsigned)bpp), put32(&b, (uint32_t)compression), put32(&b, stride * (uint32_t)h);
    put32(&b, 2835), put32(&b, 2835), put32(&b, (uint32_t)pal_n), put32(&b, 0);
    if (hdr == 108) { /* V4: masks inside, then colour space fields */
        for (int i = 0; i < 3; i++)
            put32(&b, masks ? masks[i] : 0);
        put32(&b, 0); /* alpha mask */
        for (int i = 0; i < 108 - 56; i++)
            put8(&b, 0);
    }
    for (int i = 0; i < nmasks; i++)
        put32(&b, masks[i]);
    for (int i = 0; i < pal_n; i++)
        put8(&b, palette[3 * i + 2]), put8(&b, palette[3 * i + 1]), put8(&b, palette[3 * i]), put8(&b, 0);
    uint8_t *row = calloc(stride, 1);
    for (int r = 0; r < h; r++) {
        int y = top_down ? r : h - 1 - r;
        memset(row, 0, stride);
        for (int x = 0; x < w; x++) {
            uint32_t v = value(x, y);
            if (bpp == 24) {
                row[3 * x] = v & 0xff, row[3 * x + 1] = (v >> 8) & 0xff, row[3 * x + 2] = v >> 16;
            } else if (bpp == 32) {
                for (int k = 0; k < 4; k++)
                    row[4 * x + k] = (uint8_t)(v >> (8 * k));
            } else if (bpp == 16) {
                row[2 * x] = v & 0xff, row[2 * x + 1] = (uint8_t)(v >> 8);
            } else { /* indices, leftmost pixel in the high bits */
                int bit = x * bpp;
                row[bit / 8] |= (uint8_t)(v << (8 - bpp - bit % 8));
            }
        }
        put(&b, row, stride);
    }
    free(row);
    return b;
}

static uint32_t v24(int x, int y)
{
    uint8_t c[3];
    pattern(x, y, c);
    return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
}
static uint32_t v32_bgrx(int x, int y) { return v24(x, y) | 0xa5000000u; } /* junk in X byte */
/* Masks R=0x000000ff G=0x0000ff00 B=0x00ff0000 (RGBX order in memory). */
static uint32_t v32_fields(int x, int y)
{
    uint8_t c[3];
    pattern(x, y, c);
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16;
}
/* 16-bit 5-6-5, from the top bits of the pattern. */
static uint32_t v565(int x, int y)
{
    uint8_t c[3];
    pattern(x, y, c);
    return (uint32_t)(c[0] >> 3) << 11 | (uint32_t)(c[1] >> 2) << 5 | (uint32_t)(c[2] >> 3);
}
static uint32_t v_index8(int x, int y) { return (uint32_t)(x * 3 + y * 7) % 200; }
static uint32_t v_index4(int x, int y) { return (uint32_t)(x + 2 * y) % 16; }
static uint32_t v_index1(int x, int y) { return (uint32_t)(x ^ y) & 1; }

static uint8_t g_palette[256 * 3];

typedef void (*expect_fn)(int x, int y, uint8_t rgb[3]);
static void e_pattern(int x, int y, uint8_t rgb[3]) { pattern(x, y, rgb); }
/* A 5-bit (6-bit) field v widened to 8 bits as round(v * 255 / 31 (63)). */
static void e_565(int x, int y, uint8_t rgb[3])
{
    uint32_t v = v565(x, y);
    rgb[0] = (uint8_t)lround((v >> 11) * 255.0 / 31.0);
    rgb[1] = (uint8_t)lround(((v >> 5) & 63) * 255.0 / 63.0);
    rgb[2] = (uint8_t)lround((v & 31) * 255.0 / 31.0);
}
static void e_pal8(int x, int y, uint8_t rgb[3]) { memcpy(rgb, g_palette + 3 * v_index8(x, y), 3); }
static void e_pal4(int x, int y, uint8_t rgb[3]) { memcpy(rgb, g_palette + 3 * v_index4(x, y), 3); }
static void e_pal1(int x, int y, uint8_t rgb[3]) { memcpy(rgb, g_palette + 3 * v_index1(x, y), 3); }

static int same_as(const leandet_image *im, int w, int h, expect_fn f)
{
    if (!im->pixels || im->width != w || im->height != h)
        return 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t want[3];
            f(x, y, want);
            if (memcmp(im->pixels + ((size_t)y * (size_t)w + (size_t)x) * 3, want, 3) != 0) {
                fprintf(stderr, "  pixel (%d,%d) differs\n", x, y);
                return 0;
            }
        }
    return 1;
}

static void check_decode(const char *name, bytes b, int w, int h, expect_fn f)
{
    leandet_image im = {0, 0, NULL};
    leandet_error e;
    leandet_status st = decode_exact(name, b.d, b.n, &im, &e);
    CHECK_MSG(st == LEANDET_OK, "%s: %s", name, e.message);
    CHECK_MSG(same_as(&im, w, h, f), "%s: pixels", name);
    leandet_image_free(&im);
}

static void test_bmp_synthetic(void)
{
    for (int i = 0; i < 256; i++)
        g_palette[3 * i] = (uint8_t)(i * 7), g_palette[3 * i + 1] = (uint8_t)(255 - i), g_palette[3 * i + 2] = (uint8_t)(i * i);
    /* Widths 5, 6, 7 exercise every row padding of 24-bit rows. */
    for (int w = 5; w <= 7; w++) {
        bytes b = make_bmp(w, 4, 0, 24, 0, 40, NULL, NULL, 0, v24);
        check_decode("bottom-up24.bmp", b, w, 4, e_pattern);
        free(b.d);
        b = make_bmp(w, 3, 1, 24, 0, 40, NULL, NULL, 0, v24);
        check_decode("top-down24.bmp", b, w, 3, e_pattern);
        free(b.d);
    }
    bytes b = make_bmp(9, 5, 1, 32, 0, 40, NULL, NULL, 0, v32_bgrx);
    check_decode("bgrx32.bmp", b, 9, 5, e_pattern);
    free(b.d);
    const uint32_t rgbx[3] = {0x000000ff, 0x0000ff00, 0x00ff0000};
    b = make_bmp(9, 5, 0, 32, 3, 40, rgbx, NULL, 0, v32_fields);
    check_decode("fields32.bmp", b, 9, 5, e_pattern);
    free(b.d);
    b = make_bmp(9, 5, 0, 32, 3, 108, rgbx, NULL, 0, v32_fields);
    check_decode("fields32-v4.bmp", b, 9, 5, e_pattern);
    free(b.d);
    const uint32_t m565[3] = {0xf800, 0x07e0, 0x001f};
    b = make_bmp(7, 4, 0, 16, 3, 40, m565, NULL, 0, v565);
    check_decode("rgb565.bmp", b, 7, 4, e_565);
    free(b.d);
    b = make_bmp(11, 6, 0, 8, 0, 40, NULL, g_palette, 200, v_index8);
    check_decode("pal8.bmp", b, 11, 6, e_pal8);
    free(b.d);
    b = make_bmp(11, 6, 1, 4, 0, 40, NULL, g_palette, 16, v_index4);
    check_decode("pal4.bmp", b, 11, 6, e_pal4);
    free(b.d);
    b = make_bmp(13, 3, 0, 1, 0, 40, NULL, g_palette, 2, v_index1);
    check_decode("pal1.bmp", b, 13, 3, e_pal1);
    free(b.d);

    /* An index beyond the palette is an error, not a read past it. */
    b = make_bmp(11, 6, 0, 8, 0, 40, NULL, g_palette, 50, v_index8); /* indices reach 65 */
    leandet_image im;
    leandet_error e;
    CHECK(decode_exact("badindex.bmp", b.d, b.n, &im, &e) == LEANDET_ERR_IMAGE && has(&e, "badindex.bmp") &&
          has(&e, "palette"));
    free(b.d);
    /* A non-contiguous mask is refused. */
    const uint32_t holes[3] = {0x00f0f000, 0x0000000f, 0x0f000000};
    b = make_bmp(4, 4, 0, 32, 3, 40, holes, NULL, 0, v32_fields);
    CHECK(decode_exact("holes.bmp", b.d, b.n, &im, &e) == LEANDET_ERR_IMAGE && has(&e, "contiguous"));
    free(b.d);
    /* RLE is reported as unsupported. */
    b = make_bmp(4, 4, 0, 8, 1, 40, NULL, g_palette, 16, v_index4);
    CHECK(decode_exact("rle.bmp", b.d, b.n, &im, &e) == LEANDET_ERR_UNSUPPORTED && has(&e, "RLE8"));
    free(b.d);
}

static void test_ppm_synthetic(void)
{
    /* P6 maxval 255, with a comment in the header. */
    bytes b = {0};
    const char *hdr = "P6\n# made by test_image\n4 3\n255\n";
    put(&b, hdr, strlen(hdr));
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) {
            uint8_t c[3];
            pattern(x, y, c);
            put(&b, c, 3);
        }
    check_decode("p6.ppm", b, 4, 3, e_pattern);
    free(b.d);

    /* P6 maxval 65535: two big-endian bytes, v8 = round(v * 255 / 65535),
     * so v = c * 257 gives back c exactly. */
    b = (bytes){0};
    hdr = "P6 4 3 65535\n";
    put(&b, hdr, strlen(hdr));
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) {
            uint8_t c[3];
            pattern(x, y, c);
            for (int k = 0; k < 3; k++)
                put8(&b, (c[k] * 257u) >> 8), put8(&b, (c[k] * 257u) & 0xff);
        }
    check_decode("p6-16.ppm", b, 4, 3, e_pattern);
    free(b.d);

    /* P3 ascii, maxval 255. */
    b = (bytes){0};
    hdr = "P3\n4 3 # size\n255\n";
    put(&b, hdr, strlen(hdr));
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) {
            uint8_t c[3];
            char s[32];
            pattern(x, y, c);
            int len = snprintf(s, sizeof s, "%d %d %d\n", c[0], c[1], c[2]);
            put(&b, s, (size_t)len);
        }
    check_decode("p3.ppm", b, 4, 3, e_pattern);
    free(b.d);

    /* P5 and P2 with maxval 15: gray g -> round(g * 255 / 15) = 17 g. */
    b = (bytes){0};
    hdr = "P5 16 1 15\n";
    put(&b, hdr, strlen(hdr));
    for (int x = 0; x < 16; x++)
        put8(&b, (unsigned)x);
    leandet_image im;
    leandet_error e;
    CHECK(decode_exact("p5.pgm", b.d, b.n, &im, &e) == LEANDET_OK);
    int ok = im.width == 16 && im.height == 1;
    for (int x = 0; ok && x < 16; x++)
        ok = im.pixels[3 * x] == 17 * x && im.pixels[3 * x + 1] == 17 * x && im.pixels[3 * x + 2] == 17 * x;
    CHECK(ok);
    leandet_image_free(&im);
    free(b.d);
    const char *p2 = "P2 3 1 15 0 7";
    CHECK(decode_exact("p2.pgm", (const uint8_t *)p2, strlen(p2), &im, &e) == LEANDET_ERR_IMAGE &&
          has(&e, "sample 2 of 3"));
    p2 = "P2 3 1 15 0 7 15";
    CHECK(decode_exact("p2.pgm", (const uint8_t *)p2, strlen(p2), &im, &e) == LEANDET_OK);
    CHECK(im.pixels && im.pixels[3] == 119 && im.pixels[6] == 255);
    leandet_image_free(&im);
    p2 = "P2 3 1 15 0 7 16\n";
    CHECK(decode_exact("p2big.pgm", (const uint8_t *)p2, strlen(p2), &im, &e) == LEANDET_ERR_IMAGE &&
          has(&e, "maxval"));
}

/* PNG through spng's encoder: every colour type and several depths. */
static bytes make_png(int w, int h, int color_type, int depth, const void *raw, size_t raw_n,
                      const struct spng_plte *plte)
{
    bytes out = {0};
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, (uint8_t)depth, (uint8_t)color_type, 0, 0, 0};
    spng_set_ihdr(ctx, &ihdr);
    if (plte)
        spng_set_plte(ctx, (struct spng_plte *)plte);
    int rc = spng_encode_image(ctx, raw, raw_n, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    if (rc == 0) {
        int e2 = 0;
        out.d = spng_get_png_buffer(ctx, &out.n, &e2);
    }
    CHECK_MSG(rc == 0 && out.d, "spng encode: %s", spng_strerror(rc));
    spng_ctx_free(ctx);
    return out;
}

static int g_png_kind;
/* The value each PNG variant must decode to: gray replicated, alpha
 * dropped, 16-bit samples reduced to their high byte, 1-bit gray 0/255. */
static void e_png(int x, int y, uint8_t rgb[3])
{
    uint8_t c[3];
    pattern(x, y, c);
    switch (g_png_kind) {
    case 0: /* RGB8, RGBA8, RGB16 */
        memcpy(rgb, c, 3);
        break;
    case 1: /* gray 8, gray+alpha 8, gray 16 */
        rgb[0] = rgb[1] = rgb[2] = c[0];
        break;
    case 2: /* gray 1-bit */
        rgb[0] = rgb[1] = rgb[2] = ((x + y) & 1) ? 255 : 0;
        break;
    default: /* palette */
        memcpy(rgb, g_palette + 3 * v_index8(x, y), 3);
        break;
    }
}

static void test_png_synthetic(void)
{
    enum { W = 7, H = 5 };
    uint8_t raw8[W * H * 4];
    uint16_t raw16[W * H * 3];
    bytes b;
    /* RGB8 */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            pattern(x, y, raw8 + 3 * (y * W + x));
    g_png_kind = 0;
    b = make_png(W, H, SPNG_COLOR_TYPE_TRUECOLOR, 8, raw8, W * H * 3, NULL);
    check_decode("rgb8.png", b, W, H, e_png);
    free(b.d);
    /* RGBA8 with varying alpha */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            pattern(x, y, raw8 + 4 * (y * W + x));
            raw8[4 * (y * W + x) + 3] = (uint8_t)(x * 40);
        }
    b = make_png(W, H, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8, raw8, W * H * 4, NULL);
    check_decode("rgba8.png", b, W, H, e_png);
    free(b.d);
    /* RGB16, host-endian samples for spng; low byte is noise. */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t c[3];
            pattern(x, y, c);
            for (int k = 0; k < 3; k++)
                raw16[3 * (y * W + x) + k] = (uint16_t)(c[k] << 8 | ((x * 31 + k) & 0xff));
        }
    b = make_png(W, H, SPNG_COLOR_TYPE_TRUECOLOR, 16, raw16, sizeof raw16, NULL);
    check_decode("rgb16.png", b, W, H, e_png);
    free(b.d);
    /* Gray 8 and gray+alpha 8 */
    g_png_kind = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t c[3];
            pattern(x, y, c);
            raw8[y * W + x] = c[0];
        }
    b = make_png(W, H, SPNG_COLOR_TYPE_GRAYSCALE, 8, raw8, W * H, NULL);
    check_decode("gray8.png", b, W, H, e_png);
    free(b.d);
    for (int i = W * H - 1; i >= 0; i--)
        raw8[2 * i] = raw8[i], raw8[2 * i + 1] = (uint8_t)i;
    b = make_png(W, H, SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 8, raw8, W * H * 2, NULL);
    check_decode("ga8.png", b, W, H, e_png);
    free(b.d);
    /* Gray 16 */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t c[3];
            pattern(x, y, c);
            raw16[y * W + x] = (uint16_t)(c[0] << 8 | 0x7f);
        }
    b = make_png(W, H, SPNG_COLOR_TYPE_GRAYSCALE, 16, raw16, W * H * 2, NULL);
    check_decode("gray16.png", b, W, H, e_png);
    free(b.d);
    /* Gray 1-bit: checkerboard, rows padded to a byte. */
    g_png_kind = 2;
    memset(raw8, 0, sizeof raw8);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if ((x + y) & 1)
                raw8[y * 1 + 0] |= (uint8_t)(0x80 >> x); /* W = 7 fits one byte per row */
    b = make_png(W, H, SPNG_COLOR_TYPE_GRAYSCALE, 1, raw8, H, NULL);
    check_decode("gray1.png", b, W, H, e_png);
    free(b.d);
    /* Palette 8 */
    g_png_kind = 3;
    struct spng_plte plte;
    memset(&plte, 0, sizeof plte);
    plte.n_entries = 200;
    for (int i = 0; i < 200; i++)
        plte.entries[i].red = g_palette[3 * i], plte.entries[i].green = g_palette[3 * i + 1],
        plte.entries[i].blue = g_palette[3 * i + 2];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            raw8[y * W + x] = (uint8_t)v_index8(x, y);
    b = make_png(W, H, SPNG_COLOR_TYPE_INDEXED, 8, raw8, W * H, &plte);
    check_decode("pal8.png", b, W, H, e_png);
    free(b.d);
}

/* A flat-colour JPEG in `space` (JCS_GRAYSCALE, JCS_CMYK or JCS_YCCK as
 * the stored colour space) made with libjpeg directly, quality 100. */
static bytes make_jpeg(int comps, J_COLOR_SPACE in_space, J_COLOR_SPACE stored, const uint8_t *value)
{
    enum { W = 16, H = 16 };
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long n = 0;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &mem, &n);
    ci.image_width = W, ci.image_height = H, ci.input_components = comps, ci.in_color_space = in_space;
    jpeg_set_defaults(&ci);
    jpeg_set_colorspace(&ci, stored);
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    uint8_t row[W * 4];
    for (int x = 0; x < W; x++)
        memcpy(row + x * comps, value, (size_t)comps);
    JSAMPROW rp = row;
    while (ci.next_scanline < H)
        jpeg_write_scanlines(&ci, &rp, 1);
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    bytes b = {0};
    put(&b, mem, n);
    free(mem);
    return b;
}

static int near_rgb(const leandet_image *im, int r, int g, int b, int tol)
{
    if (!im->pixels)
        return 0;
    for (int i = 0; i < im->width * im->height; i++) {
        const uint8_t *p = im->pixels + 3 * i;
        if (abs(p[0] - r) > tol || abs(p[1] - g) > tol || abs(p[2] - b) > tol) {
            fprintf(stderr, "  pixel %d is %d %d %d, want %d %d %d\n", i, p[0], p[1], p[2], r, g, b);
            return 0;
        }
    }
    return 1;
}

/* Gray and CMYK/YCCK JPEGs come out as RGB. libjpeg writes an Adobe marker
 * for CMYK, and Adobe CMYK is stored inverted (255 = no ink), so the
 * stored (C, M, Y, K) means R = C*K/255 etc., as PIL also decodes it. */
static void test_jpeg_colorspaces(void)
{
    leandet_image im = {0, 0, NULL};
    leandet_error e;
    const uint8_t gray = 77;
    bytes b = make_jpeg(1, JCS_GRAYSCALE, JCS_GRAYSCALE, &gray);
    CHECK(decode_exact("gray.jpg", b.d, b.n, &im, &e) == LEANDET_OK && near_rgb(&im, 77, 77, 77, 1));
    leandet_image_free(&im);
    free(b.d);
    const uint8_t cmyk[4] = {200, 100, 50, 220};
    /* 200*220/255 = 172.5, 100*220/255 = 86.3, 50*220/255 = 43.1 */
    b = make_jpeg(4, JCS_CMYK, JCS_CMYK, cmyk);
    CHECK(decode_exact("cmyk.jpg", b.d, b.n, &im, &e) == LEANDET_OK && near_rgb(&im, 172, 86, 43, 2));
    leandet_image_free(&im);
    free(b.d);
    b = make_jpeg(4, JCS_CMYK, JCS_YCCK, cmyk);
    CHECK(decode_exact("ycck.jpg", b.d, b.n, &im, &e) == LEANDET_OK && near_rgb(&im, 172, 86, 43, 3));
    leandet_image_free(&im);
    free(b.d);
}

/* ------------------------------------------------------------------ */
/* Saving                                                               */

static void test_save_roundtrip(void)
{
    char src[512], out[512];
    leandet_image im, back;
    leandet_error e;
    CHECK(leandet_image_load(ld_test_image("zidane.jpg", src, sizeof src), &im, &e) == LEANDET_OK);
    if (!im.pixels)
        return;
    tmp_path("zidane.png", out, sizeof out);
    CHECK_MSG(ld_image_save(out, &im, &e) == LEANDET_OK, "%s", e.message);
    CHECK(leandet_image_load(out, &back, &e) == LEANDET_OK);
    CHECK(back.width == im.width && back.height == im.height && back.pixels &&
          memcmp(back.pixels, im.pixels, (size_t)im.width * (size_t)im.height * 3) == 0);
    leandet_image_free(&back);
    /* DCT scaling is JPEG's: a PNG decodes at full size whatever the scale. */
    CHECK(ld_image_load_scaled(out, 4, NULL, &back, &e) == LEANDET_OK && back.width == im.width &&
          back.height == im.height);
    leandet_image_free(&back);
    /* JPEG is lossy: same size, close pixels (quality 90). */
    tmp_path("zidane.JPEG", out, sizeof out);
    CHECK_MSG(ld_image_save(out, &im, &e) == LEANDET_OK, "%s", e.message);
    CHECK(leandet_image_load(out, &back, &e) == LEANDET_OK);
    if (back.pixels && back.width == im.width && back.height == im.height) {
        double sum = 0;
        size_t n = (size_t)im.width * (size_t)im.height * 3;
        for (size_t i = 0; i < n; i++)
            sum += fabs((double)back.pixels[i] - im.pixels[i]);
        CHECK_MSG(sum / (double)n < 3.0, "mean abs diff %.2f", sum / (double)n);
    } else {
        CHECK(0);
    }
    leandet_image_free(&back);
    /* Overwriting an existing file works and leaves no temporary behind. */
    CHECK(ld_image_save(out, &im, &e) == LEANDET_OK);
    /* Errors name the path and leave nothing behind. */
    CHECK(ld_image_save(tmp_path("x.gif", out, sizeof out), &im, &e) == LEANDET_ERR_ARGUMENT &&
          has(&e, "x.gif"));
    tmp_path("no/such/dir/out.png", out, sizeof out);
    CHECK(ld_image_save(out, &im, &e) == LEANDET_ERR_IO && has(&e, out));
    leandet_image_free(&im);
}

/* ------------------------------------------------------------------ */
/* Malformed input                                                      */

/* The input the malformed files are also streamed into (a stretch down). */
static ld_preprocess g_stream_pre;

/* Every proper prefix of a valid file must be refused with its name, by
 * the whole-image decode and the streamed preprocess alike. */
static void check_truncations(const char *name, const uint8_t *d, size_t n)
{
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        leandet_image im = {0, 0, NULL};
        leandet_error e;
        leandet_status st = decode_exact(name, d, k, &im, &e);
        if (st == LEANDET_OK || !has(&e, name) || !stream_agrees(name, d, k, 1, &g_stream_pre)) {
            if (bad++ < 3)
                fprintf(stderr, "  %s cut to %zu of %zu bytes: %s\n", name, k, n,
                        st == LEANDET_OK ? "decoded" : e.message);
            leandet_image_free(&im);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d truncations not refused", name, bad);
}

/* Random byte changes (seeded): never a crash; an error names the file;
 * a success has the size the probe announces. */
static void check_flips(const char *name, const uint8_t *d, size_t n, uint32_t seed, int rounds)
{
    uint8_t *buf = malloc(n);
    int bad = 0;
    uint32_t s = seed;
    for (int r = 0; r < rounds; r++) {
        memcpy(buf, d, n);
        int flips = 1 + r % 4;
        for (int f = 0; f < flips; f++) {
            s = s * 1664525u + 1013904223u;
            size_t at = (s >> 8) % n;
            s = s * 1664525u + 1013904223u;
            buf[at] ^= (uint8_t)(1 + (s >> 24) % 255);
        }
        leandet_image im = {0, 0, NULL};
        leandet_error e;
        ld_image_info info;
        leandet_status st = decode_exact(name, buf, n, &im, &e);
        bad += !stream_agrees(name, buf, n, 1, &g_stream_pre);
        if (st == LEANDET_OK) {
            if (ld_image_probe(name, buf, n, &info, &e) != LEANDET_OK || info.width != im.width ||
                info.height != im.height)
                bad++;
            leandet_image_free(&im);
        } else if (!has(&e, name)) {
            bad++;
        }
    }
    free(buf);
    CHECK_MSG(bad == 0, "%s: %d bad outcomes of byte flips", name, bad);
}

/* A small real-looking image of each format, made by our own encoders
 * (PNG, JPEG through ld_image_save) or the test's (BMP, PPM). */
static uint8_t *small_file(const char *name, size_t *n)
{
    enum { W = 24, H = 16 };
    static uint8_t px[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            pattern(x, y, px + 3 * (y * W + x));
    leandet_image im = {W, H, px};
    char path[512];
    leandet_error e;
    if (strstr(name, ".bmp")) {
        bytes b = make_bmp(W - 1, H, 0, 24, 0, 40, NULL, NULL, 0, v24);
        *n = b.n;
        return b.d;
    }
    if (strstr(name, ".ppm")) {
        bytes b = {0};
        const char *hdr = "P6 24 16 255\n";
        put(&b, hdr, strlen(hdr));
        put(&b, px, sizeof px);
        *n = b.n;
        return b.d;
    }
    tmp_path(name, path, sizeof path);
    CHECK(ld_image_save(path, &im, &e) == LEANDET_OK);
    return ld_test_read(path, n);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void be32_put(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }

static void check_too_large(const char *name, const uint8_t *d, size_t n, const char *size_text)
{
    leandet_image im = {0, 0, NULL};
    leandet_error e;
    leandet_status st = decode_exact(name, d, n, &im, &e);
    CHECK_MSG(st == LEANDET_ERR_IMAGE && has(&e, name) && has(&e, size_text) && has(&e, "exceeds the limit"),
              "%s: %s", name, e.message);
    if (st == LEANDET_OK)
        leandet_image_free(&im);
}

static void test_malformed(void)
{
    char path[512];
    leandet_image im = {0, 0, NULL};
    leandet_error e;
    /* Empty file and missing file. */
    tmp_path("empty.jpg", path, sizeof path);
    CHECK(write_file(path, "", 0));
    CHECK(leandet_image_load(path, &im, &e) == LEANDET_ERR_IMAGE && has(&e, path) && has(&e, "empty"));
    tmp_path("missing.png", path, sizeof path);
    CHECK(leandet_image_load(path, &im, &e) == LEANDET_ERR_IO && has(&e, path));
    CHECK(leandet_image_load(g_dir, &im, &e) == LEANDET_ERR_IO && has(&e, g_dir));
    /* Not an image. */
    static const uint8_t elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    tmp_path("x.jpg", path, sizeof path);
    CHECK(write_file(path, elf, sizeof elf));
    CHECK(leandet_image_load(path, &im, &e) == LEANDET_ERR_IMAGE && has(&e, path) &&
          has(&e, "not a JPEG/PNG/BMP/PPM file (starts with 7f 45 4c 46)"));
    CHECK(decode_exact("two.bin", elf, 2, &im, &e) == LEANDET_ERR_IMAGE && has(&e, "(starts with 7f 45)"));

    static const char *const kinds[] = {"small.jpg", "small.png", "small.bmp", "small.ppm"};
    for (int k = 0; k < 4; k++) {
        size_t n = 0;
        uint8_t *d = small_file(kinds[k], &n);
        CHECK(d != NULL && n > 0);
        if (!d)
            continue;
        CHECK(decode_exact(kinds[k], d, n, &im, &e) == LEANDET_OK);
        leandet_image_free(&im);
        check_truncations(kinds[k], d, n);
        check_flips(kinds[k], d, n, 12345u + (uint32_t)k, 400);

        /* Absurd declared sizes, patched into the valid header. */
        uint8_t *c = malloc(n + 64);
        memcpy(c, d, n);
        if (k == 0) { /* JPEG: SOF0 height and width fields at +5 and +7 */
            for (size_t i = 2; i + 9 < n && c[i] == 0xff; i += 2 + ((size_t)c[i + 2] << 8 | c[i + 3]))
                if (c[i + 1] == 0xc0) { /* walk the segments up to SOF0 */
                    c[i + 5] = c[i + 6] = c[i + 7] = c[i + 8] = 0xff;
                    break;
                }
            check_too_large("huge.jpg", c, n, "65535x65535");
        } else if (k == 1) { /* PNG: IHDR width/height, CRC fixed up */
            be32_put(c + 16, 100000);
            be32_put(c + 20, 100000);
            be32_put(c + 29, crc32_of(c + 12, 17));
            check_too_large("photo.png", c, n, "declared size 100000x100000");
        } else if (k == 2) { /* BMP: width at 18, height at 22 */
            c[18] = 0xa0, c[19] = 0x86, c[20] = 0x01, c[21] = 0; /* 100000 */
            check_too_large("huge.bmp", c, n, "100000x16");
            c[18] = 0, c[19] = 0x40, c[20] = 0, c[21] = 0;       /* 16384 */
            c[22] = 0, c[23] = 0x40, c[24] = 0, c[25] = 0;       /* x 16384: 1<<28 pixels, allowed */
            CHECK(decode_exact("big.bmp", c, n, &im, &e) == LEANDET_ERR_IMAGE && has(&e, "truncated") &&
                  has(&e, "file has"));
            c[22] = 1, c[23] = 0x40;                              /* one row more: over the cap */
            check_too_large("huge.bmp", c, n, "16384x16385");
        } else { /* PPM */
            const char *h = "P6 100000 100000 255\n";
            check_too_large("huge.ppm", (const uint8_t *)h, strlen(h), "100000x100000");
            h = "P6 99999999999 2 255\n";
            CHECK(decode_exact("huge.ppm", (const uint8_t *)h, strlen(h), &im, &e) == LEANDET_ERR_IMAGE &&
                  has(&e, "huge.ppm"));
        }
        free(c);
        free(d);
    }
    /* The message of a truncated BMP names where the pixels end. */
    char gh[512];
    size_t n;
    uint8_t *d = ld_test_read(ld_test_image("grace_hopper.bmp", gh, sizeof gh), &n);
    if (d) {
        CHECK(decode_exact("y.bmp", d, 4000, &im, &e) == LEANDET_ERR_IMAGE &&
              has(&e, "y.bmp: truncated: pixel data ends at byte 921738, file has 4000"));
        free(d);
    }
    /* Flips over a real JPEG (bigger, with EXIF). */
    d = ld_test_read(ld_test_image("face.jpg", gh, sizeof gh), &n);
    if (d) {
        check_flips("face.jpg", d, n, 99u, 40);
        free(d);
    }
}

/* ------------------------------------------------------------------ */
/* Preprocessing                                                        */

/* Independent bilinear reference in double: half-pixel centres, clamped
 * at the borders, rounded half up. */
static uint8_t ref_bilinear(const uint8_t *src, int sw, int sh, int c, int dx, int dy, int dw, int dh)
{
    double sx = (dx + 0.5) * sw / dw - 0.5, sy = (dy + 0.5) * sh / dh - 0.5;
    if (sx < 0)
        sx = 0;
    if (sy < 0)
        sy = 0;
    int x0 = (int)floor(sx), y0 = (int)floor(sy);
    double fx = sx - x0, fy = sy - y0;
    if (x0 >= sw - 1)
        x0 = sw - 1, fx = 0;
    if (y0 >= sh - 1)
        y0 = sh - 1, fy = 0;
    int x1 = x0 + (fx > 0), y1 = y0 + (fy > 0);
#define S(x, y) ((double)src[((size_t)(y) * (size_t)sw + (size_t)(x)) * 3 + (size_t)c])
    double v = (1 - fy) * ((1 - fx) * S(x0, y0) + fx * S(x1, y0)) + fy * ((1 - fx) * S(x0, y1) + fx * S(x1, y1));
#undef S
    return (uint8_t)floor(v + 0.5);
}

/* Max |ours - reference| over all pixels of a sw x sh -> dw x dh resize. */
static int resize_error(const uint8_t *src, int sw, int sh, int dw, int dh)
{
    uint8_t *dst = malloc((size_t)dw * (size_t)dh * 3);
    ld_resize_bilinear_rgb8(src, sw, sh, (size_t)sw * 3, dst, dw, dh, (size_t)dw * 3);
    int worst = 0;
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++)
            for (int c = 0; c < 3; c++) {
                int d = abs((int)dst[((size_t)y * (size_t)dw + (size_t)x) * 3 + (size_t)c] -
                            (int)ref_bilinear(src, sw, sh, c, x, y, dw, dh));
                if (d > worst)
                    worst = d;
            }
    free(dst);
    return worst;
}

/* Streamed preprocessing: the same tensor as decoding the whole image,
 * for every format, scale, resize mode and type, downscaling and up. */
static void test_stream(void)
{
    static const struct {
        int w, h;
        leandet_dtype type;
        leandet_resize_mode mode;
    } inputs[] = {
        {300, 300, LEANDET_UINT8, LEANDET_RESIZE_STRETCH},   {320, 192, LEANDET_FLOAT32, LEANDET_RESIZE_LETTERBOX},
        {17, 13, LEANDET_INT8, LEANDET_RESIZE_STRETCH},      {1, 1, LEANDET_UINT8, LEANDET_RESIZE_LETTERBOX},
        {1400, 1500, LEANDET_UINT8, LEANDET_RESIZE_LETTERBOX},
    };
    enum { N_IN = sizeof inputs / sizeof inputs[0] };
    ld_preprocess pre[N_IN];
    for (int i = 0; i < N_IN; i++) {
        ld_preprocess_init(&pre[i], inputs[i].w, inputs[i].h, inputs[i].type, inputs[i].mode);
        pre[i].scale = 0.5f / 128.0f, pre[i].zero_point = -3;
    }
    char path[512];
    int bad = 0;
    for (size_t f = 0; f < sizeof k_real / sizeof k_real[0]; f++) {
        size_t n = 0;
        uint8_t *d = ld_test_read(ld_test_image(k_real[f].file, path, sizeof path), &n);
        ld_image_info info;
        CHECK(d && ld_image_probe(path, d, n, &info, NULL) == LEANDET_OK && info.streamable);
        for (int i = 0; d && i < N_IN; i++) {
            int denom = ld_image_pick_scale(&info, pre[i].width, pre[i].height);
            bad += !stream_agrees(k_real[f].file, d, n, 1, &pre[i]);
            bad += denom > 1 && !stream_agrees(k_real[f].file, d, n, denom, &pre[i]);
        }
        free(d);
    }
    /* Our PNG, JPEG, BMP and PPM writers; PNG of other colour types; ascii PPM. */
    static const char *const kinds[] = {"small.png", "small.jpg", "small.bmp", "small.ppm"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n = 0;
        uint8_t *d = small_file(kinds[k], &n);
        for (int i = 0; d && i < N_IN; i++)
            bad += !stream_agrees(kinds[k], d, n, 1, &pre[i]);
        free(d);
    }
    enum { W = 9, H = 6 };
    uint8_t raw[W * H * 2];
    for (int i = 0; i < W * H * 2; i++)
        raw[i] = (uint8_t)(i * 29 + 3);
    bytes g16 = make_png(W, H, SPNG_COLOR_TYPE_GRAYSCALE, 16, raw, sizeof raw, NULL);
    bytes ga8 = make_png(W, H, SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 8, raw, sizeof raw, NULL);
    const char *p3 = "P3 2 3 7\n0 1 2 3 4 5\n6 7 0 1 2 3\n4 5 6 7 0 1\n";
    for (int i = 0; i < N_IN; i++) {
        bad += !stream_agrees("g16.png", g16.d, g16.n, 1, &pre[i]);
        bad += !stream_agrees("ga8.png", ga8.d, ga8.n, 1, &pre[i]);
        bad += !stream_agrees("p3.ppm", (const uint8_t *)p3, strlen(p3), 1, &pre[i]);
    }
    free(g16.d);
    free(ga8.d);
    CHECK_MSG(bad == 0, "%d streamed tensors differ from the whole-image ones", bad);

    /* Interlaced PNG: rows come pass by pass, so it does not stream. */
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        rgb[i] = (uint8_t)(i * 7);
    bytes il = {0};
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {W, H, 8, SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, SPNG_INTERLACE_ADAM7};
    spng_set_ihdr(ctx, &ihdr);
    int rc = spng_encode_image(ctx, rgb, sizeof rgb, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    int e2 = 0;
    if (rc == 0)
        il.d = spng_get_png_buffer(ctx, &il.n, &e2);
    spng_ctx_free(ctx);
    CHECK_MSG(rc == 0 && il.d, "spng interlaced encode: %s", spng_strerror(rc));
    ld_image_info info;
    leandet_image im = {0, 0, NULL};
    leandet_error e = {0};
    CHECK(il.d && ld_image_probe("il.png", il.d, il.n, &info, NULL) == LEANDET_OK && !info.streamable);
    CHECK(il.d && ld_image_decode_mem("il.png", il.d, il.n, 1, NULL, &im, &e) == LEANDET_OK && im.width == W &&
          memcmp(im.pixels, rgb, sizeof rgb) == 0);
    leandet_image_free(&im);
    uint8_t out[300 * 300 * 3], scratch[4096];
    CHECK(ld_preprocess_stream("il.png", il.d, il.n, 1, &pre[0], out, sizeof out, scratch, sizeof scratch, NULL, &e) ==
              LEANDET_ERR_ARGUMENT &&
          has(&e, "il.png") && has(&e, "row by row"));
    free(il.d);
    /* Scratch too small for the rows: refused, naming what it needs. */
    size_t n = 0;
    uint8_t *d = ld_test_read(ld_test_image("pets.jpg", path, sizeof path), &n);
    CHECK(d && ld_preprocess_stream("pets.jpg", d, n, 1, &pre[0], out, sizeof out, scratch, 1000, NULL, &e) ==
                   LEANDET_ERR_ARGUMENT &&
          has(&e, "pets.jpg") && has(&e, "scratch has 1000"));
    free(d);
}

static void test_resize(void)
{
    /* Gradients (R along x, G along y) and a noisy channel B. */
    enum { SW = 40, SH = 24 };
    uint8_t src[SW * SH * 3];
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++) {
            uint8_t *p = src + 3 * (y * SW + x);
            p[0] = (uint8_t)(x * 6), p[1] = (uint8_t)(y * 10), p[2] = (uint8_t)((x * 73 + y * 151) % 256);
        }
    /* Power-of-two factors: the weights are exact, so is the result. */
    static const int exact[][2] = {{20, 12}, {10, 6}, {80, 48}, {160, 96}, {40, 24}, {20, 48}, {5, 3}};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        CHECK_MSG(resize_error(src, SW, SH, exact[i][0], exact[i][1]) == 0, "%dx%d -> %dx%d", SW, SH,
                  exact[i][0], exact[i][1]);
    /* Other factors: weights quantized to 1/2048, at most 1 away. */
    static const int other[][2] = {{37, 23}, {64, 64}, {13, 7}, {300, 300}, {1, 1}, {41, 25}};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        CHECK_MSG(resize_error(src, SW, SH, other[i][0], other[i][1]) <= 1, "%dx%d -> %dx%d", SW, SH,
                  other[i][0], other[i][1]);
    /* Downscale by 2 of the x gradient lands exactly between two pixels:
     * output x samples source 2x + 0.5, value 6 * (2x + 0.5) = 12x + 3. */
    uint8_t half[20 * 12 * 3];
    ld_resize_bilinear_rgb8(src, SW, SH, SW * 3, half, 20, 12, 20 * 3);
    int ok = 1;
    for (int x = 0; x < 20; x++)
        ok &= half[3 * x] == 12 * x + 3;
    CHECK(ok);
    /* Upscale by 2: output x samples x/2 - 0.25; x = 0 clamps to 0; the
     * last one clamps to the last pixel. Value 6 * (x/2 - 0.25) = 3x - 1.5
     * rounds half up to 3x - 1. */
    uint8_t twice[80 * 48 * 3];
    ld_resize_bilinear_rgb8(src, SW, SH, SW * 3, twice, 80, 48, 80 * 3);
    ok = twice[0] == 0 && twice[3 * 79] == 234;
    for (int x = 1; x < 79; x++)
        ok &= twice[3 * x] == 3 * x - 1;
    CHECK(ok);
    /* A 1x1 source is replicated everywhere. */
    uint8_t one[3] = {9, 99, 199}, big[5 * 4 * 3];
    ld_resize_bilinear_rgb8(one, 1, 1, 3, big, 5, 4, 15);
    ok = 1;
    for (int i = 0; i < 20; i++)
        ok &= big[3 * i] == 9 && big[3 * i + 1] == 99 && big[3 * i + 2] == 199;
    CHECK(ok);
}

static void test_letterbox(void)
{
    ld_letterbox t;
    ld_letterbox_compute(1280, 720, 640, 640, LEANDET_RESIZE_LETTERBOX, &t);
    CHECK(t.content_w == 640 && t.content_h == 360 && t.pad_x == 0 && t.pad_y == 140);
    CHECK(fabsf(t.scale - 0.5f) < 1e-7f);
    ld_letterbox_compute(810, 1080, 640, 640, LEANDET_RESIZE_LETTERBOX, &t);
    CHECK(t.content_w == 480 && t.content_h == 640 && t.pad_x == 80 && t.pad_y == 0);
    /* 100x51 -> 64x64: r = 0.64, content 64 x round(32.64) = 33, the odd
     * pixel of padding goes to the bottom. */
    ld_letterbox_compute(100, 51, 64, 64, LEANDET_RESIZE_LETTERBOX, &t);
    CHECK(t.content_w == 64 && t.content_h == 33 && t.pad_x == 0 && t.pad_y == 15);
    ld_letterbox_compute(1280, 720, 300, 300, LEANDET_RESIZE_STRETCH, &t);
    CHECK(t.content_w == 300 && t.content_h == 300 && t.pad_x == 0 && t.pad_y == 0);

    /* Boxes back to the original: x 320..640 of 1280, y 180..540 of 720
     * sit at x 160..320, y 230..410 in the 640x640 letterboxed input. */
    ld_letterbox_compute(1280, 720, 640, 640, LEANDET_RESIZE_LETTERBOX, &t);
    float in[4] = {230.f / 640, 160.f / 640, 410.f / 640, 320.f / 640}, out[4];
    ld_letterbox_unmap_box(&t, in, out);
    CHECK(fabsf(out[0] - 0.25f) < 1e-6f && fabsf(out[1] - 0.25f) < 1e-6f && fabsf(out[2] - 0.75f) < 1e-6f &&
          fabsf(out[3] - 0.5f) < 1e-6f);
    /* A box reaching into the padding is clamped to the image. */
    float pad_box[4] = {0.0f, 0.0f, 1.0f, 1.0f};
    ld_letterbox_unmap_box(&t, pad_box, out);
    CHECK(out[0] == 0.0f && out[1] == 0.0f && out[2] == 1.0f && out[3] == 1.0f);
    ld_letterbox_compute(1280, 720, 300, 300, LEANDET_RESIZE_STRETCH, &t);
    float s_in[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    ld_letterbox_unmap_box(&t, s_in, out);
    CHECK(fabsf(out[0] - 0.1f) < 1e-6f && fabsf(out[3] - 0.4f) < 1e-6f);

    /* Tensor content: a constant image letterboxed in uint8 gives the
     * constant inside, 114 in the bands. */
    enum { IW = 100, IH = 51 };
    static uint8_t flat[IW * IH * 3];
    memset(flat, 200, sizeof flat);
    leandet_image img = {IW, IH, flat};
    ld_preprocess p;
    ld_preprocess_init(&p, 64, 64, LEANDET_UINT8, LEANDET_RESIZE_LETTERBOX);
    uint8_t tensor[64 * 64 * 3];
    leandet_error e;
    CHECK(ld_preprocess_image(&img, &p, tensor, sizeof tensor, &t, &e) == LEANDET_OK);
    int ok = 1;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            int inside = y >= 15 && y < 48;
            for (int c = 0; c < 3; c++)
                ok &= tensor[(y * 64 + x) * 3 + c] == (inside ? 200 : 114);
        }
    CHECK(ok);
    CHECK(ld_preprocess_image(&img, &p, tensor, sizeof tensor - 1, &t, &e) == LEANDET_ERR_ARGUMENT);
}

static double round_half_away(double v) { return v >= 0 ? floor(v + 0.5) : -floor(-v + 0.5); }

static void test_types(void)
{
    /* A 256x1 ramp, resized to its own size (identity: every sample falls
     * on a pixel centre), so the tensor shows the type mapping alone. */
    uint8_t ramp[256 * 3];
    for (int i = 0; i < 256; i++)
        ramp[3 * i] = ramp[3 * i + 1] = ramp[3 * i + 2] = (uint8_t)i;
    leandet_image img = {256, 1, ramp};
    leandet_error e;
    ld_preprocess p;

    ld_preprocess_init(&p, 256, 1, LEANDET_UINT8, LEANDET_RESIZE_STRETCH);
    uint8_t u8[256 * 3];
    CHECK(ld_preprocess_image(&img, &p, u8, sizeof u8, NULL, &e) == LEANDET_OK);
    CHECK(memcmp(u8, ramp, sizeof ramp) == 0);

    /* int8 ties: v = p/128 - 1, scale 1/64 -> v/scale = p/2 - 64 exactly,
     * a tie for every odd p, on both sides of zero. */
    ld_preprocess_init(&p, 256, 1, LEANDET_INT8, LEANDET_RESIZE_STRETCH);
    p.mul = 1.0f / 128.0f, p.add = -1.0f, p.scale = 1.0f / 64.0f, p.zero_point = 0;
    int8_t q[256 * 3];
    CHECK(ld_preprocess_image(&img, &p, q, sizeof q, NULL, &e) == LEANDET_OK);
    int ok = 1;
    for (int i = 0; i < 256; i++)
        ok &= q[3 * i] == (int8_t)round_half_away(i / 2.0 - 64.0);
    CHECK(ok);
    CHECK(q[3 * 1] == -64 && q[3 * 127] == -1 && q[3 * 129] == 1 && q[3 * 255] == 64);
    /* Zero point and clamping at 127 and -128. */
    p.zero_point = 100;
    CHECK(ld_preprocess_image(&img, &p, q, sizeof q, NULL, &e) == LEANDET_OK);
    ok = 1;
    for (int i = 0; i < 256; i++) {
        double want = round_half_away(i / 2.0 - 64.0) + 100;
        ok &= q[3 * i] == (int8_t)(want > 127 ? 127 : want);
    }
    CHECK(ok);
    p.zero_point = -100;
    CHECK(ld_preprocess_image(&img, &p, q, sizeof q, NULL, &e) == LEANDET_OK);
    CHECK(q[0] == -128 && q[3 * 255] == -36);
    /* The usual int8 input: pixel/255 with scale 1/255, zero point -128. */
    ld_preprocess_init(&p, 256, 1, LEANDET_INT8, LEANDET_RESIZE_STRETCH);
    p.scale = 1.0f / 255.0f, p.zero_point = -128;
    CHECK(ld_preprocess_image(&img, &p, q, sizeof q, NULL, &e) == LEANDET_OK);
    ok = 1;
    for (int i = 0; i < 256; i++)
        ok &= q[3 * i] == i - 128;
    CHECK(ok);
    p.scale = 0.0f;
    CHECK(ld_preprocess_image(&img, &p, q, sizeof q, NULL, &e) == LEANDET_ERR_ARGUMENT);

    /* float32 [-1, 1] */
    ld_preprocess_init(&p, 256, 1, LEANDET_FLOAT32, LEANDET_RESIZE_STRETCH);
    p.mul = LD_NORM_SIGNED_MUL, p.add = LD_NORM_SIGNED_ADD;
    float f[256 * 3];
    CHECK(ld_preprocess_bytes(&p) == sizeof f);
    CHECK(ld_preprocess_image(&img, &p, f, sizeof f, NULL, &e) == LEANDET_OK);
    ok = 1;
    for (int i = 0; i < 256; i++)
        ok &= fabs(f[3 * i] - (i / 127.5 - 1.0)) < 1e-6 && f[3 * i] == f[3 * i + 2];
    CHECK(ok);
    CHECK(f[0] == -1.0f && fabsf(f[3 * 255] - 1.0f) < 1e-6f);

    /* All types see the same resized pixels: float [0,1] * 255 gives back
     * the uint8 tensor of the same resize (letterbox of a real image). */
    char path[512];
    leandet_image real;
    if (leandet_image_load(ld_test_image("face.jpg", path, sizeof path), &real, &e) != LEANDET_OK) {
        CHECK(0);
        return;
    }
    enum { M = 96 };
    static uint8_t t8[M * M * 3];
    static float tf[M * M * 3];
    ld_letterbox t1, t2;
    ld_preprocess_init(&p, M, M, LEANDET_UINT8, LEANDET_RESIZE_LETTERBOX);
    CHECK(ld_preprocess_image(&real, &p, t8, sizeof t8, &t1, &e) == LEANDET_OK);
    ld_preprocess_init(&p, M, M, LEANDET_FLOAT32, LEANDET_RESIZE_LETTERBOX);
    CHECK(ld_preprocess_image(&real, &p, tf, sizeof tf, &t2, &e) == LEANDET_OK);
    ok = t1.pad_y == t2.pad_y && t1.content_h == t2.content_h;
    for (int i = 0; i < M * M * 3; i++)
        ok &= lroundf(tf[i] * 255.0f) == t8[i];
    CHECK(ok);
    leandet_image_free(&real);
}

/* ------------------------------------------------------------------ */
/* Drawing                                                              */

static const uint8_t *px_at(const leandet_image *im, int x, int y)
{
    return im->pixels + ((size_t)y * (size_t)im->width + (size_t)x) * 3;
}
static int is_rgb(const leandet_image *im, int x, int y, ld_rgb c)
{
    const uint8_t *p = px_at(im, x, y);
    return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

static void test_draw(void)
{
    enum { W = 50, H = 40 };
    static uint8_t buf[W * H * 3];
    leandet_image im = {W, H, buf};
    const ld_rgb red = {255, 0, 0}, black = {0, 0, 0};
    memset(buf, 0, sizeof buf);
    ld_draw_rect(&im, 10, 5, 30, 25, 2, red);
    CHECK(is_rgb(&im, 10, 5, red) && is_rgb(&im, 11, 6, red) && is_rgb(&im, 30, 25, red));
    CHECK(is_rgb(&im, 20, 5, red) && is_rgb(&im, 20, 6, red) && is_rgb(&im, 20, 7, black) &&
          is_rgb(&im, 20, 4, black));
    CHECK(is_rgb(&im, 12, 12, black) && is_rgb(&im, 29, 15, red) && is_rgb(&im, 28, 15, black) &&
          is_rgb(&im, 31, 15, black));
    /* Clipping: a box mostly outside, and absurd coordinates. */
    memset(buf, 0, sizeof buf);
    ld_draw_rect(&im, -100, -100, 10, 10, 3, red);
    CHECK(is_rgb(&im, 0, 8, red) && is_rgb(&im, 10, 0, red) && is_rgb(&im, 0, 0, black));
    ld_draw_rect(&im, -2147483647, -2147483647, 2147483647, 2147483647, 3, red);
    ld_draw_text(&im, 2147483600, 2147483600, "overflow?", 64, red);
    ld_draw_text(&im, -2147483647, 10, "left", 2, red);
    ld_draw_label(&im, 2147483647, -5, "edge", 2, red);

    /* Text pixels are exactly the glyph bits, scaled. */
    memset(buf, 0, sizeof buf);
    const ld_rgb white = {255, 255, 255};
    ld_draw_text(&im, 3, 4, "Ag", 2, white);
    int ok = 1;
    for (int ch = 0; ch < 2; ch++) {
        const uint8_t *g = ld_font_glyph("Ag"[ch]);
        for (int y = 0; y < LD_FONT_H * 2; y++)
            for (int x = 0; x < LD_FONT_CELL_W * 2; x++) {
                int col = x / 2, on = col < LD_FONT_W && (g[y / 2] & (0x10 >> col));
                ok &= is_rgb(&im, 3 + ch * LD_FONT_CELL_W * 2 + x, 4 + y, on ? white : black);
            }
    }
    CHECK(ok);
    CHECK(ld_text_width("Ag", 2) == (2 * LD_FONT_CELL_W - 1) * 2 && ld_text_height(3) == 21);
    /* The font: ink in every glyph but space, no two glyphs alike, nothing
     * outside the 5 columns. */
    ok = 1;
    for (int c = 33; c < 127; c++) {
        const uint8_t *g = ld_font_glyph(c);
        int ink = 0;
        for (int r = 0; r < 7; r++)
            ink |= g[r], ok &= (g[r] & ~0x1f) == 0;
        ok &= ink != 0;
        for (int d = 32; d < c; d++)
            ok &= memcmp(g, ld_font_glyph(d), 7) != 0;
    }
    CHECK_MSG(ok, "font table");
    CHECK(ld_font_glyph(200) == ld_font_glyph('?') && ld_font_glyph(-1) == ld_font_glyph('?'));

    /* Class colours: 20 distinct, stable. */
    ok = 1;
    for (int a = 0; a < 20; a++)
        for (int b = 0; b < a; b++) {
            ld_rgb ca = ld_class_color(a), cb = ld_class_color(b);
            ok &= abs(ca.r - cb.r) + abs(ca.g - cb.g) + abs(ca.b - cb.b) > 30;
        }
    CHECK(ok);

    /* A detection: outline in the class colour and a label above it. */
    enum { DW = 200, DH = 100 };
    static uint8_t dbuf[DW * DH * 3];
    memset(dbuf, 0, sizeof dbuf);
    leandet_image di = {DW, DH, dbuf};
    leandet_detection det = {7, 0.71f, {0.5f, 0.25f, 0.9f, 0.75f}};
    ld_draw_detection(&di, &det, "person");
    /* The box covers pixels 50..149 x 50..89 (edges at 0.25*200 = 50 and
     * 0.75*200 = 150 exclusive); thickness 2 on an image this small. */
    ld_rgb c7 = ld_class_color(7);
    CHECK(is_rgb(&di, 50, 50, c7) && is_rgb(&di, 149, 89, c7) && is_rgb(&di, 100, 88, c7) &&
          is_rgb(&di, 100, 87, black) && is_rgb(&di, 100, 90, black) && is_rgb(&di, 100, 70, black));
    CHECK(is_rgb(&di, 50, 60, c7) && is_rgb(&di, 51, 60, c7) && is_rgb(&di, 52, 60, black) &&
          is_rgb(&di, 148, 60, c7) && is_rgb(&di, 147, 60, black) && is_rgb(&di, 150, 60, black));
    /* Label background (class colour) right above the box at its left. */
    CHECK(is_rgb(&di, 50, 45, c7) && is_rgb(&di, 50, 41, c7) && is_rgb(&di, 50, 40, black));
    /* A box at the top puts the label inside, below the edge; NaN is safe. */
    leandet_detection top = {3, 0.5f, {0.0f, 0.0f, 0.5f, 0.5f}};
    ld_draw_detection(&di, &top, NULL);
    leandet_detection nan_det = {1, NAN, {NAN, NAN, NAN, NAN}};
    ld_draw_detection(&di, &nan_det, "x");
}

/* ------------------------------------------------------------------ */

static void cleanup_dir(void)
{
    static const char *const names[] = {"zidane.png", "zidane.JPEG", "empty.jpg", "x.jpg", "small.jpg", "small.png"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(names[i], p, sizeof p));
    rmdir(g_dir); /* fails (and reports) if a stray temporary file was left */
    struct stat st;
    CHECK_MSG(stat(g_dir, &st) != 0, "%s is not empty: a temporary file was left behind", g_dir);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/leandet_test_image_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    ld_preprocess_init(&g_stream_pre, 11, 7, LEANDET_UINT8, LEANDET_RESIZE_STRETCH);
    test_real_images();
    test_caller_allocator();
    test_bmp_pixels();
    test_jpeg_scale();
    test_bmp_synthetic();
    test_ppm_synthetic();
    test_png_synthetic();
    test_jpeg_colorspaces();
    test_save_roundtrip();
    test_malformed();
    test_resize();
    test_stream();
    test_letterbox();
    test_types();
    test_draw();
    cleanup_dir();
    return ld_test_finish();
}

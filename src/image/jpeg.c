/* JPEG through libjpeg-turbo. libjpeg reports fatal errors by calling
 * error_exit, which must not return: ours longjmps back to the function
 * that called setjmp, so a corrupt file never ends the process. The work
 * itself runs in callees so that no local of the setjmp caller changes
 * between setjmp and longjmp (no volatile juggling).
 *
 * Warnings: libjpeg keeps decoding through damaged data (grey fill after a
 * premature end, garbage after a bad Huffman code). Those that mean pixel
 * data is missing or garbled are turned into errors; cosmetic ones
 * (extraneous bytes between markers, unknown JFIF revision, bad ICC chunk)
 * are ignored, as every viewer ignores them. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* jpeglib.h first: jerror.h lists some codes only under its config macros. */
#include <jpeglib.h>
#include <jerror.h>

#include "core/error.h"
#include "image/codecs.h"

/* A progressive JPEG may carry any number of scans, each costing a pass
 * over the whole coefficient buffer; a few hundred bytes can declare
 * thousands. Real encoders use about 10. */
#define LD_JPEG_MAX_SCANS 500

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    leandet_status status;
    int too_big; /* libjpeg refused the declared size (over 65500 a side) */
    char msg[JMSG_LENGTH_MAX + 64];
} jerr;

static void jerr_raise(j_common_ptr c, leandet_status st, const char *what)
{
    jerr *e = (jerr *)c->err;
    char text[JMSG_LENGTH_MAX];
    c->err->format_message(c, text);
    snprintf(e->msg, sizeof e->msg, "%s: %s", what, text);
    e->status = st;
    longjmp(e->jb, 1);
}

static void on_error_exit(j_common_ptr c)
{
    int code = c->err->msg_code;
    if (code == JERR_OUT_OF_MEMORY)
        jerr_raise(c, LEANDET_ERR_NO_MEMORY, "JPEG codec out of memory");
    /* libjpeg asks for a temporary file once max_memory_to_use is passed. */
    if (code == JERR_NO_BACKING_STORE)
        jerr_raise(c, LEANDET_ERR_NO_MEMORY, "JPEG needs more memory than the decoder cap");
    if (code == JERR_IMAGE_TOO_BIG && c->is_decompressor)
        ((jerr *)c->err)->too_big = 1; /* reported with our size message */
    if (code == JERR_FILE_WRITE)
        jerr_raise(c, LEANDET_ERR_IO, "cannot write JPEG");
    jerr_raise(c, LEANDET_ERR_IMAGE, c->is_decompressor ? "bad JPEG" : "JPEG encoder");
}

static int warning_is_fatal(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
        return 1;
    default:
        return 0;
    }
}

static void on_emit_message(j_common_ptr c, int level)
{
    if (level >= 0)
        return; /* trace messages */
    c->err->num_warnings++;
    int code = c->err->msg_code;
    if (warning_is_fatal(code))
        jerr_raise(c, LEANDET_ERR_IMAGE, code == JWRN_JPEG_EOF ? "truncated JPEG" : "corrupt JPEG");
}

static void on_output_message(j_common_ptr c)
{
    (void)c; /* library code never prints */
}

static void on_progress(j_common_ptr c)
{
    if (!c->is_decompressor)
        return;
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > LD_JPEG_MAX_SCANS) {
        jerr *e = (jerr *)c->err;
        snprintf(e->msg, sizeof e->msg, "corrupt JPEG: more than %d scans", LD_JPEG_MAX_SCANS);
        e->status = LEANDET_ERR_IMAGE;
        longjmp(e->jb, 1);
    }
}

static void jerr_init(jerr *e)
{
    memset(e, 0, sizeof *e);
    jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error_exit;
    e->pub.emit_message = on_emit_message;
    e->pub.output_message = on_output_message;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                             */

typedef struct jdec {
    struct jpeg_decompress_struct ci;
    jerr err;
    struct jpeg_progress_mgr progress;
    const char *path;
    const uint8_t *data;
    size_t size;
} jdec;

typedef leandet_status (*jdec_body)(jdec *j, void *arg, leandet_error *err);

/* Source, memory cap and header: common start of probe and decode. */
static leandet_status read_header(jdec *j, leandet_error *err)
{
    /* Progressive images buffer all coefficients: at most 4 components of
     * 2 bytes per sample at full resolution, for the largest allowed image. */
    j->ci.mem->max_memory_to_use = (long)(8 * LD_IMAGE_MAX_PIXELS + ((uint64_t)64 << 20));
    j->progress.progress_monitor = on_progress;
    j->ci.progress = &j->progress;
    if ((uint64_t)j->size > (uint64_t)(unsigned long)-1)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: JPEG of %zu bytes is too large", j->path, j->size);
    jpeg_mem_src(&j->ci, j->data, (unsigned long)j->size);
    jpeg_read_header(&j->ci, TRUE);
    return ld_image_check_size(j->path, j->ci.image_width, j->ci.image_height, err);
}

static leandet_status jdec_run(jdec *j, jdec_body body, void *arg, leandet_error *err)
{
    jerr_init(&j->err);
    j->ci.err = &j->err.pub;
    if (setjmp(j->err.jb)) {
        unsigned w = j->ci.image_width, h = j->ci.image_height;
        jpeg_destroy_decompress(&j->ci);
        if (!j->err.too_big)
            return ld_fail(err, j->err.status, "%s: %s", j->path, j->err.msg);
        /* The SOF size is known at this point; our limit says why first. */
        if (ld_image_check_size(j->path, w, h, err) != LEANDET_OK)
            return LEANDET_ERR_IMAGE;
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED,
                       "%s: declared size %ux%u exceeds libjpeg's limit of 65500 pixels a side",
                       j->path, w, h);
    }
    jpeg_create_decompress(&j->ci);
    leandet_status st = body(j, arg, err);
    jpeg_destroy_decompress(&j->ci);
    return st;
}

static leandet_status probe_body(jdec *j, void *arg, leandet_error *err)
{
    leandet_status st = read_header(j, err);
    if (st != LEANDET_OK)
        return st;
    ld_image_info *info = arg;
    info->format = LD_IMAGE_JPEG;
    info->width = (int)j->ci.image_width;
    info->height = (int)j->ci.image_height;
    info->components = j->ci.num_components;
    info->streamable = 1; /* scanlines come top to bottom, even when progressive */
    return LEANDET_OK;
}

leandet_status ld_jpeg_probe(const char *path, const uint8_t *data, size_t size,
                             ld_image_info *info, leandet_error *err)
{
    jdec j;
    memset(&j, 0, sizeof j);
    j.path = path;
    j.data = data;
    j.size = size;
    return jdec_run(&j, probe_body, info, err);
}

typedef struct decode_args {
    int denom;
    const ld_row_sink *sink;
} decode_args;

static inline uint8_t mul255(unsigned a, unsigned b) { return (uint8_t)((a * b + 127) / 255); }

/* CMYK to RGB with the naive (no colour profile) formula. Photoshop, the
 * main producer of CMYK JPEGs, writes an Adobe marker and stores inverted
 * values (0 = full ink), in which case R = C*K/255 on the stored values. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w, int inverted)
{
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        unsigned c = in[0], m = in[1], y = in[2], k = in[3];
        if (!inverted) {
            c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        }
        out[0] = mul255(c, k);
        out[1] = mul255(m, k);
        out[2] = mul255(y, k);
    }
}

static leandet_status decode_body(jdec *j, void *arg, leandet_error *err)
{
    decode_args *a = arg;
    const ld_row_sink *sink = a->sink;
    leandet_status st = read_header(j, err);
    if (st != LEANDET_OK)
        return st;
    int cmyk = j->ci.jpeg_color_space == JCS_CMYK || j->ci.jpeg_color_space == JCS_YCCK;
    /* Grayscale and YCbCr convert to RGB inside libjpeg-turbo; CMYK (and
     * YCCK, which libjpeg turns into CMYK) is converted here. */
    j->ci.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    j->ci.scale_num = 1;
    j->ci.scale_denom = (unsigned)a->denom;
    jpeg_start_decompress(&j->ci);
    if ((int)j->ci.output_width != sink->width || (int)j->ci.output_height != sink->height ||
        j->ci.output_components != (cmyk ? 4 : 3))
        return ld_fail(err, LEANDET_ERR_INTERNAL,
                       "%s: libjpeg decodes %ux%u x%d at 1/%d, planned %dx%d", j->path,
                       j->ci.output_width, j->ci.output_height, j->ci.output_components, a->denom,
                       sink->width, sink->height);
    JSAMPARRAY cmyk_row = NULL;
    if (cmyk)
        cmyk_row = j->ci.mem->alloc_sarray((j_common_ptr)&j->ci, JPOOL_IMAGE,
                                           j->ci.output_width * 4, 1);
    while (j->ci.output_scanline < j->ci.output_height) {
        int y = (int)j->ci.output_scanline;
        uint8_t *dst = sink->row(sink->ctx, y);
        JSAMPROW row = cmyk ? cmyk_row[0] : dst;
        if (jpeg_read_scanlines(&j->ci, &row, 1) != 1)
            return ld_fail(err, LEANDET_ERR_IMAGE, "%s: JPEG decoder returned no row %u", j->path,
                           j->ci.output_scanline);
        if (cmyk)
            cmyk_row_to_rgb(row, dst, sink->width, j->ci.saw_Adobe_marker);
        if (sink->done)
            sink->done(sink->ctx, y);
    }
    /* Reads up to EOI, so a file cut just before its end is still caught. */
    jpeg_finish_decompress(&j->ci);
    return LEANDET_OK;
}

leandet_status ld_jpeg_decode(const char *path, const uint8_t *data, size_t size, int denom,
                              const ld_row_sink *sink, leandet_error *err)
{
    jdec j;
    memset(&j, 0, sizeof j);
    j.path = path;
    j.data = data;
    j.size = size;
    decode_args a = {denom, sink};
    return jdec_run(&j, decode_body, &a, err);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */

typedef struct jenc {
    struct jpeg_compress_struct ci;
    jerr err;
} jenc;

static void encode_body(jenc *j, FILE *f, const leandet_image *img, int quality)
{
    jpeg_stdio_dest(&j->ci, f);
    j->ci.image_width = (JDIMENSION)img->width;
    j->ci.image_height = (JDIMENSION)img->height;
    j->ci.input_components = 3;
    j->ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&j->ci);
    jpeg_set_quality(&j->ci, quality, TRUE);
    jpeg_start_compress(&j->ci, TRUE);
    size_t stride = (size_t)img->width * 3;
    while (j->ci.next_scanline < j->ci.image_height) {
        /* libjpeg's row type is not const; it only reads the pixels. */
        JSAMPROW row = (JSAMPROW)(uintptr_t)(img->pixels + (size_t)j->ci.next_scanline * stride);
        jpeg_write_scanlines(&j->ci, &row, 1);
    }
    jpeg_finish_compress(&j->ci);
}

static leandet_status jenc_run(jenc *j, const char *path, FILE *f, const leandet_image *img,
                               int quality, leandet_error *err)
{
    jerr_init(&j->err);
    j->ci.err = &j->err.pub;
    if (setjmp(j->err.jb)) {
        jpeg_destroy_compress(&j->ci);
        return ld_fail(err, j->err.status, "%s: %s", path, j->err.msg);
    }
    jpeg_create_compress(&j->ci);
    encode_body(j, f, img, quality);
    jpeg_destroy_compress(&j->ci);
    return LEANDET_OK;
}

leandet_status ld_jpeg_encode(const char *path, FILE *f, const leandet_image *img, int quality,
                              leandet_error *err)
{
    jenc j;
    memset(&j, 0, sizeof j);
    return jenc_run(&j, path, f, img, quality, err);
}

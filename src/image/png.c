/* PNG through libspng. Every bit depth and colour type decodes to RGB8:
 * spng expands gray and palettes, takes the high byte of 16-bit samples
 * and drops alpha (no compositing: the colour under a transparent pixel
 * is what the file stores, as PIL's convert("RGB") gives). Gamma and other
 * colour chunks are ignored. */
#include <string.h>

#include <spng.h>

#include "core/error.h"
#include "image/codecs.h"

/* Ancillary chunks (text, ICC profiles, EXIF) are held in memory while
 * decoding: cap each one and their total, so a small file cannot claim
 * gigabytes through zlib-compressed text. */
#define LD_PNG_MAX_CHUNK ((size_t)16 << 20)
#define LD_PNG_MAX_CHUNK_CACHE ((size_t)64 << 20)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static leandet_status spng_fail(leandet_error *err, const char *path, int rc)
{
    /* SPNG_EOF: the buffer ended before the data spng needed. */
    if (rc == SPNG_EOF || rc == SPNG_IO_EOF)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: truncated PNG (%s)", path, spng_strerror(rc));
    if (rc == SPNG_EMEM)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: PNG decoder out of memory", path);
    return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad PNG: %s", path, spng_strerror(rc));
}

/* spng context with our limits, reading from `data`. */
static leandet_status open_ctx(const char *path, const uint8_t *data, size_t size, spng_ctx **out,
                               leandet_error *err)
{
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: cannot create PNG decoder", path);
    int rc = spng_set_image_limits(ctx, LD_IMAGE_MAX_DIM, LD_IMAGE_MAX_DIM);
    if (!rc)
        rc = spng_set_chunk_limits(ctx, LD_PNG_MAX_CHUNK, LD_PNG_MAX_CHUNK_CACHE);
    if (!rc)
        rc = spng_set_png_buffer(ctx, data, size);
    if (rc) {
        spng_ctx_free(ctx);
        return spng_fail(err, path, rc);
    }
    *out = ctx;
    return LEANDET_OK;
}

/* spng stops at the IEND chunk header and does not insist on its CRC.
 * IEND is always the same 12 bytes, so look for it: normally it ends the
 * file; bytes after it are tolerated, as other readers do. */
static int has_iend(const uint8_t *data, size_t size)
{
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (size >= 12 && memcmp(data + size - 12, iend, 12) == 0)
        return 1;
    for (size_t i = size >= 12 ? size - 12 : 0; size >= 12 && i-- > 0;)
        if (data[i + 4] == 'I' && memcmp(data + i, iend, sizeof iend) == 0)
            return 1;
    return 0;
}

static int color_channels(uint8_t color_type)
{
    switch (color_type) {
    case SPNG_COLOR_TYPE_GRAYSCALE: return 1;
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: return 2;
    case SPNG_COLOR_TYPE_TRUECOLOR: return 3;
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: return 4;
    case SPNG_COLOR_TYPE_INDEXED: return 1;
    default: return 0;
    }
}

leandet_status ld_png_probe(const char *path, const uint8_t *data, size_t size,
                            ld_image_info *info, leandet_error *err)
{
    /* Our own look at IHDR first (it must be the first chunk), so an
     * absurd size gets our message rather than spng's "width too large". */
    if (size < 8 + 8 + 13 + 4)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: truncated PNG: %zu bytes, the header needs 33",
                       path, size);
    if (be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad PNG: first chunk is not a 13-byte IHDR", path);
    leandet_status st = ld_image_check_size(path, be32(data + 16), be32(data + 20), err);
    if (st != LEANDET_OK)
        return st;
    spng_ctx *ctx = NULL;
    st = open_ctx(path, data, size, &ctx, err);
    if (st != LEANDET_OK)
        return st;
    struct spng_ihdr ihdr;
    int rc = spng_get_ihdr(ctx, &ihdr);
    spng_ctx_free(ctx);
    if (rc)
        return spng_fail(err, path, rc);
    info->format = LD_IMAGE_PNG;
    info->width = (int)ihdr.width;
    info->height = (int)ihdr.height;
    info->components = color_channels(ihdr.color_type);
    /* Adam7 rows arrive pass by pass: only a whole-image buffer takes them. */
    info->streamable = ihdr.interlace_method == SPNG_INTERLACE_NONE;
    return LEANDET_OK;
}

/* Rows one at a time into the sink (non-interlaced), or the whole image
 * at once into the sink's buffer. */
static int decode_pixels(spng_ctx *ctx, const ld_row_sink *sink, int interlaced)
{
    size_t stride = (size_t)sink->width * 3;
    if (interlaced)
        return spng_decode_image(ctx, sink->image, stride * (size_t)sink->height, SPNG_FMT_RGB8, 0);
    int rc = spng_decode_image(ctx, NULL, 0, SPNG_FMT_RGB8, SPNG_DECODE_PROGRESSIVE);
    for (int y = 0; !rc && y < sink->height; y++) {
        rc = spng_decode_row(ctx, sink->row(sink->ctx, y), stride);
        if (rc == SPNG_EOI && y == sink->height - 1)
            rc = 0; /* the last row says the image is complete */
        if (!rc && sink->done)
            sink->done(sink->ctx, y);
    }
    return rc;
}

leandet_status ld_png_decode(const char *path, const uint8_t *data, size_t size, const ld_row_sink *sink,
                             leandet_error *err)
{
    spng_ctx *ctx = NULL;
    leandet_status st = open_ctx(path, data, size, &ctx, err);
    if (st != LEANDET_OK)
        return st;
    struct spng_ihdr ihdr;
    int width = sink->width, height = sink->height;
    size_t need = 0, have = (size_t)width * (size_t)height * 3;
    int rc = spng_get_ihdr(ctx, &ihdr);
    if (!rc && ((int)ihdr.width != width || (int)ihdr.height != height)) {
        spng_ctx_free(ctx);
        return ld_fail(err, LEANDET_ERR_INTERNAL, "%s: PNG is %ux%u, planned %dx%d", path,
                       ihdr.width, ihdr.height, width, height);
    }
    int interlaced = !rc && ihdr.interlace_method != SPNG_INTERLACE_NONE;
    if (interlaced && !sink->image) {
        spng_ctx_free(ctx);
        return ld_fail(err, LEANDET_ERR_INTERNAL, "%s: an interlaced PNG cannot be decoded row by row", path);
    }
    if (!rc)
        rc = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &need);
    if (!rc && need != have) {
        spng_ctx_free(ctx);
        return ld_fail(err, LEANDET_ERR_INTERNAL, "%s: PNG decodes to %zu bytes, planned %zu", path,
                       need, have);
    }
    if (!rc)
        rc = decode_pixels(ctx, sink, interlaced);
    /* Read on to IEND: a file cut after its last IDAT is still truncated. */
    if (!rc)
        rc = spng_decode_chunks(ctx);
    spng_ctx_free(ctx);
    if (rc)
        return spng_fail(err, path, rc);
    if (!has_iend(data, size))
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: truncated PNG: no complete IEND chunk", path);
    return LEANDET_OK;
}

leandet_status ld_png_encode(const char *path, FILE *f, const leandet_image *img, leandet_error *err)
{
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: cannot create PNG encoder", path);
    struct spng_ihdr ihdr;
    memset(&ihdr, 0, sizeof ihdr);
    ihdr.width = (uint32_t)img->width;
    ihdr.height = (uint32_t)img->height;
    ihdr.bit_depth = 8;
    ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    int rc = spng_set_png_file(ctx, f);
    if (!rc)
        rc = spng_set_ihdr(ctx, &ihdr);
    /* zlib level 3 instead of 6: a 1280x720 photo saves about 3x faster
     * for some 7% more bytes, which suits annotated outputs. */
    if (!rc)
        rc = spng_set_option(ctx, SPNG_IMG_COMPRESSION_LEVEL, 3);
    if (!rc)
        rc = spng_encode_image(ctx, img->pixels, (size_t)img->width * (size_t)img->height * 3,
                               SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    spng_ctx_free(ctx);
    if (rc == SPNG_IO_ERROR)
        return ld_fail(err, LEANDET_ERR_IO, "%s: cannot write PNG", path);
    if (rc)
        return ld_fail(err, LEANDET_ERR_INTERNAL, "%s: PNG encoder: %s", path, spng_strerror(rc));
    return LEANDET_OK;
}

/* BMP, our own parser (no library reads BMP safely enough to trust with
 * untrusted files, and the format is small). Supported: BITMAPCOREHEADER
 * (12 bytes) and BITMAPINFOHEADER and its V2..V5 extensions (40, 52, 56,
 * 108, 124 bytes); 1/4/8-bit palettes, 24-bit BGR, 16- and 32-bit BI_RGB
 * and BI_BITFIELDS; bottom-up and top-down rows; rows padded to 4 bytes.
 * RLE and embedded JPEG/PNG compression are refused as unsupported.
 * Every header field is checked, and the pixel data must lie in the file. */
#include <string.h>

#include "core/error.h"
#include "image/codecs.h"

enum { BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3, BI_JPEG = 4, BI_PNG = 5, BI_ALPHABITFIELDS = 6 };

typedef struct bmp_channel {
    uint32_t mask;
    int shift, bits;
} bmp_channel;

typedef struct bmp {
    int width, height, top_down, bpp;
    size_t data_off, stride;
    bmp_channel ch[3];         /* r, g, b for 16/32-bit */
    const uint8_t *palette;    /* for bpp <= 8 */
    int pal_entries, pal_size; /* entries, bytes per entry (3 or 4) */
} bmp;

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

static const char *compression_name(uint32_t c)
{
    switch (c) {
    case BI_RLE8: return "RLE8";
    case BI_RLE4: return "RLE4";
    case BI_JPEG: return "JPEG";
    case BI_PNG: return "PNG";
    default: return "unknown";
    }
}

/* A channel mask must be one run of set bits inside the pixel. */
static leandet_status parse_mask(const char *path, const char *name, uint32_t mask, int bpp,
                                 bmp_channel *c, leandet_error *err)
{
    if (mask == 0 || (bpp < 32 && (mask >> bpp) != 0))
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad BMP: %s mask 0x%08x does not fit %d-bit pixels",
                       path, name, mask, bpp);
    int shift = 0;
    while (!((mask >> shift) & 1u))
        shift++;
    uint32_t run = mask >> shift;
    if (run & (run + 1)) /* run+1 is a power of two only when run is 0b11..1 */
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad BMP: %s mask 0x%08x is not contiguous", path,
                       name, mask);
    int bits = 0;
    while (bits < 32 && ((run >> bits) & 1u))
        bits++;
    c->mask = mask;
    c->shift = shift;
    c->bits = bits;
    return LEANDET_OK;
}

static leandet_status truncated(leandet_error *err, const char *path, const char *what,
                                uint64_t end, size_t size)
{
    return ld_fail(err, LEANDET_ERR_IMAGE, "%s: truncated: %s ends at byte %llu, file has %zu", path,
                   what, (unsigned long long)end, size);
}

static leandet_status parse(const char *path, const uint8_t *d, size_t n, bmp *b, leandet_error *err)
{
    memset(b, 0, sizeof *b);
    if (n < 18)
        return truncated(err, path, "BMP file header", 18, n);
    uint32_t off = le32(d + 10), dib = le32(d + 14);
    if (dib != 12 && dib != 40 && dib != 52 && dib != 56 && dib != 108 && dib != 124)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED,
                       "%s: unsupported BMP: info header of %u bytes (12, 40, 52, 56, 108 or 124 expected)",
                       path, dib);
    if (14 + (uint64_t)dib > n)
        return truncated(err, path, "BMP info header", 14 + (uint64_t)dib, n);
    const uint8_t *h = d + 14;
    int64_t w, ht;
    uint32_t planes, bpp, comp = BI_RGB, used = 0;
    if (dib == 12) {
        w = le16(h + 4), ht = le16(h + 6), planes = le16(h + 8), bpp = le16(h + 10);
    } else {
        w = (int32_t)le32(h + 4), ht = (int32_t)le32(h + 8), planes = le16(h + 12), bpp = le16(h + 14);
        comp = le32(h + 16), used = le32(h + 32);
    }
    if (planes != 1)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad BMP: %u colour planes (must be 1)", path, planes);
    if (ht < 0)
        b->top_down = 1, ht = -ht;
    leandet_status st = ld_image_check_size(path, w, ht, err);
    if (st != LEANDET_OK)
        return st;
    b->width = (int)w, b->height = (int)ht, b->bpp = (int)bpp;
    if (comp == BI_RLE8 || comp == BI_RLE4 || comp == BI_JPEG || comp == BI_PNG)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: unsupported BMP: %s compression", path,
                       compression_name(comp));
    int fields = comp == BI_BITFIELDS || comp == BI_ALPHABITFIELDS;
    if (comp != BI_RGB && !fields)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad BMP: compression %u", path, comp);
    if (!(bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32))
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: unsupported BMP: %u bits per pixel", path, bpp);
    if (fields && bpp != 16 && bpp != 32)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad BMP: bit fields with %u bits per pixel", path, bpp);

    /* What follows the info header: masks (40-byte header with bit
     * fields only; later versions hold them inside), then the palette. */
    uint64_t pos = 14 + (uint64_t)dib;
    if (bpp == 16 || bpp == 32) {
        uint32_t m[3] = {0x7c00, 0x03e0, 0x001f}; /* BI_RGB 16-bit is 5-5-5 */
        if (bpp == 32)
            m[0] = 0xff0000, m[1] = 0xff00, m[2] = 0xff;
        if (fields) {
            const uint8_t *mp = h + 40;
            if (dib == 40) {
                uint64_t end = pos + (comp == BI_ALPHABITFIELDS ? 16 : 12);
                if (end > n)
                    return truncated(err, path, "BMP colour masks", end, n);
                mp = d + pos;
                pos = end;
            }
            for (int i = 0; i < 3; i++)
                m[i] = le32(mp + 4 * i);
        }
        static const char *const names[3] = {"red", "green", "blue"};
        for (int i = 0; i < 3; i++)
            if ((st = parse_mask(path, names[i], m[i], (int)bpp, &b->ch[i], err)) != LEANDET_OK)
                return st;
    } else if (bpp <= 8) {
        uint32_t max = 1u << bpp;
        b->pal_size = dib == 12 ? 3 : 4;
        if (used > max)
            return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad BMP: %u palette colours for %u-bit pixels",
                           path, used, bpp);
        uint32_t entries = used ? used : max;
        /* With no count given, writers may store fewer entries than 2^bpp;
         * take what fits before the pixels (indices are checked anyway). */
        if (!used && off > pos && (off - pos) / (uint64_t)b->pal_size < entries)
            entries = (uint32_t)((off - pos) / (uint64_t)b->pal_size);
        uint64_t end = pos + (uint64_t)entries * (uint64_t)b->pal_size;
        if (end > n)
            return truncated(err, path, "BMP palette", end, n);
        if (entries == 0)
            return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad BMP: %u-bit pixels without a palette", path, bpp);
        b->palette = d + pos;
        b->pal_entries = (int)entries;
        pos = end;
    }
    if (off < pos)
        return ld_fail(err, LEANDET_ERR_IMAGE,
                       "%s: bad BMP: pixel data offset %u overlaps the headers and palette (end at %llu)",
                       path, off, (unsigned long long)pos);
    uint64_t stride = ((uint64_t)w * bpp + 31) / 32 * 4;
    uint64_t end = (uint64_t)off + stride * (uint64_t)ht;
    if (end > n)
        return truncated(err, path, "pixel data", end, n);
    b->data_off = off;
    b->stride = (size_t)stride;
    return LEANDET_OK;
}

leandet_status ld_bmp_probe(const char *path, const uint8_t *data, size_t size, ld_image_info *info,
                            leandet_error *err)
{
    bmp b;
    leandet_status st = parse(path, data, size, &b, err);
    if (st != LEANDET_OK)
        return st;
    info->format = LD_IMAGE_BMP;
    info->width = b.width;
    info->height = b.height;
    info->components = b.bpp <= 8 ? 1 : 3;
    info->streamable = 1; /* every row is addressable in the file */
    return LEANDET_OK;
}

/* A masked field scaled to 8 bits: wide fields keep their top 8 bits,
 * narrow ones are stretched so that all-ones maps to 255. */
static uint8_t field8(uint32_t px, const bmp_channel *c)
{
    uint32_t v = (px & c->mask) >> c->shift;
    if (c->bits >= 8)
        return (uint8_t)(v >> (c->bits - 8));
    uint32_t max = (1u << c->bits) - 1;
    return (uint8_t)((v * 255 + max / 2) / max);
}

static leandet_status decode_row(const char *path, const bmp *b, const uint8_t *src, uint8_t *dst,
                                 int y, leandet_error *err)
{
    int w = b->width;
    switch (b->bpp) {
    case 24:
        for (int x = 0; x < w; x++, src += 3, dst += 3)
            dst[0] = src[2], dst[1] = src[1], dst[2] = src[0];
        return LEANDET_OK;
    case 16:
    case 32:
        for (int x = 0; x < w; x++, dst += 3) {
            uint32_t px = b->bpp == 16 ? le16(src) : le32(src);
            src += b->bpp / 8;
            for (int c = 0; c < 3; c++)
                dst[c] = field8(px, &b->ch[c]);
        }
        return LEANDET_OK;
    default: { /* 1, 4, 8: palette indices, most significant bits first */
        int per_byte = 8 / b->bpp;
        unsigned mask = (1u << b->bpp) - 1;
        for (int x = 0; x < w; x++, dst += 3) {
            int k = x % per_byte;
            unsigned idx = (src[x / per_byte] >> (8 - b->bpp * (k + 1))) & mask;
            if ((int)idx >= b->pal_entries)
                return ld_fail(err, LEANDET_ERR_IMAGE,
                               "%s: bad BMP: pixel (%d,%d) uses colour %u of a %d-colour palette", path,
                               x, y, idx, b->pal_entries);
            const uint8_t *p = b->palette + (size_t)idx * (size_t)b->pal_size;
            dst[0] = p[2], dst[1] = p[1], dst[2] = p[0];
        }
        return LEANDET_OK;
    }
    }
}

leandet_status ld_bmp_decode(const char *path, const uint8_t *data, size_t size, const ld_row_sink *sink,
                             leandet_error *err)
{
    bmp b;
    leandet_status st = parse(path, data, size, &b, err);
    if (st != LEANDET_OK)
        return st;
    int width = sink->width, height = sink->height;
    if (b.width != width || b.height != height)
        return ld_fail(err, LEANDET_ERR_INTERNAL, "%s: BMP is %dx%d, planned %dx%d", path, b.width,
                       b.height, width, height);
    for (int y = 0; y < height; y++) {
        size_t row = b.top_down ? (size_t)y : (size_t)(height - 1 - y);
        st = decode_row(path, &b, data + b.data_off + row * b.stride, sink->row(sink->ctx, y), y, err);
        if (st != LEANDET_OK)
            return st;
        if (sink->done)
            sink->done(sink->ctx, y);
    }
    return LEANDET_OK;
}

/* Netpbm PPM (colour) and PGM (gray): binary P6/P5 and ascii P3/P2, any
 * maxval 1..65535 (two bytes per sample, big-endian, above 255). Samples
 * are rescaled to 0..255 with rounding; maxval 255 passes through. */
#include <string.h>

#include "core/error.h"
#include "image/codecs.h"

typedef struct ppm {
    int ascii, channels;
    int64_t width, height;
    uint32_t maxval;
    size_t data_off; /* first byte of the raster */
} ppm;

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skip whitespace and '#' comments (to end of line). */
static size_t skip_blank(const uint8_t *d, size_t n, size_t i)
{
    while (i < n) {
        if (is_space(d[i])) {
            i++;
        } else if (d[i] == '#') {
            while (i < n && d[i] != '\n' && d[i] != '\r')
                i++;
        } else {
            break;
        }
    }
    return i;
}

/* Decimal number at d[*i] (after blanks). 1 on success, 0 if there is no
 * number (end of data or a non-digit), -1 if it exceeds `max`. */
static int read_number(const uint8_t *d, size_t n, size_t *i, uint32_t max, uint32_t *out)
{
    size_t p = skip_blank(d, n, *i);
    if (p >= n || d[p] < '0' || d[p] > '9')
        return 0;
    uint64_t v = 0;
    while (p < n && d[p] >= '0' && d[p] <= '9') {
        v = v * 10 + (uint64_t)(d[p++] - '0');
        if (v > max)
            return -1;
    }
    *i = p;
    *out = (uint32_t)v;
    return 1;
}

static leandet_status parse(const char *path, const uint8_t *d, size_t n, ppm *p, leandet_error *err)
{
    memset(p, 0, sizeof *p);
    p->ascii = d[1] == '2' || d[1] == '3';
    p->channels = d[1] == '3' || d[1] == '6' ? 3 : 1;
    static const char *const field[3] = {"width", "height", "maxval"};
    /* Width and height may be as large as the format allows here: the size
     * check below reports them with the standard message. */
    const uint32_t max[3] = {0x7fffffff, 0x7fffffff, 65535};
    uint32_t v[3];
    size_t i = 2;
    for (int k = 0; k < 3; k++) {
        int r = read_number(d, n, &i, max[k], &v[k]);
        if (r == 0)
            return ld_fail(err, LEANDET_ERR_IMAGE, i >= n || skip_blank(d, n, i) >= n
                                                       ? "%s: truncated PPM header: no %s"
                                                       : "%s: bad PPM header: %s is not a number",
                           path, field[k]);
        if (r < 0)
            return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad PPM header: %s exceeds %u", path, field[k],
                           max[k]);
    }
    p->width = v[0], p->height = v[1], p->maxval = v[2];
    leandet_status st = ld_image_check_size(path, p->width, p->height, err);
    if (st != LEANDET_OK)
        return st;
    if (p->maxval == 0)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad PPM header: maxval 0", path);
    /* Binary rasters start after exactly one whitespace byte. */
    if (i >= n || !is_space(d[i]))
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: %s PPM header: no whitespace after maxval", path,
                       i >= n ? "truncated" : "bad");
    p->data_off = i + 1;
    if (!p->ascii) {
        uint64_t bytes = (uint64_t)p->width * (uint64_t)p->height * (uint64_t)p->channels *
                         (p->maxval > 255 ? 2u : 1u);
        uint64_t end = (uint64_t)p->data_off + bytes;
        if (end > n)
            return ld_fail(err, LEANDET_ERR_IMAGE,
                           "%s: truncated: pixel data ends at byte %llu, file has %zu", path,
                           (unsigned long long)end, n);
    }
    return LEANDET_OK;
}

leandet_status ld_ppm_probe(const char *path, const uint8_t *data, size_t size, ld_image_info *info,
                            leandet_error *err)
{
    ppm p;
    leandet_status st = parse(path, data, size, &p, err);
    if (st != LEANDET_OK)
        return st;
    info->format = LD_IMAGE_PPM;
    info->width = (int)p.width;
    info->height = (int)p.height;
    info->components = p.channels;
    info->streamable = 1;
    return LEANDET_OK;
}

/* The next sample, scaled to 8 bits; *pos moves past it. */
static leandet_status next_sample(const char *path, const ppm *p, const uint8_t *data, size_t size, size_t *pos,
                                  size_t s, size_t samples, uint8_t *out, leandet_error *err)
{
    uint32_t v;
    if (p->ascii) {
        int r = read_number(data, size, pos, p->maxval, &v);
        if (r < 0)
            return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad PPM: sample %zu exceeds maxval %u", path, s,
                           p->maxval);
        if (r == 0)
            return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad PPM: sample %zu of %zu missing or not a number",
                           path, s, samples);
    } else if (p->maxval > 255) {
        v = (uint32_t)data[*pos] << 8 | data[*pos + 1];
        *pos += 2;
    } else {
        v = data[(*pos)++];
    }
    if (v > p->maxval)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: bad PPM: sample %zu is %u, above maxval %u", path, s, v,
                       p->maxval);
    *out = p->maxval == 255 ? (uint8_t)v : (uint8_t)((v * 255 + p->maxval / 2) / p->maxval);
    return LEANDET_OK;
}

leandet_status ld_ppm_decode(const char *path, const uint8_t *data, size_t size, const ld_row_sink *sink,
                             leandet_error *err)
{
    ppm p;
    leandet_status st = parse(path, data, size, &p, err);
    if (st != LEANDET_OK)
        return st;
    int width = sink->width, height = sink->height;
    if (p.width != width || p.height != height)
        return ld_fail(err, LEANDET_ERR_INTERNAL, "%s: PPM is %lldx%lld, planned %dx%d", path,
                       (long long)p.width, (long long)p.height, width, height);
    size_t per_row = (size_t)width * (size_t)p.channels, samples = per_row * (size_t)height;
    size_t pos = p.data_off, s = 0;
    for (int y = 0; y < height; y++) {
        uint8_t *o = sink->row(sink->ctx, y);
        for (size_t i = 0; i < per_row; i++, s++) {
            uint8_t b = 0;
            st = next_sample(path, &p, data, size, &pos, s, samples, &b, err);
            if (st != LEANDET_OK)
                return st;
            if (p.channels == 3)
                o[i] = b;
            else
                o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = b;
        }
        if (sink->done)
            sink->done(sink->ctx, y);
    }
    return LEANDET_OK;
}

/* Format dispatch, size limits, file reading and the public load/free. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "image/codecs.h"
#include "image/image.h"

ld_image_format ld_image_sniff(const uint8_t *d, size_t n)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return LD_IMAGE_JPEG;
    if (n >= 8 && memcmp(d, png_sig, 8) == 0)
        return LD_IMAGE_PNG;
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return LD_IMAGE_BMP;
    /* "P6" etc. must be followed by whitespace, which rules out text files
     * that merely start with a capital P and a digit. */
    if (n >= 3 && d[0] == 'P' && (d[1] == '2' || d[1] == '3' || d[1] == '5' || d[1] == '6') &&
        (d[2] == ' ' || d[2] == '\t' || d[2] == '\n' || d[2] == '\r' || d[2] == '#'))
        return LD_IMAGE_PPM;
    return LD_IMAGE_UNKNOWN;
}

const char *ld_image_format_name(ld_image_format f)
{
    switch (f) {
    case LD_IMAGE_JPEG: return "JPEG";
    case LD_IMAGE_PNG: return "PNG";
    case LD_IMAGE_BMP: return "BMP";
    case LD_IMAGE_PPM: return "PPM";
    case LD_IMAGE_UNKNOWN: break;
    }
    return "unknown";
}

leandet_status ld_image_check_size(const char *path, int64_t w, int64_t h, leandet_error *err)
{
    if (w <= 0 || h <= 0)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: declared size %lldx%lld is empty", path,
                       (long long)w, (long long)h);
    if (w > LD_IMAGE_MAX_DIM || h > LD_IMAGE_MAX_DIM ||
        (uint64_t)w * (uint64_t)h > LD_IMAGE_MAX_PIXELS)
        return ld_fail(err, LEANDET_ERR_IMAGE,
                       "%s: declared size %lldx%lld exceeds the limit of %dx%d and %llu pixels",
                       path, (long long)w, (long long)h, LD_IMAGE_MAX_DIM, LD_IMAGE_MAX_DIM,
                       (unsigned long long)LD_IMAGE_MAX_PIXELS);
    return LEANDET_OK;
}

static leandet_status io_fail(leandet_error *err, const char *path, const char *what, int e)
{
    char buf[128];
    if (strerror_r(e, buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "error %d", e);
    return ld_fail(err, LEANDET_ERR_IO, "%s: cannot %s: %s", path, what, buf);
}

/* Map `path` read-only: the encoded bytes stay page cache pages (counted as
 * the file's bytes in the plan), never a heap copy. *size > 0 on success. */
leandet_status ld_image_map_file(const char *path, const uint8_t **data, size_t *size, leandet_error *err)
{
    if (!path || !data || !size)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "image map: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, path, "open", errno);
    struct stat st;
    leandet_status rc = LEANDET_OK;
    if (fstat(fd, &st) != 0)
        rc = io_fail(err, path, "stat", errno);
    else if (!S_ISREG(st.st_mode))
        rc = ld_fail(err, LEANDET_ERR_IO, "%s: not a regular file", path);
    else if (st.st_size == 0)
        rc = ld_fail(err, LEANDET_ERR_IMAGE, "%s: empty file", path);
    else if ((uint64_t)st.st_size > LD_IMAGE_MAX_FILE_BYTES)
        rc = ld_fail(err, LEANDET_ERR_IMAGE, "%s: file of %lld bytes exceeds the limit of %zu", path,
                     (long long)st.st_size, LD_IMAGE_MAX_FILE_BYTES);
    if (rc == LEANDET_OK) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = io_fail(err, path, "map", errno);
        } else {
            *data = m;
            *size = (size_t)st.st_size;
        }
    }
    close(fd);
    return rc;
}

void ld_image_unmap_file(const uint8_t *data, size_t size)
{
    if (data)
        munmap((void *)(uintptr_t)data, size);
}

leandet_status ld_image_probe(const char *path, const uint8_t *data, size_t size,
                              ld_image_info *out, leandet_error *err)
{
    if (!path)
        path = "<memory>";
    if (!out || (!data && size))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image probe: NULL argument", path);
    if (size == 0)
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: empty file", path);
    ld_image_info info;
    memset(&info, 0, sizeof info);
    leandet_status st;
    switch (ld_image_sniff(data, size)) {
    case LD_IMAGE_JPEG: st = ld_jpeg_probe(path, data, size, &info, err); break;
    case LD_IMAGE_PNG: st = ld_png_probe(path, data, size, &info, err); break;
    case LD_IMAGE_BMP: st = ld_bmp_probe(path, data, size, &info, err); break;
    case LD_IMAGE_PPM: st = ld_ppm_probe(path, data, size, &info, err); break;
    default: {
        char hex[3 * 4 + 1] = "";
        size_t k = size < 4 ? size : 4, len = 0;
        for (size_t i = 0; i < k; i++)
            len += (size_t)snprintf(hex + len, sizeof hex - len, "%s%02x", i ? " " : "", data[i]);
        return ld_fail(err, LEANDET_ERR_IMAGE, "%s: not a JPEG/PNG/BMP/PPM file (starts with %s)",
                       path, hex);
    }
    }
    if (st == LEANDET_OK)
        *out = info;
    return st;
}

static int valid_denom(int d) { return d == 1 || d == 2 || d == 4 || d == 8; }

void ld_image_scaled_size(const ld_image_info *info, int denom, int *w, int *h)
{
    if (info->format != LD_IMAGE_JPEG || !valid_denom(denom))
        denom = 1;
    *w = (info->width + denom - 1) / denom;
    *h = (info->height + denom - 1) / denom;
}

int ld_image_pick_scale(const ld_image_info *info, int min_w, int min_h)
{
    if (info->format != LD_IMAGE_JPEG)
        return 1;
    for (int d = 8; d > 1; d /= 2) {
        int w, h;
        ld_image_scaled_size(info, d, &w, &h);
        if (w >= min_w && h >= min_h)
            return d;
    }
    return 1;
}

/* Probe, then check the buffer against the size the probe promises. */
static leandet_status plan_decode(const char *path, const uint8_t *data, size_t size, int denom,
                                  ld_image_info *info, int *w, int *h, leandet_error *err)
{
    if (!valid_denom(denom))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: scale 1/%d is not 1/1, 1/2, 1/4 or 1/8",
                       path, denom);
    leandet_status st = ld_image_probe(path, data, size, info, err);
    if (st != LEANDET_OK)
        return st;
    ld_image_scaled_size(info, denom, w, h);
    return LEANDET_OK;
}

static leandet_status decode_planned(const char *path, const uint8_t *data, size_t size, int denom,
                                     const ld_image_info *info, const ld_row_sink *sink, leandet_error *err)
{
    switch (info->format) {
    case LD_IMAGE_JPEG: return ld_jpeg_decode(path, data, size, denom, sink, err);
    case LD_IMAGE_PNG: return ld_png_decode(path, data, size, sink, err);
    case LD_IMAGE_BMP: return ld_bmp_decode(path, data, size, sink, err);
    case LD_IMAGE_PPM: return ld_ppm_decode(path, data, size, sink, err);
    case LD_IMAGE_UNKNOWN: break;
    }
    return ld_fail(err, LEANDET_ERR_INTERNAL, "%s: probe accepted an unknown format", path);
}

static uint8_t *image_row(void *ctx, int y)
{
    const ld_row_sink *s = ctx;
    return s->image + (size_t)y * (size_t)s->width * 3;
}

/* The sink over a whole packed w x h image at px. */
static void image_sink(ld_row_sink *s, uint8_t *px, int w, int h)
{
    memset(s, 0, sizeof *s);
    s->width = w;
    s->height = h;
    s->row = image_row;
    s->ctx = s;
    s->image = px;
}

leandet_status ld_image_decode_rows(const char *path, const uint8_t *data, size_t size, int denom,
                                    const ld_row_sink *sink, leandet_error *err)
{
    if (!path)
        path = "<memory>";
    if (!sink || !sink->row)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image decode: NULL sink", path);
    ld_image_info info;
    int w = 0, h = 0;
    leandet_status st = plan_decode(path, data, size, denom, &info, &w, &h, err);
    if (st != LEANDET_OK)
        return st;
    if (sink->width != w || sink->height != h)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: decodes to %dx%d, the row sink takes %dx%d", path, w, h,
                       sink->width, sink->height);
    if (!sink->image && !info.streamable)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: this %s cannot be decoded row by row", path,
                       ld_image_format_name(info.format));
    return decode_planned(path, data, size, denom, &info, sink, err);
}

leandet_status ld_image_decode_into(const char *path, const uint8_t *data, size_t size, int denom,
                                    uint8_t *pixels, size_t capacity, int *width, int *height,
                                    leandet_error *err)
{
    if (!path)
        path = "<memory>";
    if (!pixels || !width || !height)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image decode: NULL argument", path);
    ld_image_info info;
    int w = 0, h = 0;
    leandet_status st = plan_decode(path, data, size, denom, &info, &w, &h, err);
    if (st != LEANDET_OK)
        return st;
    /* w*h*3 cannot overflow: the probe capped w*h at LD_IMAGE_MAX_PIXELS. */
    size_t need = (size_t)w * (size_t)h * 3;
    if (capacity < need)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: decoding %dx%d needs %zu bytes, buffer has %zu",
                       path, w, h, need, capacity);
    ld_row_sink sink;
    image_sink(&sink, pixels, w, h);
    st = decode_planned(path, data, size, denom, &info, &sink, err);
    if (st == LEANDET_OK) {
        *width = w;
        *height = h;
    }
    return st;
}

static void *pixels_alloc(const leandet_allocator *a, size_t n)
{
    return a && a->alloc ? a->alloc(a->ctx, n, 64) : malloc(n);
}

static void pixels_free(const leandet_allocator *a, void *p)
{
    if (a && a->alloc) {
        if (a->free)
            a->free(a->ctx, p);
    } else {
        free(p);
    }
}

leandet_status ld_image_decode_mem(const char *path, const uint8_t *data, size_t size, int denom,
                                   const leandet_allocator *alloc, leandet_image *out, leandet_error *err)
{
    if (!path)
        path = "<memory>";
    if (!out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image decode: NULL output", path);
    ld_image_info info;
    int w = 0, h = 0;
    leandet_status st = plan_decode(path, data, size, denom, &info, &w, &h, err);
    if (st != LEANDET_OK)
        return st;
    size_t need = (size_t)w * (size_t)h * 3;
    uint8_t *px = pixels_alloc(alloc, need);
    if (!px)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes for %dx%d pixels",
                       path, need, w, h);
    ld_row_sink sink;
    image_sink(&sink, px, w, h);
    st = decode_planned(path, data, size, denom, &info, &sink, err);
    if (st != LEANDET_OK) {
        pixels_free(alloc, px);
        return st;
    }
    out->width = w;
    out->height = h;
    out->pixels = px;
    return LEANDET_OK;
}

leandet_status ld_image_load_scaled(const char *path, int denom, const leandet_allocator *alloc,
                                    leandet_image *out, leandet_error *err)
{
    if (!path || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "image load: NULL argument");
    const uint8_t *data = NULL;
    size_t size = 0;
    leandet_status st = ld_image_map_file(path, &data, &size, err);
    if (st != LEANDET_OK)
        return st;
    st = ld_image_decode_mem(path, data, size, denom, alloc, out, err);
    ld_image_unmap_file(data, size);
    return st;
}

leandet_status leandet_image_load(const char *path, leandet_image *out, leandet_error *err)
{
    return ld_image_load_scaled(path, 1, NULL, out, err);
}

leandet_status leandet_image_load_with(const char *path, const leandet_allocator *alloc, leandet_image *out,
                                       leandet_error *err)
{
    return ld_image_load_scaled(path, 1, alloc, out, err);
}

void leandet_image_free_with(leandet_image *img, const leandet_allocator *alloc)
{
    if (!img)
        return;
    pixels_free(alloc, img->pixels);
    img->pixels = NULL;
    img->width = img->height = 0;
}

void leandet_image_free(leandet_image *img)
{
    leandet_image_free_with(img, NULL);
}

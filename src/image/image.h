/* Image layer, internal API: sniff, probe (size from the header without
 * decoding), decode (whole file, memory buffer, JPEG DCT-scaled) and save.
 *
 * Every decoded image is 8-bit RGB, rows packed (stride = width * 3), as
 * leandet_image in leandet.h. Pixels returned in a leandet_image come from
 * the caller's allocator (NULL: malloc) and go back to it with
 * leandet_image_free_with; files are mapped, never copied to the heap.
 * Callers that budget memory pass an accounted allocator, or use
 * ld_image_probe + ld_image_decode_into with their own buffer.
 *
 * Limits (checked on the declared header size BEFORE any pixel buffer is
 * allocated, for every format): width and height <= LD_IMAGE_MAX_DIM and
 * width * height <= LD_IMAGE_MAX_PIXELS. 1<<28 pixels is 768 MiB of RGB,
 * a 16384x16384 image, far beyond any camera frame a detector sees.
 *
 * Messages always start with the path ("photo.png: ...").
 */
#ifndef LD_IMAGE_IMAGE_H
#define LD_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "leandet.h"

#define LD_IMAGE_MAX_DIM 65535
#define LD_IMAGE_MAX_PIXELS ((uint64_t)1 << 28)
/* Files larger than this are refused by ld_image_map_file (4 GiB would not
 * be an image we can hold anyway: pixels are capped at 768 MiB). */
#define LD_IMAGE_MAX_FILE_BYTES ((size_t)1 << 31)

typedef enum ld_image_format {
    LD_IMAGE_UNKNOWN = 0,
    LD_IMAGE_JPEG,
    LD_IMAGE_PNG,
    LD_IMAGE_BMP,
    LD_IMAGE_PPM /* PPM/PGM: P6, P5 binary; P3, P2 ascii */
} ld_image_format;

typedef struct ld_image_info {
    ld_image_format format;
    int width, height;  /* full-resolution size declared by the header */
    int components;     /* channels stored in the file (1 gray, 3, 4 CMYK/RGBA...) */
    int streamable;     /* rows decode top to bottom, one at a time (all but interlaced PNG) */
} ld_image_info;

/* Where a decoder writes its rows: row y (0 .. height-1, top to bottom,
 * width*3 RGB bytes) goes to row(ctx, y); done(ctx, y) (if set) is called
 * once row y is complete, before row y+1 is asked for. A sink over a whole
 * image sets `image` (rows packed, stride width*3); formats that cannot
 * produce rows in order (interlaced PNG) decode only into such a sink. */
typedef struct ld_row_sink {
    int width, height;
    uint8_t *(*row)(void *ctx, int y);
    void (*done)(void *ctx, int y);
    void *ctx;
    uint8_t *image;
} ld_row_sink;

/* Format from the first bytes; LD_IMAGE_UNKNOWN if none matches. */
ld_image_format ld_image_sniff(const uint8_t *data, size_t size);
const char *ld_image_format_name(ld_image_format f); /* "JPEG", "PNG", ... */

/* LEANDET_OK if a width x height image is within the limits, otherwise
 * LEANDET_ERR_IMAGE with "<path>: declared size WxH exceeds the limit of ...".
 * Also refuses zero sizes. Takes 64-bit values so callers pass raw header
 * fields before narrowing them. */
leandet_status ld_image_check_size(const char *path, int64_t width, int64_t height,
                                   leandet_error *err);

/* Map a whole regular, non-empty file read-only; release with
 * ld_image_unmap_file(data, size). Errors name the path. */
leandet_status ld_image_map_file(const char *path, const uint8_t **data, size_t *size,
                                 leandet_error *err);
void ld_image_unmap_file(const uint8_t *data, size_t size);

/* Parse only the header of an in-memory file. `path` is used for messages. */
leandet_status ld_image_probe(const char *path, const uint8_t *data, size_t size,
                              ld_image_info *out, leandet_error *err);

/* ---- JPEG DCT scaling (libjpeg decodes at 1/2, 1/4, 1/8 for a fraction
 * of the cost of a full decode plus resize). `denom` must be 1, 2, 4 or 8
 * for every format; other formats always decode at full size, so callers
 * take the size from ld_image_scaled_size (or the decoded image). */

/* Output size of a decode at scale 1/denom (denom 1, 2, 4 or 8): ceil(w/denom),
 * ceil(h/denom), as libjpeg computes it. For non-JPEG formats, w and h. */
void ld_image_scaled_size(const ld_image_info *info, int denom, int *width, int *height);

/* Largest denom in {1,2,4,8} such that the JPEG decoded at 1/denom is still
 * at least min_width x min_height (so the model input is only ever made by
 * shrinking). 1 for non-JPEG formats or when no reduction keeps the size. */
int ld_image_pick_scale(const ld_image_info *info, int min_width, int min_height);

/* ---- Decoding. */

/* Decode into a caller buffer of `capacity` bytes, at scale 1/denom (see
 * above). The buffer must hold width*height*3 of ld_image_scaled_size;
 * *width and *height receive the decoded size. On error the buffer
 * content is unspecified. */
leandet_status ld_image_decode_into(const char *path, const uint8_t *data, size_t size,
                                    int denom, uint8_t *pixels, size_t capacity,
                                    int *width, int *height, leandet_error *err);

/* Decode at scale 1/denom into `sink`, whose width and height must be
 * ld_image_scaled_size's; a sink without `image` needs info.streamable.
 * On error some rows may have been delivered. */
leandet_status ld_image_decode_rows(const char *path, const uint8_t *data, size_t size, int denom,
                                    const ld_row_sink *sink, leandet_error *err);

/* Probe, allocate from `alloc` (NULL: malloc) and decode. `out` is set
 * only on success; release with leandet_image_free_with(out, alloc). */
leandet_status ld_image_decode_mem(const char *path, const uint8_t *data, size_t size,
                                   int denom, const leandet_allocator *alloc, leandet_image *out,
                                   leandet_error *err);

/* Map and decode a file at scale 1/denom (leandet_image_load is denom 1). */
leandet_status ld_image_load_scaled(const char *path, int denom, const leandet_allocator *alloc,
                                    leandet_image *out, leandet_error *err);

/* ---- Saving (save.c). The format comes from the extension of `path`:
 * .png, or .jpg/.jpeg (quality 90); case-insensitive. The image is written
 * to a temporary file in the same directory and renamed over `path`, so a
 * failed save never leaves a partial file behind. */
leandet_status ld_image_save(const char *path, const leandet_image *img, leandet_error *err);

#endif

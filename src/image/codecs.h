/* The per-format decoders and encoders behind image.h. Private to src/image.
 *
 * probe: parse the header, check the size limits (ld_image_check_size) and
 *        fill `info`; never allocates pixel memory.
 * decode: deliver the rows to `sink` (image.h), whose width x height is
 *        the size the caller computed from probe (and the scale, for JPEG);
 *        the decoder re-checks that the file agrees.
 * All messages start with `path`. */
#ifndef LD_IMAGE_CODECS_H
#define LD_IMAGE_CODECS_H

#include <stdio.h>

#include "image/image.h"

leandet_status ld_jpeg_probe(const char *path, const uint8_t *data, size_t size,
                             ld_image_info *info, leandet_error *err);
leandet_status ld_jpeg_decode(const char *path, const uint8_t *data, size_t size, int denom,
                              const ld_row_sink *sink, leandet_error *err);
leandet_status ld_jpeg_encode(const char *path, FILE *f, const leandet_image *img, int quality,
                              leandet_error *err);

leandet_status ld_png_probe(const char *path, const uint8_t *data, size_t size,
                            ld_image_info *info, leandet_error *err);
leandet_status ld_png_decode(const char *path, const uint8_t *data, size_t size,
                             const ld_row_sink *sink, leandet_error *err);
leandet_status ld_png_encode(const char *path, FILE *f, const leandet_image *img,
                             leandet_error *err);

leandet_status ld_bmp_probe(const char *path, const uint8_t *data, size_t size,
                            ld_image_info *info, leandet_error *err);
leandet_status ld_bmp_decode(const char *path, const uint8_t *data, size_t size,
                             const ld_row_sink *sink, leandet_error *err);

leandet_status ld_ppm_probe(const char *path, const uint8_t *data, size_t size,
                            ld_image_info *info, leandet_error *err);
leandet_status ld_ppm_decode(const char *path, const uint8_t *data, size_t size,
                             const ld_row_sink *sink, leandet_error *err);

#endif

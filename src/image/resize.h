/* Bilinear RGB8 resize (the convention is in preprocess.h), on a whole
 * image or streamed: fed the source rows one at a time by a decoder, it
 * keeps two of them and writes each output row as soon as both rows it
 * samples have arrived, so no decoded image is ever held. Both paths give
 * the same bytes. */
#ifndef LD_IMAGE_RESIZE_H
#define LD_IMAGE_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/* Where output index d samples one axis. */
typedef struct ld_axis_sample {
    int i0, i1; /* source indices */
    int w1;     /* weight of i1 in 1/2048; i0 gets 2048 - w1 */
} ld_axis_sample;

/* RGB8 src (sw x sh, row stride sstride bytes) -> RGB8 dst (dw x dh, row
 * stride dstride). */
void ld_resize_bilinear_rgb8(const uint8_t *src, int sw, int sh, size_t sstride, uint8_t *dst,
                             int dw, int dh, size_t dstride);

typedef struct ld_resize_stream {
    ld_row_sink sink;     /* hand this to the decoder (ld_image_decode_rows) */
    int src_h, dst_w, dst_h;
    int next;             /* output rows written so far */
    uint8_t *ring;        /* source rows y & 1 */
    size_t row_bytes;
    ld_axis_sample *xs;   /* the dst_w column samples, computed once */
    uint8_t *dst;
    size_t dst_stride;
} ld_resize_stream;

/* Scratch a stream from sw-wide rows to dw-wide rows needs (64-byte
 * aligned start recommended): the column samples and two source rows. */
size_t ld_resize_stream_bytes(int sw, int dw);

/* Set up *s to resize sw x sh -> dw x dh into dst; `scratch` holds
 * ld_resize_stream_bytes(sw, dw) bytes and is used until the decode ends. */
void ld_resize_stream_init(ld_resize_stream *s, int sw, int sh, uint8_t *dst, int dw, int dh, size_t dst_stride,
                           void *scratch);

#endif

/* Image -> model input tensor (NHWC, RGB, batch 1): resize (stretch or
 * letterbox), then the input's type and normalization.
 *
 * Resize convention: bilinear with half-pixel centres and edge clamping,
 * no antialiasing. Output pixel (x, y) samples the source at
 *     sx = (x + 0.5) * src_w / dst_w - 0.5      (same for y)
 * clamped to [0, src_w - 1]; this is the sampling grid of OpenCV
 * cv2.resize(INTER_LINEAR) and of TensorFlow's resize_bilinear with
 * half_pixel_centers=True. Interpolation weights are fixed point in units
 * of 1/2048 (rounded half up from the exact fraction, as OpenCV's 11 bits),
 * the 2-D weighted sum is exact in integers and rounded half up to uint8.
 * Results can differ from OpenCV's (which rounds between its two passes)
 * by 1, and are exact whenever the weights are multiples of 1/2048, e.g.
 * for every power-of-two resize factor.
 *
 * The resized pixels are always rounded to uint8 first; the input type is
 * applied afterwards, so float32, uint8 and int8 inputs see the same pixels:
 *   uint8:   the pixel byte itself (the model's own quantization then gives
 *            it meaning, e.g. scale 1/128 zero point 128 for [-1, 1]);
 *   float32: v = pixel * mul + add, in float;
 *   int8:    the same v, then quantized as TFLite does:
 *            q = clamp(round(v / scale) + zero_point, -128, 127),
 *            round half away from zero, the division in float.
 * Preprocessing allocates nothing: the caller passes the tensor buffer,
 * which also serves as the scratch for the uint8 stage.
 */
#ifndef LD_IMAGE_PREPROCESS_H
#define LD_IMAGE_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "image/resize.h"
#include "leandet.h"

/* Common normalizations: pixel / 255 -> [0, 1]; pixel / 127.5 - 1 -> [-1, 1]. */
#define LD_NORM_UNIT_MUL (1.0f / 255.0f)
#define LD_NORM_UNIT_ADD 0.0f
#define LD_NORM_SIGNED_MUL (1.0f / 127.5f)
#define LD_NORM_SIGNED_ADD (-1.0f)

#define LD_LETTERBOX_PAD 114

typedef struct ld_preprocess {
    int width, height;          /* model input W and H (3 channels) */
    leandet_dtype type;         /* LEANDET_FLOAT32, LEANDET_UINT8 or LEANDET_INT8 */
    float mul, add;             /* normalization for float32 and int8 */
    float scale;                /* int8: the input tensor's scale (> 0) */
    int32_t zero_point;         /* int8: the input tensor's zero point */
    leandet_resize_mode mode;   /* LEANDET_RESIZE_STRETCH or LEANDET_RESIZE_LETTERBOX */
    uint8_t pad_value;          /* letterbox fill before normalization (114) */
} ld_preprocess;

/* Fill *p for a W x H input: normalization [0,1], pad 114, no quantization
 * (set scale/zero_point from the model for int8). */
void ld_preprocess_init(ld_preprocess *p, int width, int height, leandet_dtype type,
                        leandet_resize_mode mode);

/* Where the image went inside the input, to map boxes back. In input pixels:
 * the image occupies [pad_x, pad_x + content_w) x [pad_y, pad_y + content_h).
 * scale is the aspect-preserving gain min(W/w, H/h) for letterbox (the one
 * Ultralytics reports); for stretch it is 1 and scale_x/scale_y differ. The
 * exact per-axis factors used for mapping are content/src. */
typedef struct ld_letterbox {
    int src_w, src_h;        /* original image */
    int dst_w, dst_h;        /* model input */
    int content_w, content_h;
    int pad_x, pad_y;
    float scale;
    float scale_x, scale_y;  /* content_w / src_w, content_h / src_h */
} ld_letterbox;

/* Geometry alone: letterbox keeps the aspect ratio with
 *   r = min(W/w, H/h), content = round(w*r) x round(h*r) (at least 1),
 *   pad = floor((W - content_w) / 2), floor((H - content_h) / 2)
 * (the image centred, an odd pixel of padding going right/bottom, as
 * Ultralytics' LetterBox); stretch uses the whole input. */
void ld_letterbox_compute(int src_w, int src_h, int dst_w, int dst_h, leandet_resize_mode mode,
                          ld_letterbox *out);

/* Map a box (ymin, xmin, ymax, xmax) normalized to the model input back to
 * one normalized to the original image, clamped to [0, 1]. */
void ld_letterbox_unmap_box(const ld_letterbox *t, const float in[4], float out[4]);

/* Bytes of the tensor: W * H * 3 * element size (0 if *p is invalid). */
size_t ld_preprocess_bytes(const ld_preprocess *p);

/* Resize `img` and write the tensor into out[0 .. out_bytes). `xf` (may be
 * NULL) receives the geometry. */
leandet_status ld_preprocess_image(const leandet_image *img, const ld_preprocess *p, void *out,
                                   size_t out_bytes, ld_letterbox *xf, leandet_error *err);

/* The same on the crop [x, x + w) x [y, y + h) of `img` (which must lie
 * inside it): the crop is treated as the whole image, sampled in place, so
 * `xf` describes the crop and unmapped boxes are normalized to it. */
leandet_status ld_preprocess_crop(const leandet_image *img, int x, int y, int w, int h, const ld_preprocess *p,
                                  void *out, size_t out_bytes, ld_letterbox *xf, leandet_error *err);

/* The same straight from an encoded image (ld_image_decode_rows at scale
 * 1/denom): rows are resized as they are decoded, through `scratch` of
 * ld_preprocess_stream_bytes, so the decoded image is never held. The
 * tensor equals ld_preprocess_image's on the image decoded at that scale.
 * The image must be info->streamable. */
size_t ld_preprocess_stream_bytes(const ld_preprocess *p, int decoded_width);
leandet_status ld_preprocess_stream(const char *path, const uint8_t *data, size_t size, int denom,
                                    const ld_preprocess *p, void *out, size_t out_bytes, void *scratch,
                                    size_t scratch_bytes, ld_letterbox *xf, leandet_error *err);

#endif

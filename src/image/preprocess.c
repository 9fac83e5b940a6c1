/* Resize + normalize + quantize into the model input (see preprocess.h). */
#include "image/preprocess.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

void ld_preprocess_init(ld_preprocess *p, int width, int height, leandet_dtype type,
                        leandet_resize_mode mode)
{
    memset(p, 0, sizeof *p);
    p->width = width;
    p->height = height;
    p->type = type;
    p->mul = LD_NORM_UNIT_MUL;
    p->add = LD_NORM_UNIT_ADD;
    p->mode = mode;
    p->pad_value = LD_LETTERBOX_PAD;
}

void ld_letterbox_compute(int sw, int sh, int dw, int dh, leandet_resize_mode mode, ld_letterbox *t)
{
    memset(t, 0, sizeof *t);
    t->src_w = sw, t->src_h = sh, t->dst_w = dw, t->dst_h = dh;
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return; /* nothing to place; unmapping then yields 0 */
    if (mode == LEANDET_RESIZE_LETTERBOX) {
        double rx = (double)dw / sw, ry = (double)dh / sh, r = rx < ry ? rx : ry;
        int cw = (int)floor(sw * r + 0.5), ch = (int)floor(sh * r + 0.5);
        t->content_w = cw < 1 ? 1 : (cw > dw ? dw : cw);
        t->content_h = ch < 1 ? 1 : (ch > dh ? dh : ch);
        t->pad_x = (dw - t->content_w) / 2;
        t->pad_y = (dh - t->content_h) / 2;
        t->scale = (float)r;
    } else {
        t->content_w = dw;
        t->content_h = dh;
        t->scale = 1.0f;
    }
    t->scale_x = (float)t->content_w / (float)sw;
    t->scale_y = (float)t->content_h / (float)sh;
}

static float clamp01(float v) { return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; /* NaN -> 0 */ }

void ld_letterbox_unmap_box(const ld_letterbox *t, const float in[4], float out[4])
{
    /* input-normalized -> input pixels -> content pixels -> image-normalized;
     * content spans the whole image, so the last step divides by content. */
    for (int k = 0; k < 4; k++) {
        int is_y = (k % 2) == 0;
        float size = (float)(is_y ? t->dst_h : t->dst_w);
        float pad = (float)(is_y ? t->pad_y : t->pad_x);
        float content = (float)(is_y ? t->content_h : t->content_w);
        out[k] = content > 0.0f ? clamp01((in[k] * size - pad) / content) : 0.0f;
    }
}

static size_t elem_size(leandet_dtype t)
{
    switch (t) {
    case LEANDET_FLOAT32: return 4;
    case LEANDET_UINT8:
    case LEANDET_INT8: return 1;
    default: return 0;
    }
}

size_t ld_preprocess_bytes(const ld_preprocess *p)
{
    if (!p || p->width <= 0 || p->height <= 0 || p->width > 65535 || p->height > 65535)
        return 0;
    return (size_t)p->width * (size_t)p->height * 3 * elem_size(p->type);
}

static int8_t quantize_int8(float v, float scale, int32_t zp)
{
    float q = roundf(v / scale) + (float)zp;
    if (!(q >= -128.0f)) /* also catches NaN */
        return -128;
    return q > 127.0f ? 127 : (int8_t)q;
}

/* The uint8 image already sits in the first n bytes of buf; turn it into
 * the tensor type in place. float32 expands 1 -> 4 bytes, so it walks
 * backwards: element i is written at 4i.. only after bytes >= i were read. */
static void apply_type(const ld_preprocess *p, uint8_t *buf, size_t n)
{
    if (p->type == LEANDET_INT8) {
        int8_t lut[256];
        for (int v = 0; v < 256; v++)
            lut[v] = quantize_int8((float)v * p->mul + p->add, p->scale, p->zero_point);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)lut[buf[i]];
    } else if (p->type == LEANDET_FLOAT32) {
        float lut[256];
        for (int v = 0; v < 256; v++)
            lut[v] = (float)v * p->mul + p->add;
        for (size_t i = n; i-- > 0;) {
            float f = lut[buf[i]];
            memcpy(buf + 4 * i, &f, sizeof f);
        }
    }
}

leandet_status ld_preprocess_image(const leandet_image *img, const ld_preprocess *p, void *out,
                                   size_t out_bytes, ld_letterbox *xf, leandet_error *err)
{
    if (!img)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: NULL argument");
    return ld_preprocess_crop(img, 0, 0, img->width, img->height, p, out, out_bytes, xf, err);
}

/* The checks every preprocess does on its target; the tensor's bytes in *need. */
static leandet_status check_target(const ld_preprocess *p, size_t out_bytes, size_t *need, leandet_error *err)
{
    if (p->type != LEANDET_FLOAT32 && p->type != LEANDET_UINT8 && p->type != LEANDET_INT8)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "preprocess: input type %s is not float32, uint8 or int8",
                       leandet_dtype_name(p->type));
    if (p->mode != LEANDET_RESIZE_STRETCH && p->mode != LEANDET_RESIZE_LETTERBOX)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: resize mode %d is not stretch or letterbox",
                       (int)p->mode);
    if (p->type == LEANDET_INT8 && !(p->scale > 0.0f && isfinite(p->scale)))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: int8 input scale %g is not positive",
                       (double)p->scale);
    *need = ld_preprocess_bytes(p);
    if (*need == 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: bad input size %dx%d", p->width, p->height);
    if (out_bytes < *need)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: %dx%dx3 %s input needs %zu bytes, buffer has %zu",
                       p->width, p->height, leandet_dtype_name(p->type), *need, out_bytes);
    return LEANDET_OK;
}

/* Letterbox geometry for a w x h source, with the padding already filled;
 * returns where the content's first pixel goes. */
static uint8_t *place(const ld_preprocess *p, int w, int h, uint8_t *buf, ld_letterbox *t)
{
    ld_letterbox_compute(w, h, p->width, p->height, p->mode, t);
    size_t stride = (size_t)p->width * 3;
    if (t->content_w != p->width || t->content_h != p->height)
        memset(buf, p->pad_value, stride * (size_t)p->height);
    return buf + (size_t)t->pad_y * stride + (size_t)t->pad_x * 3;
}

leandet_status ld_preprocess_crop(const leandet_image *img, int x, int y, int w, int h, const ld_preprocess *p,
                                  void *out, size_t out_bytes, ld_letterbox *xf, leandet_error *err)
{
    if (!img || !img->pixels || !p || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: NULL argument");
    if (img->width <= 0 || img->height <= 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: image is %dx%d", img->width, img->height);
    if (x < 0 || y < 0 || w < 1 || h < 1 || w > img->width - x || h > img->height - y)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "preprocess: crop %dx%d at (%d,%d) is not inside the %dx%d image",
                       w, h, x, y, img->width, img->height);
    size_t need = 0;
    leandet_status st = check_target(p, out_bytes, &need, err);
    if (st != LEANDET_OK)
        return st;
    ld_letterbox t;
    size_t src_stride = (size_t)img->width * 3;
    uint8_t *content = place(p, w, h, out, &t);
    ld_resize_bilinear_rgb8(img->pixels + (size_t)y * src_stride + (size_t)x * 3, w, h, src_stride, content,
                            t.content_w, t.content_h, (size_t)p->width * 3);
    apply_type(p, out, (size_t)p->width * (size_t)p->height * 3);
    if (xf)
        *xf = t;
    return LEANDET_OK;
}

size_t ld_preprocess_stream_bytes(const ld_preprocess *p, int decoded_width)
{
    /* the content is never wider than the input */
    return p && p->width > 0 && decoded_width > 0 ? ld_resize_stream_bytes(decoded_width, p->width) : 0;
}

leandet_status ld_preprocess_stream(const char *path, const uint8_t *data, size_t size, int denom,
                                    const ld_preprocess *p, void *out, size_t out_bytes, void *scratch,
                                    size_t scratch_bytes, ld_letterbox *xf, leandet_error *err)
{
    if (!path)
        path = "<memory>";
    if (!p || !out || !scratch)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: preprocess: NULL argument", path);
    size_t need = 0;
    ld_image_info info;
    leandet_status st = check_target(p, out_bytes, &need, err);
    if (st == LEANDET_OK)
        st = ld_image_probe(path, data, size, &info, err);
    if (st != LEANDET_OK)
        return st;
    int w = 0, h = 0;
    ld_image_scaled_size(&info, denom, &w, &h);
    ld_letterbox t;
    ld_letterbox_compute(w, h, p->width, p->height, p->mode, &t);
    size_t want = ld_resize_stream_bytes(w, t.content_w);
    if (scratch_bytes < want)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: resizing %d-pixel rows as they decode needs %zu bytes, "
                       "scratch has %zu", path, w, want, scratch_bytes);
    uint8_t *content = place(p, w, h, out, &t);
    ld_resize_stream rs;
    ld_resize_stream_init(&rs, w, h, content, t.content_w, t.content_h, (size_t)p->width * 3, scratch);
    st = ld_image_decode_rows(path, data, size, denom, &rs.sink, err);
    if (st == LEANDET_OK && rs.next != t.content_h)
        st = ld_fail(err, LEANDET_ERR_INTERNAL, "%s: the decoder ended after %d of %d resized rows", path, rs.next,
                     t.content_h);
    if (st != LEANDET_OK)
        return st;
    apply_type(p, out, (size_t)p->width * (size_t)p->height * 3);
    if (xf)
        *xf = t;
    return LEANDET_OK;
}

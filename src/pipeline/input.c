/* The decode stage of the pipeline: one input -> one prepared model input.
 * Files are mapped (ld_image_map_file) so a decode worker needs no file
 * buffer (pages are the page cache's). JPEGs at least twice the model
 * input decode directly at 1/2, 1/4 or 1/8; rows are then resized as they
 * decode, two at a time in the worker's fixed buffer, so no decoded image
 * is held (only interlaced PNGs decode whole into that buffer first). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "image/image.h"
#include "pipeline/pipeline.h"

size_t ld_pipeline_decode_need(const ld_preprocess *pre, const ld_image_info *info, int scaled, int *denom)
{
    /* Never below the model input on either axis: the final resize only
     * ever shrinks, as it would from the full image. */
    int d = scaled ? ld_image_pick_scale(info, pre->width, pre->height) : 1, w = 0, h = 0;
    ld_image_scaled_size(info, d, &w, &h);
    if (denom)
        *denom = d;
    if (info->streamable)
        return ld_preprocess_stream_bytes(pre, w);
    return (size_t)w * (size_t)h * 3; /* probe capped w*h */
}

/* Encoded bytes -> the slot's tensor, through the worker's buffer: rows
 * resized as they decode when the format allows, else the whole image. */
static leandet_status decode(ld_slot *s, const char *name, const uint8_t *data, size_t size, const ld_preprocess *pre,
                             int scaled, size_t tensor_bytes, uint8_t *pixels, size_t capacity, leandet_error *err)
{
    ld_image_info info;
    leandet_status st = ld_image_probe(name, data, size, &info, err);
    if (st != LEANDET_OK)
        return st;
    s->width = info.width;
    s->height = info.height;
    int denom = 1, w = 0, h = 0;
    size_t need = ld_pipeline_decode_need(pre, &info, scaled, &denom);
    ld_image_scaled_size(&info, denom, &w, &h);
    if (need > capacity)
        return ld_fail(err, LEANDET_ERR_BUDGET,
                       "%s: decoding %dx%d%s needs %zu bytes; the pipeline's decode buffer holds %zu "
                       "(%zu pixels: raise max_image_pixels)",
                       name, w, h, info.streamable ? " row by row" : (denom > 1 ? " (scaled)" : ""), need,
                       capacity, capacity / 3);
    s->scale = denom;
    if (info.streamable)
        return ld_preprocess_stream(name, data, size, denom, pre, s->tensor, tensor_bytes, pixels, capacity,
                                    &s->geometry, err);
    st = ld_image_decode_into(name, data, size, denom, pixels, capacity, &w, &h, err);
    if (st != LEANDET_OK)
        return st;
    leandet_image img = {w, h, pixels};
    return ld_preprocess_image(&img, pre, s->tensor, tensor_bytes, &s->geometry, err);
}

leandet_status ld_pipeline_prepare(ld_slot *s, const ld_preprocess *pre, size_t tensor_bytes, int scaled,
                                   uint8_t *pixels, size_t capacity, leandet_error *err)
{
    const char *name = s->name[0] ? s->name : "<memory>";
    s->scale = 1;
    if (s->kind == LEANDET_INPUT_IMAGE) {
        const leandet_image *img = &s->image;
        if (!img->pixels || img->width <= 0 || img->height <= 0)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image is %dx%d%s", name, img->width, img->height,
                           img->pixels ? "" : " without pixels");
        s->width = img->width;
        s->height = img->height;
        leandet_status st = ld_image_check_size(name, img->width, img->height, err);
        return st == LEANDET_OK ? ld_preprocess_image(img, pre, s->tensor, tensor_bytes, &s->geometry, err) : st;
    }
    if (s->kind == LEANDET_INPUT_ENCODED)
        return decode(s, name, s->data, s->size, pre, scaled, tensor_bytes, pixels, capacity, err);
    const uint8_t *data = NULL;
    size_t size = 0;
    leandet_status st = ld_image_map_file(name, &data, &size, err);
    if (st == LEANDET_OK) {
        st = decode(s, name, data, size, pre, scaled, tensor_bytes, pixels, capacity, err);
        ld_image_unmap_file(data, size);
    }
    return st;
}

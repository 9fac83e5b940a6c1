/* The decode stage of the pipeline: one input -> one prepared model input.
 * Files are mapped (ld_image_map_file) so a decode worker needs no file
 * buffer (pages are the page cache's); pixels go to the worker's fixed
 * buffer, decoded directly at 1/2, 1/4 or 1/8 when the JPEG is at least
 * that much larger than the model input. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "image/image.h"
#include "pipeline/pipeline.h"

/* Encoded bytes -> pixels in the worker's buffer, scaled when it helps. */
static leandet_status decode(ld_slot *s, const char *name, const uint8_t *data, size_t size, const ld_preprocess *pre,
                             int scaled, uint8_t *pixels, size_t capacity, leandet_image *img, leandet_error *err)
{
    ld_image_info info;
    leandet_status st = ld_image_probe(name, data, size, &info, err);
    if (st != LEANDET_OK)
        return st;
    s->width = info.width;
    s->height = info.height;
    /* Never below the model input on either axis: the final resize only
     * ever shrinks, as it would from the full image. */
    int denom = scaled ? ld_image_pick_scale(&info, pre->width, pre->height) : 1;
    int w = 0, h = 0;
    ld_image_scaled_size(&info, denom, &w, &h);
    size_t need = (size_t)w * (size_t)h * 3; /* probe capped w*h */
    if (need > capacity)
        return ld_fail(err, LEANDET_ERR_BUDGET,
                       "%s: decoding %dx%d%s needs %zu bytes; the pipeline's decode buffer holds %zu "
                       "(%zu pixels: raise max_image_pixels)",
                       name, w, h, denom > 1 ? " (scaled)" : "", need, capacity, capacity / 3);
    st = ld_image_decode_into(name, data, size, denom, pixels, capacity, &w, &h, err);
    if (st != LEANDET_OK)
        return st;
    s->scale = denom;
    img->width = w;
    img->height = h;
    img->pixels = pixels;
    return LEANDET_OK;
}

leandet_status ld_pipeline_prepare(ld_slot *s, const ld_preprocess *pre, size_t tensor_bytes, int scaled,
                                   uint8_t *pixels, size_t capacity, leandet_error *err)
{
    const char *name = s->name[0] ? s->name : "<memory>";
    leandet_image img = s->image;
    leandet_status st = LEANDET_OK;
    s->scale = 1;
    if (s->kind == LEANDET_INPUT_IMAGE) {
        if (!img.pixels || img.width <= 0 || img.height <= 0)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: image is %dx%d%s", name, img.width, img.height,
                           img.pixels ? "" : " without pixels");
        st = ld_image_check_size(name, img.width, img.height, err);
        s->width = img.width;
        s->height = img.height;
    } else if (s->kind == LEANDET_INPUT_ENCODED) {
        st = decode(s, name, s->data, s->size, pre, scaled, pixels, capacity, &img, err);
    } else {
        const uint8_t *data = NULL;
        size_t size = 0;
        st = ld_image_map_file(name, &data, &size, err);
        if (st == LEANDET_OK) {
            st = decode(s, name, data, size, pre, scaled, pixels, capacity, &img, err);
            ld_image_unmap_file(data, size);
        }
    }
    if (st == LEANDET_OK)
        st = ld_preprocess_image(&img, pre, s->tensor, tensor_bytes, &s->geometry, err);
    return st;
}

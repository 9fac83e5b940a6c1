#include "detect/anchors.h"

#include <math.h>
#include <string.h>

/* CalculateScale: the float/double mix of MediaPipe kept so non-fixed
 * anchor sizes match to the bit. */
static float layer_scale(float min_scale, float max_scale, int index, int n)
{
    if (n == 1)
        return (min_scale + max_scale) * 0.5f;
    return (float)(min_scale + (double)(max_scale - min_scale) * 1.0 * index / (double)(n - 1.0f));
}

static leandet_status check_params(const ld_anchor_params *p, leandet_error *err)
{
    if (p->num_layers < 1 || p->num_layers > LD_ANCHOR_MAX_LAYERS)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: num_layers %d is outside 1..%d", p->num_layers,
                       LD_ANCHOR_MAX_LAYERS);
    if (p->input_w < 1 || p->input_h < 1 || p->input_w > 65536 || p->input_h > 65536)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: input size %dx%d is outside 1..65536", p->input_w,
                       p->input_h);
    if (p->num_aspect_ratios < 0 || p->num_aspect_ratios > LD_ANCHOR_MAX_RATIOS)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: %d aspect ratios, at most %d", p->num_aspect_ratios,
                       LD_ANCHOR_MAX_RATIOS);
    for (int i = 0; i < p->num_layers; i++)
        if (p->strides[i] < 1)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: stride %d of layer %d must be positive",
                           p->strides[i], i);
    for (int i = 0; i < p->num_aspect_ratios; i++)
        if (!(p->aspect_ratios[i] > 0.0f) || !isfinite(p->aspect_ratios[i]))
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: aspect ratio %g must be positive",
                           (double)p->aspect_ratios[i]);
    return LEANDET_OK;
}

/* Anchors per cell for the layers [first, end) sharing one stride; fills
 * heights/widths (up to 3 * LD_ANCHOR_MAX_LAYERS * (ratios + 1)). */
#define MAX_PER_CELL (LD_ANCHOR_MAX_LAYERS * (LD_ANCHOR_MAX_RATIOS + 1))
static int group_sizes(const ld_anchor_params *p, int first, int end, float *hs, float *ws)
{
    float ratios[MAX_PER_CELL], scales[MAX_PER_CELL];
    int n = 0;
    for (int l = first; l < end; l++) {
        const float scale = layer_scale(p->min_scale, p->max_scale, l, p->num_layers);
        if (l == 0 && p->reduce_boxes_in_lowest_layer) {
            static const float r3[3] = { 1.0f, 2.0f, 0.5f };
            for (int i = 0; i < 3; i++) {
                ratios[n] = r3[i];
                scales[n++] = i == 0 ? 0.1f : scale;
            }
            continue;
        }
        for (int i = 0; i < p->num_aspect_ratios; i++) {
            ratios[n] = p->aspect_ratios[i];
            scales[n++] = scale;
        }
        if (p->interpolated_scale_aspect_ratio > 0.0f) {
            const float next =
                l == p->num_layers - 1 ? 1.0f : layer_scale(p->min_scale, p->max_scale, l + 1, p->num_layers);
            scales[n] = sqrtf(scale * next);
            ratios[n++] = p->interpolated_scale_aspect_ratio;
        }
    }
    for (int i = 0; i < n; i++) {
        const float r = sqrtf(ratios[i]);
        hs[i] = scales[i] / r;
        ws[i] = scales[i] * r;
    }
    return n;
}

static int group_end(const ld_anchor_params *p, int first)
{
    int end = first;
    while (end < p->num_layers && p->strides[end] == p->strides[first])
        end++;
    return end;
}

static int map_size(int input, int stride)
{
    return (int)ceilf(1.0f * (float)input / (float)stride);
}

leandet_status ld_anchors_count(const ld_anchor_params *p, int *count, leandet_error *err)
{
    leandet_status st = check_params(p, err);
    if (st)
        return st;
    float hs[MAX_PER_CELL], ws[MAX_PER_CELL];
    long long total = 0;
    for (int l = 0; l < p->num_layers;) {
        const int end = group_end(p, l);
        const int per_cell = group_sizes(p, l, end, hs, ws);
        total += (long long)map_size(p->input_h, p->strides[l]) * map_size(p->input_w, p->strides[l]) * per_cell;
        if (total > LD_ANCHOR_MAX_COUNT)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: more than %d anchors", LD_ANCHOR_MAX_COUNT);
        l = end;
    }
    *count = (int)total;
    return LEANDET_OK;
}

leandet_status ld_anchors_generate(const ld_anchor_params *p, ld_anchor *out, int capacity, int *count,
                                   leandet_error *err)
{
    int total;
    leandet_status st = ld_anchors_count(p, &total, err);
    if (st)
        return st;
    if (total > capacity)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: %d anchors do not fit in %d", total, capacity);
    float hs[MAX_PER_CELL], ws[MAX_PER_CELL];
    int k = 0;
    for (int l = 0; l < p->num_layers;) {
        const int end = group_end(p, l);
        const int per_cell = group_sizes(p, l, end, hs, ws);
        const int fh = map_size(p->input_h, p->strides[l]), fw = map_size(p->input_w, p->strides[l]);
        for (int y = 0; y < fh; y++) {
            for (int x = 0; x < fw; x++) {
                for (int a = 0; a < per_cell; a++) {
                    ld_anchor *o = &out[k++];
                    o->x = ((float)x + p->anchor_offset_x) * 1.0f / (float)fw;
                    o->y = ((float)y + p->anchor_offset_y) * 1.0f / (float)fh;
                    o->w = p->fixed_anchor_size ? 1.0f : ws[a];
                    o->h = p->fixed_anchor_size ? 1.0f : hs[a];
                }
            }
        }
        l = end;
    }
    *count = k;
    return LEANDET_OK;
}

/* Parameters from MediaPipe's graphs (face_detection_short_range.pbtxt,
 * face_detection_full_range, palm_detection_cpu.pbtxt,
 * pose_detection_cpu.pbtxt). */
#define MP_ANCHORS(size, nl, s0, s1, s2, s3, s4, interp)                                                       \
    { .num_layers = nl, .strides = { s0, s1, s2, s3, s4 }, .min_scale = 0.1484375f, .max_scale = 0.75f,        \
      .input_w = size, .input_h = size, .anchor_offset_x = 0.5f, .anchor_offset_y = 0.5f,                      \
      .num_aspect_ratios = 1, .aspect_ratios = { 1.0f }, .interpolated_scale_aspect_ratio = interp,           \
      .reduce_boxes_in_lowest_layer = 0, .fixed_anchor_size = 1 }

static const ld_mediapipe_params presets[] = {
    { "blazeface-128", MP_ANCHORS(128, 4, 8, 16, 16, 16, 0, 1.0f), 128, 128, 128, 128, 100.0f, 0.5f, 0.3f, 1, 6 },
    { "blazeface-full-192", MP_ANCHORS(192, 1, 4, 0, 0, 0, 0, 0.0f), 192, 192, 192, 192, 100.0f, 0.6f, 0.3f, 1, 6 },
    { "palm-192", MP_ANCHORS(192, 4, 8, 16, 16, 16, 0, 1.0f), 192, 192, 192, 192, 100.0f, 0.5f, 0.3f, 1, 7 },
    { "pose-224", MP_ANCHORS(224, 5, 8, 16, 32, 32, 32, 1.0f), 224, 224, 224, 224, 100.0f, 0.5f, 0.3f, 1, 4 },
};

const ld_mediapipe_params *ld_mediapipe_preset(int input_w, int input_h, int num_anchors)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        const ld_mediapipe_params *p = &presets[i];
        int n;
        if (p->anchors.input_w == input_w && p->anchors.input_h == input_h &&
            ld_anchors_count(&p->anchors, &n, NULL) == LEANDET_OK && n == num_anchors)
            return p;
    }
    return NULL;
}

const ld_mediapipe_params *ld_mediapipe_preset_named(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (name && strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

#include "detect/anchor_spec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parse "a:b:c" into floats; returns count or -1. */
static int parse_list(const char *v, size_t len, float *out, int max)
{
    int n = 0;
    const char *p = v, *end = v + len;
    while (p < end) {
        char *e;
        errno = 0;
        double x = strtod(p, &e);
        if (e == p || errno || !isfinite(x) || n >= max)
            return -1;
        out[n++] = (float)x;
        p = e;
        if (p < end && *p != ':')
            return -1;
        if (p < end)
            p++;
    }
    return n;
}

static int key_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && strncmp(k, name, klen) == 0;
}

static leandet_status apply(ld_mediapipe_params *m, const char *k, size_t klen, const char *v, size_t vlen,
                            const char *spec, leandet_error *err)
{
    float f[LD_ANCHOR_MAX_LAYERS > LD_ANCHOR_MAX_RATIOS ? LD_ANCHOR_MAX_LAYERS : LD_ANCHOR_MAX_RATIOS];
    int n = parse_list(v, vlen, f, (int)(sizeof f / sizeof f[0]));
    ld_anchor_params *a = &m->anchors;
    if (key_is(k, klen, "strides") || key_is(k, klen, "aspect_ratios")) {
        if (n < 1)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors '%s': %.*s needs 1..%d values separated by ':'", spec,
                           (int)klen, k, LD_ANCHOR_MAX_LAYERS);
        if (k[0] == 's') {
            a->num_layers = n;
            for (int i = 0; i < n; i++)
                a->strides[i] = (int)f[i];
        } else {
            a->num_aspect_ratios = n;
            memcpy(a->aspect_ratios, f, (size_t)n * sizeof f[0]);
        }
        return LEANDET_OK;
    }
    if (n != 1)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors '%s': %.*s needs one number", spec, (int)klen, k);
    float x = f[0];
    if (key_is(k, klen, "min_scale")) a->min_scale = x;
    else if (key_is(k, klen, "max_scale")) a->max_scale = x;
    else if (key_is(k, klen, "offset_x")) a->anchor_offset_x = x;
    else if (key_is(k, klen, "offset_y")) a->anchor_offset_y = x;
    else if (key_is(k, klen, "interpolated")) a->interpolated_scale_aspect_ratio = x;
    else if (key_is(k, klen, "reduce_lowest")) a->reduce_boxes_in_lowest_layer = x != 0.0f;
    else if (key_is(k, klen, "fixed_size")) a->fixed_anchor_size = x != 0.0f;
    else if (key_is(k, klen, "scale")) m->x_scale = m->y_scale = m->w_scale = m->h_scale = x;
    else if (key_is(k, klen, "x_scale")) m->x_scale = x;
    else if (key_is(k, klen, "y_scale")) m->y_scale = x;
    else if (key_is(k, klen, "w_scale")) m->w_scale = x;
    else if (key_is(k, klen, "h_scale")) m->h_scale = x;
    else if (key_is(k, klen, "clip")) m->score_clip = x;
    else if (key_is(k, klen, "min_score")) m->min_score = x;
    else if (key_is(k, klen, "nms_iou")) m->nms_iou = x;
    else if (key_is(k, klen, "weighted")) m->weighted_nms = x != 0.0f;
    else if (key_is(k, klen, "keypoints")) m->num_keypoints = (int)x;
    else
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors '%s': unknown key '%.*s'", spec, (int)klen, k);
    return LEANDET_OK;
}

leandet_status ld_anchor_spec_parse(const char *spec, int input_w, int input_h, ld_mediapipe_params *out,
                                    leandet_error *err)
{
    const ld_mediapipe_params *base = ld_mediapipe_preset_named("blazeface-128");
    if (!spec || !base)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors: no specification");
    *out = *base;
    out->name = "custom";
    out->anchors.input_w = input_w;
    out->anchors.input_h = input_h;
    out->x_scale = out->w_scale = (float)input_w;
    out->y_scale = out->h_scale = (float)input_h;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (!eq || key_is(p, (size_t)(eq - p), "preset")) {
            const char *name = eq ? eq + 1 : p;
            size_t nlen = len - (size_t)(name - p);
            char buf[64];
            if (nlen == 0 || nlen >= sizeof buf)
                return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors '%s': bad preset name", spec);
            memcpy(buf, name, nlen);
            buf[nlen] = '\0';
            const ld_mediapipe_params *pr = ld_mediapipe_preset_named(buf);
            if (!pr)
                return ld_fail(err, LEANDET_ERR_ARGUMENT,
                               "anchors '%s': unknown preset '%s' (blazeface-128, blazeface-full-192, palm-192, pose-224)",
                               spec, buf);
            *out = *pr;
        } else {
            leandet_status st = apply(out, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq + 1 - p), spec, err);
            if (st != LEANDET_OK)
                return st;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    int count = 0;
    leandet_status st = ld_anchors_count(&out->anchors, &count, err);
    if (st != LEANDET_OK)
        return ld_fail_prefix(err, st, "anchors '%s': ", spec);
    return LEANDET_OK;
}

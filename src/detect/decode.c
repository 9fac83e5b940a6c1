/* The decoders: TFLite_Detection_PostProcess outputs, MediaPipe SSD
 * (BlazeFace, palm, pose) and YOLOv5 / YOLOv8 heads. */
#include <math.h>
#include <string.h>

#include "detect/detect.h"

leandet_status ld_det_tensor_view(const ld_tensor *t, ld_det_tensor *out, leandet_error *err)
{
    const char *name = t->desc ? t->desc->name : "";
    if (t->type != LEANDET_FLOAT32 && t->type != LEANDET_UINT8 && t->type != LEANDET_INT8)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "output '%s' is %s: decoders read float32, uint8 or int8", name,
                       leandet_dtype_name(t->type));
    if (!t->data)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "output '%s' has no data", name);
    out->data = t->data;
    out->type = t->type;
    out->shape = t->shape;
    out->scale = 1.0f;
    out->zero_point = 0;
    if (t->type != LEANDET_FLOAT32) {
        if (!t->quant || t->quant->count != 1 || !(t->quant->scale[0] > 0.0f))
            return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "output '%s' is %s without a single positive scale", name,
                           leandet_dtype_name(t->type));
        out->scale = t->quant->scale[0];
        out->zero_point = t->quant->zero_point[0];
    }
    return LEANDET_OK;
}

/* ---- scratch layout ---------------------------------------------------- */

typedef struct raw_layout {
    size_t cand, anchors, nms, total;
} raw_layout;

static size_t align16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

static void plan_raw(const ld_decoder_cfg *cfg, raw_layout *L)
{
    const size_t n = cfg->num_boxes > 0 ? (size_t)cfg->num_boxes : 0;
    L->cand = 0;
    L->anchors = align16(n * sizeof(leandet_detection));
    L->nms = align16(L->anchors + (cfg->kind == LEANDET_DECODER_BLAZEFACE ? n * sizeof(ld_anchor) : 0));
    L->total = L->nms + ld_nms_scratch_bytes((int)n);
}

size_t ld_decoder_scratch_bytes(const ld_decoder_cfg *cfg)
{
    if (cfg->kind == LEANDET_DECODER_POSTPROCESS)
        return 0;
    raw_layout L;
    plan_raw(cfg, &L);
    return L.total;
}

/* ---- shared helpers ----------------------------------------------------- */

static int out_cap(const ld_decoder_cfg *cfg, int capacity)
{
    return cfg->max_detections > 0 && cfg->max_detections < capacity ? cfg->max_detections : capacity;
}

static leandet_status check_dims(const ld_det_tensor *t, const char *what, int rank, int32_t d0, int32_t d1,
                                 int32_t d2, leandet_error *err)
{
    /* negative expected dims are "any" */
    const int32_t want[3] = { d0, d1, d2 };
    int ok = t->shape.rank == rank;
    for (int i = 0; ok && i < rank && i < 3; i++)
        ok = want[i] < 0 || t->shape.d[i] == want[i];
    if (!ok)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s tensor has rank %d shape [%d,%d,%d], expected rank %d [%d,%d,%d]",
                       what, t->shape.rank, t->shape.d[0], t->shape.d[1], t->shape.d[2], rank, d0, d1, d2);
    return LEANDET_OK;
}

static void set_box(leandet_detection *d, float cx, float cy, float w, float h)
{
    d->box[0] = cy - h / 2.0f;
    d->box[1] = cx - w / 2.0f;
    d->box[2] = cy + h / 2.0f;
    d->box[3] = cx + w / 2.0f;
}

static leandet_status finish_nms(const ld_decoder_cfg *cfg, const leandet_detection *cand, int n, void *nms_scratch,
                                 leandet_detection *out, int capacity, int *count)
{
    *count = ld_nms(cand, n, cfg->iou_threshold, cfg->weighted_nms, out_cap(cfg, capacity), nms_scratch, out);
    return LEANDET_OK;
}

static leandet_status check_scratch(const ld_decoder_cfg *cfg, size_t have, raw_layout *L, leandet_error *err)
{
    plan_raw(cfg, L);
    if (have < L->total)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "decoder scratch of %zu bytes, %zu needed", have, L->total);
    return LEANDET_OK;
}

/* ---- TFLite_Detection_PostProcess -------------------------------------- */

leandet_status ld_decode_postprocess(const ld_decoder_cfg *cfg, const ld_det_tensor *t, leandet_detection *out,
                                     int capacity, int *count, leandet_error *err)
{
    const int32_t m = t[0].shape.d[1];
    leandet_status st;
    if ((st = check_dims(&t[0], "post-process boxes", 3, 1, -1, 4, err)) ||
        (st = check_dims(&t[1], "post-process classes", 2, 1, m, 0, err)) ||
        (st = check_dims(&t[2], "post-process scores", 2, 1, m, 0, err)))
        return st;
    if (t[3].shape.rank < 1 || t[3].shape.d[0] < 1)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "post-process count tensor is empty");
    /* the op counts boxes; each box has classes_per_detection slots */
    const int per = cfg->classes_per_detection > 0 ? cfg->classes_per_detection : 1;
    const float nf = ld_det_value(&t[3], 0);
    const int n_boxes = nf >= 0.0f ? (nf < (float)m ? (int)nf : m) : 0;
    const int n_slots = n_boxes <= m / per ? n_boxes * per : m;
    const int cap = out_cap(cfg, capacity);
    int n = 0;
    for (int i = 0; i < n_slots && n < cap; i++) {
        const float score = ld_det_value(&t[2], (size_t)i);
        const float cls = ld_det_value(&t[1], (size_t)i);
        if (!(score >= cfg->score_threshold) || !(cls >= 0.0f && cls < 1e6f))
            continue; /* below threshold, or a padding/unwritten slot */
        leandet_detection *d = &out[n++];
        d->class_id = (int)cls;
        d->score = score;
        for (int k = 0; k < 4; k++)
            d->box[k] = ld_det_value(&t[0], 4 * (size_t)i + (size_t)k);
    }
    *count = n;
    return LEANDET_OK;
}

/* ---- MediaPipe SSD (TensorsToDetectionsCalculator) --------------------- */

static float mp_sigmoid(float logit, float clip)
{
    if (clip > 0.0f)
        logit = logit < -clip ? -clip : logit > clip ? clip : logit;
    return 1.0f / (1.0f + expf(-logit));
}

leandet_status ld_decode_mediapipe(const ld_decoder_cfg *cfg, const ld_det_tensor *t, void *scratch,
                                   size_t scratch_bytes, leandet_detection *out, int capacity, int *count,
                                   leandet_error *err)
{
    const int n = cfg->num_boxes;
    raw_layout L;
    leandet_status st;
    if ((st = check_scratch(cfg, scratch_bytes, &L, err)) ||
        (st = check_dims(&t[0], "regressors", 3, 1, n, -1, err)) ||
        (st = check_dims(&t[1], "classificators", 3, 1, n, -1, err)))
        return st;
    const int k = t[0].shape.d[2], c = t[1].shape.d[2];
    if (k < 4 || c < 1)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "regressors have %d values per box (need >= 4), classificators %d", k,
                       c);
    uint8_t *base = scratch;
    leandet_detection *cand = (leandet_detection *)(base + L.cand);
    ld_anchor *anchors = (ld_anchor *)(base + L.anchors);
    int n_anchors;
    if ((st = ld_anchors_generate(&cfg->mp.anchors, anchors, n, &n_anchors, err)))
        return st;
    if (n_anchors != n)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors '%s' make %d anchors, the model has %d boxes",
                       cfg->mp.name ? cfg->mp.name : "custom", n_anchors, n);
    const ld_mediapipe_params *p = &cfg->mp;
    int nc = 0;
    for (int i = 0; i < n; i++) {
        /* best class by sigmoid score, first maximum, as MediaPipe */
        int best = 0;
        float score = -1.0f;
        for (int j = 0; j < c; j++) {
            const float s = mp_sigmoid(ld_det_value(&t[1], (size_t)i * (size_t)c + (size_t)j), p->score_clip);
            if (s > score) {
                score = s;
                best = j;
            }
        }
        if (!(score >= cfg->score_threshold))
            continue;
        const size_t r = (size_t)i * (size_t)k;
        const ld_anchor *a = &anchors[i];
        const float xc = ld_det_value(&t[0], r) / p->x_scale * a->w + a->x;
        const float yc = ld_det_value(&t[0], r + 1) / p->y_scale * a->h + a->y;
        const float w = ld_det_value(&t[0], r + 2) / p->w_scale * a->w;
        const float h = ld_det_value(&t[0], r + 3) / p->h_scale * a->h;
        if (!(w >= 0.0f) || !(h >= 0.0f))
            continue; /* MediaPipe drops boxes with negative or NaN size */
        leandet_detection *d = &cand[nc++];
        d->class_id = best;
        d->score = score;
        set_box(d, xc, yc, w, h);
    }
    return finish_nms(cfg, cand, nc, base + L.nms, out, capacity, count);
}

/* ---- YOLOv5 [1,N,5+C] / YOLOv8 [1,4+C,N] ------------------------------- */

leandet_status ld_decode_yolo(const ld_decoder_cfg *cfg, const ld_det_tensor *t, void *scratch, size_t scratch_bytes,
                              leandet_detection *out, int capacity, int *count, leandet_error *err)
{
    const int v8 = cfg->kind == LEANDET_DECODER_YOLOV8;
    const int n = cfg->num_boxes, c = cfg->num_classes;
    raw_layout L;
    leandet_status st;
    if ((st = check_scratch(cfg, scratch_bytes, &L, err)) ||
        (st = v8 ? check_dims(&t[0], "YOLOv8 predictions", 3, 1, 4 + c, n, err)
                 : check_dims(&t[0], "YOLOv5 predictions", 3, 1, n, 5 + c, err)))
        return st;
    if (c < 1)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "YOLO head without classes");
    /* element (row i, field f) of either layout */
    const size_t fstride = v8 ? (size_t)n : 1, istride = v8 ? 1 : (size_t)(5 + c);
    const size_t cls0 = v8 ? 4 : 5;
    const ld_det_tensor *p = &t[0];

    /* Exports differ: most give boxes normalized to the input, some in
     * input pixels. Normalized boxes stay below ~1.5 even when they cross
     * the border, so a largest value above 2 means pixels. */
    float vmax = 0.0f;
    for (int i = 0; i < n; i++)
        for (size_t f = 0; f < 4; f++) {
            const float v = ld_det_value(p, (size_t)i * istride + f * fstride);
            vmax = v > vmax ? v : vmax;
        }
    const float sx = vmax > 2.0f && cfg->input_w > 0 ? 1.0f / (float)cfg->input_w : 1.0f;
    const float sy = vmax > 2.0f && cfg->input_h > 0 ? 1.0f / (float)cfg->input_h : 1.0f;

    leandet_detection *cand = (leandet_detection *)((uint8_t *)scratch + L.cand);
    int nc = 0;
    for (int i = 0; i < n; i++) {
        const size_t row = (size_t)i * istride;
        int best = 0;
        float best_v = ld_det_value(p, row + cls0 * fstride);
        for (int j = 1; j < c; j++) {
            const float v = ld_det_value(p, row + (cls0 + (size_t)j) * fstride);
            if (v > best_v) {
                best_v = v;
                best = j;
            }
        }
        /* v5: confidence = objectness x class probability */
        const float score = v8 ? best_v : ld_det_value(p, row + 4 * fstride) * best_v;
        if (!(score >= cfg->score_threshold))
            continue;
        leandet_detection *d = &cand[nc++];
        d->class_id = best;
        d->score = score;
        set_box(d, ld_det_value(p, row) * sx, ld_det_value(p, row + fstride) * sy,
                ld_det_value(p, row + 2 * fstride) * sx, ld_det_value(p, row + 3 * fstride) * sy);
    }
    return finish_nms(cfg, cand, nc, (uint8_t *)scratch + L.nms, out, capacity, count);
}

leandet_status ld_decode(const ld_decoder_cfg *cfg, const ld_det_tensor *t, void *scratch, size_t scratch_bytes,
                         leandet_detection *out, int capacity, int *count, leandet_error *err)
{
    if (capacity < 0 || (capacity > 0 && !out))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "detection output of capacity %d", capacity);
    *count = 0;
    switch (cfg->kind) {
    case LEANDET_DECODER_POSTPROCESS: return ld_decode_postprocess(cfg, t, out, capacity, count, err);
    case LEANDET_DECODER_BLAZEFACE:
        return ld_decode_mediapipe(cfg, t, scratch, scratch_bytes, out, capacity, count, err);
    case LEANDET_DECODER_YOLOV5:
    case LEANDET_DECODER_YOLOV8: return ld_decode_yolo(cfg, t, scratch, scratch_bytes, out, capacity, count, err);
    default: return ld_fail(err, LEANDET_ERR_ARGUMENT, "decoder %d is not configured", (int)cfg->kind);
    }
}

/* ---- back to the original image ----------------------------------------- */

static float clip01(float v)
{
    return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; /* NaN -> 0 */
}

void ld_detections_clip(leandet_detection *d, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            d[i].box[k] = clip01(d[i].box[k]);
}

/* The detection front end: image -> input tensor -> invoke -> decoder. The
 * family of the model (from its decoder) decides the preprocessing:
 *   SSD post-process, BlazeFace:  stretch, float inputs in [-1, 1]
 *   MediaPipe palm:               stretch, float inputs in [0, 1]
 *   YOLOv5 / YOLOv8:              letterbox (pad 114), [0, 1]
 * uint8 inputs get the raw resized pixels; int8 inputs the normalized value
 * quantized with the input's own scale and zero point. */
#include <stdlib.h>
#include <string.h>

#include "detect/anchor_spec.h"
#include "detect/detect.h"
#include "detect/tile.h"
#include "image/preprocess.h"
#include "model/flexbuffer.h"
#include "runtime/detector_internal.h"
#include "runtime/session_internal.h"

struct leandet_detector {
    leandet_session *session;
    ld_decoder_cfg cfg;
    ld_preprocess pre;
    void *scratch;
    size_t scratch_bytes;
    /* tiled runs (leandet_tile_options): the candidates of every view,
     * their cut flags and the merge's NMS scratch, in one block */
    leandet_tile_options tile;
    float merge_iou;
    void *tile_work;
    size_t tile_work_bytes;
    int views;              /* views the last run made */
};

void leandet_detect_options_default(leandet_detect_options *o)
{
    memset(o, 0, sizeof *o);
    o->decoder = LEANDET_DECODER_AUTO;
    o->resize = LEANDET_RESIZE_AUTO;
    o->score_threshold = 0.5f;
    o->iou_threshold = -1.0f;
    o->max_detections = 100;
    o->tile = (leandet_tile_options){.rows = 0, .cols = 0, .overlap = 0.1f, .overlap_px = 0, .no_whole_view = 0};
}

const char *leandet_decoder_name(leandet_decoder k)
{
    switch (k) {
    case LEANDET_DECODER_AUTO: return "auto";
    case LEANDET_DECODER_POSTPROCESS: return "postprocess";
    case LEANDET_DECODER_BLAZEFACE: return "blazeface";
    case LEANDET_DECODER_YOLOV5: return "yolov5";
    case LEANDET_DECODER_YOLOV8: return "yolov8";
    }
    return "unknown";
}

static leandet_status setup_preprocess(leandet_detector *d, const leandet_detect_options *o, leandet_error *err)
{
    const leandet_model *m = d->session->model;
    const ld_model_desc *md = &m->desc;
    if (md->n_inputs < 1)
        return ld_fail(err, LEANDET_ERR_MODEL, "%s: the model has no input", m->path);
    const ld_tensor *in = &d->session->tensors[md->inputs[0]];
    if (in->shape.rank != 4 || in->shape.d[0] != 1 || in->shape.d[3] != 3 || in->shape.d[1] < 1 || in->shape.d[2] < 1)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: input 0 '%s' must be an image [1,H,W,3]", m->path,
                       in->desc->name);
    if (in->type != LEANDET_FLOAT32 && in->type != LEANDET_UINT8 && in->type != LEANDET_INT8)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s: input 0 '%s' is %s; images need float32, uint8 or int8",
                       m->path, in->desc->name, leandet_dtype_name(in->type));
    int yolo = d->cfg.kind == LEANDET_DECODER_YOLOV5 || d->cfg.kind == LEANDET_DECODER_YOLOV8;
    leandet_resize_mode mode = o->resize;
    if (mode == LEANDET_RESIZE_AUTO)
        mode = yolo ? LEANDET_RESIZE_LETTERBOX : LEANDET_RESIZE_STRETCH;
    ld_preprocess_init(&d->pre, in->shape.d[2], in->shape.d[1], in->type, mode);
    int unit = yolo || (d->cfg.kind == LEANDET_DECODER_BLAZEFACE && d->cfg.mp.name &&
                        strncmp(d->cfg.mp.name, "palm", 4) == 0);
    d->pre.mul = unit ? LD_NORM_UNIT_MUL : LD_NORM_SIGNED_MUL;
    d->pre.add = unit ? LD_NORM_UNIT_ADD : LD_NORM_SIGNED_ADD;
    if (in->type == LEANDET_INT8) {
        if (!in->quant || in->quant->count < 1 || !(in->quant->scale[0] > 0.0f))
            return ld_fail(err, LEANDET_ERR_MODEL, "%s: int8 input '%s' has no quantization scale", m->path,
                           in->desc->name);
        d->pre.scale = in->quant->scale[0];
        d->pre.zero_point = in->quant->zero_point[0];
    }
    return LEANDET_OK;
}

/* IoU for merging tiled views: the caller's, else the decoder's; the SSD
 * post-process op's own nms_iou_threshold (its NMS ran inside the graph). */
static float merge_iou(const leandet_model *m, const ld_decoder_cfg *cfg, const leandet_detect_options *o)
{
    if (o->iou_threshold >= 0.0f || cfg->kind != LEANDET_DECODER_POSTPROCESS)
        return cfg->iou_threshold;
    float iou = 0.5f;
    for (int i = 0; i < m->desc.n_ops; i++) {
        const ld_op_desc *op = &m->desc.ops[i];
        ld_flex_map fm;
        if (op->builtin == LD_OP_CUSTOM && op->custom_name &&
            strcmp(op->custom_name, "TFLite_Detection_PostProcess") == 0 && op->custom_options &&
            ld_flex_root_map(op->custom_options, op->custom_options_bytes, &fm, NULL) == LEANDET_OK)
            ld_flex_get_float(&fm, "nms_iou_threshold", 0.5f, &iou, NULL);
    }
    return iou > 0.0f && iou <= 1.0f ? iou : 0.5f;
}

static leandet_status setup_tiles(leandet_detector *d, const leandet_detect_options *o, leandet_error *err)
{
    leandet_session *s = d->session;
    leandet_status st = ld_tile_check(&o->tile, err);
    if (st != LEANDET_OK)
        return ld_fail_prefix(err, st, "%s: ", s->model->path);
    d->tile = o->tile;
    if (!ld_tile_enabled(&o->tile))
        return LEANDET_OK;
    d->merge_iou = merge_iou(s->model, &d->cfg, o);
    d->tile_work_bytes = ld_tile_work_bytes(&d->cfg, &o->tile);
    if (d->tile_work_bytes == SIZE_MAX)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: %d views of %d detections each are too many to merge",
                       s->model->path, ld_tile_views(&o->tile), ld_tile_per_view(&d->cfg));
    if (!(d->tile_work = ld_malloc(&s->alloc, d->tile_work_bytes)))
        return ld_fail(err, s->alloc.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                       "%s: cannot allocate %zu bytes to merge tiled detections", s->model->path, d->tile_work_bytes);
    return LEANDET_OK;
}

leandet_status leandet_detector_create(leandet_session *session, const leandet_detect_options *options,
                                       leandet_detector **out, leandet_error *err)
{
    if (!session || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_detector_create: session and out must not be NULL");
    *out = NULL;
    leandet_detect_options o;
    if (options)
        o = *options;
    else
        leandet_detect_options_default(&o);
    leandet_detector *d = ld_calloc(&session->alloc, 1, sizeof *d);
    if (!d)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory creating a detector", session->model->path);
    d->session = session;
    leandet_status st = LEANDET_OK;
    ld_mediapipe_params mp;
    if (o.anchors) {
        const ld_model_desc *md = &session->model->desc;
        const ld_tensor *in = md->n_inputs > 0 ? &session->tensors[md->inputs[0]] : NULL;
        int w = in && in->shape.rank == 4 ? in->shape.d[2] : 0, h = in && in->shape.rank == 4 ? in->shape.d[1] : 0;
        st = ld_anchor_spec_parse(o.anchors, w, h, &mp, err);
        if (o.decoder == LEANDET_DECODER_AUTO)
            o.decoder = LEANDET_DECODER_BLAZEFACE;
    }
    if (st == LEANDET_OK)
        st = ld_decoder_choose(&session->model->desc, &o, o.anchors ? &mp : NULL, &d->cfg, err);
    if (st != LEANDET_OK)
        ld_fail_prefix(err, st, "%s: ", session->model->path);
    if (st == LEANDET_OK)
        st = setup_preprocess(d, &o, err);
    if (st == LEANDET_OK)
        st = setup_tiles(d, &o, err);
    if (st == LEANDET_OK) {
        d->scratch_bytes = ld_decoder_scratch_bytes(&d->cfg);
        if (d->scratch_bytes && !(d->scratch = ld_malloc(&session->alloc, d->scratch_bytes)))
            st = ld_fail(err, session->alloc.limit_hit ? LEANDET_ERR_BUDGET : LEANDET_ERR_NO_MEMORY,
                         "%s: cannot allocate %zu bytes of decoder memory", session->model->path, d->scratch_bytes);
    }
    if (st != LEANDET_OK) {
        leandet_detector_destroy(d);
        return st;
    }
    *out = d;
    return LEANDET_OK;
}

void leandet_detector_destroy(leandet_detector *d)
{
    if (!d)
        return;
    ld_alloc *a = &d->session->alloc;
    ld_free(a, d->scratch);
    ld_free(a, d->tile_work);
    ld_free(a, d);
}

leandet_decoder leandet_detector_decoder(const leandet_detector *d)
{
    return d ? d->cfg.kind : LEANDET_DECODER_AUTO;
}

leandet_resize_mode leandet_detector_resize(const leandet_detector *d)
{
    return d ? d->pre.mode : LEANDET_RESIZE_AUTO;
}

int leandet_detector_views(const leandet_detector *d)
{
    return d ? d->views : 0;
}

const ld_preprocess *ld_detector_preprocess(const leandet_detector *d)
{
    return d ? &d->pre : NULL;
}

static leandet_status run_input(leandet_detector *d, const ld_letterbox *xf, leandet_detection *out, int capacity,
                                int *count, leandet_error *err);

leandet_status ld_detector_run_tensor(leandet_detector *d, const void *tensor, size_t bytes, const ld_letterbox *xf,
                                      leandet_detection *out, int capacity, int *count, leandet_error *err)
{
    if (!d || !tensor || !xf || !count || (capacity > 0 && !out) || capacity < 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_detector_run: invalid arguments");
    *count = 0;
    leandet_session *s = d->session;
    if (ld_tile_enabled(&d->tile))
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED,
                       "%s: tiled detection needs the whole image (leandet_detector_run), not a prepared tensor",
                       s->model->path);
    size_t need = 0;
    void *input = leandet_session_input(s, 0, &need);
    if (bytes != need)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: prepared input has %zu bytes, input 0 takes %zu",
                       s->model->path, bytes, need);
    if (tensor != input)
        memcpy(input, tensor, bytes);
    d->views = 1;
    return run_input(d, xf, out, capacity, count, err);
}

/* Invoke on the tensor already in input 0, decode, map boxes through xf. */
static leandet_status run_input(leandet_detector *d, const ld_letterbox *xf, leandet_detection *out, int capacity,
                                int *count, leandet_error *err)
{
    leandet_session *s = d->session;
    leandet_status st = leandet_session_invoke(s, err);
    ld_det_tensor views[LD_DECODER_MAX_ROLES];
    for (int i = 0; st == LEANDET_OK && i < d->cfg.n_roles; i++)
        st = ld_det_tensor_view(&s->tensors[d->cfg.tensor[i]], &views[i], err);
    if (st == LEANDET_OK)
        st = ld_decode(&d->cfg, views, d->scratch, d->scratch_bytes, out, capacity, count, err);
    if (st != LEANDET_OK)
        return st;
    for (int i = 0; i < *count; i++) {
        float box[4];
        ld_letterbox_unmap_box(xf, out[i].box, box);
        memcpy(out[i].box, box, sizeof box);
    }
    return LEANDET_OK;
}

/* One view: the crop r of img (the whole image when r covers it) through
 * the model, its boxes appended to cand[*n] in image coordinates with
 * their cut flags. */
static leandet_status run_view(leandet_detector *d, const leandet_image *img, const ld_tile_rect *r,
                               leandet_detection *cand, uint8_t *cut, int *n, leandet_error *err)
{
    size_t bytes = 0;
    void *input = leandet_session_input(d->session, 0, &bytes);
    ld_letterbox lb;
    int got = 0;
    leandet_status st = ld_preprocess_crop(img, r->x, r->y, r->w, r->h, &d->pre, input, bytes, &lb, err);
    if (st == LEANDET_OK)
        st = run_input(d, &lb, cand + *n, ld_tile_per_view(&d->cfg), &got, err);
    for (int i = 0; st == LEANDET_OK && i < got; i++) {
        leandet_detection *c = &cand[*n + i];
        float box[4];
        cut[*n + i] = (uint8_t)ld_tile_map_box(r, img->width, img->height, c->box, box);
        memcpy(c->box, box, sizeof box);
    }
    *n += got;
    return st;
}

static leandet_status run_tiled(leandet_detector *d, const leandet_image *img, leandet_detection *out, int capacity,
                                int *count, leandet_error *err)
{
    if (!img->pixels || img->width <= 0 || img->height <= 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_detector_run: image is %dx%d", img->width, img->height);
    const leandet_tile_options *t = &d->tile;
    size_t n_cand = (size_t)ld_tile_views(t) * (size_t)ld_tile_per_view(&d->cfg);
    leandet_detection *cand = d->tile_work;
    uint8_t *cut = (uint8_t *)(cand + n_cand);
    void *scratch = cut + (n_cand + 15) / 16 * 16;
    int n = 0;
    leandet_status st = LEANDET_OK;
    d->views = 0;
    if (!t->no_whole_view) {
        ld_tile_rect whole = {.x = 0, .y = 0, .w = img->width, .h = img->height};
        st = run_view(d, img, &whole, cand, cut, &n, err);
        d->views++;
    }
    for (int row = 0; st == LEANDET_OK && row < t->rows; row++)
        for (int col = 0; st == LEANDET_OK && col < t->cols; col++) {
            ld_tile_rect r;
            ld_tile_rect_at(t, img->width, img->height, row, col, &r);
            st = run_view(d, img, &r, cand, cut, &n, err);
            d->views++;
        }
    if (st != LEANDET_OK)
        return st;
    *count = ld_tile_merge(cand, cut, n, d->merge_iou, d->cfg.weighted_nms, capacity, scratch, out);
    return LEANDET_OK;
}

leandet_status leandet_detector_run(leandet_detector *d, const leandet_image *img, leandet_detection *out,
                                    int capacity, int *count, leandet_error *err)
{
    if (!d || !img || !count || (capacity > 0 && !out) || capacity < 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_detector_run: invalid arguments");
    *count = 0;
    if (ld_tile_enabled(&d->tile))
        return run_tiled(d, img, out, capacity, count, err);
    size_t bytes = 0;
    void *input = leandet_session_input(d->session, 0, &bytes);
    ld_letterbox lb;
    leandet_status st = ld_preprocess_image(img, &d->pre, input, bytes, &lb, err);
    if (st != LEANDET_OK)
        return st;
    d->views = 1;
    /* The tensor is already in place: nothing to copy. */
    return run_input(d, &lb, out, capacity, count, err);
}

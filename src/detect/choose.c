/* Which decoder a model needs, read from its graph: the post-process op if
 * there is one (bound by its own output slots), else the output shapes. */
#include <math.h>
#include <string.h>

#include "detect/detect.h"
#include "model/flexbuffer.h"
#include "model/ops.h"

static const char *kind_name(leandet_decoder k)
{
    switch (k) {
    case LEANDET_DECODER_POSTPROCESS: return "postprocess";
    case LEANDET_DECODER_BLAZEFACE: return "blazeface";
    case LEANDET_DECODER_YOLOV5: return "yolov5";
    case LEANDET_DECODER_YOLOV8: return "yolov8";
    default: return "auto";
    }
}

static int output_position(const ld_model_desc *m, int tensor)
{
    for (int j = 0; j < m->n_outputs; j++)
        if (m->outputs[j] == tensor)
            return j;
    return -1;
}

static void set_role(const ld_model_desc *m, ld_decoder_cfg *cfg, int role, int tensor)
{
    cfg->tensor[role] = tensor;
    cfg->output[role] = output_position(m, tensor);
    if (role >= cfg->n_roles)
        cfg->n_roles = role + 1;
}

static const ld_op_desc *find_postprocess(const ld_model_desc *m)
{
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        if (op->builtin == LD_OP_CUSTOM && op->custom_name &&
            strcmp(op->custom_name, "TFLite_Detection_PostProcess") == 0)
            return op;
    }
    return NULL;
}

static leandet_status setup_postprocess(const ld_model_desc *m, const ld_op_desc *op, ld_decoder_cfg *cfg,
                                        leandet_error *err)
{
    if (op->n_outputs != 4)
        return ld_fail(err, LEANDET_ERR_MODEL, "TFLite_Detection_PostProcess has %d outputs, expected 4",
                       op->n_outputs);
    for (int r = 0; r < 4; r++)
        set_role(m, cfg, r, op->outputs[r]);
    /* slots per box and their count, from the op's options (the kernel
     * validates them when the session is created) */
    int32_t max_det = 0, per = 1;
    ld_flex_map fm;
    if (op->custom_options && ld_flex_root_map(op->custom_options, op->custom_options_bytes, &fm, NULL) == LEANDET_OK) {
        ld_flex_get_int32(&fm, "max_detections", 0, &max_det, NULL);
        ld_flex_get_int32(&fm, "max_classes_per_detection", 1, &per, NULL);
    }
    cfg->classes_per_detection = per > 0 ? per : 1;
    cfg->num_boxes = max_det > 0 ? max_det : m->tensors[op->outputs[0]].shape.d[1];
    return LEANDET_OK;
}

/* Two rank-3 outputs [1,N,K] (box + keypoints) and [1,N,C] (logits). */
static int blazeface_outputs(const ld_model_desc *m, int *reg, int *cls)
{
    if (m->n_outputs != 2)
        return 0;
    const ld_shape *a = &m->tensors[m->outputs[0]].shape, *b = &m->tensors[m->outputs[1]].shape;
    if (a->rank != 3 || b->rank != 3 || a->d[0] != 1 || b->d[0] != 1 || a->d[1] != b->d[1] || a->d[1] < 1)
        return 0;
    const int first_is_reg = a->d[2] > b->d[2];
    *reg = m->outputs[first_is_reg ? 0 : 1];
    *cls = m->outputs[first_is_reg ? 1 : 0];
    return m->tensors[*reg].shape.d[2] >= 4 && m->tensors[*cls].shape.d[2] >= 1;
}

static leandet_status setup_blazeface(const ld_model_desc *m, const ld_mediapipe_params *mp, ld_decoder_cfg *cfg,
                                      leandet_error *err)
{
    int reg, cls;
    if (!blazeface_outputs(m, &reg, &cls))
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED,
                       "blazeface decoder needs two outputs [1,N,K>=4] (boxes) and [1,N,C] (scores)");
    set_role(m, cfg, 0, reg);
    set_role(m, cfg, 1, cls);
    cfg->num_boxes = m->tensors[reg].shape.d[1];
    cfg->num_classes = m->tensors[cls].shape.d[2];
    if (!mp)
        mp = ld_mediapipe_preset(cfg->input_w, cfg->input_h, cfg->num_boxes);
    if (!mp)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED,
                       "no MediaPipe anchor preset for a %dx%d input with %d boxes: give the anchor parameters",
                       cfg->input_w, cfg->input_h, cfg->num_boxes);
    int n;
    leandet_status st = ld_anchors_count(&mp->anchors, &n, err);
    if (st)
        return st;
    if (n != cfg->num_boxes)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "anchors '%s' make %d anchors, the model outputs %d boxes",
                       mp->name ? mp->name : "custom", n, cfg->num_boxes);
    cfg->mp = *mp;
    cfg->weighted_nms = mp->weighted_nms;
    return LEANDET_OK;
}

static leandet_status setup_yolo(const ld_model_desc *m, leandet_decoder want, ld_decoder_cfg *cfg,
                                 leandet_error *err)
{
    const ld_shape *s = m->n_outputs >= 1 ? &m->tensors[m->outputs[0]].shape : NULL;
    if (!s || s->rank != 3 || s->d[0] != 1)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s decoder needs a rank-3 first output [1,A,B]",
                       kind_name(want));
    const int a = s->d[1], b = s->d[2];
    leandet_decoder k = want != LEANDET_DECODER_AUTO ? want : a > b ? LEANDET_DECODER_YOLOV5 : LEANDET_DECODER_YOLOV8;
    if (k == LEANDET_DECODER_YOLOV5 && b < 6)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "yolov5 output [1,%d,%d] needs at least 6 values per box", a, b);
    if (k == LEANDET_DECODER_YOLOV8 && a < 5)
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "yolov8 output [1,%d,%d] needs at least 5 rows", a, b);
    cfg->kind = k;
    set_role(m, cfg, 0, m->outputs[0]);
    cfg->num_boxes = k == LEANDET_DECODER_YOLOV5 ? a : b;
    cfg->num_classes = k == LEANDET_DECODER_YOLOV5 ? b - 5 : a - 4;
    return LEANDET_OK;
}

leandet_status ld_decoder_choose(const ld_model_desc *m, const leandet_detect_options *opt,
                                 const ld_mediapipe_params *mp, ld_decoder_cfg *cfg, leandet_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    for (int r = 0; r < LD_DECODER_MAX_ROLES; r++)
        cfg->tensor[r] = cfg->output[r] = -1;
    if (m->n_inputs >= 1) {
        const ld_shape *in = &m->tensors[m->inputs[0]].shape;
        if (in->rank == 4) { /* NHWC */
            cfg->input_h = in->d[1];
            cfg->input_w = in->d[2];
        }
    }
    const leandet_decoder want = opt ? opt->decoder : LEANDET_DECODER_AUTO;
    const ld_op_desc *pp = find_postprocess(m);
    int reg, cls;
    leandet_status st;
    if (want == LEANDET_DECODER_POSTPROCESS || (want == LEANDET_DECODER_AUTO && pp)) {
        if (!pp)
            return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "model has no TFLite_Detection_PostProcess op");
        cfg->kind = LEANDET_DECODER_POSTPROCESS;
        st = setup_postprocess(m, pp, cfg, err);
    } else if (want == LEANDET_DECODER_BLAZEFACE ||
               (want == LEANDET_DECODER_AUTO && blazeface_outputs(m, &reg, &cls))) {
        cfg->kind = LEANDET_DECODER_BLAZEFACE;
        st = setup_blazeface(m, mp, cfg, err);
    } else if (want == LEANDET_DECODER_AUTO || want == LEANDET_DECODER_YOLOV5 || want == LEANDET_DECODER_YOLOV8) {
        st = setup_yolo(m, want, cfg, err);
        if (st && want == LEANDET_DECODER_AUTO)
            return ld_fail(err, LEANDET_ERR_UNSUPPORTED,
                           "cannot tell how to decode this model's %d outputs (no post-process op, not two "
                           "[1,N,K] MediaPipe outputs, not one YOLO head [1,A,B]): choose a decoder",
                           m->n_outputs);
    } else {
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "unknown decoder %d", (int)want);
    }
    if (st)
        return st;
    if (cfg->kind != LEANDET_DECODER_POSTPROCESS && (cfg->input_w < 1 || cfg->input_h < 1))
        return ld_fail(err, LEANDET_ERR_UNSUPPORTED, "%s decoder needs an NHWC image input", kind_name(cfg->kind));

    /* thresholds: the caller's, else (absent or negative) per-decoder conventions */
    const int is_mp = cfg->kind == LEANDET_DECODER_BLAZEFACE;
    const float def_score = is_mp ? cfg->mp.min_score : cfg->kind == LEANDET_DECODER_POSTPROCESS ? 0.5f : 0.25f;
    cfg->score_threshold = opt && opt->score_threshold >= 0.0f ? opt->score_threshold : def_score;
    cfg->iou_threshold = opt && opt->iou_threshold >= 0.0f ? opt->iou_threshold : is_mp ? cfg->mp.nms_iou : 0.45f;
    cfg->max_detections = opt ? opt->max_detections : 100;
    if (isnan(cfg->score_threshold) || !(cfg->iou_threshold >= 0.0f && cfg->iou_threshold <= 1.0f))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "score threshold %g / IoU threshold %g: IoU must be in [0, 1]",
                       (double)cfg->score_threshold, (double)cfg->iou_threshold);
    return LEANDET_OK;
}

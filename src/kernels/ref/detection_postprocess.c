/* TFLite_Detection_PostProcess (custom op): decode SSD box encodings
 * against anchors, then multi-class non-max suppression. Reproduces
 * TensorFlow Lite's kernel (tflite/kernels/detection_postprocess.cc):
 * the same float/double mix in decoding, the same score dequantization,
 * the same orderings (stable sort by score for NMS candidates; libstdc++
 * partial_sort for the per-anchor top classes; stable merge across classes
 * in regular NMS) and the same output layout.
 *
 * Differences, all on inputs TFLite rejects or leaves undefined: int8
 * inputs are accepted (dequantized with their own scale/zero point), the
 * anchors are read with their own type, options are validated in prepare,
 * and output slots TFLite leaves unwritten are zero. */
#include <math.h>
#include <string.h>

#include "detect/box.h"
#include "detect/sort.h"
#include "kernels/ref/detection_postprocess.h"
#include "kernels/ref/ref.h"
#include "model/flexbuffer.h"

/* Sanity limits on untrusted options and shapes (TFLite has none; these
 * are far above any real detector and keep every index inside int). */
#define DPP_MAX_BOXES (1 << 22)
#define DPP_MAX_SCORES (1 << 28)   /* boxes * columns */
#define DPP_MAX_OUTPUTS (1 << 20)  /* max_detections * max_classes_per_detection */

/* Reserve count * elem bytes at the 16-aligned end of *end; 0 on overflow. */
static int reserve(size_t *end, size_t count, size_t elem, size_t *at)
{
    size_t start = (*end + 15) & ~(size_t)15;
    if (start < *end || (elem && count > (SIZE_MAX - start) / elem))
        return 0;
    *at = start;
    *end = start + count * elem;
    return 1;
}

int ld_dpp_plan_scratch(dpp_state *s, size_t score_rows)
{
    size_t n = (size_t)s->num_boxes, e = 0;
    size_t n_info = 2 * (size_t)s->max_detections;
    dpp_layout *L = &s->L;
    int ok = reserve(&e, n * 4, sizeof(float), &L->boxes) &&
             reserve(&e, score_rows * (size_t)s->columns, sizeof(float), &L->scores) &&
             reserve(&e, n, sizeof(float), &L->cand) && reserve(&e, n, sizeof(int), &L->keep_idx) &&
             reserve(&e, n, sizeof(float), &L->keep_scores) && reserve(&e, n, sizeof(int), &L->order) &&
             reserve(&e, n, sizeof(int), &L->tmp) &&
             reserve(&e, (size_t)s->max_detections, sizeof(int), &L->selected) &&
             reserve(&e, (size_t)s->num_classes, sizeof(int), &L->class_idx) &&
             reserve(&e, n_info, sizeof(ld_scored), &L->info) &&
             reserve(&e, n_info, sizeof(ld_scored), &L->info_tmp) && reserve(&e, n, 1, &L->active);
    L->total = e;
    return ok;
}

static leandet_status parse_options(ld_op_ctx *c, dpp_state *s)
{
    const ld_op_desc *op = c->op;
    if (!op->custom_options || op->custom_options_bytes == 0)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "has no custom options (a FlexBuffer map of NMS settings)");
    leandet_error e;
    ld_flex_map m;
    /* TFLite reads absent keys as 0, except these two */
    if (ld_flex_root_map(op->custom_options, op->custom_options_bytes, &m, &e) ||
        ld_flex_get_int32(&m, "max_detections", 0, &s->max_detections, &e) ||
        ld_flex_get_int32(&m, "max_classes_per_detection", 0, &s->max_classes_per_detection, &e) ||
        ld_flex_get_int32(&m, "detections_per_class", 100, &s->detections_per_class, &e) ||
        ld_flex_get_int32(&m, "num_classes", 0, &s->num_classes, &e) ||
        ld_flex_get_bool(&m, "use_regular_nms", 0, &s->regular, &e) ||
        ld_flex_get_float(&m, "nms_score_threshold", 0.0f, &s->score_threshold, &e) ||
        ld_flex_get_float(&m, "nms_iou_threshold", 0.0f, &s->iou_threshold, &e) ||
        ld_flex_get_float(&m, "y_scale", 0.0f, &s->y_scale, &e) ||
        ld_flex_get_float(&m, "x_scale", 0.0f, &s->x_scale, &e) ||
        ld_flex_get_float(&m, "h_scale", 0.0f, &s->h_scale, &e) ||
        ld_flex_get_float(&m, "w_scale", 0.0f, &s->w_scale, &e))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "custom options: %s", e.message);

    if (s->max_detections < 1 || s->max_detections > DPP_MAX_OUTPUTS)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "max_detections %d is outside 1..%d", s->max_detections,
                          DPP_MAX_OUTPUTS);
    if (s->max_classes_per_detection < 1 ||
        s->max_classes_per_detection > DPP_MAX_OUTPUTS / s->max_detections)
        return ld_op_fail(c, LEANDET_ERR_MODEL,
                          "max_classes_per_detection %d is < 1 or makes more than %d outputs with max_detections %d",
                          s->max_classes_per_detection, DPP_MAX_OUTPUTS, s->max_detections);
    if (s->regular && s->detections_per_class < 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "detections_per_class %d must be positive", s->detections_per_class);
    if (s->num_classes < 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "num_classes %d must be positive", s->num_classes);
    if (!(s->iou_threshold > 0.0f && s->iou_threshold <= 1.0f))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "nms_iou_threshold %g is outside (0, 1]", (double)s->iou_threshold);
    const float scales[4] = { s->y_scale, s->x_scale, s->h_scale, s->w_scale };
    static const char *const names[4] = { "y_scale", "x_scale", "h_scale", "w_scale" };
    for (int i = 0; i < 4; i++)
        if (!isfinite(scales[i]) || scales[i] == 0.0f)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "%s %g must be finite and non-zero", names[i], (double)scales[i]);
    return LEANDET_OK;
}

static leandet_status check_input(ld_op_ctx *c, const ld_tensor *t, const char *what)
{
    if (t->type != LEANDET_FLOAT32 && t->type != LEANDET_UINT8 && t->type != LEANDET_INT8)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "%s '%s' is %s, expected float32/uint8/int8", what,
                          t->desc ? t->desc->name : "", leandet_dtype_name(t->type));
    return ld_check_quantized(c, t, what);
}

static void set_shape(ld_tensor *t, int rank, int32_t d0, int32_t d1, int32_t d2)
{
    t->shape.rank = rank;
    t->shape.d[0] = d0;
    t->shape.d[1] = d1;
    t->shape.d[2] = d2;
}

static leandet_status check_shapes(ld_op_ctx *c, dpp_state *s)
{
    const ld_tensor *box = c->in[0], *cls = c->in[1], *anc = c->in[2];
    leandet_status st;
    if ((st = ld_check_rank(c, box, "box encodings", 3)) || (st = ld_check_rank(c, cls, "class predictions", 3)) ||
        (st = ld_check_rank(c, anc, "anchors", 2)))
        return st;
    const int32_t n = box->shape.d[1];
    if (box->shape.d[0] != 1 || cls->shape.d[0] != 1)
        return ld_op_fail(c, LEANDET_ERR_UNSUPPORTED, "batch %d/%d: only batch 1 is supported", box->shape.d[0],
                          cls->shape.d[0]);
    if (n < 1 || n > DPP_MAX_BOXES)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "box encodings have %d boxes, expected 1..%d", n, DPP_MAX_BOXES);
    if (box->shape.d[2] < 4)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "box encodings have %d values per box, expected at least 4",
                          box->shape.d[2]);
    if (cls->shape.d[1] != n || anc->shape.d[0] != n)
        return ld_op_fail(c, LEANDET_ERR_MODEL,
                          "box count differs: box encodings %d, class predictions %d, anchors %d", n,
                          cls->shape.d[1], anc->shape.d[0]);
    if (anc->shape.d[1] != 4)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "anchors have %d values each, expected 4 (y, x, h, w)",
                          anc->shape.d[1]);
    const int32_t cols = cls->shape.d[2];
    if (cols != s->num_classes && cols != s->num_classes + 1)
        return ld_op_fail(c, LEANDET_ERR_MODEL,
                          "class predictions have %d columns, expected num_classes %d (or %d with background)", cols,
                          s->num_classes, s->num_classes + 1);
    if ((int64_t)n * cols > DPP_MAX_SCORES)
        return ld_op_fail(c, LEANDET_ERR_MODEL, "%d boxes x %d classes exceeds the limit of %d scores", n, cols,
                          DPP_MAX_SCORES);
    s->num_boxes = n;
    s->columns = cols;
    s->box_stride = box->shape.d[2];
    return LEANDET_OK;
}

leandet_status ld_dpp_prepare(ld_op_ctx *c)
{
    leandet_status st = ld_check_io(c, 3, 3, 4);
    if (st)
        return st;
    static const char *const in_names[3] = { "box encodings", "class predictions", "anchors" };
    for (int i = 0; i < 3; i++)
        if ((st = check_input(c, c->in[i], in_names[i])))
            return st;
    static const char *const out_names[4] = { "boxes", "classes", "scores", "num_detections" };
    for (int i = 0; i < 4; i++)
        if (c->out[i]->type != LEANDET_FLOAT32)
            return ld_op_fail(c, LEANDET_ERR_MODEL, "output %d (%s) is %s, expected float32", i, out_names[i],
                              leandet_dtype_name(c->out[i]->type));
    dpp_state s;
    memset(&s, 0, sizeof s);
    if ((st = parse_options(c, &s)) || (st = check_shapes(c, &s)))
        return st;
    if (!ld_dpp_plan_scratch(&s, c->in[1]->type != LEANDET_FLOAT32 ? (size_t)s.num_boxes : 0))
        return ld_op_fail(c, LEANDET_ERR_MODEL, "working memory size overflows");

    const int32_t m = s.max_detections * s.max_classes_per_detection;
    set_shape(c->out[0], 3, 1, m, 4);
    set_shape(c->out[1], 2, 1, m, 0);
    set_shape(c->out[2], 2, 1, m, 0);
    set_shape(c->out[3], 1, 1, 0, 0);
    dpp_state *p = ld_malloc(c->alloc, sizeof *p);
    if (!p)
        return ld_op_fail(c, LEANDET_ERR_NO_MEMORY, "cannot allocate %zu bytes of op state", sizeof *p);
    *p = s;
    c->state = p;
    c->scratch_bytes = s.L.total;
    return LEANDET_OK;
}

/* Box encodings and anchors: (float(q) - float(zero_point)) * scale, in
 * float, as TFLite's Dequantizer. */
static float box_value(const ld_tensor *t, size_t i)
{
    switch (t->type) {
    case LEANDET_UINT8:
        return ((float)((const uint8_t *)t->data)[i] - (float)t->quant->zero_point[0]) * t->quant->scale[0];
    case LEANDET_INT8:
        return ((float)((const int8_t *)t->data)[i] - (float)t->quant->zero_point[0]) * t->quant->scale[0];
    default:
        return ((const float *)t->data)[i];
    }
}

void ld_dpp_decode_boxes(const ld_op_ctx *c, const dpp_state *s, float *boxes, int i0, int i1)
{
    const ld_tensor *enc = c->in[0], *anc = c->in[2];
    for (int i = i0; i < i1; i++) {
        const size_t e = (size_t)i * (size_t)s->box_stride, a = (size_t)i * 4;
        const double ey = box_value(enc, e), ex = box_value(enc, e + 1);
        const double eh = box_value(enc, e + 2), ew = box_value(enc, e + 3);
        const double ay = box_value(anc, a), ax = box_value(anc, a + 1);
        const double ah = box_value(anc, a + 2), aw = box_value(anc, a + 3);
        /* centre and half size in double, rounded to float, as TFLite */
        const float yc = (float)(ey / (double)s->y_scale * ah + ay);
        const float xc = (float)(ex / (double)s->x_scale * aw + ax);
        const float hh = (float)(0.5 * exp(eh / (double)s->h_scale) * ah);
        const float hw = (float)(0.5 * exp(ew / (double)s->w_scale) * aw);
        float *b = boxes + 4 * (size_t)i;
        b[0] = yc - hh;
        b[1] = xc - hw;
        b[2] = yc + hh;
        b[3] = xc + hw;
    }
}

/* Class scores as float: the input itself, or dequantized into scratch as
 * TFLite's Dequantize does (double scale times the integer difference). */
static const float *class_scores(const ld_op_ctx *c, const dpp_state *s, float *scratch)
{
    const ld_tensor *t = c->in[1];
    if (t->type == LEANDET_FLOAT32)
        return t->data;
    const size_t n = (size_t)s->num_boxes * (size_t)s->columns;
    const double scale = t->quant->scale[0];
    const int32_t zp = t->quant->zero_point[0];
    for (size_t i = 0; i < n; i++) {
        int32_t q = t->type == LEANDET_UINT8 ? ((const uint8_t *)t->data)[i] : ((const int8_t *)t->data)[i];
        scratch[i] = (float)(scale * (double)(q - zp));
    }
    return scratch;
}


/* NonMaxSuppressionSingleClassHelper: boxes scoring >= threshold, visited
 * by decreasing score (ties by index), each suppressing later boxes whose
 * IoU with it exceeds the threshold. Writes at most max_out box indices to
 * w->selected; returns how many. */
int ld_dpp_nms_single_class(const dpp_state *s, const dpp_work *w, const float *scores, int max_out)
{
    int kept = 0;
    for (int i = 0; i < s->num_boxes; i++) {
        if (scores[i] >= s->score_threshold) {
            w->keep_scores[kept] = scores[i];
            w->keep_idx[kept++] = i;
        }
    }
    ld_argsort_desc(w->keep_scores, kept, w->order, w->tmp);
    const int out_size = kept < max_out ? kept : max_out;
    memset(w->active, 1, (size_t)kept);
    int n_sel = 0, n_active = kept;
    for (int i = 0; i < kept && n_active > 0 && n_sel < out_size; i++) {
        if (!w->active[i])
            continue;
        const int bi = w->keep_idx[w->order[i]];
        w->selected[n_sel++] = bi;
        w->active[i] = 0;
        n_active--;
        if (n_sel == out_size)
            break; /* later suppression cannot change the result */
        const float *box_i = w->boxes + 4 * (size_t)bi;
        for (int j = i + 1; j < kept; j++) {
            if (w->active[j] &&
                ld_box_iou(box_i, w->boxes + 4 * (size_t)w->keep_idx[w->order[j]]) > s->iou_threshold) {
                w->active[j] = 0;
                n_active--;
            }
        }
    }
    return n_sel;
}


void ld_dpp_write_detection(const dpp_out *o, int slot, const float *box, int class_index, float score)
{
    memcpy(o->boxes + 4 * (size_t)slot, box, 4 * sizeof(float));
    o->classes[slot] = (float)class_index;
    o->scores[slot] = score;
}

/* Top classes of one anchor: the first maximum for k == 1 (ArgMaxVector),
 * else libstdc++'s partial_sort order. */
void ld_dpp_top_classes(const float *row, int n_classes, int k, int *idx)
{
    if (k == 1)
        idx[0] = ld_argmax(row, n_classes);
    else
        ld_partial_argsort_desc(row, n_classes, k, idx);
}

/* NonMaxSuppressionMultiClassFastHelper: one NMS over each anchor's best
 * class score; each selected anchor reports its top k classes. */
static int nms_fast(const dpp_state *s, const dpp_work *w, const float *scores, float *max_scores, int *class_idx,
                    const dpp_out *o)
{
    const int off = s->columns - s->num_classes;
    const int k = s->max_classes_per_detection < s->num_classes ? s->max_classes_per_detection : s->num_classes;
    for (int row = 0; row < s->num_boxes; row++) {
        const float *r = scores + (size_t)row * (size_t)s->columns + off;
        ld_dpp_top_classes(r, s->num_classes, k, class_idx);
        max_scores[row] = r[class_idx[0]];
    }
    const int n_sel = ld_dpp_nms_single_class(s, w, max_scores, s->max_detections);
    for (int d = 0; d < n_sel; d++) {
        const int a = w->selected[d];
        const float *r = scores + (size_t)a * (size_t)s->columns + off;
        ld_dpp_top_classes(r, s->num_classes, k, class_idx); /* recomputed: same result, no N x classes table */
        for (int col = 0; col < k; col++)
            ld_dpp_write_detection(o, s->max_classes_per_detection * d + col, w->boxes + 4 * (size_t)a, class_idx[col],
                            r[class_idx[col]]);
    }
    return n_sel;
}

/* NonMaxSuppressionMultiClassRegularHelper: NMS per class (at most
 * min(detections_per_class, max_detections) each), results merged into one
 * list sorted by score, earlier classes first on ties, cut to
 * max_detections. */
static int nms_regular(const dpp_state *s, const dpp_work *w, const float *scores, float *class_scores,
                       ld_scored *info, ld_scored *info_tmp, const dpp_out *o)
{
    const int off = s->columns - s->num_classes;
    const int per_class =
        s->detections_per_class < s->max_detections ? s->detections_per_class : s->max_detections;
    int size = 0;
    for (int col = 0; col < s->num_classes; col++) {
        for (int row = 0; row < s->num_boxes; row++)
            class_scores[row] = scores[(size_t)row * (size_t)s->columns + col + off];
        const int n_sel = ld_dpp_nms_single_class(s, w, class_scores, per_class);
        if (n_sel == 0)
            continue;
        for (int i = 0; i < n_sel; i++) {
            info[size + i].index = w->selected[i] * s->columns + col + off;
            info[size + i].score = class_scores[w->selected[i]];
        }
        ld_merge_desc(info, size, n_sel, info_tmp);
        size = size + n_sel < s->max_detections ? size + n_sel : s->max_detections;
    }
    for (int d = 0; d < size; d++) {
        const int anchor = info[d].index / s->columns;
        ld_dpp_write_detection(o, d, w->boxes + 4 * (size_t)anchor, info[d].index - anchor * s->columns - off,
                        info[d].score);
    }
    return size;
}

int ld_dpp_first_inverted(const float *boxes, int i0, int i1)
{
    for (int i = i0; i < i1; i++) {
        const float *b = boxes + 4 * (size_t)i;
        if (b[0] > b[2] || b[1] > b[3])
            return i;
    }
    return -1;
}

leandet_status ld_dpp_fail_inverted(ld_op_ctx *c, const float *boxes, int i)
{
    const float *b = boxes + 4 * (size_t)i; /* TFLite's ValidateBoxes fails the invoke */
    return ld_op_fail(c, LEANDET_ERR_MODEL, "decoded box %d is inverted (ymin %g > ymax %g or xmin %g > xmax %g)", i,
                      (double)b[0], (double)b[2], (double)b[1], (double)b[3]);
}

dpp_work ld_dpp_work(const ld_op_ctx *c)
{
    const dpp_state *s = c->state;
    uint8_t *base = c->scratch;
    const dpp_layout *L = &s->L;
    const dpp_work w = {
        .boxes = (float *)(base + L->boxes),
        .keep_idx = (int *)(base + L->keep_idx),
        .order = (int *)(base + L->order),
        .tmp = (int *)(base + L->tmp),
        .selected = (int *)(base + L->selected),
        .keep_scores = (float *)(base + L->keep_scores),
        .active = base + L->active,
    };
    return w;
}

dpp_out ld_dpp_clear_outputs(ld_op_ctx *c)
{
    const dpp_out o = { c->out[0]->data, c->out[1]->data, c->out[2]->data };
    for (int i = 0; i < 3; i++)
        memset(c->out[i]->data, 0, c->out[i]->bytes);
    return o;
}

static leandet_status eval(ld_op_ctx *c)
{
    const dpp_state *s = c->state;
    uint8_t *base = c->scratch;
    const dpp_layout *L = &s->L;
    const dpp_work w = ld_dpp_work(c);
    float *boxes = (float *)w.boxes;
    ld_dpp_decode_boxes(c, s, boxes, 0, s->num_boxes);
    const int bad = ld_dpp_first_inverted(boxes, 0, s->num_boxes);
    if (bad >= 0)
        return ld_dpp_fail_inverted(c, boxes, bad);
    const float *scores = class_scores(c, s, (float *)(base + L->scores));
    const dpp_out o = ld_dpp_clear_outputs(c);
    int n;
    if (s->regular)
        n = nms_regular(s, &w, scores, (float *)(base + L->cand), (ld_scored *)(base + L->info),
                        (ld_scored *)(base + L->info_tmp), &o);
    else
        n = nms_fast(s, &w, scores, (float *)(base + L->cand), (int *)(base + L->class_idx), &o);
    ((float *)c->out[3]->data)[0] = (float)n;
    return LEANDET_OK;
}

leandet_status ld_dpp_eval_ref(ld_op_ctx *c)
{
    return eval(c);
}

const ld_kernel ld_ref_detection_postprocess[] = {
    { LD_OP_CUSTOM, "TFLite_Detection_PostProcess", ld_dpp_prepare, eval },
    LD_KERNEL_TABLE_END,
};

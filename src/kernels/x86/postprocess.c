/* TFLite_Detection_PostProcess, fast NMS: the per-anchor work (box
 * decoding, each anchor's best score) is split over the pool, and 8-bit
 * scores are read through a 256-entry table filled with the reference's own
 * dequantization formula (float scores as they are). Only the anchors NMS
 * selects get their row dequantized, and NMS pops candidates from a heap
 * until it has max_detections instead of sorting them all, checking each
 * against the boxes already selected. Plain C: it is grouped with the x86 families
 * because those are the optimized ones leandet offers.
 *
 * Same bytes as the reference: the table holds exactly the values the
 * reference computes, and the table is non-decreasing in q (a positive,
 * finite scale), so the largest q of a row gives the row's largest score
 * whatever order the reference visits the classes in. The heap pops in the
 * reference's stable-sort order (score down, then anchor index up), and a
 * candidate is dropped exactly when a box selected before it overlaps it
 * beyond the threshold, as the reference's forward suppression decides
 * (the IoU computed with the same argument order). Regular NMS, and float
 * scores with more than one class per detection, stay on the reference. */
#include <math.h>
#include <string.h>

#include "detect/box.h"
#include "detect/sort.h"
#include "kernels/ref/detection_postprocess.h"
#include "kernels/x86/float_common.h"
#include "kernels/x86/x86.h"
#include "runtime/threadpool.h"

#define DPP_TASK_ANCHORS 256 /* fewer per task and the hand-off costs more than the work */

typedef struct dpp_job {
    const ld_op_ctx *c;
    const dpp_state *s;
    float *boxes, *best;
    float lut[256]; /* score of q (uint8) or q + 128 (int8) */
    int parts;
} dpp_job;

static int accepts(const ld_op_ctx *c)
{
    if (!c->op->custom_name || strcmp(c->op->custom_name, "TFLite_Detection_PostProcess") != 0)
        return 0;
    if (c->n_in != 3 || !c->in[1])
        return 0;
    const ld_tensor *t = c->in[1];
    if (t->type == LEANDET_FLOAT32)
        return 1;
    if ((t->type != LEANDET_UINT8 && t->type != LEANDET_INT8) || !t->quant || t->quant->count < 1)
        return 0;
    const float scale = t->quant->scale[0];
    return isfinite(scale) && scale > 0.0f;
}

/* The reference's prepare; where this kernel runs the op itself (fast
 * NMS), scratch for one dequantized row instead of every row. */
static leandet_status prepare(ld_op_ctx *c)
{
    leandet_status st = ld_dpp_prepare(c);
    if (st != LEANDET_OK)
        return st;
    dpp_state *s = c->state;
    const int quantized = c->in[1]->type != LEANDET_FLOAT32;
    if (!s->regular && (quantized || s->max_classes_per_detection == 1) && ld_dpp_plan_scratch(s, quantized ? 1 : 0))
        c->scratch_bytes = s->L.total;
    return LEANDET_OK;
}

static void fill_lut(const ld_tensor *t, float *lut)
{
    const double scale = t->quant->scale[0];
    const int32_t zp = t->quant->zero_point[0];
    const int32_t lo = t->type == LEANDET_UINT8 ? 0 : -128;
    for (int32_t i = 0; i < 256; i++)
        lut[i] = (float)(scale * (double)(lo + i - zp));
}

static void anchors_task(void *ctx, int task, int thread)
{
    (void)thread;
    dpp_job *j = ctx;
    const dpp_state *s = j->s;
    size_t lo, hi;
    ld_f32_part((size_t)s->num_boxes, j->parts, task, &lo, &hi);
    const int i0 = (int)lo, i1 = (int)hi;
    ld_dpp_decode_boxes(j->c, s, j->boxes, i0, i1);
    const ld_tensor *t = j->c->in[1];
    const size_t off = (size_t)(s->columns - s->num_classes), n = (size_t)s->num_classes;
    for (int row = i0; row < i1; row++) {
        const size_t at = (size_t)row * (size_t)s->columns + off;
        if (t->type == LEANDET_UINT8) {
            const uint8_t *r = (const uint8_t *)t->data + at;
            uint8_t m = r[0];
            for (size_t k = 1; k < n; k++)
                m = r[k] > m ? r[k] : m;
            j->best[row] = j->lut[m];
        } else if (t->type == LEANDET_INT8) {
            const int8_t *r = (const int8_t *)t->data + at;
            int8_t m = r[0];
            for (size_t k = 1; k < n; k++)
                m = r[k] > m ? r[k] : m;
            j->best[row] = j->lut[m + 128];
        } else { /* float, one class per detection: the reference's ArgMax */
            const float *r = (const float *)t->data + at;
            j->best[row] = r[ld_argmax(r, (int)n)];
        }
    }
}

/* Heap order: a higher score first, then the lower anchor index. */
static int before(const float *sc, const int *id, int a, int b)
{
    return sc[a] > sc[b] || (sc[a] == sc[b] && id[a] < id[b]);
}

static void sift_down(float *sc, int *id, int n, int i)
{
    for (;;) {
        int top = i;
        const int l = 2 * i + 1, r = l + 1;
        if (l < n && before(sc, id, l, top))
            top = l;
        if (r < n && before(sc, id, r, top))
            top = r;
        if (top == i)
            return;
        const float ts = sc[i];
        const int ti = id[i];
        sc[i] = sc[top], id[i] = id[top];
        sc[top] = ts, id[top] = ti;
        i = top;
    }
}

static int nms_heap(const dpp_state *s, const dpp_work *w, const float *scores, int max_out)
{
    float *sc = w->keep_scores;
    int *id = w->keep_idx, n = 0;
    for (int i = 0; i < s->num_boxes; i++) {
        if (scores[i] >= s->score_threshold) {
            sc[n] = scores[i];
            id[n++] = i;
        }
    }
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(sc, id, n, i);
    int n_sel = 0;
    while (n > 0 && n_sel < max_out) {
        const int bi = id[0];
        n--;
        sc[0] = sc[n], id[0] = id[n];
        sift_down(sc, id, n, 0);
        const float *box = w->boxes + 4 * (size_t)bi;
        int suppressed = 0;
        for (int d = 0; d < n_sel && !suppressed; d++)
            suppressed = ld_box_iou(w->boxes + 4 * (size_t)w->selected[d], box) > s->iou_threshold;
        if (!suppressed)
            w->selected[n_sel++] = bi;
    }
    return n_sel;
}

static leandet_status eval(ld_op_ctx *c)
{
    const dpp_state *s = c->state;
    const ld_tensor *t = c->in[1];
    if (s->regular || (t->type == LEANDET_FLOAT32 && s->max_classes_per_detection > 1))
        return ld_dpp_eval_ref(c);
    uint8_t *base = c->scratch;
    const dpp_work w = ld_dpp_work(c);
    dpp_job j = { .c = c, .s = s, .boxes = (float *)w.boxes, .best = (float *)(base + s->L.cand) };
    if (t->type != LEANDET_FLOAT32)
        fill_lut(t, j.lut);
    j.parts = ld_f32_parts(c->pool, (size_t)s->num_boxes, DPP_TASK_ANCHORS, 1);
    ld_pool_run(c->pool, j.parts, anchors_task, &j);
    const int bad = ld_dpp_first_inverted(j.boxes, 0, s->num_boxes);
    if (bad >= 0)
        return ld_dpp_fail_inverted(c, j.boxes, bad);

    const dpp_out o = ld_dpp_clear_outputs(c);
    const int n_sel = nms_heap(s, &w, j.best, s->max_detections);
    const int k = s->max_classes_per_detection < s->num_classes ? s->max_classes_per_detection : s->num_classes;
    const int off = s->columns - s->num_classes;
    float *buf = (float *)(base + s->L.scores); /* 8-bit: one row (prepare) */
    int *class_idx = (int *)(base + s->L.class_idx);
    for (int d = 0; d < n_sel; d++) {
        const int a = w.selected[d];
        const size_t at = (size_t)a * (size_t)s->columns + (size_t)off;
        const float *row = buf;
        if (t->type == LEANDET_FLOAT32)
            row = (const float *)t->data + at;
        else
            for (int q = 0; q < s->num_classes; q++)
                buf[q] = t->type == LEANDET_UINT8 ? j.lut[((const uint8_t *)t->data)[at + (size_t)q]]
                                                  : j.lut[((const int8_t *)t->data)[at + (size_t)q] + 128];
        ld_dpp_top_classes(row, s->num_classes, k, class_idx);
        for (int col = 0; col < k; col++)
            ld_dpp_write_detection(&o, s->max_classes_per_detection * d + col, w.boxes + 4 * (size_t)a,
                                   class_idx[col], row[class_idx[col]]);
    }
    ((float *)c->out[3]->data)[0] = (float)n_sel;
    return LEANDET_OK;
}

const ld_opt_kernel ld_avx2_postprocess[] = {
    { { LD_OP_CUSTOM, "TFLite_Detection_PostProcess", prepare, eval }, accepts, "avx2" },
    LD_OPT_KERNEL_TABLE_END,
};

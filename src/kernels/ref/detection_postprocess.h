/* TFLite_Detection_PostProcess pieces shared by the reference kernel
 * (detection_postprocess.c, the oracle) and the optimized one, which
 * parallelizes box decoding and the per-anchor best score and reads 8-bit
 * scores through a table, but keeps every ordering and value of these. */
#ifndef LD_KERNELS_REF_DETECTION_POSTPROCESS_H
#define LD_KERNELS_REF_DETECTION_POSTPROCESS_H

#include <stdint.h>

#include "kernels/kernel.h"

typedef struct dpp_layout { /* byte offsets into scratch */
    size_t boxes, scores, cand, keep_idx, keep_scores, order, tmp, selected, class_idx, info, info_tmp, active;
    size_t total;
} dpp_layout;

typedef struct dpp_state {
    int max_detections, max_classes_per_detection, detections_per_class, num_classes, regular;
    float score_threshold, iou_threshold;
    float y_scale, x_scale, h_scale, w_scale;
    int num_boxes, columns, box_stride;
    dpp_layout L;
} dpp_state;

typedef struct dpp_work {
    const float *boxes;
    int *keep_idx, *order, *tmp, *selected;
    float *keep_scores;
    uint8_t *active;
} dpp_work;

typedef struct dpp_out {
    float *boxes, *classes, *scores;
} dpp_out;

/* Options, shapes and the scratch layout; c->state gets a dpp_state. */
leandet_status ld_dpp_prepare(ld_op_ctx *c);
/* The scratch layout with room for score_rows dequantized rows of scores
 * (the reference: every row of 8-bit scores); 0 on overflow. */
int ld_dpp_plan_scratch(dpp_state *s, size_t score_rows);
/* The reference eval, for cases the optimized kernel leaves to it. */
leandet_status ld_dpp_eval_ref(ld_op_ctx *c);
/* Boxes i0..i1-1 decoded against their anchors (ymin, xmin, ymax, xmax). */
void ld_dpp_decode_boxes(const ld_op_ctx *c, const dpp_state *s, float *boxes, int i0, int i1);
/* The first inverted box in i0..i1-1, or -1; and the error TFLite gives. */
int ld_dpp_first_inverted(const float *boxes, int i0, int i1);
leandet_status ld_dpp_fail_inverted(ld_op_ctx *c, const float *boxes, int i);
/* Work arrays in c->scratch; the outputs, zeroed. */
dpp_work ld_dpp_work(const ld_op_ctx *c);
dpp_out ld_dpp_clear_outputs(ld_op_ctx *c);
/* One class's NMS over `scores` (>= threshold, by decreasing score):
 * writes at most max_out anchors to w->selected, returns how many. */
int ld_dpp_nms_single_class(const dpp_state *s, const dpp_work *w, const float *scores, int max_out);
/* The k best classes of one anchor's row, in TFLite's order. */
void ld_dpp_top_classes(const float *row, int n_classes, int k, int *idx);
void ld_dpp_write_detection(const dpp_out *o, int slot, const float *box, int class_index, float score);

#endif

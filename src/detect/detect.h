/* From model outputs to detections: decoder choice, decoders, NMS and the
 * mapping back to the original image.
 *
 * Use (no heap allocation per image):
 *   ld_decoder_cfg cfg;
 *   ld_decoder_choose(model_desc, &options, NULL, &cfg, &err);   once per model
 *   size_t n = ld_decoder_scratch_bytes(&cfg);                     allocate once
 *   per image: fill ld_det_tensor t[cfg.n_roles] from the tensors
 *   cfg.tensor[i] (ld_det_tensor_view), then
 *   ld_decode(&cfg, t, scratch, n, dets, capacity, &count, &err);
 *   map boxes to the original image: ld_letterbox_unmap_box (image/preprocess.h)
 *   or, for a stretched input, ld_detections_clip(dets, count).
 *
 * Detections come out sorted by decreasing score (POSTPROCESS: in the op's
 * order, which is by score unless max_classes_per_detection > 1), boxes
 * normalized (ymin, xmin, ymax, xmax) to the model input. */
#ifndef LD_DETECT_DETECT_H
#define LD_DETECT_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "detect/anchors.h"
#include "kernels/kernel.h"
#include "leandet.h"
#include "model/model.h"

/* A borrowed view of one output tensor: float32, uint8 or int8 (read
 * through scale / zero_point). */
typedef struct ld_det_tensor {
    const void *data;
    ld_dtype type;
    ld_shape shape;
    float scale;        /* quantized types only */
    int32_t zero_point;
} ld_det_tensor;

/* View of a session tensor (checks type and per-tensor quantization). */
leandet_status ld_det_tensor_view(const ld_tensor *t, ld_det_tensor *out, leandet_error *err);

/* Element i as float. */
static inline float ld_det_value(const ld_det_tensor *t, size_t i)
{
    switch (t->type) {
    case LEANDET_UINT8: return (float)(((const uint8_t *)t->data)[i] - t->zero_point) * t->scale;
    case LEANDET_INT8: return (float)(((const int8_t *)t->data)[i] - t->zero_point) * t->scale;
    default: return ((const float *)t->data)[i];
    }
}

/* Roles of the tensors each decoder reads, in order:
 *   POSTPROCESS: boxes [1,M,4], classes [1,M], scores [1,M], count [1]
 *                (the TFLite_Detection_PostProcess op's own output slots)
 *   BLAZEFACE:   regressors [1,N,K>=4], classificators [1,N,C>=1]
 *   YOLOV5:      predictions [1,N,5+C]: cx, cy, w, h, objectness, C class scores
 *   YOLOV8:      predictions [1,4+C,N]: cx, cy, w, h rows, then C class rows
 * YOLO boxes are expected normalized to the input; exports that give input
 * pixels are recognised by a box value above 2 and divided by the input
 * size. The best class is the first maximum. */
#define LD_DECODER_MAX_ROLES 4

typedef struct ld_decoder_cfg {
    leandet_decoder kind;           /* never AUTO once configured */
    int input_w, input_h;           /* model input 0, pixels */
    int num_boxes;                  /* N (M for POSTPROCESS) */
    int num_classes;                /* C (0 if unknown, POSTPROCESS) */
    int classes_per_detection;      /* POSTPROCESS: the op's max_classes_per_detection (slots per box) */
    int n_roles;
    int tensor[LD_DECODER_MAX_ROLES];  /* model tensor index of each role */
    int output[LD_DECODER_MAX_ROLES];  /* its position among the model outputs, -1 if none */
    ld_mediapipe_params mp;         /* BLAZEFACE only */
    float score_threshold;          /* keep score >= threshold */
    float iou_threshold;            /* NMS (not POSTPROCESS, whose op did it) */
    int max_detections;             /* <= 0: no cap besides capacity */
    int weighted_nms;               /* MediaPipe-style weighted boxes (BLAZEFACE default) */
} ld_decoder_cfg;

/* Configure the decoder for a model. opt->decoder AUTO picks it from the
 * graph: a TFLite_Detection_PostProcess op -> POSTPROCESS (bound to the
 * op's own output slots); else two rank-3 outputs [1,N,K] and [1,N,C]
 * (the one with the larger last dim, K >= 4, holds the boxes) ->
 * BLAZEFACE with anchors from `mp`, or the preset matching the input size
 * and N; else a first output [1,A,B] -> YOLOV5 if A > B, YOLOV8 if A < B.
 * A forced decoder is checked against the outputs. Thresholds and the cap
 * come from opt (opt NULL: the MediaPipe graph's values for BLAZEFACE, 0.25
 * / 0.45 for YOLO, 0.5 for POSTPROCESS; cap 100). BLAZEFACE uses weighted
 * NMS, MediaPipe's choice; cfg->weighted_nms may be changed afterwards. */
leandet_status ld_decoder_choose(const ld_model_desc *m, const leandet_detect_options *opt,
                                 const ld_mediapipe_params *mp, ld_decoder_cfg *cfg, leandet_error *err);

/* Working memory ld_decode needs for this configuration. */
size_t ld_decoder_scratch_bytes(const ld_decoder_cfg *cfg);

/* Decode one image's outputs (t[0..cfg->n_roles), shapes checked against
 * cfg) into out[0..capacity). Allocates nothing. */
leandet_status ld_decode(const ld_decoder_cfg *cfg, const ld_det_tensor *t, void *scratch, size_t scratch_bytes,
                         leandet_detection *out, int capacity, int *count, leandet_error *err);

/* The decoders on their own (same contracts as ld_decode). */
leandet_status ld_decode_postprocess(const ld_decoder_cfg *cfg, const ld_det_tensor *t, leandet_detection *out,
                                     int capacity, int *count, leandet_error *err);
leandet_status ld_decode_mediapipe(const ld_decoder_cfg *cfg, const ld_det_tensor *t, void *scratch,
                                   size_t scratch_bytes, leandet_detection *out, int capacity, int *count,
                                   leandet_error *err);
leandet_status ld_decode_yolo(const ld_decoder_cfg *cfg, const ld_det_tensor *t, void *scratch,
                              size_t scratch_bytes, leandet_detection *out, int capacity, int *count,
                              leandet_error *err);

/* Non-max suppression over candidates (any order). Greedy by decreasing
 * score (ties: lower index first); a candidate is dropped when its IoU with
 * a kept box of the same class exceeds iou_threshold. weighted: MediaPipe's
 * WEIGHTED algorithm instead: each kept box becomes the score-weighted mean
 * of the corners of every remaining same-class box (itself included) whose
 * IoU with it exceeds the threshold, those boxes are consumed, and the kept
 * score is the top box's. Writes at most max_out results (sorted by score)
 * to out, which must not alias cand; returns the count. */
size_t ld_nms_scratch_bytes(int n);
int ld_nms(const leandet_detection *cand, int n, float iou_threshold, int weighted, int max_out, void *scratch,
           leandet_detection *out);

/* Clip boxes to [0, 1] (stretch resize: model space is image space). For a
 * letterboxed input map boxes back with ld_letterbox_unmap_box
 * (image/preprocess.h), which knows the geometry the resize used. */
void ld_detections_clip(leandet_detection *d, int n);

#endif

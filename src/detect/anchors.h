/* SSD anchors as MediaPipe's SsdAnchorsCalculator generates them (the
 * non-multiscale path), plus the parameters of the MediaPipe detectors
 * leandet recognises (BlazeFace, palm, pose).
 *
 * Per group of consecutive layers with equal stride, each feature-map cell
 * (row-major, y then x) gets one anchor per (aspect ratio, layer) pair:
 * the aspect ratios of every layer in the group, plus one interpolated
 * anchor per layer when interpolated_scale_aspect_ratio > 0 (or 3 fixed
 * anchors for layer 0 with reduce_boxes_in_lowest_layer). The feature map
 * is ceil(input / stride). Centres are ((x + offset_x) / fw, (y +
 * offset_y) / fh); with fixed_anchor_size, w = h = 1. */
#ifndef LD_DETECT_ANCHORS_H
#define LD_DETECT_ANCHORS_H

#include "core/error.h"

#define LD_ANCHOR_MAX_LAYERS 8
#define LD_ANCHOR_MAX_RATIOS 8
#define LD_ANCHOR_MAX_COUNT (1 << 22)

typedef struct ld_anchor_params {
    int num_layers;                         /* == number of strides used */
    int strides[LD_ANCHOR_MAX_LAYERS];
    float min_scale, max_scale;
    int input_w, input_h;
    float anchor_offset_x, anchor_offset_y; /* MediaPipe default 0.5 */
    int num_aspect_ratios;
    float aspect_ratios[LD_ANCHOR_MAX_RATIOS];
    float interpolated_scale_aspect_ratio;  /* MediaPipe default 1.0; <= 0: none */
    int reduce_boxes_in_lowest_layer;
    int fixed_anchor_size;
} ld_anchor_params;

/* Anchor centre and size, normalized to the model input. */
typedef struct ld_anchor {
    float x, y, w, h;
} ld_anchor;

/* Number of anchors the parameters produce; validates them (layers,
 * strides >= 1, sizes, ratio counts, total <= LD_ANCHOR_MAX_COUNT). */
leandet_status ld_anchors_count(const ld_anchor_params *p, int *count, leandet_error *err);

/* Write the anchors into out (capacity entries). */
leandet_status ld_anchors_generate(const ld_anchor_params *p, ld_anchor *out, int capacity, int *count,
                                   leandet_error *err);

/* How a MediaPipe detector's raw outputs are decoded (TensorsToDetections
 * and NonMaxSuppression options of its graph). Box values come first in
 * each regressor row, in x, y, w, h order (reverse_output_order). */
typedef struct ld_mediapipe_params {
    const char *name;
    ld_anchor_params anchors;
    float x_scale, y_scale, w_scale, h_scale; /* the input size for these models */
    float score_clip;       /* logits clipped to +-score_clip before the sigmoid */
    float min_score;        /* the graph's min_score_thresh (a suggested default) */
    float nms_iou;          /* the graph's min_suppression_threshold */
    int weighted_nms;       /* the graph uses algorithm: WEIGHTED */
    int num_keypoints;      /* after the box in each row (not decoded) */
} ld_mediapipe_params;

/* The built-in preset whose input size and anchor count match, or NULL.
 * Presets: "blazeface-128" (face_detection_front / short_range, 896),
 * "blazeface-full-192" (face_detection_full_range, 2304), "palm-192"
 * (palm_detection lite/full, 2016), "pose-224" (pose_detection, 2254). */
const ld_mediapipe_params *ld_mediapipe_preset(int input_w, int input_h, int num_anchors);
/* By name; NULL if unknown. */
const ld_mediapipe_params *ld_mediapipe_preset_named(const char *name);

#endif

/* User-given MediaPipe anchor parameters, for detectors without a preset:
 *   "palm-192"                               a preset by name
 *   "preset=blazeface-128,min_scale=0.2"     a preset with changes
 *   "strides=8:16:16:16,min_scale=0.1484375,max_scale=0.75,scale=128"
 * Keys: preset, strides (':'-separated, one per layer), min_scale,
 * max_scale, offset_x, offset_y, aspect_ratios (':'-separated),
 * interpolated, reduce_lowest (0/1), fixed_size (0/1), scale (sets x/y/w/h
 * scales), x_scale, y_scale, w_scale, h_scale, clip, min_score, nms_iou,
 * weighted (0/1), keypoints. Without a preset, the base is MediaPipe's
 * defaults (BlazeFace's) at the model's input size. */
#ifndef LD_DETECT_ANCHOR_SPEC_H
#define LD_DETECT_ANCHOR_SPEC_H

#include "detect/anchors.h"

leandet_status ld_anchor_spec_parse(const char *spec, int input_w, int input_h, ld_mediapipe_params *out,
                                    leandet_error *err);

#endif

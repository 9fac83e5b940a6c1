/* The detection options every command that runs a detector takes
 * (--threshold, --iou, --max-detections, --decoder, --resize), parsed in
 * one place so they mean the same everywhere. */
#ifndef LD_CLI_DETECT_OPTS_H
#define LD_CLI_DETECT_OPTS_H

#include "args.h"
#include "leandet.h"

/* Usage lines for the options below, to paste into a command's help. */
#define LD_DETECT_OPTS_USAGE                                                                          \
    "  --threshold T        minimum score, 0..1 (default 0.5)\n"                                      \
    "  --iou I              NMS IoU threshold for decoders that run NMS (default: the model\n"        \
    "                       family's: 0.45 YOLO, 0.3 MediaPipe; the SSD op has its own)\n"            \
    "  --max-detections N   at most N detections per image (default 100)\n"                           \
    "  --decoder D          auto|postprocess|blazeface|yolov5|yolov8 (default auto: from the outputs)\n" \
    "  --resize R           auto|stretch|letterbox (default auto: letterbox for YOLO, else stretch)\n"

/* --tile, for the commands that run the detector on whole images (detect,
 * eval); the pipeline behind `video` resizes frames before inference and
 * cannot tile. */
#define LD_TILE_OPTS_USAGE                                                                            \
    "  --tile RxC[:OV]      also run the model on an R x C grid of overlapping tiles of the\n"       \
    "                       original image (besides the whole image) and merge the boxes: finds\n"   \
    "                       small objects in large images at R*C+1 times the work. OV: overlap\n"   \
    "                       as a fraction of a tile (default 0.1) or pixels (64px); R, C 1..16\n"

/* If the current argument is --tile, parse its value into *t and return 1
 * (bad values are usage errors naming what is wrong); else return 0. */
int ld_parse_tile_option(ld_args *a, leandet_tile_options *t);

/* If the current argument is one of those options, consume it (and its
 * value) into *o and return 1; else return 0. Bad values are usage errors
 * (a->error). */
int ld_parse_detect_option(ld_args *a, leandet_detect_options *o);

/* a->value must be one of names[0..n): its index into *out, else a usage error. */
int ld_parse_choice(ld_args *a, const char *opt, const char *const *names, int n, int *out);

#endif

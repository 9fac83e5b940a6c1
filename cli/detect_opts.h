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

/* If the current argument is one of those options, consume it (and its
 * value) into *o and return 1; else return 0. Bad values are usage errors
 * (a->error). */
int ld_parse_detect_option(ld_args *a, leandet_detect_options *o);

/* a->value must be one of names[0..n): its index into *out, else a usage error. */
int ld_parse_choice(ld_args *a, const char *opt, const char *const *names, int n, int *out);

#endif

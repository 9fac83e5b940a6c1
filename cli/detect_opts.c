#include "detect_opts.h"

#include <string.h>

int ld_parse_choice(ld_args *a, const char *opt, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(a->value, names[i]) == 0) {
            *out = i;
            return 1;
        }
    ld_usage_error(a, "%s: unknown value '%s'", opt, a->value);
    return 0;
}

int ld_parse_detect_option(ld_args *a, leandet_detect_options *o)
{
    static const char *const decoders[] = {"auto", "postprocess", "blazeface", "yolov5", "yolov8"};
    static const char *const resizes[] = {"auto", "stretch", "letterbox"};
    int choice;
    if (ld_args_opt(a, "--threshold")) {
        ld_parse_float(a, "--threshold", 0.0f, 1.0f, &o->score_threshold);
    } else if (ld_args_opt(a, "--iou")) {
        ld_parse_float(a, "--iou", 0.0f, 1.0f, &o->iou_threshold);
    } else if (ld_args_opt(a, "--max-detections")) {
        ld_parse_int(a, "--max-detections", 1, 100000, &o->max_detections);
    } else if (ld_args_opt(a, "--decoder")) {
        if (ld_parse_choice(a, "--decoder", decoders, 5, &choice))
            o->decoder = (leandet_decoder)choice;
    } else if (ld_args_opt(a, "--resize")) {
        if (ld_parse_choice(a, "--resize", resizes, 3, &choice))
            o->resize = (leandet_resize_mode)choice;
    } else {
        return 0;
    }
    return 1;
}

#include "detect_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect/tile.h"

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

/* A decimal integer at *p (no sign), advancing *p; -1 if none or too big. */
static long parse_count(const char **p)
{
    if (**p < '0' || **p > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(*p, &end, 10);
    *p = end;
    return errno ? -1 : v;
}

int ld_parse_tile_option(ld_args *a, leandet_tile_options *t)
{
    if (!ld_args_opt(a, "--tile"))
        return 0;
    const char *v = a->value, *p = v;
    leandet_tile_options o = {.rows = 0, .cols = 0, .overlap = 0.1f, .overlap_px = 0, .no_whole_view = 0};
    long rows = parse_count(&p), cols = -1;
    if (rows >= 0 && (*p == 'x' || *p == 'X')) {
        p++;
        cols = parse_count(&p);
    }
    if (rows < 0 || cols < 0 || (*p != '\0' && *p != ':')) {
        ld_usage_error(a, "--tile '%s': expected ROWSxCOLS[:OVERLAP], e.g. 2x2, 3x4:0.2 or 2x2:64px", v);
        return 1;
    }
    if (rows < 1 || cols < 1 || rows > LEANDET_TILE_MAX_GRID || cols > LEANDET_TILE_MAX_GRID) {
        ld_usage_error(a, "--tile '%s': rows and columns must be 1..%d", v, LEANDET_TILE_MAX_GRID);
        return 1;
    }
    o.rows = (int)rows;
    o.cols = (int)cols;
    if (*p == ':') {
        const char *ov = ++p;
        size_t len = strlen(ov);
        if (len > 2 && strcmp(ov + len - 2, "px") == 0) {
            long px = parse_count(&p);
            if (px < 0 || p != ov + len - 2 || px > LD_TILE_MAX_OVERLAP_PX) {
                ld_usage_error(a, "--tile '%s': overlap '%s' must be 0..%d px", v, ov, LD_TILE_MAX_OVERLAP_PX);
                return 1;
            }
            o.overlap_px = (int)px;
        } else {
            char *end;
            double f = strtod(ov, &end);
            if (end == ov || *end != '\0' || !(f >= 0.0 && f < 1.0)) {
                ld_usage_error(a, "--tile '%s': overlap '%s' must be a fraction of a tile in [0, 1) or pixels (64px)",
                               v, ov);
                return 1;
            }
            o.overlap = (float)f;
        }
    }
    leandet_error err = {0};
    if (ld_tile_check(&o, &err) != LEANDET_OK) {
        ld_usage_error(a, "--tile '%s': %s", v, err.message);
        return 1;
    }
    *t = o;
    return 1;
}

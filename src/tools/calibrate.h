/* Calibration for full-integer quantization: run a float model on real
 * images, through the same preprocessing as detection (the detector front
 * end), and record the range of every float32 activation tensor. */
#ifndef LD_TOOLS_CALIBRATE_H
#define LD_TOOLS_CALIBRATE_H

#include "core/alloc.h"
#include "leandet.h"

typedef struct ld_calib_range {
    float min, max; /* over every calibration image; both 0 when never seen */
    int seen;       /* 1 if the tensor was a float32 activation and was observed */
} ld_calib_range;

typedef enum { LD_CALIB_MINMAX = 0, LD_CALIB_PERCENTILE } ld_calib_method;

typedef struct ld_calib_options {
    const char *dir;          /* images */
    int count;                /* first `count` by name; <= 0: all */
    int verbose;              /* name skipped files on stderr */
    ld_calib_method method;   /* minmax: exact extremes; percentile: tails clipped */
    double percentile;        /* percentile: the central share kept, in (0, 100] */
    ld_alloc *alloc;          /* percentile: the histograms' memory, accounted here */
} ld_calib_options;

typedef struct ld_calib_stats {
    int used;                 /* images run */
    int histograms;           /* tensors histogrammed (percentile) */
    size_t hist_bytes;        /* their counters' bytes, taken from o->alloc */
} ld_calib_stats;

/* Run `model` (float) on the images of o->dir (.jpg, .jpeg, .png, .bmp,
 * .ppm, .pgm; sorted by name) and fill ranges[t] for every tensor t of the
 * model (ranges holds one entry per model tensor). minmax: the extremes
 * over all images. percentile P: each float32 activation gets a two-sided
 * histogram (tools/histogram.h) and its range runs from the value with
 * (100 - P)% of the tensor's values below it to the one with (100 - P)%
 * above it (each tail clipped separately, so one-signed tensors such as
 * ReLU outputs keep 0). Files that do not decode are skipped; stats->used
 * counts the images run. Errors: a directory that cannot be read, no image
 * in it, no image that decodes (LEANDET_ERR_ARGUMENT / LEANDET_ERR_IO), no
 * memory for the histograms, and whatever detection refuses. */
leandet_status ld_calibrate(const leandet_model *model, const ld_calib_options *o, ld_calib_range *ranges,
                            ld_calib_stats *stats, leandet_error *err);

/* Paths of the images of `dir` as above: *paths (n entries, each and the
 * array released with ld_calib_paths_free). */
leandet_status ld_calib_list(const char *dir, int count, char ***paths, int *n, leandet_error *err);
void ld_calib_paths_free(char **paths, int n);

#endif

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

/* Run `model` (float) on up to `count` images of directory `dir` (.jpg,
 * .jpeg, .png, .bmp, .ppm, .pgm; sorted by name; count <= 0: all) and fill
 * ranges[t] for every tensor t of the model (ranges holds one entry per
 * model tensor). Files that do not decode are skipped (named on stderr when
 * `verbose`); *used receives the number of images run. Errors: a directory
 * that cannot be read, no image in it, no image that decodes
 * (LEANDET_ERR_ARGUMENT / LEANDET_ERR_IO), and whatever detection refuses. */
leandet_status ld_calibrate(const leandet_model *model, const char *dir, int count, int verbose,
                            ld_calib_range *ranges, int *used, leandet_error *err);

/* Paths of the images of `dir` as above: *paths (n entries, each and the
 * array released with ld_calib_paths_free). */
leandet_status ld_calib_list(const char *dir, int count, char ***paths, int *n, leandet_error *err);
void ld_calib_paths_free(char **paths, int n);

#endif

/* The detector split in its two halves, for callers that prepare the input
 * tensor elsewhere (the pipeline's decode workers, video frames scaled by
 * FFmpeg): the preprocessing the detector chose, and running on a tensor
 * prepared with it. leandet_detector_run is exactly ld_preprocess_image
 * with these settings followed by ld_detector_run_tensor. */
#ifndef LD_RUNTIME_DETECTOR_INTERNAL_H
#define LD_RUNTIME_DETECTOR_INTERNAL_H

#include "image/preprocess.h"
#include "leandet.h"

/* Input size, type, normalization and resize mode (never AUTO) of the
 * detector's model input 0. Valid while the detector lives. */
const ld_preprocess *ld_detector_preprocess(const leandet_detector *d);

/* Copy `tensor` (exactly the input's bytes, as ld_preprocess_image wrote it;
 * it may already be the session's own input buffer) into input 0, invoke
 * and decode; `xf` is the geometry ld_preprocess_image reported, used to map
 * boxes back to the original image. Allocates nothing. */
leandet_status ld_detector_run_tensor(leandet_detector *d, const void *tensor, size_t bytes, const ld_letterbox *xf,
                                      leandet_detection *out, int capacity, int *count, leandet_error *err);

#endif

/* Box arithmetic shared by the post-process kernel and the decoders.
 * Boxes are float[4] = ymin, xmin, ymax, xmax. */
#ifndef LD_DETECT_BOX_H
#define LD_DETECT_BOX_H

/* std::max / std::min semantics (NaN handling included), not fmaxf. */
static inline float ld_maxf(float a, float b) { return a < b ? b : a; }
static inline float ld_minf(float a, float b) { return b < a ? b : a; }

/* Intersection over union exactly as TFLite's ComputeIntersectionOverUnion:
 * 0 when either box has no positive area; evaluated in float in this order. */
static inline float ld_box_iou(const float *a, const float *b)
{
    const float area_a = (a[2] - a[0]) * (a[3] - a[1]);
    const float area_b = (b[2] - b[0]) * (b[3] - b[1]);
    if (area_a <= 0 || area_b <= 0)
        return 0.0f;
    const float ymin = ld_maxf(a[0], b[0]);
    const float xmin = ld_maxf(a[1], b[1]);
    const float ymax = ld_minf(a[2], b[2]);
    const float xmax = ld_minf(a[3], b[3]);
    const float inter = ld_maxf(ymax - ymin, 0.0f) * ld_maxf(xmax - xmin, 0.0f);
    return inter / (area_a + area_b - inter);
}

#endif

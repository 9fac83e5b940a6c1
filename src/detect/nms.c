#include <stdint.h>
#include <string.h>

#include "detect/box.h"
#include "detect/detect.h"
#include "detect/sort.h"

/* scratch: scores[n] floats, order[n] and tmp[n] ints, alive[n] bytes */
size_t ld_nms_scratch_bytes(int n)
{
    return n > 0 ? (size_t)n * (sizeof(float) + 2 * sizeof(int) + 1) : 0;
}

static int greedy(const leandet_detection *cand, const int *order, int n, float thr, int max_out,
                  leandet_detection *out)
{
    int kept = 0;
    for (int i = 0; i < n && kept < max_out; i++) {
        const leandet_detection *c = &cand[order[i]];
        int suppressed = 0;
        for (int k = 0; k < kept && !suppressed; k++)
            suppressed = out[k].class_id == c->class_id && ld_box_iou(out[k].box, c->box) > thr;
        if (!suppressed)
            out[kept++] = *c;
    }
    return kept;
}

static int weighted(const leandet_detection *cand, const int *order, uint8_t *alive, int n, float thr,
                    int max_out, leandet_detection *out)
{
    int kept = 0;
    memset(alive, 1, (size_t)n);
    for (int i = 0; i < n && kept < max_out; i++) {
        if (!alive[i])
            continue;
        const leandet_detection *top = &cand[order[i]];
        float total = 0.0f, sum[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        for (int j = i; j < n; j++) {
            const leandet_detection *c = &cand[order[j]];
            /* the top box always joins its own cluster, even when degenerate */
            if (!alive[j] || c->class_id != top->class_id || (j != i && !(ld_box_iou(c->box, top->box) > thr)))
                continue;
            alive[j] = 0;
            total += c->score;
            for (int k = 0; k < 4; k++)
                sum[k] += c->box[k] * c->score;
        }
        out[kept] = *top;
        if (total > 0.0f)
            for (int k = 0; k < 4; k++)
                out[kept].box[k] = sum[k] / total;
        kept++;
    }
    return kept;
}

int ld_nms(const leandet_detection *cand, int n, float iou_threshold, int weighted_nms, int max_out, void *scratch,
           leandet_detection *out)
{
    if (n <= 0 || max_out <= 0)
        return 0;
    float *scores = scratch;
    int *order = (int *)(scores + n), *tmp = order + n;
    uint8_t *alive = (uint8_t *)(tmp + n);
    for (int i = 0; i < n; i++)
        scores[i] = cand[i].score;
    ld_argsort_desc(scores, n, order, tmp);
    if (weighted_nms)
        return weighted(cand, order, alive, n, iou_threshold, max_out, out);
    return greedy(cand, order, n, iou_threshold, max_out, out);
}

/* Pipeline internals (the public API is in leandet.h).
 *
 * Stages and the queues between them, all of capacity `slots`:
 *
 *   submit --free_q--> [slot] --decode_q--> decode workers --infer_q-->
 *   inference workers --> window[seq % slots] --> sink (callback thread or
 *   leandet_pipeline_next) --> free_q
 *
 * A slot carries one input from submission to delivery: its name, its
 * prepared input tensor and its detections. Because a slot is released only
 * after delivery, the undelivered sequence numbers are always a contiguous
 * range of at most `slots`, so `window` indexed by seq % slots never
 * collides and the reorder buffer needs no memory of its own. The oldest
 * undelivered input always holds a slot and is never waiting on a later
 * one, so the pipeline cannot deadlock on a full window. */
#ifndef LD_PIPELINE_PIPELINE_H
#define LD_PIPELINE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "image/preprocess.h"
#include "leandet.h"

#define LD_PIPELINE_NAME_MAX 4096
#define LD_PIPELINE_MAX_WORKERS 64
#define LD_PIPELINE_MAX_PREFETCH 1024

typedef struct ld_slot {
    uint64_t seq;
    leandet_input_kind kind;
    char name[LD_PIPELINE_NAME_MAX];
    const void *data;        /* ENCODED */
    size_t size;
    leandet_image image;     /* IMAGE: borrowed pixels */
    void *user;
    void *tensor;            /* the prepared model input (tensor_bytes) */
    ld_letterbox geometry;   /* where the image went in the input */
    int width, height, scale;
    leandet_status status;
    char error[sizeof(((leandet_error *)0)->message)];
    leandet_detection *dets; /* max_detections */
    int count;
} ld_slot;

/* Sizes of everything the pipeline allocates, derived once from the model
 * and the options; create allocates exactly this and plan reports it. */
typedef struct ld_pipeline_layout {
    int slots, sessions, decode_workers, max_detections;
    size_t tensor_bytes;     /* one model input */
    size_t decode_bytes;     /* one decode worker's pixel buffer */
    size_t total;            /* every pipeline buffer (sessions excluded) */
} ld_pipeline_layout;

/* Validate options (NULL: defaults) against the model and fill *l. */
leandet_status ld_pipeline_layout_compute(const leandet_model *model, const leandet_pipeline_options *o,
                                          ld_pipeline_layout *l, leandet_error *err);

/* Bytes of the buffers a pipeline with these options allocates besides its
 * sessions (slots with their tensors and detections, queues, decode
 * buffers); 0 if the options are invalid for the model. The sessions are
 * planned by the session itself. */
size_t ld_pipeline_plan_bytes(const leandet_model *model, const leandet_pipeline_options *o);

/* Bytes of the decode worker's buffer one image needs (input.c): two
 * rows and the column samples when it streams, else the whole decoded
 * image; *denom (may be NULL) gets the JPEG scale used. */
size_t ld_pipeline_decode_need(const ld_preprocess *pre, const ld_image_info *info, int scaled_decode,
                               int *denom);

/* The decode stage for one slot (input.c): read/decode the input at the
 * right JPEG scale into `pixels` (capacity bytes) when it is encoded, then
 * preprocess into slot->tensor. Sets slot->width/height/scale/geometry. */
leandet_status ld_pipeline_prepare(ld_slot *slot, const ld_preprocess *pre, size_t tensor_bytes, int scaled_decode,
                                   uint8_t *pixels, size_t capacity, leandet_error *err);

/* The most thread-budget units ever held at once (opt.threads; 0 when
 * there is no budget). For tests. */
int ld_pipeline_gate_peak(leandet_pipeline *p);

#endif

/* Magnitude pruning of the weights of CONV_2D, DEPTHWISE_CONV_2D and
 * FULLY_CONNECTED, on an editable model (tools/model_edit.h); write the
 * result with tools/tflite_writer.h.
 *
 * Unstructured: in each weight tensor the fraction S of weights with the
 * smallest real magnitude (|q - zero_point| * scale for quantized weights,
 * per-channel scales respected) becomes zero (the zero point). A tensor is
 * stored in TensorFlow Lite's sparse encoding (SparsityParameters, CSR over
 * the innermost dim, read back by a DENSIFY operator placed before its
 * consumer) only when that makes it smaller; float32 and int8 only, the
 * types TensorFlow Lite's DENSIFY expands.
 *
 * Structured: each prunable CONV_2D loses the fraction S of its output
 * channels with the smallest L1 norm (never all of them). A conv is
 * prunable when every reader of its output can follow: a CONV_2D reading it
 * as input 0 (loses the same input channels) or a DEPTHWISE_CONV_2D with
 * depth multiplier 1 (loses the same channels, weights, bias and
 * per-channel parameters, and passes the cut on to its own readers).
 * Anything else (graph outputs, RESHAPE/CONCATENATION into a post-process,
 * ADD, ...) leaves the conv as it is. On request, the removed channels'
 * constant part (act(bias)) is folded into the biases of the convs reading
 * them (prune_compensate.c). */
#ifndef LD_TOOLS_PRUNE_H
#define LD_TOOLS_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "leandet.h"
#include "tools/model_edit.h"

typedef struct ld_prune_options {
    double sparsity;   /* fraction in [0, 1) */
    int structured;
    int compensate;    /* structured: fold removed channels' act(bias) into the readers' biases */
    /* structured, float32 weights: choose channels by the output energy their
     * readers lose on these images and refit the readers (prune_refit.c) */
    const char *calibration;       /* image directory, or NULL */
    int count;                     /* first `count` images by name; <= 0: all */
    const leandet_model *source;   /* the model the edit was made from, to run */
    int verbose;                   /* name skipped images on stderr */
} ld_prune_options;

/* One weighted operator, before and after. */
typedef struct ld_prune_layer {
    int op;                    /* index in the original model */
    int builtin;
    const char *weights;       /* weight tensor name */
    int has_weights;           /* input 1 is present (the statistics below are kept) */
    uint64_t params_before, params_after;   /* weight + bias elements */
    uint64_t nonzero_before, nonzero_after; /* weights different from zero */
    uint64_t macs_before, macs_after;
    int out_before, out_after; /* output channels */
    int in_before, in_after;   /* input channels (CONV_2D / FC) */
    int sparse;                /* stored sparse behind a DENSIFY */
    const char *skipped;       /* why it was left alone, or NULL */
} ld_prune_layer;

typedef struct ld_prune_report {
    int n_layers;
    ld_prune_layer *layers;    /* owned by the edit */
    int eligible;              /* layers the pass could prune (structured: convs
                                  whose readers can follow) */
    int pruned;                /* layers changed */
    int sparse;                /* weight tensors stored sparse */
    int refitted;              /* structured with calibration: readers refitted */
    int calibration_images;    /* ... on this many images */
    uint64_t params_before, params_after;   /* all constant elements */
    uint64_t nonzero_before, nonzero_after; /* over the weighted layers */
    uint64_t weights_before, weights_after; /* weight elements of the weighted layers */
    uint64_t macs_before, macs_after;       /* whole model */
    size_t const_bytes_before, const_bytes_after;
} ld_prune_report;

/* Prune `e` in place. Errors name e->file: LEANDET_ERR_ARGUMENT for a
 * sparsity outside [0, 1), LEANDET_ERR_UNSUPPORTED when nothing in the
 * model can be pruned (no constant float32/uint8/int8 conv or FC weights;
 * with structured, no conv whose readers can follow). */
leandet_status ld_prune(ld_edit *e, const ld_prune_options *o, ld_prune_report *r);

/* ---- shared by prune.c, prune_unstructured.c, prune_structured.c ---- */

/* 1 for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED. */
int ld_prune_is_weighted(int builtin);

/* Why the weights (input 1) of weighted op `op` cannot be pruned, or NULL. */
const char *ld_prune_weights_unusable(const ld_edit *e, int op);

/* Real values of constant tensor t (float copy for float32, dequantized
 * otherwise), in memory owned by the edit. */
leandet_status ld_prune_real(ld_edit *e, int t, float **out);

/* Output channel axis of the weights of `builtin` (0, or 3 for depthwise). */
int ld_prune_out_axis(int builtin);

/* Zero point of element `i` of tensor t (per-channel along its axis). */
int32_t ld_prune_zero_point(const ld_tensor_desc *t, size_t i);

/* Append a tensor (copy of *t) / insert an operator before position `at`;
 * the new index, or -1 with e->err set. */
int ld_prune_add_tensor(ld_edit *e, const ld_tensor_desc *t);
int ld_prune_insert_op(ld_edit *e, int at, const ld_op_desc *op);

/* Channels of a tensor that structured pruning keeps. */
typedef struct ld_prune_mask {
    uint8_t *keep; /* per channel */
    int kept, total;
} ld_prune_mask;

/* Before conv `op` loses the channels m drops: fold what they contribute
 * into the biases of the convs that read them (prune_compensate.c). */
leandet_status ld_prune_compensate(ld_edit *e, int op, const ld_prune_mask *m);

/* Calibration (prune_refit.c). Per reader op j (is_reader[j]): var[j] gets
 * the variance of each channel of its input over o->calibration's images,
 * run through o->source (memory owned by the edit; NULL elsewhere). */
leandet_status ld_prune_variances(ld_edit *e, const ld_prune_options *o, const uint8_t *is_reader, double **var);
/* Output energy reader `reader` loses without input channel ch: the
 * channel's variance times the squared weights that read it. */
double ld_prune_channel_cost(const ld_edit *e, double *const *var, int reader, int ch);
/* With masks[t] the channels each tensor keeps: zero the removed channels
 * (so the edit still runs with its original shapes), then refit every
 * reader op j (is_reader[j], input masked) in graph order by least squares
 * on the calibration images against the original model's pre-activation
 * outputs. *refitted: readers refitted, *images: images used. */
leandet_status ld_prune_refit(ld_edit *e, const ld_prune_options *o, ld_prune_mask *const *masks,
                              const uint8_t *is_reader, int *refitted, int *images);

leandet_status ld_prune_unstructured(ld_edit *e, double sparsity, ld_prune_report *r);
leandet_status ld_prune_structured(ld_edit *e, const ld_prune_options *o, ld_prune_report *r);
/* After the unstructured pass: store each pruned weight tensor sparse
 * behind a DENSIFY where that is smaller (sets the layers' `sparse`). */
leandet_status ld_prune_encode_sparse(ld_edit *e, ld_prune_report *r);

#endif

/* Per-layer accuracy report of a quantized model against its float source:
 * both run (reference kernels, every tensor kept) on the same images
 * through the detection front end, and each operator output of the
 * quantized model is compared, dequantized, with the float tensor of the
 * same name:
 *     SNR dB = 10 log10(sum x^2 / sum (x - q)^2)
 * with the sums over every element of every image (x float, q the
 * dequantized int8 value), clamped to [-LD_QR_SNR_CAP, LD_QR_SNR_CAP] (an
 * exact tensor scores the cap). QUANTIZE/DEQUANTIZE operators and custom
 * operators (the detection post-process, compared through the detections
 * instead) are left out. */
#ifndef LD_TOOLS_QUANT_REPORT_H
#define LD_TOOLS_QUANT_REPORT_H

#include <stddef.h>

#include "core/alloc.h"
#include "leandet.h"

#define LD_QR_SNR_CAP 120.0

typedef struct ld_qr_layer {
    int op;                /* operator index in the quantized model */
    int float_op;          /* index of the operator writing the float tensor in the float
                              model (what --keep-float #N names), or -1 */
    int builtin;
    int output;            /* which output of the operator */
    int kept_float;        /* the operator runs in float in the quantized model */
    const char *tensor;    /* the quantized model's tensor name (borrowed from it) */
    double signal, noise;  /* sum x^2, sum (x - q)^2 */
    double snr_db;
} ld_qr_layer;

typedef struct ld_qr_result {
    ld_qr_layer *layers;   /* worst SNR first */
    int n_layers;
    int images;
    /* Detections at the detector's default threshold, matched one to one
     * (same class, IoU >= 0.5, best score first). */
    int det_float, det_quant, det_matched;
    int unmatched;         /* operator outputs with no float tensor of that name and size */
} ld_qr_result;

/* Run both models on up to `count` images of `dir` (as calibration lists
 * them) and fill *out (memory from `a`; release with ld_qr_free). Errors:
 * the image directory (as ld_calib_list), no image that decodes, what the
 * sessions or detectors refuse. An output named "X_int8" (a graph output's
 * int8 twin) is compared with float "X". */
leandet_status ld_qr_run(const leandet_model *float_model, const leandet_model *quant_model,
                               const char *dir, int count, ld_alloc *a, ld_qr_result *out, leandet_error *err);
void ld_qr_free(ld_alloc *a, ld_qr_result *r);

#endif

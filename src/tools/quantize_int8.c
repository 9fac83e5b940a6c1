/* ld_quantize_int8: TensorFlow Lite's full-integer post-training
 * quantization from calibrated ranges. See quantize.h for the scheme.
 *
 * The graph is rebuilt in execution order. Every float32 activation has a
 * "native" form (int8 when an int8 operator writes it, float when a float
 * operator or a float graph input does); an operator that reads the other
 * form gets a twin tensor made by a QUANTIZE or DEQUANTIZE emitted just
 * before it, at most one per tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/ops.h"
#include "tools/quantize.h"
#include "tools/tflite_writer.h"

typedef struct qp {
    float scale;
    int32_t zp;
} qp;

typedef struct rw {
    ld_edit *e;
    const ld_int8_options *o;
    ld_quant_report *r;
    qp *p;                 /* activation parameters, per tensor */
    int *iv, *fv;          /* int8 / float version of each activation, or -1 */
    uint8_t *is_int;       /* per original operator */
    uint8_t *keep;         /* per tensor: written by an operator kept float */
    ld_op_desc *ops;       /* rebuilt operator list */
    int n_ops, cap_ops, cap_tensors;
} rw;

/* Operators run on int8, and the ones whose output must carry the input's
 * parameters (TensorFlow Lite's kernels do not rescale them). */
static int int8_version(int builtin, int *same_params)
{
    *same_params = 0;
    switch (builtin) {
    case LD_OP_CONV_2D: case LD_OP_DEPTHWISE_CONV_2D: return 3;
    case LD_OP_FULLY_CONNECTED: return 4;
    case LD_OP_ADD: case LD_OP_MUL: case LD_OP_CONCATENATION: case LD_OP_RELU: case LD_OP_RELU6:
    case LD_OP_LOGISTIC: case LD_OP_SOFTMAX: case LD_OP_RESIZE_BILINEAR: return 2;
    case LD_OP_PRELU: return 1;
    case LD_OP_MAX_POOL_2D: case LD_OP_AVERAGE_POOL_2D: case LD_OP_PAD: case LD_OP_TRANSPOSE:
    case LD_OP_STRIDED_SLICE: case LD_OP_RESIZE_NEAREST_NEIGHBOR:
        *same_params = 1;
        return 2;
    case LD_OP_RESHAPE: case LD_OP_SQUEEZE:
        *same_params = 1;
        return 1;
    default: return 0;
    }
}

static int is_activation(const ld_tensor_desc *t)
{
    return t->type == LEANDET_FLOAT32 && !t->data;
}

/* Does keep-float entry `s` name operator i: "#12" or "12" (index), the
 * operator's name (any case), or the name of one of its outputs? */
static int names_op(const ld_model_desc *m, int i, const char *s)
{
    const ld_op_desc *op = &m->ops[i];
    char nb[32];
    const char *digits = s[0] == '#' ? s + 1 : s;
    if (digits[0] >= '0' && digits[0] <= '9') {
        char *end;
        long v = strtol(digits, &end, 10);
        if (*end == '\0')
            return v == i;
    }
    if (strcasecmp(s, ld_op_name(op->builtin, nb, sizeof nb)) == 0)
        return 1;
    if (op->builtin == LD_OP_CUSTOM && op->custom_name && strcmp(s, op->custom_name) == 0)
        return 1;
    for (int j = 0; j < op->n_outputs; j++)
        if (op->outputs[j] >= 0 && strcmp(s, m->tensors[op->outputs[j]].name) == 0)
            return 1;
    return 0;
}

/* Mark the outputs of every operator kept float, by the operator numbers
 * of the model as given (before float16 weights are folded, which removes
 * operators but keeps tensor numbers). An entry naming nothing is refused. */
static leandet_status resolve_keep(rw *w)
{
    const ld_model_desc *m = &w->e->m;
    for (int k = 0; k < w->o->n_keep_float; k++) {
        const char *s = w->o->keep_float[k];
        int hits = 0;
        for (int i = 0; i < m->n_ops; i++) {
            if (!names_op(m, i, s))
                continue;
            hits++;
            for (int j = 0; j < m->ops[i].n_outputs; j++)
                if (m->ops[i].outputs[j] >= 0)
                    w->keep[m->ops[i].outputs[j]] = 1;
        }
        if (!hits)
            return ld_fail(w->e->err, LEANDET_ERR_ARGUMENT,
                           "%s: --keep-float '%s' names no operator (give an operator index such as #12 "
                           "(0..%d), an operator name such as LOGISTIC, or an output tensor's name)",
                           w->e->file, s, m->n_ops - 1);
    }
    return LEANDET_OK;
}

static int kept_float(const rw *w, int i)
{
    const ld_op_desc *op = &w->e->m.ops[i];
    return op->n_outputs > 0 && op->outputs[0] >= 0 && w->keep[op->outputs[0]];
}

/* A DEQUANTIZE of a float16 constant, which ld_quant_fold_float16 folds. */
static int foldable_f16(const ld_edit *e, const ld_op_desc *op)
{
    if (op->builtin != LD_OP_DEQUANTIZE || op->n_inputs != 1 || op->n_outputs != 1 || op->inputs[0] < 0)
        return 0;
    const ld_tensor_desc *t = &e->m.tensors[op->inputs[0]];
    return t->type == LEANDET_FLOAT16 && t->data && !t->sparsity && !ld_edit_is_output(e, op->outputs[0]);
}

/* Float16 tensor t is only ever expanded by foldable DEQUANTIZEs. */
static int f16_folds(const ld_edit *e, int t)
{
    if (ld_edit_is_output(e, t) || ld_edit_is_input(e, t))
        return 0;
    for (int i = 0; i < e->m.n_ops; i++)
        for (int k = 0; k < e->m.ops[i].n_inputs; k++)
            if (e->m.ops[i].inputs[k] == t && !foldable_f16(e, &e->m.ops[i]))
                return 0;
    return 1;
}

/* Refuse what cannot become int8. Runs before and after float16 weights
 * are folded (the first run names operators by their original index). */
static leandet_status check_model(rw *w)
{
    ld_edit *e = w->e;
    const ld_model_desc *m = &e->m;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        if ((t->quant.count > 0 && (t->type == LEANDET_UINT8 || t->type == LEANDET_INT8 || t->type == LEANDET_INT16)) ||
            (t->type == LEANDET_FLOAT16 && !f16_folds(e, i)))
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: tensor %d '%s' is %s%s; int8 quantization takes a float32 model "
                           "(dequantize it first with leandet dequantize)",
                           e->file, i, t->name, leandet_dtype_name(t->type),
                           t->type == LEANDET_FLOAT16 ? " read by something other than DEQUANTIZE"
                                                      : " with a scale: the model is already quantized");
    }
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        char nb[32];
        const char *name = ld_op_name(op->builtin, nb, sizeof nb);
        int same;
        if (!ld_tflite_writer_knows(op->builtin))
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: operator %d is %s (builtin %d), which the quantizer does not know", e->file, i,
                           name, op->builtin);
        int keep = kept_float(w, i);
        if (foldable_f16(e, op))
            continue;
        if (op->builtin == LD_OP_CUSTOM) {
            /* The detection post-process stays float behind DEQUANTIZE. */
            if (!keep && (!op->custom_name || strcmp(op->custom_name, "TFLite_Detection_PostProcess") != 0))
                return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                               "%s: operator %d is custom '%s', which has no int8 form (--keep-float #%d keeps it "
                               "float)",
                               e->file, i, op->custom_name ? op->custom_name : "", i);
            continue;
        }
        if (!keep && !int8_version(op->builtin, &same))
            return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED,
                           "%s: operator %d is %s, which has no int8 form here (--keep-float %s keeps it float)",
                           e->file, i, name, name);
        w->is_int[i] = (uint8_t)!keep;
    }
    return LEANDET_OK;
}

/* Asymmetric int8 from a range widened to hold 0, as TensorFlow Lite's
 * converter: scale = (max - min) / 255, zero point = round(-128 - min /
 * scale) within [-128, 127]. */
static qp range_params(float min, float max)
{
    if (min > 0.0f)
        min = 0.0f;
    if (max < 0.0f)
        max = 0.0f;
    qp q;
    q.scale = max > min ? (max - min) / 255.0f : 1.0f / 256.0f;
    float z = roundf(-128.0f - min / q.scale);
    q.zp = z < -128.0f ? -128 : z > 127.0f ? 127 : (int32_t)z;
    return q;
}

/* Output parameters fixed by the operator: LOGISTIC and SOFTMAX a fixed
 * range, the pass-through operators their input's. */
static void forward_params(rw *w)
{
    const ld_model_desc *m = &w->e->m;
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        int same;
        if (!w->is_int[i] || !int8_version(op->builtin, &same))
            continue;
        for (int k = 0; k < op->n_outputs; k++) {
            int t = op->outputs[k];
            if (t < 0 || !is_activation(&m->tensors[t]))
                continue;
            if (op->builtin == LD_OP_LOGISTIC || op->builtin == LD_OP_SOFTMAX) {
                w->p[t].scale = 1.0f / 256.0f;
                w->p[t].zp = -128;
            } else if (same && op->n_inputs > 0 && op->inputs[0] >= 0) {
                w->p[t] = w->p[op->inputs[0]];
            }
        }
    }
}

/* Give tensor t parameters q, and the inputs of the pass-through operators
 * that wrote it too. */
static void force_params(rw *w, int t, qp q, int depth)
{
    w->p[t] = q;
    int j = ld_edit_producer(w->e, t), same;
    if (depth < 64 && j >= 0 && w->is_int[j] && int8_version(w->e->m.ops[j].builtin, &same) && same &&
        w->e->m.ops[j].inputs[0] >= 0 && is_activation(&w->e->m.tensors[w->e->m.ops[j].inputs[0]]))
        force_params(w, w->e->m.ops[j].inputs[0], q, depth + 1);
}

/* TensorFlow Lite's int8 CONCATENATION wants every input at the output's
 * parameters: one range covering all of them. */
static void concat_params(rw *w)
{
    const ld_model_desc *m = &w->e->m;
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        if (!w->is_int[i] || op->builtin != LD_OP_CONCATENATION || op->n_outputs != 1)
            continue;
        float lo = 0.0f, hi = 0.0f;
        for (int k = -1; k < op->n_inputs; k++) {
            int t = k < 0 ? op->outputs[0] : op->inputs[k];
            if (t < 0 || !is_activation(&m->tensors[t]))
                continue;
            float a = w->p[t].scale * (float)(-128 - w->p[t].zp), b = w->p[t].scale * (float)(127 - w->p[t].zp);
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
        qp q = range_params(lo, hi);
        for (int k = -1; k < op->n_inputs; k++) {
            int t = k < 0 ? op->outputs[0] : op->inputs[k];
            if (t >= 0 && is_activation(&m->tensors[t]))
                force_params(w, t, q, 0);
        }
    }
}

static leandet_status activation_params(rw *w)
{
    ld_edit *e = w->e;
    const ld_model_desc *m = &e->m;
    for (int t = 0; t < m->n_tensors; t++) {
        const ld_calib_range *c = &w->o->ranges[t];
        if (!is_activation(&m->tensors[t]))
            continue;
        if (!c->seen)
            return ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: tensor %d '%s' was not observed during calibration",
                           e->file, t, m->tensors[t].name);
        w->p[t] = range_params(c->min, c->max);
    }
    forward_params(w);
    concat_params(w);
    forward_params(w);
    return LEANDET_OK;
}

static leandet_status set_q(rw *w, int t, qp q)
{
    return ld_edit_set_quant(w->e, t, 1, 0, &q.scale, &q.zp);
}

/* A new tensor like t (shape, name + suffix) of `type`, not constant. */
static int new_tensor(rw *w, int t, ld_dtype type, const char *suffix)
{
    ld_edit *e = w->e;
    if (e->m.n_tensors >= w->cap_tensors) {
        ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: tensor table full", e->file);
        return -1;
    }
    const ld_tensor_desc *src = &e->m.tensors[t];
    size_t len = strlen(src->name) + strlen(suffix) + 1;
    char *name = ld_edit_alloc(e, len, 1, "tensor name");
    if (!name)
        return -1;
    snprintf(name, len, "%s%s", src->name, suffix);
    int n = e->m.n_tensors++;
    ld_tensor_desc *d = &e->m.tensors[n];
    memset(d, 0, sizeof *d);
    d->name = name;
    d->type = type;
    d->shape = src->shape;
    d->buffer = 0;
    w->iv[n] = w->fv[n] = -1;
    w->p[n] = w->p[t];
    return n;
}

static leandet_status emit(rw *w, const ld_op_desc *op)
{
    if (w->n_ops >= w->cap_ops)
        return ld_fail(w->e->err, LEANDET_ERR_INTERNAL, "%s: operator table full", w->e->file);
    w->ops[w->n_ops++] = *op;
    return LEANDET_OK;
}

/* Emit builtin (QUANTIZE or DEQUANTIZE) from -> to. */
static leandet_status emit_convert(rw *w, int builtin, int version, int from, int to)
{
    ld_op_desc op;
    memset(&op, 0, sizeof op);
    op.builtin = builtin;
    op.version = version;
    op.n_inputs = op.n_outputs = 1;
    op.inputs = ld_edit_alloc(w->e, 2, sizeof(int32_t), "operator tensors");
    if (!op.inputs)
        return LEANDET_ERR_NO_MEMORY;
    op.outputs = op.inputs + 1;
    op.inputs[0] = from;
    op.outputs[0] = to;
    w->r->added_ops++;
    return emit(w, &op);
}

static int int_version(rw *w, int t, leandet_status *st)
{
    if (w->iv[t] >= 0)
        return w->iv[t];
    int n = new_tensor(w, t, LEANDET_INT8, "_int8");
    if (n < 0 || (*st = set_q(w, n, w->p[t])) != LEANDET_OK ||
        (*st = emit_convert(w, LD_OP_QUANTIZE, w->e->m.tensors[t].type == LEANDET_FLOAT32 ? 1 : 2, t, n)) !=
            LEANDET_OK) {
        if (*st == LEANDET_OK)
            *st = LEANDET_ERR_NO_MEMORY;
        return -1;
    }
    w->iv[t] = n;
    return n;
}

static int float_version(rw *w, int t, leandet_status *st)
{
    if (w->fv[t] >= 0)
        return w->fv[t];
    int n = new_tensor(w, t, LEANDET_FLOAT32, "_float");
    if (n < 0 || (*st = emit_convert(w, LD_OP_DEQUANTIZE, 2, t, n)) != LEANDET_OK) {
        if (*st == LEANDET_OK)
            *st = LEANDET_ERR_NO_MEMORY;
        return -1;
    }
    w->fv[t] = n;
    return n;
}

/* Symmetric int8 weights, one scale per slice along `axis` (axis -1: one
 * for the whole tensor): max |w| / 127, values in [-127, 127]. */
static leandet_status quantize_weights(rw *w, int t, int axis)
{
    ld_edit *e = w->e;
    ld_tensor_desc *td = &e->m.tensors[t];
    const float *v = td->data;
    const ld_shape *s = &td->shape;
    size_t total = ld_shape_count(s), channels = axis < 0 ? 1 : (size_t)s->d[axis], inner = 1;
    for (int d = axis + 1; axis >= 0 && d < s->rank; d++)
        inner *= (size_t)s->d[d];
    if (axis < 0)
        inner = total;
    float *scale = ld_edit_alloc(e, channels, sizeof *scale, "weight scales");
    int32_t *zp = ld_edit_alloc(e, channels, sizeof *zp, "weight zero points");
    int8_t *q = ld_edit_alloc(e, total, 1, "int8 weights");
    if (!scale || !zp || !q)
        return LEANDET_ERR_NO_MEMORY;
    for (size_t i = 0; i < total; i++) {
        size_t ch = (i / inner) % channels;
        float a = fabsf(v[i]);
        if (!isfinite(a))
            return ld_fail(e->err, LEANDET_ERR_MODEL, "%s: weights %d '%s' hold a non-finite value", e->file, t,
                           td->name);
        if (a > scale[ch])
            scale[ch] = a;
    }
    for (size_t ch = 0; ch < channels; ch++)
        scale[ch] = scale[ch] > 0.0f ? scale[ch] / 127.0f : 1.0f;
    for (size_t i = 0; i < total; i++) {
        float x = roundf(v[i] / scale[(i / inner) % channels]);
        q[i] = (int8_t)(x > 127.0f ? 127 : x < -127.0f ? -127 : (int)x);
    }
    leandet_status st = ld_edit_set_quant(e, t, (int)channels, axis < 0 ? 0 : axis, scale, zp);
    td->type = LEANDET_INT8;
    td->data = q;
    td->data_bytes = total;
    w->r->weights++;
    return st;
}

/* int32 bias: scale input scale * weight scale (per channel), zero point 0. */
static leandet_status quantize_bias(rw *w, int t, int in, const ld_quant *wq)
{
    ld_edit *e = w->e;
    if (in < 0 || e->m.tensors[in].quant.count != 1)
        return ld_fail(e->err, LEANDET_ERR_MODEL, "%s: bias %d '%s': the operator's input is not int8", e->file, t,
                       e->m.tensors[t].name);
    const float in_scale = e->m.tensors[in].quant.scale[0];
    ld_tensor_desc *td = &e->m.tensors[t];
    size_t n = ld_shape_count(&td->shape);
    if (wq->count != 1 && (size_t)wq->count != n)
        return ld_fail(e->err, LEANDET_ERR_MODEL, "%s: bias %d '%s' has %zu values for %d weight scales", e->file,
                       t, td->name, n, wq->count);
    const float *v = td->data;
    float *scale = ld_edit_alloc(e, n, sizeof *scale, "bias scales");
    int32_t *zp = ld_edit_alloc(e, n, sizeof *zp, "bias zero points");
    int32_t *q = ld_edit_alloc(e, n, sizeof *q, "int32 bias");
    if (!scale || !zp || !q)
        return LEANDET_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        scale[i] = in_scale * wq->scale[wq->count == 1 ? 0 : i];
        double x = round((double)v[i] / scale[i]);
        q[i] = (int32_t)(x > 2147483647.0 ? 2147483647.0 : x < -2147483647.0 ? -2147483647.0 : x);
    }
    leandet_status st = ld_edit_set_quant(e, t, wq->count == 1 ? 1 : (int)n, 0, scale, zp);
    td->type = LEANDET_INT32;
    td->data = q;
    td->data_bytes = n * sizeof *q;
    w->r->weights++;
    return st;
}

/* Other float constants an int8 operator reads: asymmetric per tensor,
 * from their own range or at parameters *fixed (CONCATENATION's). */
static leandet_status quantize_const(rw *w, int t, const qp *fixed)
{
    ld_edit *e = w->e;
    ld_tensor_desc *td = &e->m.tensors[t];
    size_t n = ld_shape_count(&td->shape);
    const float *v = td->data;
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    qp p = fixed ? *fixed : range_params(lo, hi);
    int8_t *q = ld_edit_alloc(e, n, 1, "int8 constant");
    if (!q)
        return LEANDET_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        float x = roundf(v[i] / p.scale) + (float)p.zp;
        q[i] = (int8_t)(x > 127.0f ? 127 : x < -128.0f ? -128 : (int)x);
    }
    td->type = LEANDET_INT8;
    td->data = q;
    td->data_bytes = n;
    w->r->weights++;
    return set_q(w, t, p);
}

/* Make *t (an int8 tensor) carry parameters q: when the sharing of
 * parameters could not reach it (a LOGISTIC output, a tensor feeding two
 * concatenations), a requantizing QUANTIZE int8 -> int8 is put in front. */
static leandet_status match_params(rw *w, int *t, qp q)
{
    const ld_tensor_desc *td = &w->e->m.tensors[*t];
    if (td->quant.count == 1 && td->quant.scale[0] == q.scale && td->quant.zero_point[0] == q.zp)
        return LEANDET_OK;
    leandet_status st = LEANDET_OK;
    int n = new_tensor(w, *t, LEANDET_INT8, "_requant");
    if (n < 0 || (st = set_q(w, n, q)) != LEANDET_OK || (st = emit_convert(w, LD_OP_QUANTIZE, 2, *t, n)) != LEANDET_OK)
        return st == LEANDET_OK ? LEANDET_ERR_NO_MEMORY : st;
    *t = n;
    return LEANDET_OK;
}

static int weight_axis(int builtin)
{
    return builtin == LD_OP_CONV_2D ? 0 : builtin == LD_OP_DEPTHWISE_CONV_2D ? 3 : -1;
}

static leandet_status int_op(rw *w, ld_op_desc *op)
{
    ld_edit *e = w->e;
    leandet_status st = LEANDET_OK;
    int same;
    int v = int8_version(op->builtin, &same);
    op->version = v > op->version ? v : op->version;
    /* TensorFlow Lite's int8 CONCATENATION copies bytes: every input must
     * carry the output's parameters. */
    const int same_in = op->builtin == LD_OP_CONCATENATION && op->n_outputs == 1 && op->outputs[0] >= 0;
    int weighted = op->builtin == LD_OP_CONV_2D || op->builtin == LD_OP_DEPTHWISE_CONV_2D ||
                   op->builtin == LD_OP_FULLY_CONNECTED;
    for (int k = 0; k < op->n_inputs; k++) {
        int t = op->inputs[k];
        if (t < 0)
            continue;
        ld_tensor_desc *td = &e->m.tensors[t];
        if (!td->data) {
            if (td->type == LEANDET_FLOAT32 || w->iv[t] >= 0 || td->type == LEANDET_UINT8)
                if ((op->inputs[k] = int_version(w, t, &st)) < 0)
                    return st;
            continue;
        }
        if (td->type != LEANDET_FLOAT32)
            continue; /* int32 shapes, paddings; or a constant already quantized */
        if (weighted && k == 1)
            st = quantize_weights(w, t, weight_axis(op->builtin));
        else if (weighted && k == 2 && op->inputs[1] >= 0)
            st = quantize_bias(w, t, op->inputs[0], &e->m.tensors[op->inputs[1]].quant);
        else
            st = quantize_const(w, t, same_in ? &w->p[op->outputs[0]] : NULL);
        if (st != LEANDET_OK)
            return st;
    }
    for (int k = 0; same_in && k < op->n_inputs; k++)
        if (op->inputs[k] >= 0 && (st = match_params(w, &op->inputs[k], w->p[op->outputs[0]])) != LEANDET_OK)
            return st;
    /* Outputs: int8; a float graph output gets an int8 twin and a DEQUANTIZE. */
    int deq[8], n_deq = 0;
    for (int k = 0; k < op->n_outputs; k++) {
        int t = op->outputs[k];
        if (t < 0 || e->m.tensors[t].type != LEANDET_FLOAT32)
            continue;
        if (ld_edit_is_output(e, t) && w->o->io != LD_IO_INT8) {
            int n = new_tensor(w, t, LEANDET_INT8, "_int8");
            if (n < 0)
                return LEANDET_ERR_NO_MEMORY;
            if ((st = set_q(w, n, w->p[t])) != LEANDET_OK)
                return st;
            op->outputs[k] = n;
            w->iv[t] = n;
            if (n_deq == 8)
                return ld_fail(e->err, LEANDET_ERR_UNSUPPORTED, "%s: an operator writes more than 8 graph outputs",
                               e->file);
            deq[n_deq++] = t;
        } else {
            e->m.tensors[t].type = LEANDET_INT8;
            if ((st = set_q(w, t, w->p[t])) != LEANDET_OK)
                return st;
            w->iv[t] = t;
            w->fv[t] = -1;
        }
    }
    if ((st = emit(w, op)) != LEANDET_OK)
        return st;
    w->r->hybrid_ops++;
    for (int k = 0; k < n_deq; k++) {
        int t = deq[k];
        if (w->o->io == LD_IO_UINT8) {
            qp u = {w->p[t].scale, w->p[t].zp + 128};
            e->m.tensors[t].type = LEANDET_UINT8;
            if ((st = set_q(w, t, u)) != LEANDET_OK ||
                (st = emit_convert(w, LD_OP_QUANTIZE, 2, w->iv[t], t)) != LEANDET_OK)
                return st;
        } else {
            w->fv[t] = t;
            if ((st = emit_convert(w, LD_OP_DEQUANTIZE, 2, w->iv[t], t)) != LEANDET_OK)
                return st;
        }
    }
    return LEANDET_OK;
}

static leandet_status float_op(rw *w, ld_op_desc *op)
{
    leandet_status st = LEANDET_OK;
    for (int k = 0; k < op->n_inputs; k++) {
        int t = op->inputs[k];
        if (t < 0 || w->e->m.tensors[t].data || w->e->m.tensors[t].type == LEANDET_FLOAT32 ||
            w->e->m.tensors[t].quant.count == 0)
            continue;
        if ((op->inputs[k] = float_version(w, t, &st)) < 0)
            return st;
    }
    return emit(w, op);
}

static leandet_status graph_inputs(rw *w)
{
    ld_edit *e = w->e;
    for (int i = 0; i < e->m.n_inputs; i++) {
        int t = e->m.inputs[i];
        ld_tensor_desc *td = &e->m.tensors[t];
        if (!is_activation(td))
            continue;
        if (!w->o->ranges[t].seen)
            return ld_fail(e->err, LEANDET_ERR_INTERNAL, "%s: input '%s' was not observed", e->file, td->name);
        if (w->o->io == LD_IO_FLOAT) {
            w->fv[t] = t;
            continue;
        }
        qp q = w->p[t];
        if (w->o->io == LD_IO_UINT8)
            q.zp += 128;
        td->type = w->o->io == LD_IO_UINT8 ? LEANDET_UINT8 : LEANDET_INT8;
        leandet_status st = set_q(w, t, q);
        if (st != LEANDET_OK)
            return st;
        if (w->o->io == LD_IO_INT8)
            w->iv[t] = t;
    }
    return LEANDET_OK;
}

static leandet_status grow_tables(rw *w)
{
    ld_edit *e = w->e;
    ld_model_desc *m = &e->m;
    w->cap_tensors = 2 * m->n_tensors + 2;
    w->cap_ops = m->n_ops + 2 * m->n_tensors + 2;
    ld_tensor_desc *t = ld_edit_alloc(e, (size_t)w->cap_tensors, sizeof *t, "tensors");
    w->p = ld_edit_alloc(e, (size_t)w->cap_tensors, sizeof *w->p, "activation parameters");
    w->iv = ld_edit_alloc(e, (size_t)w->cap_tensors, sizeof(int), "int8 versions");
    w->fv = ld_edit_alloc(e, (size_t)w->cap_tensors, sizeof(int), "float versions");
    w->is_int = ld_edit_alloc(e, (size_t)m->n_ops, 1, "operator kinds");
    w->keep = ld_edit_alloc(e, (size_t)w->cap_tensors, 1, "kept-float marks");
    w->ops = ld_edit_alloc(e, (size_t)w->cap_ops, sizeof *w->ops, "operators");
    if (!t || !w->p || !w->iv || !w->fv || !w->is_int || !w->keep || !w->ops)
        return LEANDET_ERR_NO_MEMORY;
    memcpy(t, m->tensors, (size_t)m->n_tensors * sizeof *t);
    m->tensors = t;
    for (int i = 0; i < w->cap_tensors; i++)
        w->iv[i] = w->fv[i] = -1;
    for (int i = 0; i < m->n_tensors; i++)
        if (is_activation(&t[i]))
            w->fv[i] = t[i].type == LEANDET_FLOAT32 ? i : -1;
    return LEANDET_OK;
}

leandet_status ld_quantize_int8_check(ld_edit *e, const ld_int8_options *o)
{
    rw w;
    memset(&w, 0, sizeof w);
    w.e = e;
    w.o = o;
    leandet_status st = grow_tables(&w);
    if (st == LEANDET_OK)
        st = resolve_keep(&w);
    if (st == LEANDET_OK)
        st = check_model(&w);
    return st;
}

leandet_status ld_quantize_int8(ld_edit *e, const ld_int8_options *o, ld_quant_report *r)
{
    memset(r, 0, sizeof *r);
    r->const_bytes_before = ld_quant_const_bytes(&e->m);
    rw w;
    memset(&w, 0, sizeof w);
    w.e = e;
    w.o = o;
    w.r = r;
    leandet_status st = grow_tables(&w);
    if (st == LEANDET_OK)
        st = resolve_keep(&w);
    if (st == LEANDET_OK)
        st = check_model(&w);
    if (st == LEANDET_OK)
        st = ld_quant_fold_float16(e, r);
    if (st == LEANDET_OK)
        memset(w.is_int, 0, (size_t)e->m.n_ops);
    if (st == LEANDET_OK)
        st = check_model(&w);
    if (st == LEANDET_OK)
        st = activation_params(&w);
    if (st == LEANDET_OK)
        st = graph_inputs(&w);
    for (int i = 0; st == LEANDET_OK && i < e->m.n_ops; i++) {
        ld_op_desc op = e->m.ops[i];
        st = w.is_int[i] ? int_op(&w, &op) : float_op(&w, &op);
    }
    if (st != LEANDET_OK)
        return st;
    e->m.ops = w.ops;
    e->m.n_ops = w.n_ops;
    if ((st = ld_edit_compact(e)) != LEANDET_OK)
        return st;
    r->const_bytes_after = ld_quant_const_bytes(&e->m);
    return LEANDET_OK;
}

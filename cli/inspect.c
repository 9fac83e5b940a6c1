/* leandet inspect: what a model is made of — inputs, outputs, operators,
 * parameters and how each operator is quantized — as text or JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "json.h"
#include "leandet.h"
#include "model/ops.h"
#include "runtime/model_internal.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: leandet inspect [--json] [--ops] MODEL.tflite\n\n"
               "Describe a TensorFlow Lite model: inputs and outputs (shape, type, quantization),\n"
               "operator counts with the quantization mode of each, tensors, parameters, weight bytes.\n\n"
               "  --json   one JSON object instead of text\n"
               "  --ops    also list every operator with its tensors and options\n"
               "  --help   this text\n\n"
               "Quantization modes: float, float16 (float16 weights expanded by DEQUANTIZE),\n"
               "hybrid (int8 weights, float activations), uint8, int8, int16.\n");
}

/* ---- quantization mode of an operator ------------------------------------ */

typedef enum { MODE_FLOAT, MODE_FLOAT16, MODE_HYBRID, MODE_UINT8, MODE_INT8, MODE_INT16, MODE_OTHER, MODE_N } mode;

static const char *const mode_names[MODE_N] = {"float", "float16", "hybrid", "uint8", "int8", "int16", "other"};

typedef struct facts {
    int has_f32, has_u8, has_i8, has_i16; /* activation types */
    int w_f16, w_int;                     /* weight types */
} facts;

/* A weight is a constant input, or the output of a DEQUANTIZE of a constant
 * (how float16 and weight-only int8 models store their weights). */
static const ld_tensor_desc *weight_source(const ld_model_desc *m, const int *producer, int t)
{
    const ld_tensor_desc *d = &m->tensors[t];
    if (d->data)
        return d;
    int p = producer[t];
    if (p >= 0 && m->ops[p].builtin == LD_OP_DEQUANTIZE && m->ops[p].n_inputs > 0 && m->ops[p].inputs[0] >= 0) {
        const ld_tensor_desc *src = &m->tensors[m->ops[p].inputs[0]];
        if (src->data)
            return src;
    }
    return NULL;
}

static void note_activation(facts *f, ld_dtype t)
{
    f->has_f32 |= t == LEANDET_FLOAT32;
    f->has_u8 |= t == LEANDET_UINT8;
    f->has_i8 |= t == LEANDET_INT8;
    f->has_i16 |= t == LEANDET_INT16;
}

static mode op_mode(const ld_model_desc *m, const int *producer, const ld_op_desc *op)
{
    facts f = {0};
    for (int k = 0; k < op->n_inputs; k++) {
        if (op->inputs[k] < 0)
            continue;
        const ld_tensor_desc *w = weight_source(m, producer, op->inputs[k]);
        if (w) {
            f.w_f16 |= w->type == LEANDET_FLOAT16;
            f.w_int |= w->type == LEANDET_INT8 || w->type == LEANDET_UINT8;
        } else {
            note_activation(&f, m->tensors[op->inputs[k]].type);
        }
    }
    for (int k = 0; k < op->n_outputs; k++)
        note_activation(&f, m->tensors[op->outputs[k]].type);
    if (f.w_f16)
        return MODE_FLOAT16;
    if (f.has_i8)
        return MODE_INT8;
    if (f.has_u8)
        return MODE_UINT8;
    if (f.has_i16)
        return MODE_INT16;
    if (f.has_f32)
        return f.w_int ? MODE_HYBRID : MODE_FLOAT;
    return MODE_OTHER;
}

/* ---- what the report is made of ----------------------------------------- */

typedef struct group {
    const ld_op_desc *first;
    mode mode;
    int count;
} group;

typedef struct report {
    const ld_model_desc *m;
    int *producer;         /* op producing each tensor, -1 if none */
    mode *modes;           /* per op */
    group *groups;
    int n_groups;
    int mode_count[MODE_N];
    int constants, variables, per_channel;
    uint64_t parameters, weight_bytes;
    char summary[160];
    const char *model_mode, *granularity;
} report;

static int same_kind(const ld_op_desc *a, const ld_op_desc *b)
{
    if (a->builtin != b->builtin)
        return 0;
    return a->builtin != LD_OP_CUSTOM || strcmp(a->custom_name, b->custom_name) == 0;
}

static const char *op_label(const ld_op_desc *op, char *buf, int n)
{
    return op->builtin == LD_OP_CUSTOM ? op->custom_name : ld_op_name(op->builtin, buf, n);
}

static void summarize(report *r)
{
    int *c = r->mode_count, quant = c[MODE_UINT8] + c[MODE_INT8] + c[MODE_INT16];
    int flt = c[MODE_FLOAT] + c[MODE_FLOAT16] + c[MODE_HYBRID];
    r->granularity = r->per_channel ? "per-channel" : "per-tensor";
    if (quant == 0 && flt == 0) {
        r->model_mode = "other";
    } else if (quant == 0) {
        r->model_mode = c[MODE_HYBRID] ? "hybrid" : c[MODE_FLOAT16] ? "float16" : "float";
    } else if (flt == 0 && (c[MODE_UINT8] == quant || c[MODE_INT8] == quant || c[MODE_INT16] == quant)) {
        r->model_mode = c[MODE_UINT8] ? "uint8" : c[MODE_INT8] ? "int8" : "int16";
    } else {
        r->model_mode = "mixed";
    }
    if (strcmp(r->model_mode, "float16") == 0)
        snprintf(r->summary, sizeof r->summary, "float16 (float16 weights, expanded to float32 by DEQUANTIZE)");
    else if (strcmp(r->model_mode, "hybrid") == 0)
        snprintf(r->summary, sizeof r->summary, "hybrid (int8 weights, float activations, %s)", r->granularity);
    else if (quant && strcmp(r->model_mode, "mixed") != 0)
        snprintf(r->summary, sizeof r->summary, "%s (%s)", r->model_mode, r->granularity);
    else if (strcmp(r->model_mode, "mixed") == 0) {
        size_t k = (size_t)snprintf(r->summary, sizeof r->summary, "mixed (");
        const char *sep = "";
        for (int i = 0; i < MODE_N && k < sizeof r->summary; i++)
            if (c[i]) {
                k += (size_t)snprintf(r->summary + k, sizeof r->summary - k, "%s%d %s", sep, c[i], mode_names[i]);
                sep = ", ";
            }
        if (k < sizeof r->summary)
            snprintf(r->summary + k, sizeof r->summary - k, ")");
    } else
        snprintf(r->summary, sizeof r->summary, "%s", r->model_mode);
}

static int build_report(const ld_model_desc *m, report *r)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    size_t nt = (size_t)m->n_tensors + 1, no = (size_t)m->n_ops + 1;
    r->producer = malloc(nt * sizeof *r->producer);
    r->modes = malloc(no * sizeof *r->modes);
    r->groups = malloc(no * sizeof *r->groups);
    if (!r->producer || !r->modes || !r->groups)
        return 0;
    for (int i = 0; i < m->n_tensors; i++)
        r->producer[i] = -1;
    for (int i = 0; i < m->n_ops; i++)
        for (int k = 0; k < m->ops[i].n_outputs; k++)
            r->producer[m->ops[i].outputs[k]] = i;

    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        mode md = op_mode(m, r->producer, op);
        r->modes[i] = md;
        r->mode_count[md]++;
        int g = 0;
        while (g < r->n_groups && !(same_kind(r->groups[g].first, op) && r->groups[g].mode == md))
            g++;
        if (g == r->n_groups)
            r->groups[r->n_groups++] = (group){op, md, 0};
        r->groups[g].count++;
    }
    /* Weight bytes count each buffer once (tensors may share one). */
    int max_buffer = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].buffer > max_buffer)
            max_buffer = m->tensors[i].buffer;
    unsigned char *seen = calloc((size_t)max_buffer + 1, 1);
    if (!seen)
        return 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        r->variables += t->is_variable;
        if (!t->data)
            continue;
        r->constants++;
        r->parameters += t->sparsity ? t->data_bytes / (leandet_dtype_size(t->type) ? leandet_dtype_size(t->type) : 1)
                                     : ld_shape_count(&t->shape);
        r->per_channel |= t->quant.count > 1;
        if (!seen[t->buffer])
            r->weight_bytes += t->data_bytes;
        seen[t->buffer] = 1;
    }
    free(seen);
    summarize(r);
    return 1;
}

static void free_report(report *r)
{
    free(r->producer);
    free(r->modes);
    free(r->groups);
}

/* ---- operator options as key/value pairs (shared by text and JSON) ------- */

typedef struct kv {
    const char *key;
    char val[96];
    int is_str;
} kv;

typedef struct kvs {
    kv item[16];
    int n;
} kvs;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void add(kvs *k, const char *key, int is_str, const char *fmt, ...)
{
    if (k->n >= (int)(sizeof k->item / sizeof k->item[0]))
        return;
    kv *e = &k->item[k->n++];
    e->key = key;
    e->is_str = is_str;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->val, sizeof e->val, fmt, ap);
    va_end(ap);
}

static const char *act_name(ld_activation a)
{
    static const char *const n[] = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"};
    return (unsigned)a < 6 ? n[a] : "?";
}

static void add_list(kvs *k, const char *key, const int32_t *v, int n)
{
    char buf[96];
    size_t len = (size_t)snprintf(buf, sizeof buf, "[");
    for (int i = 0; i < n && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, i ? ",%d" : "%d", v[i]);
    if (len < sizeof buf)
        snprintf(buf + len, sizeof buf - len, "]");
    add(k, key, 0, "%s", buf);
}

static void op_params(const ld_op_desc *op, kvs *k)
{
    const ld_op_params *p = &op->params;
    k->n = 0;
    switch (op->builtin) {
    case LD_OP_CONV_2D:
    case LD_OP_DEPTHWISE_CONV_2D:
        add(k, "padding", 1, "%s", p->conv.padding == LD_PAD_SAME ? "SAME" : "VALID");
        add(k, "stride_w", 0, "%d", p->conv.stride_w);
        add(k, "stride_h", 0, "%d", p->conv.stride_h);
        add(k, "dilation_w", 0, "%d", p->conv.dilation_w);
        add(k, "dilation_h", 0, "%d", p->conv.dilation_h);
        if (op->builtin == LD_OP_DEPTHWISE_CONV_2D)
            add(k, "depth_multiplier", 0, "%d", p->conv.depth_multiplier);
        add(k, "activation", 1, "%s", act_name(p->conv.act));
        break;
    case LD_OP_AVERAGE_POOL_2D:
    case LD_OP_MAX_POOL_2D:
        add(k, "padding", 1, "%s", p->pool.padding == LD_PAD_SAME ? "SAME" : "VALID");
        add(k, "stride_w", 0, "%d", p->pool.stride_w);
        add(k, "stride_h", 0, "%d", p->pool.stride_h);
        add(k, "filter_w", 0, "%d", p->pool.filter_w);
        add(k, "filter_h", 0, "%d", p->pool.filter_h);
        add(k, "activation", 1, "%s", act_name(p->pool.act));
        break;
    case LD_OP_FULLY_CONNECTED:
        add(k, "activation", 1, "%s", act_name(p->fc.act));
        add(k, "weights_format", 0, "%d", p->fc.weights_format);
        add(k, "keep_num_dims", 0, "%s", p->fc.keep_num_dims ? "true" : "false");
        add(k, "asymmetric_quantize_inputs", 0, "%s", p->fc.asymmetric_quantize_inputs ? "true" : "false");
        break;
    case LD_OP_ADD:
    case LD_OP_SUB:
    case LD_OP_MUL:
        add(k, "activation", 1, "%s", act_name(p->arith.act));
        break;
    case LD_OP_CONCATENATION:
        add(k, "axis", 0, "%d", p->concat.axis);
        add(k, "activation", 1, "%s", act_name(p->concat.act));
        break;
    case LD_OP_RESHAPE:
        if (p->reshape.n >= 0)
            add_list(k, "new_shape", p->reshape.shape, p->reshape.n);
        break;
    case LD_OP_SOFTMAX:
        add(k, "beta", 0, "%.9g", (double)p->softmax.beta);
        break;
    case LD_OP_STRIDED_SLICE:
        add(k, "begin_mask", 0, "%d", p->strided_slice.begin_mask);
        add(k, "end_mask", 0, "%d", p->strided_slice.end_mask);
        add(k, "ellipsis_mask", 0, "%d", p->strided_slice.ellipsis_mask);
        add(k, "new_axis_mask", 0, "%d", p->strided_slice.new_axis_mask);
        add(k, "shrink_axis_mask", 0, "%d", p->strided_slice.shrink_axis_mask);
        add(k, "offset", 0, "%s", p->strided_slice.offset ? "true" : "false");
        break;
    case LD_OP_RESIZE_BILINEAR:
    case LD_OP_RESIZE_NEAREST_NEIGHBOR:
        add(k, "align_corners", 0, "%s", p->resize.align_corners ? "true" : "false");
        add(k, "half_pixel_centers", 0, "%s", p->resize.half_pixel_centers ? "true" : "false");
        break;
    case LD_OP_MEAN:
        add(k, "keep_dims", 0, "%s", p->reducer.keep_dims ? "true" : "false");
        break;
    case LD_OP_SQUEEZE:
        add_list(k, "squeeze_dims", p->squeeze.dims, p->squeeze.n);
        break;
    case LD_OP_DEPTH_TO_SPACE:
        add(k, "block_size", 0, "%d", p->depth_to_space.block_size);
        break;
    default:
        break;
    }
    if (op->custom_options)
        add(k, "custom_options_bytes", 0, "%zu", op->custom_options_bytes);
}

/* ---- text ---------------------------------------------------------------- */

static void shape_text(FILE *f, const ld_shape *s)
{
    fputc('[', f);
    for (int i = 0; i < s->rank; i++)
        fprintf(f, i ? ",%d" : "%d", s->d[i]);
    fputc(']', f);
}

static void quant_text(FILE *f, const ld_quant *q)
{
    if (q->count == 1)
        fprintf(f, "  scale %.9g zero_point %d", (double)q->scale[0], q->zero_point[0]);
    else if (q->count > 1)
        fprintf(f, "  per-channel: %d scales on axis %d", q->count, q->axis);
}

static void io_text(FILE *f, const char *title, const ld_model_desc *m, const int32_t *list, int n)
{
    fprintf(f, "%s\n", title);
    for (int i = 0; i < n; i++) {
        const ld_tensor_desc *t = &m->tensors[list[i]];
        fprintf(f, "  %-34s %-8s ", t->name, leandet_dtype_name(t->type));
        shape_text(f, &t->shape);
        quant_text(f, &t->quant);
        fputc('\n', f);
    }
}

static void ints_text(FILE *f, const int32_t *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, i ? ",%d" : "%d", v[i]);
    fputc(']', f);
}

static void print_text(FILE *f, const leandet_model *model, const report *r, int list_ops)
{
    const ld_model_desc *m = r->m;
    char nb[32];
    fprintf(f, "model       %s (%zu bytes, schema %u, %d subgraph%s)\n", leandet_model_path(model), model->size,
            m->version, m->n_subgraphs, m->n_subgraphs == 1 ? "" : "s");
    if (m->description[0])
        fprintf(f, "description %s\n", m->description);
    fprintf(f, "mode        %s\n", r->summary);
    io_text(f, "inputs", m, m->inputs, m->n_inputs);
    io_text(f, "outputs", m, m->outputs, m->n_outputs);
    fprintf(f, "tensors     %d (%d constant, %d variable)\n", m->n_tensors, r->constants, r->variables);
    fprintf(f, "parameters  %" PRIu64 " in constant tensors, %" PRIu64 " weight bytes", r->parameters,
            r->weight_bytes);
    if (m->copied_bytes)
        fprintf(f, " (%zu copied for alignment)", m->copied_bytes);
    fprintf(f, "\noperators   %d\n", m->n_ops);
    for (int g = 0; g < r->n_groups; g++) {
        const ld_op_desc *op = r->groups[g].first;
        fprintf(f, "  %5d  %-30s %s%s\n", r->groups[g].count, op_label(op, nb, sizeof nb),
                mode_names[r->groups[g].mode], op->builtin == LD_OP_CUSTOM ? "  (custom)" : "");
    }
    if (m->n_metadata) {
        fprintf(f, "metadata   ");
        for (int i = 0; i < m->n_metadata; i++)
            fprintf(f, " %s (%zu bytes)%s", m->metadata[i].name, m->metadata[i].bytes,
                    i + 1 < m->n_metadata ? "," : "");
        fputc('\n', f);
    }
    if (!list_ops)
        return;
    fprintf(f, "operator list\n");
    kvs k;
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        fprintf(f, "  %4d %-28s %-7s in ", i, op_label(op, nb, sizeof nb), mode_names[r->modes[i]]);
        ints_text(f, op->inputs, op->n_inputs);
        fprintf(f, " out ");
        ints_text(f, op->outputs, op->n_outputs);
        op_params(op, &k);
        for (int j = 0; j < k.n; j++)
            fprintf(f, " %s=%s", k.item[j].key, k.item[j].val);
        fputc('\n', f);
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_float(FILE *f, float v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", (double)v);
    else
        fputs("null", f);
}

static void json_ints(FILE *f, const int32_t *v, int n)
{
    ints_text(f, v, n); /* same syntax */
}

static void json_tensor(FILE *f, const ld_model_desc *m, int index)
{
    const ld_tensor_desc *t = &m->tensors[index];
    fprintf(f, "{\"index\":%d,\"name\":", index);
    ld_json_string(f, t->name);
    fprintf(f, ",\"type\":\"%s\",\"shape\":", leandet_dtype_name(t->type));
    json_ints(f, t->shape.d, t->shape.rank);
    fputs(",\"quantization\":", f);
    if (t->quant.count == 0) {
        fputs("null", f);
    } else if (t->quant.count == 1) {
        fputs("{\"scale\":", f);
        json_float(f, t->quant.scale[0]);
        fprintf(f, ",\"zero_point\":%d}", t->quant.zero_point[0]);
    } else {
        fprintf(f, "{\"channels\":%d,\"axis\":%d}", t->quant.count, t->quant.axis);
    }
    fputc('}', f);
}

static void json_io(FILE *f, const char *key, const ld_model_desc *m, const int32_t *list, int n)
{
    fprintf(f, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        json_tensor(f, m, list[i]);
    }
    fputc(']', f);
}

static void json_op_name(FILE *f, const ld_op_desc *op)
{
    char nb[32];
    fputs("\"op\":", f);
    ld_json_string(f, op_label(op, nb, sizeof nb));
    fprintf(f, ",\"builtin\":%d,\"custom\":%s", op->builtin, op->builtin == LD_OP_CUSTOM ? "true" : "false");
}

static void print_json(FILE *f, const leandet_model *model, const report *r, int list_ops)
{
    const ld_model_desc *m = r->m;
    fputs("{\"model\":", f);
    ld_json_string(f, leandet_model_path(model));
    fprintf(f, ",\"bytes\":%zu,\"schema_version\":%u,\"subgraphs\":%d,\"description\":", model->size, m->version,
            m->n_subgraphs);
    ld_json_string(f, m->description);
    fprintf(f, ",\"mode\":\"%s\",\"granularity\":\"%s\",\"summary\":", r->model_mode, r->granularity);
    ld_json_string(f, r->summary);
    json_io(f, "inputs", m, m->inputs, m->n_inputs);
    json_io(f, "outputs", m, m->outputs, m->n_outputs);
    fprintf(f,
            ",\"tensors\":%d,\"constant_tensors\":%d,\"variable_tensors\":%d,\"parameters\":%" PRIu64
            ",\"weight_bytes\":%" PRIu64 ",\"copied_bytes\":%zu,\"operators\":%d,\"op_counts\":[",
            m->n_tensors, r->constants, r->variables, r->parameters, r->weight_bytes, m->copied_bytes, m->n_ops);
    for (int g = 0; g < r->n_groups; g++) {
        fputs(g ? ",{" : "{", f);
        json_op_name(f, r->groups[g].first);
        fprintf(f, ",\"mode\":\"%s\",\"count\":%d}", mode_names[r->groups[g].mode], r->groups[g].count);
    }
    fputs("],\"metadata\":[", f);
    for (int i = 0; i < m->n_metadata; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        ld_json_string(f, m->metadata[i].name);
        fprintf(f, ",\"bytes\":%zu}", m->metadata[i].bytes);
    }
    fputc(']', f);
    if (list_ops) {
        fputs(",\"ops\":[", f);
        kvs k;
        for (int i = 0; i < m->n_ops; i++) {
            const ld_op_desc *op = &m->ops[i];
            fprintf(f, "%s{\"index\":%d,", i ? "," : "", i);
            json_op_name(f, op);
            fprintf(f, ",\"version\":%d,\"mode\":\"%s\",\"inputs\":", op->version, mode_names[r->modes[i]]);
            json_ints(f, op->inputs, op->n_inputs);
            fputs(",\"outputs\":", f);
            json_ints(f, op->outputs, op->n_outputs);
            fputs(",\"params\":{", f);
            op_params(op, &k);
            for (int j = 0; j < k.n; j++)
                fprintf(f, "%s\"%s\":%s%s%s", j ? "," : "", k.item[j].key, k.item[j].is_str ? "\"" : "",
                        k.item[j].val, k.item[j].is_str ? "\"" : "");
            fputs("}}", f);
        }
        fputc(']', f);
    }
    fputs("}\n", f);
}

/* ---- command ------------------------------------------------------------- */

int ld_cmd_inspect(int argc, char **argv)
{
    ld_args a;
    ld_args_init(&a, argc, argv);
    int json = 0, list_ops = 0;
    const char *path = NULL;
    while (ld_args_more(&a)) {
        const char *pos;
        if (ld_args_flag(&a, "--help") || ld_args_flag(&a, "-h")) {
            usage(stdout);
            return LD_EXIT_OK;
        } else if (ld_args_flag(&a, "--json")) {
            json = 1;
        } else if (ld_args_flag(&a, "--ops")) {
            list_ops = 1;
        } else if ((pos = ld_args_positional(&a)) != NULL) {
            if (path)
                ld_usage_error(&a, "expects one model, got '%s' and '%s'", path, pos);
            path = pos;
        } else {
            ld_args_unknown(&a);
        }
    }
    if (!a.error && !path)
        ld_usage_error(&a, "needs a model file");
    if (a.error)
        return LD_EXIT_USAGE;

    leandet_model *model = NULL;
    leandet_error err;
    if (leandet_model_open(path, NULL, &model, &err) != LEANDET_OK) {
        fprintf(stderr, "leandet: %s\n", err.message);
        return LD_EXIT_ERROR;
    }
    report r;
    int ok = build_report(ld_model_desc_of(model), &r);
    if (ok) {
        if (json)
            print_json(stdout, model, &r, list_ops);
        else
            print_text(stdout, model, &r, list_ops);
    } else {
        fprintf(stderr, "leandet: out of memory describing %s\n", path);
    }
    free_report(&r);
    leandet_model_close(model);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "leandet: cannot write the description\n");
        return LD_EXIT_ERROR;
    }
    return ok ? LD_EXIT_OK : LD_EXIT_ERROR;
}

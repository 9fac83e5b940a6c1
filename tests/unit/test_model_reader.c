/* The TFLite reader on the real models (counts from MANIFEST.md and the
 * TFLite interpreter), then on damaged copies of them: every truncation,
 * random byte flips, targeted corruptions, misaligned and external buffers,
 * and allocation failures at every point. Whatever the bytes, the reader must
 * either succeed with a description that honours model.h's contract or fail
 * with a message naming the file, and never leak. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "model/flatbuf.h"
#include "model/model.h"
#include "model/ops.h"
#include "runtime/model_internal.h"

typedef struct op_count {
    int builtin, count;
} op_count;

typedef struct expect {
    const char *file;
    int n_ops, n_tensors;
    ld_dtype in_type;
    int in_dims[4];
    int n_outputs;
    op_count ops[16]; /* {0,0} ends (ADD is code 0 but never has count 0) */
} expect;

/* Operator counts from MANIFEST.md; tensor counts from the TFLite interpreter. */
static const expect models[] = {
    {"ssd_mobilenet_v1_coco_quant.tflite", 64, 176, LEANDET_UINT8, {1, 300, 300, 3}, 4,
     {{LD_OP_CONV_2D, 34}, {LD_OP_DEPTHWISE_CONV_2D, 13}, {LD_OP_RESHAPE, 13}, {LD_OP_CONCATENATION, 2},
      {LD_OP_LOGISTIC, 1}, {LD_OP_CUSTOM, 1}}},
    {"face_detection_front.tflite", 90, 176, LEANDET_FLOAT32, {1, 128, 128, 3}, 2,
     {{LD_OP_ADD, 16}, {LD_OP_CONCATENATION, 2}, {LD_OP_CONV_2D, 21}, {LD_OP_DEPTHWISE_CONV_2D, 16},
      {LD_OP_MAX_POOL_2D, 3}, {LD_OP_PAD, 11}, {LD_OP_RELU, 17}, {LD_OP_RESHAPE, 4}}},
    {"face_detection_short_range.tflite", 164, 250, LEANDET_FLOAT32, {1, 128, 128, 3}, 2,
     {{LD_OP_ADD, 16}, {LD_OP_CONCATENATION, 2}, {LD_OP_CONV_2D, 21}, {LD_OP_DEPTHWISE_CONV_2D, 16},
      {LD_OP_MAX_POOL_2D, 3}, {LD_OP_PAD, 11}, {LD_OP_RELU, 17}, {LD_OP_RESHAPE, 4}, {LD_OP_DEQUANTIZE, 74}}},
    {"palm_detection_lite.tflite", 232, 353, LEANDET_FLOAT32, {1, 192, 192, 3}, 2,
     {{LD_OP_ADD, 25}, {LD_OP_CONCATENATION, 2}, {LD_OP_CONV_2D, 30}, {LD_OP_DEPTHWISE_CONV_2D, 23},
      {LD_OP_DEQUANTIZE, 113}, {LD_OP_MAX_POOL_2D, 4}, {LD_OP_PAD, 3}, {LD_OP_PRELU, 26}, {LD_OP_RESHAPE, 4},
      {LD_OP_RESIZE_BILINEAR, 2}}},
    {"yolov8n_full_integer_quant.tflite", 254, 410, LEANDET_INT8, {1, 640, 640, 3}, 1,
     {{LD_OP_ADD, 8}, {LD_OP_CONCATENATION, 18}, {LD_OP_CONV_2D, 64}, {LD_OP_LOGISTIC, 58}, {LD_OP_MAX_POOL_2D, 3},
      {LD_OP_MUL, 59}, {LD_OP_PAD, 7}, {LD_OP_QUANTIZE, 2}, {LD_OP_RESHAPE, 6}, {LD_OP_RESIZE_NEAREST_NEIGHBOR, 2},
      {LD_OP_SOFTMAX, 1}, {LD_OP_STRIDED_SLICE, 20}, {LD_OP_SUB, 2}, {LD_OP_TRANSPOSE, 4}}},
    {"yolov5n-fp16.tflite", 386, 533, LEANDET_FLOAT32, {1, 640, 640, 3}, 1,
     {{LD_OP_ADD, 10}, {LD_OP_CONCATENATION, 17}, {LD_OP_CONV_2D, 60}, {LD_OP_DEQUANTIZE, 131},
      {LD_OP_LOGISTIC, 66}, {LD_OP_MAX_POOL_2D, 3}, {LD_OP_MUL, 75}, {LD_OP_PAD, 7}, {LD_OP_RESHAPE, 6},
      {LD_OP_RESIZE_NEAREST_NEIGHBOR, 2}, {LD_OP_STRIDED_SLICE, 9}}},
};

static const char *SMALL = "face_detection_front.tflite";

/* ---- helpers ------------------------------------------------------------ */

static unsigned char *load(const char *file, size_t *size)
{
    char path[1024];
    unsigned char *p = ld_test_read(ld_test_model(file, path, sizeof path), size);
    CHECK_MSG(p != NULL, "cannot read %s (set LEANDET_MODELS)", path);
    return p;
}

static int count_ops(const ld_model_desc *m, int builtin)
{
    int n = 0;
    for (int i = 0; i < m->n_ops; i++)
        n += m->ops[i].builtin == builtin;
    return n;
}

static int inside(const void *p, size_t n, const unsigned char *base, size_t size)
{
    const unsigned char *q = p;
    return q >= base && q <= base + size && n <= (size_t)(base + size - q);
}

/* What model.h promises about any successfully parsed description. */
static int contract_ok(const ld_model_desc *m, const unsigned char *bytes, size_t size)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        size_t elem = leandet_dtype_size(t->type), count = ld_shape_count(&t->shape);
        if (!t->name || strlen(t->name) > size || t->shape.rank < 0 || t->shape.rank > LD_MAX_DIMS)
            return 0;
        for (int d = 0; d < t->shape.rank; d++)
            if (t->shape.d[d] < 0)
                return 0;
        if (t->data) {
            if (!t->sparsity && elem && t->data_bytes != count * elem)
                return 0;
            if (elem && (uintptr_t)t->data % elem)
                return 0;
            if (!inside(t->data, t->data_bytes, bytes, size) && m->copied_bytes == 0)
                return 0;
            volatile unsigned char sink = ((const unsigned char *)t->data)[t->data_bytes - 1];
            (void)sink;
        }
        if (t->quant.count > 1 && (t->quant.axis >= t->shape.rank || t->shape.d[t->quant.axis] != t->quant.count))
            return 0;
    }
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        for (int k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] < -1 || op->inputs[k] >= m->n_tensors)
                return 0;
        for (int k = 0; k < op->n_outputs; k++)
            if (op->outputs[k] < 0 || op->outputs[k] >= m->n_tensors)
                return 0;
        if (op->builtin == LD_OP_CUSTOM && (!op->custom_name || strlen(op->custom_name) > size))
            return 0;
        if (op->custom_options && !inside(op->custom_options, op->custom_options_bytes, bytes, size))
            return 0;
    }
    for (int i = 0; i < m->n_inputs; i++)
        if (m->inputs[i] < 0 || m->inputs[i] >= m->n_tensors)
            return 0;
    for (int i = 0; i < m->n_outputs; i++)
        if (m->outputs[i] < 0 || m->outputs[i] >= m->n_tensors)
            return 0;
    for (int i = 0; i < m->n_metadata; i++)
        if (m->metadata[i].data && !inside(m->metadata[i].data, m->metadata[i].bytes, bytes, size))
            return 0;
    return 1;
}

/* Parse damaged bytes: success must honour the contract; failure must name
 * the file. Either way nothing may stay allocated. Returns the status. */
static leandet_status parse_damaged(const unsigned char *bytes, size_t size, const char *what)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_model_desc m;
    leandet_error err = {0};
    leandet_status st = ld_tflite_parse(bytes, size, "damaged.tflite", &a, &m, &err);
    if (st == LEANDET_OK) {
        CHECK_MSG(contract_ok(&m, bytes, size), "%s: parsed description breaks the contract", what);
        ld_model_desc_free(&m, &a);
    } else {
        CHECK_MSG(strstr(err.message, "damaged.tflite: ") == err.message, "%s: message '%s'", what, err.message);
        CHECK_MSG(st == LEANDET_ERR_MODEL || st == LEANDET_ERR_UNSUPPORTED, "%s: status %s", what,
                  leandet_status_name(st));
    }
    CHECK_MSG(a.current == 0, "%s: %zu bytes leaked", what, a.current);
    return st;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- the real models ---------------------------------------------------- */

static void test_real_model(const expect *e)
{
    size_t size;
    unsigned char *bytes = load(e->file, &size);
    if (!bytes)
        return;
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_model_desc m;
    leandet_error err = {0};
    leandet_status st = ld_tflite_parse(bytes, size, e->file, &a, &m, &err);
    CHECK_MSG(st == LEANDET_OK, "%s: %s", e->file, err.message);
    if (st != LEANDET_OK) {
        free(bytes);
        return;
    }
    CHECK(contract_ok(&m, bytes, size));
    CHECK(m.version == 3 && m.n_subgraphs == 1 && m.copied_bytes == 0);
    CHECK_MSG(m.n_ops == e->n_ops, "%s: %d ops", e->file, m.n_ops);
    CHECK_MSG(m.n_tensors == e->n_tensors, "%s: %d tensors", e->file, m.n_tensors);
    int listed = 0;
    for (int k = 0; k < 16 && e->ops[k].count; k++) {
        CHECK_MSG(count_ops(&m, e->ops[k].builtin) == e->ops[k].count, "%s: builtin %d x%d", e->file,
                  e->ops[k].builtin, count_ops(&m, e->ops[k].builtin));
        listed += e->ops[k].count;
    }
    CHECK_MSG(listed == m.n_ops, "%s: ops of unlisted types", e->file);
    CHECK(m.n_inputs == 1 && m.n_outputs == e->n_outputs);
    const ld_tensor_desc *in = &m.tensors[m.inputs[0]];
    CHECK(in->type == e->in_type && in->shape.rank == 4 && in->data == NULL);
    for (int d = 0; d < 4; d++)
        CHECK(in->shape.d[d] == e->in_dims[d]);
    /* Every op's weights (input 1 of conv/depthwise) are constants of the
     * declared size; no activation carries data. */
    for (int i = 0; i < m.n_ops; i++) {
        const ld_op_desc *op = &m.ops[i];
        if (op->builtin == LD_OP_CONV_2D || op->builtin == LD_OP_DEPTHWISE_CONV_2D) {
            const ld_tensor_desc *w = &m.tensors[op->inputs[1]];
            int via_dequant = w->data == NULL && count_ops(&m, LD_OP_DEQUANTIZE) > 0;
            CHECK_MSG(w->data != NULL || via_dequant, "%s: op %d weights not constant", e->file, i);
            CHECK(op->params.conv.stride_w >= 1 && op->params.conv.dilation_h >= 1);
        }
        if (op->builtin == LD_OP_DEQUANTIZE) {
            const ld_tensor_desc *w = &m.tensors[op->inputs[0]];
            CHECK_MSG(w->type == LEANDET_FLOAT16 && w->data && w->data_bytes == 2 * ld_shape_count(&w->shape),
                      "%s: op %d DEQUANTIZE input", e->file, i);
        }
    }
    ld_model_desc_free(&m, &a);
    CHECK(a.current == 0);
    free(bytes);
}

/* Known quantization and options of individual tensors and ops. */
static void test_known_details(void)
{
    size_t size;
    unsigned char *bytes = load("ssd_mobilenet_v1_coco_quant.tflite", &size);
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_model_desc m;
    leandet_error err;
    if (bytes && ld_tflite_parse(bytes, size, "ssd", &a, &m, &err) == LEANDET_OK) {
        const ld_tensor_desc *in = &m.tensors[m.inputs[0]];
        CHECK(strcmp(in->name, "normalized_input_image_tensor") == 0);
        CHECK(in->quant.count == 1 && in->quant.scale[0] == 0.0078125f && in->quant.zero_point[0] == 128);
        /* Op 0 as the flatbuffers python reader of ai-edge-litert's schema
         * (schema_py_generated) sees it: 3x3 stride-2 SAME conv, no fused
         * activation, 24 uint8 filters with zero point 152. */
        const ld_op_desc *c0 = &m.ops[0];
        CHECK(c0->builtin == LD_OP_CONV_2D && c0->params.conv.stride_w == 2 && c0->params.conv.stride_h == 2);
        CHECK(c0->params.conv.padding == LD_PAD_SAME && c0->params.conv.act == LD_ACT_NONE);
        CHECK(c0->params.conv.dilation_w == 1 && c0->params.conv.dilation_h == 1);
        const ld_tensor_desc *w = &m.tensors[c0->inputs[1]];
        CHECK(w->type == LEANDET_UINT8 && w->shape.rank == 4 && w->shape.d[0] == 24 && w->shape.d[1] == 3);
        CHECK(w->quant.count == 1 && w->quant.zero_point[0] == 152 && w->data_bytes == 24 * 3 * 3 * 3);
        const ld_tensor_desc *b = &m.tensors[c0->inputs[2]];
        CHECK(b->type == LEANDET_INT32 && b->data_bytes == 24 * 4);
        const ld_op_desc *pp = &m.ops[m.n_ops - 1];
        CHECK(pp->builtin == LD_OP_CUSTOM && pp->custom_name &&
              strcmp(pp->custom_name, "TFLite_Detection_PostProcess") == 0);
        CHECK(pp->custom_options && pp->custom_options_bytes > 100 && pp->n_inputs == 3 && pp->n_outputs == 4);
        for (int i = 0; i < m.n_ops; i++)
            if (m.ops[i].builtin == LD_OP_DEPTHWISE_CONV_2D)
                CHECK(m.ops[i].params.conv.depth_multiplier == 1);
        for (int i = 0; i < m.n_ops; i++)
            if (m.ops[i].builtin == LD_OP_RESHAPE)
                CHECK(m.ops[i].params.reshape.n == 3 || m.ops[i].params.reshape.n == 4);
        ld_model_desc_free(&m, &a);
    } else {
        CHECK_MSG(0, "ssd: %s", bytes ? err.message : "missing");
    }
    free(bytes);

    bytes = load("yolov8n_full_integer_quant.tflite", &size);
    if (bytes && ld_tflite_parse(bytes, size, "yolov8", &a, &m, &err) == LEANDET_OK) {
        const ld_tensor_desc *in = &m.tensors[m.inputs[0]], *out = &m.tensors[m.outputs[0]];
        CHECK(in->quant.count == 1 && fabsf(in->quant.scale[0] - 0.0186584f) < 1e-6f && in->quant.zero_point[0] == -14);
        CHECK(out->quant.count == 1 && fabsf(out->quant.scale[0] - 0.003986f) < 1e-6f &&
              out->quant.zero_point[0] == -128);
        CHECK(out->shape.rank == 3 && out->shape.d[1] == 84 && out->shape.d[2] == 8400);
        for (int i = 0; i < m.n_ops; i++) {
            const ld_op_desc *op = &m.ops[i];
            if (op->builtin == LD_OP_SOFTMAX)
                CHECK(op->params.softmax.beta == 1.0f);
            if (op->builtin == LD_OP_CONV_2D) { /* int8 per-tensor weights (MANIFEST) */
                const ld_tensor_desc *w = &m.tensors[op->inputs[1]];
                CHECK(w->type == LEANDET_INT8 && w->quant.count == 1 && w->data);
            }
        }
        ld_model_desc_free(&m, &a);
    } else {
        CHECK_MSG(0, "yolov8: %s", bytes ? err.message : "missing");
    }
    free(bytes);

    bytes = load("palm_detection_lite.tflite", &size);
    if (bytes && ld_tflite_parse(bytes, size, "palm", &a, &m, &err) == LEANDET_OK) {
        int found = 0;
        for (int i = 0; i < m.n_metadata; i++)
            found |= strcmp(m.metadata[i].name, "min_runtime_version") == 0 && m.metadata[i].data;
        CHECK(found);
        ld_model_desc_free(&m, &a);
    }
    free(bytes);
    CHECK(a.current == 0);
}

/* ---- damaged files ------------------------------------------------------ */

static void test_truncations(const unsigned char *bytes, size_t size)
{
    int failed = 0, tried = 0;
    for (size_t n = 0; n < size; n += n < 65536 ? 1 : 97) {
        tried++;
        /* A fresh allocation of exactly n bytes lets ASan see any overread. */
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, bytes, n);
        failed += parse_damaged(copy, n, "truncation") != LEANDET_OK;
        free(copy);
    }
    CHECK_MSG(failed == tried, "%d of %d truncations parsed", tried - failed, tried);
}

/* Every truncation length of a whole real model, parsed in place (no copy,
 * so this checks the reader's own bounds logic at every length; the copying
 * variant above lets ASan watch the first 64 KiB and a stride beyond). */
static void test_every_truncation(const char *file)
{
    size_t size;
    unsigned char *bytes = load(file, &size);
    if (!bytes)
        return;
    size_t parsed = 0;
    for (size_t n = 0; n < size; n++)
        parsed += parse_damaged(bytes, n, "truncation") == LEANDET_OK;
    CHECK_MSG(parsed == 0, "%s: %zu of %zu truncations parsed", file, parsed, size);
    free(bytes);
}

/* Positions outside weight data: flips there reach the flatbuffer structure. */
static size_t *structure_positions(const unsigned char *bytes, size_t size, size_t *n)
{
    unsigned char *weight = calloc(size, 1);
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_model_desc m;
    leandet_error err;
    if (ld_tflite_parse(bytes, size, "x", &a, &m, &err) == LEANDET_OK) {
        for (int i = 0; i < m.n_tensors; i++)
            if (m.tensors[i].data)
                memset(weight + ((const unsigned char *)m.tensors[i].data - bytes), 1, m.tensors[i].data_bytes);
        ld_model_desc_free(&m, &a);
    }
    size_t *pos = malloc(size * sizeof *pos), k = 0;
    for (size_t i = 0; i < size; i++)
        if (!weight[i])
            pos[k++] = i;
    free(weight);
    *n = k;
    return pos;
}

static void test_flips(const unsigned char *bytes, size_t size, int rounds)
{
    size_t n_pos;
    size_t *pos = structure_positions(bytes, size, &n_pos);
    CHECK(n_pos > 1000 && n_pos < size);
    unsigned char *copy = malloc(size);
    memcpy(copy, bytes, size);
    int ok = 0;
    for (int r = 0; r < rounds; r++) {
        size_t at[8];
        int k = 1 + (int)(rng() % 8);
        for (int j = 0; j < k; j++) {
            at[j] = pos[rng() % n_pos];
            uint64_t v = rng();
            /* Mix small deltas, bit flips and extreme values: all are interesting to offsets. */
            copy[at[j]] = v % 3 == 0 ? (unsigned char)(copy[at[j]] ^ (1u << (v >> 8) % 8))
                        : v % 3 == 1 ? (unsigned char)(copy[at[j]] + 1 + (v >> 8) % 4)
                                     : (unsigned char)((v >> 8) & 1 ? 0xff : 0x00);
        }
        ok += parse_damaged(copy, size, "byte flip") == LEANDET_OK;
        for (int j = 0; j < k; j++)
            copy[at[j]] = bytes[at[j]];
    }
    printf("byte flips: %d of %d damaged copies still parsed\n", ok, rounds);
    free(copy);
    free(pos);
}

static void test_not_models(void)
{
    CHECK(parse_damaged((const unsigned char *)"", 0, "empty") == LEANDET_ERR_MODEL);
    char path[1024];
    size_t size;
    const char *img = ld_test_image("grace_hopper.bmp", path, sizeof path);
    unsigned char *p = ld_test_read(img, &size);
    CHECK_MSG(p != NULL, "cannot read %s (set LEANDET_IMAGES)", img);
    if (p) {
        ld_alloc a;
        ld_alloc_init(&a, NULL);
        ld_model_desc m;
        leandet_error err;
        CHECK(ld_tflite_parse(p, size, "grace_hopper.bmp", &a, &m, &err) == LEANDET_ERR_MODEL);
        CHECK_MSG(strstr(err.message, "grace_hopper.bmp: not a TFLite model") == err.message, "%s", err.message);
        free(p);
    }
    /* A text file that happens to be 'TFL3'-tagged is still rejected cleanly. */
    unsigned char fake[64];
    memset(fake, 0x41, sizeof fake);
    memcpy(fake + 4, "TFL3", 4);
    CHECK(parse_damaged(fake, sizeof fake, "fake") == LEANDET_ERR_MODEL);
}

/* ---- targeted corruptions ----------------------------------------------- */

/* Locate pieces of a real model with the flatbuffer reader itself. */
typedef struct locator {
    ld_fb f;
    ld_fb_table model, sg;
    ld_fb_vec ops, tensors, buffers;
} locator;

static int locate(locator *l, const unsigned char *bytes, size_t size)
{
    memset(l, 0, sizeof *l);
    l->f.p = bytes;
    l->f.size = size;
    ld_fb_vec sgs;
    return ld_fb_root(&l->f, &l->model) && ld_fb_vec_field(&l->f, &l->model, 2, 4, &sgs) &&
           ld_fb_vec_table(&l->f, &sgs, 0, &l->sg) && ld_fb_vec_field(&l->f, &l->sg, 3, 4, &l->ops) &&
           ld_fb_vec_field(&l->f, &l->sg, 0, 4, &l->tensors) && ld_fb_vec_field(&l->f, &l->model, 4, 4, &l->buffers);
}

static size_t field_pos(locator *l, const ld_fb_table *t, int id, size_t width)
{
    size_t pos = 0;
    CHECK(ld_fb_field(&l->f, t, id, width, &pos) && pos);
    return pos;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* Corrupt one spot and expect a failure whose message contains `want`. */
static void expect_fail(const unsigned char *copy, size_t size, leandet_status want_st, const char *want)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_model_desc m;
    leandet_error err = {0};
    leandet_status st = ld_tflite_parse(copy, size, "model.tflite", &a, &m, &err);
    CHECK_MSG(st == want_st && strstr(err.message, want), "want '%s', got %s '%s'", want, leandet_status_name(st),
              err.message);
    if (st == LEANDET_OK)
        ld_model_desc_free(&m, &a);
    CHECK(a.current == 0);
}

static void test_targeted(const unsigned char *bytes, size_t size)
{
    unsigned char *c = malloc(size + 4096);
    locator l;
    memcpy(c, bytes, size);
    if (!locate(&l, c, size)) {
        CHECK_MSG(0, "cannot locate tables");
        free(c);
        return;
    }
    ld_fb_table op5, t3, tb;
    CHECK(ld_fb_vec_table(&l.f, &l.ops, 5, &op5) && ld_fb_vec_table(&l.f, &l.tensors, 3, &t3));

    size_t p = field_pos(&l, &op5, 0, 4); /* opcode_index */
    put32(c + p, 40);
    expect_fail(c, size, LEANDET_ERR_MODEL, "model.tflite: operator 5: opcode_index 40 out of range (");
    memcpy(c, bytes, size);

    ld_fb_vec in;
    CHECK(ld_fb_vec_field(&l.f, &op5, 1, 4, &in) && in.len > 0);
    put32(c + in.pos, 100000);
    expect_fail(c, size, LEANDET_ERR_MODEL, "inputs: entry 0 is tensor 100000, out of range (176 tensors)");
    put32(c + in.pos, (uint32_t)-1); /* -1 is an omitted optional input: allowed */
    expect_fail(c, size, LEANDET_OK, "");
    memcpy(c, bytes, size);

    ld_fb_vec outv;
    CHECK(ld_fb_vec_field(&l.f, &op5, 2, 4, &outv) && outv.len > 0);
    put32(c + outv.pos, (uint32_t)-1); /* but never for an output */
    expect_fail(c, size, LEANDET_ERR_MODEL, "outputs: entry 0 is tensor -1");
    memcpy(c, bytes, size);



    /* Tensor name without its NUL. */
    const char *name;
    CHECK(ld_fb_str_field(&l.f, &t3, 3, &name) && name);
    size_t np = (size_t)((const unsigned char *)name - c);
    c[np + strlen(name)] = 'x';
    expect_fail(c, size, LEANDET_ERR_MODEL, "has no terminating NUL");
    memcpy(c, bytes, size);

    /* vtable claiming a field beyond the table's inline size. */
    put32(c + t3.vt, (uint32_t)(t3.vt_size | (4u << 16))); /* inline size 4 */
    expect_fail(c, size, LEANDET_ERR_MODEL, "lies outside the table");
    memcpy(c, bytes, size);

    /* Wrong builtin options union type for a CONV_2D. */
    ld_fb_table op0;
    CHECK(ld_fb_vec_table(&l.f, &l.ops, 0, &op0));
    p = field_pos(&l, &op0, 3, 1);
    c[p] = 7;
    expect_fail(c, size, LEANDET_ERR_MODEL, "expected Conv2DOptions (1)");
    memcpy(c, bytes, size);

    /* Schema version. */
    p = field_pos(&l, &l.model, 0, 4);
    put32(c + p, 2);
    expect_fail(c, size, LEANDET_ERR_UNSUPPORTED, "schema version 2");
    memcpy(c, bytes, size);

    /* ---- misaligned constant: repoint a weight buffer's data vector to a copy
     * appended at an odd address; the reader must copy it to aligned memory. */
    ld_fb_table w_t;
    int w_index = -1;
    for (uint32_t i = 0; i < l.tensors.len && w_index < 0; i++) {
        uint32_t b;
        ld_fb_vec dv, sh;
        if (ld_fb_vec_table(&l.f, &l.tensors, i, &w_t) && ld_fb_u32(&l.f, &w_t, 2, 0, &b) && b &&
            ld_fb_vec_field(&l.f, &w_t, 0, 4, &sh) && sh.len == 4 &&
            ld_fb_vec_table(&l.f, &l.buffers, b, &tb) && ld_fb_vec_field(&l.f, &tb, 0, 1, &dv) && dv.len >= 64 &&
            dv.len < 4000)
            w_index = (int)i;
    }
    CHECK(w_index >= 0);
    if (w_index >= 0) {
        p = field_pos(&l, &w_t, 2, 4); /* buffer index */
        put32(c + p, 99999);
        expect_fail(c, size, LEANDET_ERR_MODEL, "buffer index 99999 out of range");
        memcpy(c, bytes, size);

        ld_fb_vec shape;
        CHECK(ld_fb_vec_field(&l.f, &w_t, 0, 4, &shape) && shape.len >= 3);
        put32(c + shape.pos, (uint32_t)-3);
        expect_fail(c, size, LEANDET_ERR_MODEL, "dimension 0 is -3");
        put32(c + shape.pos, 5000);
        expect_fail(c, size, LEANDET_ERR_MODEL, "needs"); /* constant no longer matches its shape */
        for (uint32_t d = 0; d < shape.len; d++)
            put32(c + shape.pos + 4 * (size_t)d, 0x7fffffff);
        expect_fail(c, size, LEANDET_ERR_MODEL, "too large (byte size overflows)");
        memcpy(c, bytes, size);

        ld_fb_vec dv;
        CHECK(ld_fb_vec_field(&l.f, &tb, 0, 1, &dv));
        size_t vec = (size + 7) & ~(size_t)7;
        vec += 1; /* data at vec + 4: odd */
        size_t n2 = vec + 4 + dv.len;
        memset(c + size, 0, n2 - size);
        put32(c + vec, dv.len);
        memcpy(c + vec + 4, bytes + dv.pos, dv.len);
        size_t fp = field_pos(&l, &tb, 0, 4);
        put32(c + fp, (uint32_t)(vec - fp));
        ld_alloc a;
        ld_alloc_init(&a, NULL);
        ld_model_desc m;
        leandet_error err;
        leandet_status st = ld_tflite_parse(c, n2, "misaligned", &a, &m, &err);
        CHECK_MSG(st == LEANDET_OK, "%s", err.message);
        if (st == LEANDET_OK) {
            const ld_tensor_desc *t = &m.tensors[w_index];
            CHECK(m.copied_bytes >= dv.len && t->data_bytes == dv.len);
            CHECK((uintptr_t)t->data % 4 == 0 && !inside(t->data, t->data_bytes, c, n2));
            CHECK(memcmp(t->data, bytes + dv.pos, dv.len) == 0);
            CHECK(contract_ok(&m, c, n2));
            ld_model_desc_free(&m, &a);
        }
        CHECK(a.current == 0);
        /* OOM on the copy is reported and leaks nothing. */
        for (long k = 0; k < 100000; k++) {
            ld_alloc_init(&a, NULL);
            a.fail_at = k;
            st = ld_tflite_parse(c, n2, "misaligned", &a, &m, &err);
            if (st == LEANDET_OK) {
                ld_model_desc_free(&m, &a);
                break;
            }
            CHECK(st == LEANDET_ERR_NO_MEMORY && a.current == 0);
        }
        memcpy(c, bytes, size);

        /* ---- external buffer (files > 2 GiB): a Buffer table with offset/size
         * instead of data, pointing at the original bytes. */
        size_t vt = (size + 7) & ~(size_t)7, tp = vt + 16;
        uint16_t vtab[5] = {10, 24, 0, 8, 16};
        memset(c + size, 0, tp + 24 - size);
        memcpy(c + vt, vtab, sizeof vtab);
        put32(c + tp, (uint32_t)(tp - vt));
        uint64_t off = dv.pos, len = dv.len;
        memcpy(c + tp + 8, &off, 8);
        memcpy(c + tp + 16, &len, 8);
        uint32_t b;
        CHECK(ld_fb_u32(&l.f, &w_t, 2, 0, &b));
        size_t ep = l.buffers.pos + (size_t)b * 4;
        put32(c + ep, (uint32_t)(tp - ep));
        size_t n3 = tp + 24;
        ld_alloc_init(&a, NULL);
        st = ld_tflite_parse(c, n3, "external", &a, &m, &err);
        CHECK_MSG(st == LEANDET_OK, "%s", err.message);
        if (st == LEANDET_OK) {
            CHECK(m.tensors[w_index].data == c + dv.pos && m.tensors[w_index].data_bytes == dv.len);
            ld_model_desc_free(&m, &a);
        }
        off = n3 - 10; /* now it runs past the end */
        memcpy(c + tp + 8, &off, 8);
        expect_fail(c, n3, LEANDET_ERR_MODEL, "ends at byte");
    }
    free(c);
}

/* ---- allocation failures ------------------------------------------------ */

static void test_oom(const char *file)
{
    size_t size;
    unsigned char *bytes = load(file, &size);
    if (!bytes)
        return;
    long k;
    int bad = 0;
    for (k = 0; k < 1000000; k++) {
        ld_alloc a;
        ld_alloc_init(&a, NULL);
        a.fail_at = k;
        ld_model_desc m;
        leandet_error err = {0};
        leandet_status st = ld_tflite_parse(bytes, size, file, &a, &m, &err);
        if (st == LEANDET_OK) {
            ld_model_desc_free(&m, &a);
            CHECK(a.current == 0);
            break;
        }
        if (st != LEANDET_ERR_NO_MEMORY || a.current != 0 || !strstr(err.message, file))
            bad++;
    }
    CHECK_MSG(bad == 0, "%s: %d allocation failures mishandled", file, bad);
    CHECK(k > 10);
    free(bytes);
}

/* ---- leandet_model_* ---------------------------------------------------- */

typedef struct counting {
    long calls, live, fail_at;
} counting;

static void *c_alloc(void *ctx, size_t size, size_t align)
{
    counting *c = ctx;
    if (c->calls++ == c->fail_at)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0)
        return NULL;
    c->live++;
    return p;
}

static void c_free(void *ctx, void *p)
{
    counting *c = ctx;
    if (p)
        c->live--;
    free(p);
}

static void test_model_api(void)
{
    char path[1024];
    ld_test_model("ssd_mobilenet_v1_coco_quant.tflite", path, sizeof path);
    leandet_model *m = NULL;
    leandet_error err;
    CHECK(leandet_model_open(path, NULL, &m, &err) == LEANDET_OK);
    if (m) {
        CHECK(strcmp(leandet_model_path(m), path) == 0);
        CHECK(leandet_model_num_inputs(m) == 1 && leandet_model_num_outputs(m) == 4);
        leandet_tensor_info info;
        CHECK(leandet_model_input_info(m, 0, &info) == LEANDET_OK);
        CHECK(strcmp(info.name, "normalized_input_image_tensor") == 0 && info.type == LEANDET_UINT8);
        CHECK(info.rank == 4 && info.dims[1] == 300 && info.quantized && info.zero_point == 128 && !info.per_channel);
        CHECK(leandet_model_output_info(m, 3, &info) == LEANDET_OK && strcmp(info.name, "TFLite_Detection_PostProcess:3") == 0);
        CHECK(leandet_model_output_info(m, 4, &info) == LEANDET_ERR_ARGUMENT);
        CHECK(leandet_model_input_info(m, -1, &info) == LEANDET_ERR_ARGUMENT);
        CHECK(ld_model_desc_of(m)->n_ops == 64);
        leandet_model_close(m);
    }
    leandet_model_close(NULL);
    CHECK(leandet_model_num_inputs(NULL) == 0);

    /* Errors name the path. */
    m = NULL;
    CHECK(leandet_model_open("/nonexistent/x.tflite", NULL, &m, &err) == LEANDET_ERR_IO && m == NULL);
    CHECK(strstr(err.message, "/nonexistent/x.tflite") != NULL);
    CHECK(leandet_model_open("/tmp", NULL, &m, &err) == LEANDET_ERR_IO && strstr(err.message, "/tmp: not a regular file"));
    char empty[] = "/tmp/leandet_empty_XXXXXX";
    int fd = mkstemp(empty);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        CHECK(leandet_model_open(empty, NULL, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, empty) &&
              strstr(err.message, "empty"));
        unlink(empty);
    }
    const char *img = ld_test_image("grace_hopper.bmp", path, sizeof path);
    CHECK(leandet_model_open(img, NULL, &m, &err) == LEANDET_ERR_MODEL && strstr(err.message, img) && m == NULL);

    /* Caller allocator: every failure point is reported and leaks nothing. */
    ld_test_model(SMALL, path, sizeof path);
    for (long k = 0;; k++) {
        counting cnt = {0, 0, k};
        leandet_allocator al = {c_alloc, c_free, &cnt};
        leandet_status st = leandet_model_open(path, &al, &m, &err);
        if (st == LEANDET_OK) {
            CHECK(cnt.live > 0);
            leandet_model_close(m);
            CHECK(cnt.live == 0);
            break;
        }
        CHECK_MSG(st == LEANDET_ERR_NO_MEMORY && cnt.live == 0, "fail_at %ld: %s live %ld", k, err.message, cnt.live);
        if (k > 100000)
            break;
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        test_real_model(&models[i]);
    test_known_details();
    test_not_models();
    test_model_api();

    size_t size;
    unsigned char *bytes = load(SMALL, &size);
    if (bytes) {
        test_targeted(bytes, size);
        test_truncations(bytes, size);
        test_flips(bytes, size, 4000);
        test_every_truncation("face_detection_short_range.tflite");
        free(bytes);
    }
    bytes = load("ssd_mobilenet_v1_coco_quant.tflite", &size);
    if (bytes) {
        test_flips(bytes, size, 1000);
        free(bytes);
    }
    test_oom(SMALL);
    test_oom("ssd_mobilenet_v1_coco_quant.tflite");
    test_oom("palm_detection_lite.tflite");
    return ld_test_finish();
}

/* The .tflite writer, the editable model and the quantization tools on the
 * real models.
 *
 * Round trip: read -> write -> read must give the same description
 * (tensors, shapes, types, quantization, operators, options, constant
 * bytes, custom options, metadata), constants 16-byte aligned and shared
 * buffers still shared, and writing the result again must give the same
 * bytes. Allocation failures at every point must fail cleanly. The tools
 * (quantize --mode dynamic, dequantize) are checked for what they promise:
 * which tensors change and how, what they refuse and how they say it.
 * That the written models run in TensorFlow Lite with the same outputs as
 * in leandet is tests/py/test_quantize.py's job. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/ref/conv_quant.h"
#include "model/model.h"
#include "model/ops.h"
#include "tools/model_edit.h"
#include "tools/quantize.h"
#include "tools/tflite_writer.h"

static const char *const MODELS[] = {
    "ssd_mobilenet_v1_coco_quant.tflite", "face_detection_front.tflite", "face_detection_short_range.tflite",
    "palm_detection_lite.tflite",         "yolov8n_full_integer_quant.tflite", "yolov5n-fp16.tflite",
};
static const char *SMALL = "face_detection_front.tflite";
static const char *SSD = "ssd_mobilenet_v1_coco_quant.tflite";

/* A model file parsed with its own allocator. */
typedef struct loaded {
    unsigned char *bytes;
    size_t size;
    ld_alloc a;
    ld_model_desc m;
    int ok;
} loaded;

static int load(const char *file, loaded *l)
{
    char path[1024];
    memset(l, 0, sizeof *l);
    ld_alloc_init(&l->a, NULL);
    l->bytes = ld_test_read(ld_test_model(file, path, sizeof path), &l->size);
    CHECK_MSG(l->bytes != NULL, "cannot read %s (set LEANDET_MODELS)", path);
    if (!l->bytes)
        return 0;
    leandet_error err = {0};
    leandet_status st = ld_tflite_parse(l->bytes, l->size, file, &l->a, &l->m, &err);
    CHECK_MSG(st == LEANDET_OK, "%s", err.message);
    l->ok = st == LEANDET_OK;
    return l->ok;
}

static void unload(loaded *l)
{
    if (l->ok)
        ld_model_desc_free(&l->m, &l->a);
    CHECK(l->a.current == 0);
    free(l->bytes);
}

/* ---- comparing descriptions ------------------------------------------------ */

static int same_bytes(const void *a, size_t na, const void *b, size_t nb)
{
    if (na != nb || (!a) != (!b))
        return 0;
    return na == 0 || memcmp(a, b, na) == 0;
}

static int same_quant(const ld_quant *a, const ld_quant *b)
{
    if (a->count != b->count || (a->count > 1 && a->axis != b->axis))
        return 0;
    for (int i = 0; i < a->count; i++)
        if (memcmp(&a->scale[i], &b->scale[i], sizeof(float)) != 0 || a->zero_point[i] != b->zero_point[i])
            return 0;
    return 1;
}

static int same_ints(const int32_t *a, int na, const int32_t *b, int nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static int same_sparsity(const ld_sparsity *a, const ld_sparsity *b)
{
    if (!a || !b)
        return !a && !b;
    if (!same_ints(a->traversal_order, a->n_traversal, b->traversal_order, b->n_traversal) ||
        !same_ints(a->block_map, a->n_block_map, b->block_map, b->n_block_map) || a->n_dims != b->n_dims)
        return 0;
    for (int i = 0; i < a->n_dims; i++) {
        const ld_dim_meta *x = &a->dims[i], *y = &b->dims[i];
        if (x->format != y->format || x->dense_size != y->dense_size ||
            !same_ints(x->segments, x->n_segments, y->segments, y->n_segments) ||
            !same_ints(x->indices, x->n_indices, y->indices, y->n_indices))
            return 0;
    }
    return 1;
}

/* Everything the description holds, buffer numbers aside (the writer
 * renumbers buffers; sharing is checked separately). */
static int same_model(const char *what, const ld_model_desc *a, const ld_model_desc *b)
{
    int bad = 0;
#define DIFF(cond, ...)                                     \
    do {                                                    \
        if (cond) {                                         \
            if (bad++ < 5) {                                \
                fprintf(stderr, "%s: ", what);              \
                fprintf(stderr, __VA_ARGS__);               \
                fputc('\n', stderr);                        \
            }                                               \
        }                                                   \
    } while (0)
    DIFF(a->version != b->version || strcmp(a->description, b->description) != 0, "model version/description");
    DIFF(a->n_tensors != b->n_tensors || a->n_ops != b->n_ops, "counts: %d/%d tensors, %d/%d ops", a->n_tensors,
         b->n_tensors, a->n_ops, b->n_ops);
    if (bad)
        return 0;
    DIFF(!same_ints(a->inputs, a->n_inputs, b->inputs, b->n_inputs), "graph inputs");
    DIFF(!same_ints(a->outputs, a->n_outputs, b->outputs, b->n_outputs), "graph outputs");
    for (int i = 0; i < a->n_tensors; i++) {
        const ld_tensor_desc *x = &a->tensors[i], *y = &b->tensors[i];
        DIFF(strcmp(x->name, y->name) != 0, "tensor %d name '%s' / '%s'", i, x->name, y->name);
        DIFF(x->type != y->type || x->is_variable != y->is_variable, "tensor %d type", i);
        DIFF(x->shape.rank != y->shape.rank ||
                 memcmp(x->shape.d, y->shape.d, (size_t)x->shape.rank * sizeof x->shape.d[0]) != 0,
             "tensor %d shape", i);
        DIFF(!same_quant(&x->quant, &y->quant), "tensor %d quantization", i);
        DIFF(!same_bytes(x->data, x->data_bytes, y->data, y->data_bytes), "tensor %d data (%zu / %zu bytes)", i,
             x->data_bytes, y->data_bytes);
        DIFF(!same_sparsity(x->sparsity, y->sparsity), "tensor %d sparsity", i);
    }
    for (int i = 0; i < a->n_ops; i++) {
        const ld_op_desc *x = &a->ops[i], *y = &b->ops[i];
        DIFF(x->builtin != y->builtin || x->version != y->version, "op %d code %d v%d / %d v%d", i, x->builtin,
             x->version, y->builtin, y->version);
        DIFF((x->custom_name == NULL) != (y->custom_name == NULL) ||
                 (x->custom_name && strcmp(x->custom_name, y->custom_name) != 0),
             "op %d custom name", i);
        DIFF(!same_ints(x->inputs, x->n_inputs, y->inputs, y->n_inputs) ||
                 !same_ints(x->outputs, x->n_outputs, y->outputs, y->n_outputs),
             "op %d tensors", i);
        DIFF(memcmp(&x->params, &y->params, sizeof x->params) != 0, "op %d options", i);
        DIFF(!same_bytes(x->custom_options, x->custom_options_bytes, y->custom_options, y->custom_options_bytes),
             "op %d custom options", i);
    }
    DIFF(a->n_metadata != b->n_metadata, "metadata count %d / %d", a->n_metadata, b->n_metadata);
    for (int i = 0; i < a->n_metadata && i < b->n_metadata; i++)
        DIFF(strcmp(a->metadata[i].name, b->metadata[i].name) != 0 ||
                 !same_bytes(a->metadata[i].data, a->metadata[i].bytes, b->metadata[i].data, b->metadata[i].bytes),
             "metadata %d '%s'", i, a->metadata[i].name);
#undef DIFF
    return bad == 0;
}

/* Constants that shared bytes (one buffer) share one buffer in the written
 * file, and no others do. (Edits do not maintain buffer numbers, so `a`
 * is compared by data pointers.) */
static int same_sharing(const ld_model_desc *a, const ld_model_desc *b)
{
    for (int i = 0; i < a->n_tensors; i++) {
        if (!a->tensors[i].data)
            continue;
        for (int k = i + 1; k < a->n_tensors; k++) {
            if (!a->tensors[k].data)
                continue;
            if ((a->tensors[i].data == a->tensors[k].data) != (b->tensors[i].buffer == b->tensors[k].buffer))
                return 0;
        }
    }
    return 1;
}

/* ---- round trip ------------------------------------------------------------- */

static leandet_status write_desc(const ld_model_desc *m, ld_alloc *a, uint8_t **out, size_t *size, leandet_error *err)
{
    return ld_tflite_write(m, "out.tflite", a, out, size, err);
}

static void check_written(const char *file, const ld_model_desc *orig, const uint8_t *w, size_t n)
{
    CHECK(n > 8 && memcmp(w + 4, "TFL3", 4) == 0);
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    ld_model_desc back;
    leandet_error err = {0};
    leandet_status st = ld_tflite_parse(w, n, "out.tflite", &a, &back, &err);
    CHECK_MSG(st == LEANDET_OK, "%s: written model does not parse: %s", file, err.message);
    if (st != LEANDET_OK)
        return;
    CHECK_MSG(same_model(file, orig, &back), "%s: round trip changed the model", file);
    CHECK_MSG(same_sharing(orig, &back), "%s: buffer sharing changed", file);
    CHECK_MSG(back.copied_bytes == 0, "%s: %zu bytes of constants are misaligned", file, back.copied_bytes);
    int aligned = 1;
    for (int i = 0; i < back.n_tensors; i++)
        if (back.tensors[i].data && (size_t)((const uint8_t *)back.tensors[i].data - w) % 16 != 0)
            aligned = 0;
    CHECK_MSG(aligned, "%s: a constant is not 16-byte aligned in the file", file);
    CHECK(back.version == 3 && back.n_subgraphs == 1);

    /* Writing the copy again gives the same bytes. */
    uint8_t *w2 = NULL;
    size_t n2 = 0;
    st = write_desc(&back, &a, &w2, &n2, &err);
    CHECK_MSG(st == LEANDET_OK && n2 == n && memcmp(w, w2, n) == 0, "%s: writing is not deterministic", file);
    ld_free(&a, w2);
    ld_model_desc_free(&back, &a);
    CHECK(a.current == 0);
}

static void test_round_trip(const char *file)
{
    loaded l;
    if (!load(file, &l)) {
        unload(&l);
        return;
    }
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    uint8_t *w = NULL;
    size_t n = 0;
    leandet_error err = {0};
    leandet_status st = write_desc(&l.m, &a, &w, &n, &err);
    CHECK_MSG(st == LEANDET_OK, "%s: %s", file, err.message);
    if (st == LEANDET_OK)
        check_written(file, &l.m, w, n);
    ld_free(&a, w);
    CHECK(a.current == 0);

    /* The same through an edit that changes nothing. */
    ld_edit e;
    st = ld_edit_init(&e, &l.m, file, &a, &err);
    CHECK_MSG(st == LEANDET_OK, "%s", err.message);
    if (st == LEANDET_OK) {
        CHECK(ld_edit_compact(&e) == LEANDET_OK);
        CHECK_MSG(same_model(file, &l.m, &e.m), "%s: an empty edit changed the model", file);
        st = write_desc(&e.m, &a, &w, &n, &err);
        CHECK(st == LEANDET_OK);
        if (st == LEANDET_OK)
            check_written(file, &l.m, w, n);
        ld_free(&a, w);
    }
    ld_edit_free(&e);
    CHECK(a.current == 0);
    unload(&l);
}

/* Sparsity and metadata the real models lack: grafted onto a copy. */
static void test_sparsity_and_metadata(void)
{
    loaded l;
    if (!load(SMALL, &l)) {
        unload(&l);
        return;
    }
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    leandet_error err = {0};
    ld_edit e;
    CHECK(ld_edit_init(&e, &l.m, SMALL, &a, &err) == LEANDET_OK);
    int t = -1;
    for (int i = 0; i < e.m.n_tensors && t < 0; i++)
        if (e.m.tensors[i].data && e.m.tensors[i].shape.rank == 4 && e.m.tensors[i].type == LEANDET_FLOAT32)
            t = i;
    CHECK(t >= 0);
    int32_t trav[4] = {0, 1, 2, 3}, seg[3] = {0, 2, 3}, idx[3] = {0, 5, 1};
    ld_dim_meta dims[4] = {
        {LD_DIM_DENSE, 7, 0, 0, NULL, NULL},
        {LD_DIM_DENSE, 1, 0, 0, NULL, NULL},
        {LD_DIM_DENSE, 1, 0, 0, NULL, NULL},
        {LD_DIM_SPARSE_CSR, 9, 3, 3, seg, idx},
    };
    ld_sparsity sp = {4, 0, 4, trav, NULL, dims};
    if (t >= 0)
        e.m.tensors[t].sparsity = &sp;
    static const uint8_t blob[5] = {1, 2, 3, 4, 5};
    ld_metadata md[2] = {{"leandet_test", blob, sizeof blob}, {"empty", NULL, 0}};
    e.m.metadata = md;
    e.m.n_metadata = 2;
    uint8_t *w = NULL;
    size_t n = 0;
    leandet_status st = write_desc(&e.m, &a, &w, &n, &err);
    CHECK_MSG(st == LEANDET_OK, "%s", err.message);
    if (st == LEANDET_OK)
        check_written("sparse+metadata", &e.m, w, n);
    ld_free(&a, w);
    ld_edit_free(&e);
    CHECK(a.current == 0);
    unload(&l);
}

/* ---- refusals and allocation failures -------------------------------------- */

static void expect_write_error(const ld_model_desc *m, leandet_status want, const char *text)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    uint8_t *w = (uint8_t *)1;
    size_t n = 7;
    leandet_error err = {0};
    leandet_status st = ld_tflite_write(m, "refused.tflite", &a, &w, &n, &err);
    CHECK_MSG(st == want && strstr(err.message, text) && strstr(err.message, "refused.tflite"),
              "status %d, message '%s', expected %d with '%s'", (int)st, err.message, (int)want, text);
    CHECK(w == NULL && n == 0 && a.current == 0);
}

static void test_refusals(void)
{
    loaded l;
    if (!load(SMALL, &l)) {
        unload(&l);
        return;
    }
    ld_model_desc *m = &l.m;
    int saved = m->ops[3].builtin;
    m->ops[3].builtin = 36; /* GATHER: options leandet does not model */
    expect_write_error(m, LEANDET_ERR_UNSUPPORTED, "operator 3 (GATHER)");
    m->ops[3].builtin = saved;
    m->n_subgraphs = 2;
    expect_write_error(m, LEANDET_ERR_UNSUPPORTED, "2 subgraphs");
    m->n_subgraphs = 1;
    int32_t in0 = m->ops[5].inputs[0];
    m->ops[5].inputs[0] = m->n_tensors;
    expect_write_error(m, LEANDET_ERR_MODEL, "out of range");
    m->ops[5].inputs[0] = in0;
    CHECK(ld_tflite_writer_knows(LD_OP_CONV_2D) && ld_tflite_writer_knows(LD_OP_CUSTOM) &&
          !ld_tflite_writer_knows(36));
    unload(&l);
}

static void test_writer_oom(const char *file)
{
    loaded l;
    if (!load(file, &l)) {
        unload(&l);
        return;
    }
    int bad = 0;
    long k;
    for (k = 0; k < 10000; k++) {
        ld_alloc a;
        ld_alloc_init(&a, NULL);
        a.fail_at = k;
        uint8_t *w = NULL;
        size_t n = 0;
        leandet_error err = {0};
        leandet_status st = write_desc(&l.m, &a, &w, &n, &err);
        if (st == LEANDET_OK) {
            ld_free(&a, w);
            CHECK(a.current == 0);
            break;
        }
        if (st != LEANDET_ERR_NO_MEMORY || a.current != 0 || w || !strstr(err.message, "out.tflite"))
            bad++;
    }
    CHECK_MSG(bad == 0, "%s: %d allocation failures mishandled", file, bad);
    CHECK(k > 3);
    unload(&l);
}

/* An allocation failure at every point of a tool (edit creation included)
 * gives NO_MEMORY and leaks nothing once the edit is freed. */
static void test_tool_oom(const char *file, leandet_status (*tool)(ld_edit *, ld_quant_report *))
{
    loaded l;
    if (!load(file, &l)) {
        unload(&l);
        return;
    }
    /* A clean run counts the allocations; about 150 of them, spread evenly
     * (every one for small runs) and the last few, are then made to fail. */
    long total = -1;
    int bad = 0, tried = 0;
    for (long k = -1; k < total || total < 0;) {
        ld_alloc a;
        ld_alloc_init(&a, NULL);
        a.fail_at = k;
        leandet_error err = {0};
        ld_edit e;
        ld_quant_report r;
        leandet_status st = ld_edit_init(&e, &l.m, file, &a, &err);
        if (st == LEANDET_OK)
            st = tool(&e, &r);
        ld_edit_free(&e);
        if (k < 0) {
            CHECK_MSG(st == LEANDET_OK && a.current == 0, "%s: %s", file, err.message);
            total = st == LEANDET_OK ? a.count : 0;
            k = 0;
            continue;
        }
        tried++;
        if (st != LEANDET_ERR_NO_MEMORY || a.current != 0 || !strstr(err.message, file))
            bad++;
        long step = total / 150 > 1 ? total / 150 : 1;
        k = k + step < total - 5 ? k + step : k + 1;
    }
    CHECK_MSG(bad == 0, "%s: %d of %d allocation failures mishandled", file, bad, tried);
    CHECK(tried > 10);
    printf("%s: %d of %ld allocations made to fail\n", file, tried, total);
    unload(&l);
}

/* ---- tools ------------------------------------------------------------------ */

static int count_ops(const ld_model_desc *m, int builtin)
{
    int n = 0;
    for (int i = 0; i < m->n_ops; i++)
        n += m->ops[i].builtin == builtin;
    return n;
}

/* Run `tool` on `file`; on success hand the edit to `check`. */
static void with_tool(const char *file, leandet_status (*tool)(ld_edit *, ld_quant_report *), leandet_status want,
                      const char *text, void (*check)(const ld_model_desc *orig, const ld_edit *e,
                                                      const ld_quant_report *r))
{
    loaded l;
    if (!load(file, &l)) {
        unload(&l);
        return;
    }
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    leandet_error err = {0};
    ld_edit e;
    ld_quant_report r;
    leandet_status st = ld_edit_init(&e, &l.m, file, &a, &err);
    if (st == LEANDET_OK)
        st = tool(&e, &r);
    CHECK_MSG(st == want && (want == LEANDET_OK || (strstr(err.message, text) && strstr(err.message, file))),
              "%s: status %d '%s', expected %d '%s'", file, (int)st, err.message, (int)want, text ? text : "");
    if (st == LEANDET_OK && check) {
        check(&l.m, &e, &r);
        /* The result writes and reads back as itself. */
        uint8_t *w = NULL;
        size_t n = 0;
        st = write_desc(&e.m, &a, &w, &n, &err);
        CHECK_MSG(st == LEANDET_OK, "%s", err.message);
        if (st == LEANDET_OK)
            check_written(file, &e.m, w, n);
        ld_free(&a, w);
    }
    ld_edit_free(&e);
    CHECK(a.current == 0);
    unload(&l);
}

/* IEEE half -> float for the test's own reference (normal numbers and zero
 * are all float16 weights hold). */
static float half(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e ? ldexpf(1.0f + m / 1024.0f, e - 15) : ldexpf(m / 1024.0f, -14);
    return h & 0x8000 ? -v : v;
}

/* The float32 values of the original tensor named `name` (malloc'd). */
static float *original_weights(const ld_model_desc *orig, const char *name, size_t n)
{
    for (int k = 0; k < orig->n_tensors; k++) {
        const ld_tensor_desc *t = &orig->tensors[k];
        if (strcmp(t->name, name) != 0 || ld_shape_count(&t->shape) != n)
            continue;
        float *v = malloc(n * sizeof *v);
        if (!v)
            return NULL;
        if (t->data && t->type == LEANDET_FLOAT32) {
            memcpy(v, t->data, n * sizeof *v);
            return v;
        }
        for (int i = 0; i < orig->n_ops; i++) {
            const ld_op_desc *op = &orig->ops[i];
            if (op->builtin == LD_OP_DEQUANTIZE && op->outputs[0] == k) {
                const ld_tensor_desc *h = &orig->tensors[op->inputs[0]];
                for (size_t j = 0; j < n && h->type == LEANDET_FLOAT16; j++)
                    v[j] = half(((const uint16_t *)h->data)[j]);
                if (h->type == LEANDET_FLOAT16)
                    return v;
            }
        }
        free(v);
        return NULL;
    }
    return NULL;
}

/* Every weighted op's weights with >= 1024 elements became int8 with one
 * scale per output channel = max |w| / 127 of the original float weights,
 * zero points 0, values round(w / scale); smaller ones stayed float32. */
static void check_dynamic(const ld_model_desc *orig, const ld_edit *e, const ld_quant_report *r)
{
    const ld_model_desc *m = &e->m;
    int quantized = 0, hybrid = 0, bad = 0;
    CHECK(count_ops(m, LD_OP_DEQUANTIZE) == 0);
    CHECK(m->n_ops == orig->n_ops - count_ops(orig, LD_OP_DEQUANTIZE));
    for (int i = 0; i < m->n_ops; i++) {
        const ld_op_desc *op = &m->ops[i];
        int axis = op->builtin == LD_OP_DEPTHWISE_CONV_2D ? 3 : 0;
        if (op->builtin != LD_OP_CONV_2D && op->builtin != LD_OP_DEPTHWISE_CONV_2D &&
            op->builtin != LD_OP_FULLY_CONNECTED)
            continue;
        const ld_tensor_desc *w = &m->tensors[op->inputs[1]];
        size_t n = ld_shape_count(&w->shape);
        if (n < LD_QUANT_MIN_ELEMENTS) {
            bad += w->type != LEANDET_FLOAT32;
            continue;
        }
        hybrid++;
        bad += w->type != LEANDET_INT8 || w->quant.count != w->shape.d[axis] || w->quant.axis != axis;
        bad += m->tensors[op->inputs[2]].type != LEANDET_FLOAT32;
        bad += op->builtin == LD_OP_DEPTHWISE_CONV_2D ? op->version != 6 : op->version != 5 && op->version != 2;
        /* The float weights, from the original by tensor name (for float16
         * models: the float16 input of the DEQUANTIZE that made them). */
        float *fv = original_weights(orig, w->name, n);
        if (!fv || w->quant.count < 1) {
            bad++;
            free(fv);
            continue;
        }
        quantized++;
        const int8_t *q = w->data;
        size_t inner = 1, ch = (size_t)w->shape.d[axis];
        for (int d = axis + 1; d < w->shape.rank; d++)
            inner *= (size_t)w->shape.d[d];
        for (size_t c = 0; c < ch; c++) {
            float max = 0.0f;
            for (size_t i = 0; i < n; i++)
                if ((i / inner) % ch == c && fabsf(fv[i]) > max)
                    max = fabsf(fv[i]);
            float s = w->quant.scale[c];
            bad += w->quant.zero_point[c] != 0 || fabsf(s - max / 127.0f) > 1e-6f * max;
        }
        for (size_t i = 0; i < n; i++) {
            float s = w->quant.scale[(i / inner) % ch];
            bad += abs(q[i]) > 127 || fabsf(q[i] * s - fv[i]) > 0.5001f * s;
        }
        free(fv);
    }
    CHECK_MSG(bad == 0, "%d problems in the quantized weights", bad);
    CHECK(quantized > 0 && r->weights == quantized && r->hybrid_ops == hybrid);
    CHECK(r->const_bytes_after < r->const_bytes_before);
}

static void check_dequantized(const ld_model_desc *orig, const ld_edit *e, const ld_quant_report *r)
{
    const ld_model_desc *m = &e->m;
    int bad = 0, relu6 = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ld_tensor_desc *t = &m->tensors[i];
        bad += t->type == LEANDET_UINT8 || t->type == LEANDET_INT8 || t->quant.count != 0;
    }
    CHECK_MSG(bad == 0, "%d tensors still quantized", bad);
    CHECK(count_ops(m, LD_OP_QUANTIZE) == 0);
    for (int i = 0; i < m->n_ops; i++)
        relu6 += (m->ops[i].builtin == LD_OP_CONV_2D || m->ops[i].builtin == LD_OP_DEPTHWISE_CONV_2D) &&
                 m->ops[i].params.conv.act == LD_ACT_RELU6;
    int relu6_before = 0;
    for (int i = 0; i < orig->n_ops; i++)
        relu6_before += (orig->ops[i].builtin == LD_OP_CONV_2D || orig->ops[i].builtin == LD_OP_DEPTHWISE_CONV_2D) &&
                        orig->ops[i].params.conv.act == LD_ACT_RELU6;
    CHECK(r->clamps > 0 && relu6 > relu6_before);
    /* Weights hold (q - zero point) * scale; biases q * input scale * weight scale. */
    for (int i = 0; i < orig->n_ops; i++) {
        const ld_op_desc *op = &orig->ops[i];
        if (op->builtin != LD_OP_CONV_2D || op->n_inputs < 3)
            continue;
        const ld_tensor_desc *qw = &orig->tensors[op->inputs[1]], *qb = &orig->tensors[op->inputs[2]],
                             *qi = &orig->tensors[op->inputs[0]];
        const ld_op_desc *fop = NULL;
        for (int k = 0; k < m->n_ops && !fop; k++)
            if (m->ops[k].builtin == LD_OP_CONV_2D &&
                strcmp(m->tensors[m->ops[k].outputs[0]].name, orig->tensors[op->outputs[0]].name) == 0)
                fop = &m->ops[k];
        CHECK(fop != NULL);
        if (!fop)
            return;
        const float *fw = m->tensors[fop->inputs[1]].data, *fb = m->tensors[fop->inputs[2]].data;
        const uint8_t *w8 = qw->data;
        const int32_t *b32 = qb->data;
        CHECK(fw[7] == (float)(qw->quant.scale[0] * (double)((int)w8[7] - qw->quant.zero_point[0])));
        CHECK(fabsf(fb[1] - (float)(b32[1] * (double)qi->quant.scale[0] * (double)qw->quant.scale[0])) <=
              1e-6f * fabsf(fb[1]));
        break; /* the first convolution is enough */
    }
}

static void check_yolo_dequantized(const ld_model_desc *orig, const ld_edit *e, const ld_quant_report *r)
{
    (void)orig;
    CHECK(r->removed_ops == 2 && count_ops(&e->m, LD_OP_QUANTIZE) == 0);
    for (int i = 0; i < e->m.n_tensors; i++)
        CHECK(e->m.tensors[i].type != LEANDET_INT8);
    /* The graph output keeps its name. */
    CHECK(strcmp(e->m.tensors[e->m.outputs[0]].name, orig->tensors[orig->outputs[0]].name) == 0);
}

static void test_tools(void)
{
    with_tool(SMALL, ld_quantize_dynamic, LEANDET_OK, NULL, check_dynamic);
    with_tool("face_detection_short_range.tflite", ld_quantize_dynamic, LEANDET_OK, NULL, check_dynamic);
    with_tool(SSD, ld_dequantize, LEANDET_OK, NULL, check_dequantized);
    with_tool("yolov8n_full_integer_quant.tflite", ld_dequantize, LEANDET_OK, NULL, check_yolo_dequantized);
    with_tool(SSD, ld_quantize_dynamic, LEANDET_ERR_UNSUPPORTED, "already quantized", NULL);
    with_tool(SMALL, ld_dequantize, LEANDET_ERR_UNSUPPORTED, "nothing to dequantize", NULL);
}

/* TensorFlow Lite's input quantizers on values worked out by hand. */
static void test_hybrid_quantizers(void)
{
    /* Range [-1, 2]: scale 3/255, zero point -128 + 85 = -43. */
    const float x[4] = {-1.0f, 0.0f, 1.0f, 2.0f};
    int8_t q[4];
    float s;
    int32_t off;
    ld_hybrid_quantize_asym(x, 4, q, &s, &off);
    CHECK(off == -43 && s == (float)(3.0 / 255.0));
    CHECK(q[0] == -128 && q[1] == -43 && q[2] == 42 && q[3] == 127);
    /* All zero: zeros, scale 1, offset 0. */
    const float z[3] = {0.0f, 0.0f, 0.0f};
    ld_hybrid_quantize_asym(z, 3, q, &s, &off);
    CHECK(s == 1.0f && off == 0 && q[0] == 0 && q[2] == 0);
    /* Symmetric: max |x| = 2 -> x * 63.5; 0.5 * 63.5 = 31.75 -> 32. */
    ld_hybrid_quantize_sym(x, 4, q, &s);
    CHECK(s == 2.0f / 127.0f && q[0] == -64 && q[1] == 0 && q[2] == 64 && q[3] == 127);
    /* Groups of 8 round as t + 0.5 truncated in float, the rest with round():
     * with max |x| = 127 the factor is exactly 1, and 0.49999997 (0.5 - 2^-25)
     * becomes 1 inside a group (0.49999997f + 0.5f rounds to 1.0f) but 0 in the
     * tail. */
    float y[9];
    for (int i = 0; i < 9; i++)
        y[i] = 0.49999997f;
    y[0] = 127.0f;
    y[2] = 2.5f;
    y[3] = -2.5f;
    int8_t qq[9];
    ld_hybrid_quantize_sym(y, 9, qq, &s);
    CHECK(s == 1.0f && qq[0] == 127 && qq[1] == 1 && qq[8] == 0 && qq[2] == 3 && qq[3] == -3);
}

int main(void)
{
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        test_round_trip(MODELS[i]);
    test_sparsity_and_metadata();
    test_refusals();
    test_writer_oom(SMALL);
    test_writer_oom(SSD);
    test_tools();
    test_tool_oom(SMALL, ld_quantize_dynamic);
    test_tool_oom("face_detection_short_range.tflite", ld_quantize_dynamic);
    test_tool_oom(SSD, ld_dequantize);
    test_hybrid_quantizers();
    return ld_test_finish();
}

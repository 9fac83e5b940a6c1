/* ld_tflite_parse: the Model table, operator codes, subgraph 0 (tensors,
 * operators, inputs, outputs), buffers and metadata.
 *
 * File identifier: TFLite writers always put "TFL3" at bytes 4..7, but the
 * TFLite runtime itself does not insist on it, so neither do we: a file
 * without it is parsed all the same, and if it then fails the message says
 * first that it is not a TFLite model (the usual reason). */
#include "model/tflite_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/ops.h"

enum { M_VERSION = 0, M_OPCODES = 1, M_SUBGRAPHS = 2, M_DESCRIPTION = 3, M_BUFFERS = 4, M_METADATA = 6 };
enum { OC_DEPRECATED = 0, OC_CUSTOM = 1, OC_VERSION = 2, OC_BUILTIN = 3 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum {
    OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS_TYPE = 3, OP_OPTIONS = 4, OP_CUSTOM = 5,
    OP_LARGE_OFFSET = 9, OP_LARGE_SIZE = 10
};
enum { B_DATA = 0, B_OFFSET = 1, B_SIZE = 2 };
enum { MD_NAME = 0, MD_BUFFER = 1 };

#define LD_SCHEMA_VERSION 3u

typedef struct opcode {
    int builtin, version;
    const char *custom;
} opcode;

typedef struct parse_state {
    ld_tfl c;
    opcode *codes;
    uint32_t n_codes;
} parse_state;

/* ---- errors and allocation ---------------------------------------------- */

static leandet_status vfail(ld_tfl *c, leandet_status st, const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const char *hint = c->no_ident && st == LEANDET_ERR_MODEL ? "not a TFLite model (no 'TFL3' identifier): " : "";
    return ld_fail(c->err, st, "%s: %s%s", c->file, hint, msg);
}

leandet_status ld_tfl_fail(ld_tfl *c, leandet_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    leandet_status r = vfail(c, st, fmt, ap);
    va_end(ap);
    return r;
}

leandet_status ld_tfl_bad_fb(ld_tfl *c, const char *ctx_fmt, ...)
{
    char ctx[300];
    va_list ap;
    va_start(ap, ctx_fmt);
    vsnprintf(ctx, sizeof ctx, ctx_fmt, ap);
    va_end(ap);
    return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: %s", ctx, c->fb.why);
}

void *ld_tfl_array(ld_tfl *c, size_t n, size_t size, const char *what, leandet_status *st)
{
    *st = LEANDET_OK;
    if (n == 0)
        return NULL;
    if (n > c->copy_budget / size) {
        *st = ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: tables share vectors beyond any plausible model size", what);
        return NULL;
    }
    c->copy_budget -= n * size;
    void *p = ld_calloc(c->alloc, n, size);
    if (!p)
        *st = ld_tfl_fail(c, LEANDET_ERR_NO_MEMORY, "out of memory reading %s", what);
    return p;
}

/* Arrays of descriptions (one entry per table in the file): not charged to the
 * copy budget, since each entry stands for a distinct 4-byte offset. */
static void *table_array(ld_tfl *c, uint32_t n, size_t size, const char *what, leandet_status *st)
{
    *st = LEANDET_OK;
    if (n == 0)
        return NULL;
    if (n > INT_MAX) {
        *st = ld_tfl_fail(c, LEANDET_ERR_UNSUPPORTED, "%u %s are more than leandet can index", n, what);
        return NULL;
    }
    void *p = ld_calloc(c->alloc, n, size);
    if (!p)
        *st = ld_tfl_fail(c, LEANDET_ERR_NO_MEMORY, "out of memory reading %u %s", n, what);
    return p;
}

/* ---- buffers ------------------------------------------------------------ */

leandet_status ld_tfl_buffer(ld_tfl *c, uint32_t index, const char *owner, const uint8_t **data, size_t *bytes)
{
    ld_fb *f = &c->fb;
    ld_fb_table b;
    ld_fb_vec v;
    uint64_t off, size;
    *data = NULL;
    *bytes = 0;
    if (!ld_fb_vec_table(f, &c->buffers, index, &b) || !ld_fb_vec_field(f, &b, B_DATA, 1, &v) ||
        !ld_fb_u64(f, &b, B_OFFSET, 0, &off) || !ld_fb_u64(f, &b, B_SIZE, 0, &size))
        return ld_tfl_bad_fb(c, "%s", owner);
    if (v.len) {
        *data = f->p + v.pos;
        *bytes = v.len;
    } else if (off > 1) { /* data outside the flatbuffer; 0 and 1 mean "none" */
        if (off > f->size || size > f->size - off)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s ends at byte %llu, file has %zu", owner,
                               (unsigned long long)off + (unsigned long long)size, f->size);
        *data = f->p + off;
        *bytes = (size_t)size;
    }
    return LEANDET_OK;
}

/* ---- operator codes and operators --------------------------------------- */

static leandet_status parse_opcodes(parse_state *ps, const ld_fb_table *model)
{
    ld_tfl *c = &ps->c;
    ld_fb *f = &c->fb;
    ld_fb_vec v;
    leandet_status st;
    if (!ld_fb_vec_field(f, model, M_OPCODES, 4, &v))
        return ld_tfl_bad_fb(c, "operator codes");
    ps->codes = table_array(c, v.len, sizeof *ps->codes, "operator codes", &st);
    if (st)
        return st;
    ps->n_codes = v.len;
    for (uint32_t i = 0; i < v.len; i++) {
        ld_fb_table t;
        uint8_t dep;
        int32_t code, version;
        const char *custom;
        if (!ld_fb_vec_table(f, &v, i, &t) || !ld_fb_u8(f, &t, OC_DEPRECATED, 0, &dep) ||
            !ld_fb_i32(f, &t, OC_BUILTIN, 0, &code) || !ld_fb_i32(f, &t, OC_VERSION, 1, &version) ||
            !ld_fb_str_field(f, &t, OC_CUSTOM, &custom))
            return ld_tfl_bad_fb(c, "operator code %u", i);
        /* Old files only set the int8 field, new ones both (the int8 one
         * saturated at 127): the larger is the real code. */
        int builtin = (int8_t)dep > code ? (int8_t)dep : code;
        if (builtin < 0)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "operator code %u: builtin code %d is invalid", i, builtin);
        if (builtin == LD_OP_CUSTOM && !custom)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "operator code %u: CUSTOM without a custom_code name", i);
        ps->codes[i] = (opcode){builtin, version, builtin == LD_OP_CUSTOM ? custom : NULL};
    }
    return LEANDET_OK;
}

/* Copy a vector of tensor indices; `optional` lets -1 mark an omitted input. */
static leandet_status tensor_indices(ld_tfl *c, const ld_fb_table *t, int id, int n_tensors, int optional,
                                     const char *what, int32_t **out, int *n)
{
    ld_fb_vec v;
    leandet_status st;
    if (!ld_fb_vec_field(&c->fb, t, id, 4, &v))
        return ld_tfl_bad_fb(c, "%s", what);
    *out = ld_tfl_array(c, v.len, sizeof(int32_t), what, &st);
    if (v.len && !*out)
        return st;
    for (uint32_t i = 0; i < v.len; i++) {
        int32_t x = ld_fb_vec_i32(&c->fb, &v, i);
        if (x >= n_tensors || x < (optional ? -1 : 0))
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: entry %u is tensor %d, out of range (%d tensors)", what, i,
                               x, n_tensors);
        (*out)[i] = x;
    }
    *n = (int)v.len;
    return LEANDET_OK;
}

static leandet_status parse_custom_options(ld_tfl *c, const char *ctx, const ld_fb_table *t, ld_op_desc *op)
{
    ld_fb *f = &c->fb;
    ld_fb_vec v;
    uint64_t off, size;
    if (!ld_fb_vec_field(f, t, OP_CUSTOM, 1, &v) || !ld_fb_u64(f, t, OP_LARGE_OFFSET, 0, &off) ||
        !ld_fb_u64(f, t, OP_LARGE_SIZE, 0, &size))
        return ld_tfl_bad_fb(c, "%s: custom options", ctx);
    if (v.len) {
        op->custom_options = f->p + v.pos;
        op->custom_options_bytes = v.len;
    } else if (off > 1) { /* outside the flatbuffer, as for buffers */
        if (off > f->size || size > f->size - off)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s: custom options end at byte %llu, file has %zu", ctx,
                               (unsigned long long)off + (unsigned long long)size, f->size);
        op->custom_options = f->p + off;
        op->custom_options_bytes = (size_t)size;
    }
    return LEANDET_OK;
}

static leandet_status parse_op(parse_state *ps, int index, const ld_fb_table *t, int n_tensors, ld_op_desc *op)
{
    ld_tfl *c = &ps->c;
    ld_fb *f = &c->fb;
    uint32_t code;
    if (!ld_fb_u32(f, t, OP_OPCODE, 0, &code))
        return ld_tfl_bad_fb(c, "operator %d", index);
    if (code >= ps->n_codes)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "operator %d: opcode_index %u out of range (%u operator codes)",
                           index, code, ps->n_codes);
    op->builtin = ps->codes[code].builtin;
    op->version = ps->codes[code].version;
    op->custom_name = ps->codes[code].custom;

    char nb[32], ctx[160];
    snprintf(ctx, sizeof ctx, "operator %d (%.100s)", index,
             op->custom_name ? op->custom_name : ld_op_name(op->builtin, nb, sizeof nb));
    char what_in[200], what_out[200];
    snprintf(what_in, sizeof what_in, "%s: inputs", ctx);
    snprintf(what_out, sizeof what_out, "%s: outputs", ctx);
    leandet_status st;
    if ((st = tensor_indices(c, t, OP_INPUTS, n_tensors, 1, what_in, &op->inputs, &op->n_inputs)) ||
        (st = tensor_indices(c, t, OP_OUTPUTS, n_tensors, 0, what_out, &op->outputs, &op->n_outputs)) ||
        (st = parse_custom_options(c, ctx, t, op)))
        return st;

    uint8_t type;
    ld_fb_table opt;
    bool present;
    if (!ld_fb_u8(f, t, OP_OPTIONS_TYPE, 0, &type) || !ld_fb_table_field(f, t, OP_OPTIONS, &opt, &present))
        return ld_tfl_bad_fb(c, "%s: builtin options", ctx);
    st = ld_tfl_options(f, op->builtin, type, type && present ? &opt : NULL, &op->params);
    if (st)
        return ld_tfl_fail(c, st, "%s: %s", ctx, f->why);
    return LEANDET_OK;
}

/* ---- subgraph 0 --------------------------------------------------------- */

static leandet_status parse_tensors(parse_state *ps, const ld_fb_table *sg, ld_model_desc *m)
{
    ld_tfl *c = &ps->c;
    ld_fb_vec v;
    leandet_status st;
    if (!ld_fb_vec_field(&c->fb, sg, SG_TENSORS, 4, &v))
        return ld_tfl_bad_fb(c, "subgraph 0: tensors");
    m->tensors = table_array(c, v.len, sizeof *m->tensors, "tensors", &st);
    if (st)
        return st;
    m->n_tensors = (int)v.len;
    for (int i = 0; i < m->n_tensors; i++) {
        ld_fb_table t;
        if (!ld_fb_vec_table(&c->fb, &v, (uint32_t)i, &t))
            return ld_tfl_bad_fb(c, "tensor %d", i);
        if ((st = ld_tfl_tensor(c, i, &t, &m->tensors[i])))
            return st;
    }
    return LEANDET_OK;
}

static leandet_status parse_ops(parse_state *ps, const ld_fb_table *sg, ld_model_desc *m)
{
    ld_tfl *c = &ps->c;
    ld_fb_vec v;
    leandet_status st;
    if (!ld_fb_vec_field(&c->fb, sg, SG_OPERATORS, 4, &v))
        return ld_tfl_bad_fb(c, "subgraph 0: operators");
    m->ops = table_array(c, v.len, sizeof *m->ops, "operators", &st);
    if (st)
        return st;
    m->n_ops = (int)v.len;
    for (int i = 0; i < m->n_ops; i++) {
        ld_fb_table t;
        if (!ld_fb_vec_table(&c->fb, &v, (uint32_t)i, &t))
            return ld_tfl_bad_fb(c, "operator %d", i);
        if ((st = parse_op(ps, i, &t, m->n_tensors, &m->ops[i])))
            return st;
    }
    return LEANDET_OK;
}

static leandet_status parse_subgraph(parse_state *ps, const ld_fb_table *model, ld_model_desc *m)
{
    ld_tfl *c = &ps->c;
    ld_fb_vec v;
    ld_fb_table sg;
    if (!ld_fb_vec_field(&c->fb, model, M_SUBGRAPHS, 4, &v))
        return ld_tfl_bad_fb(c, "subgraphs");
    if (v.len == 0)
        return ld_tfl_fail(c, LEANDET_ERR_MODEL, "model has no subgraphs");
    m->n_subgraphs = v.len > INT_MAX ? INT_MAX : (int)v.len;
    if (!ld_fb_vec_table(&c->fb, &v, 0, &sg))
        return ld_tfl_bad_fb(c, "subgraph 0");
    leandet_status st;
    if ((st = parse_tensors(ps, &sg, m)) ||
        (st = tensor_indices(c, &sg, SG_INPUTS, m->n_tensors, 0, "subgraph 0: inputs", &m->inputs, &m->n_inputs)) ||
        (st = tensor_indices(c, &sg, SG_OUTPUTS, m->n_tensors, 0, "subgraph 0: outputs", &m->outputs,
                             &m->n_outputs)))
        return st;
    return parse_ops(ps, &sg, m);
}

static leandet_status parse_metadata(parse_state *ps, const ld_fb_table *model, ld_model_desc *m)
{
    ld_tfl *c = &ps->c;
    ld_fb *f = &c->fb;
    ld_fb_vec v;
    leandet_status st;
    if (!ld_fb_vec_field(f, model, M_METADATA, 4, &v))
        return ld_tfl_bad_fb(c, "metadata");
    m->metadata = table_array(c, v.len, sizeof *m->metadata, "metadata entries", &st);
    if (st)
        return st;
    m->n_metadata = (int)v.len;
    for (uint32_t i = 0; i < v.len; i++) {
        ld_fb_table t;
        const char *name;
        uint32_t buf;
        if (!ld_fb_vec_table(f, &v, i, &t) || !ld_fb_str_field(f, &t, MD_NAME, &name) ||
            !ld_fb_u32(f, &t, MD_BUFFER, 0, &buf))
            return ld_tfl_bad_fb(c, "metadata %u", i);
        ld_metadata *md = &m->metadata[i];
        md->name = name ? name : "";
        char owner[160];
        snprintf(owner, sizeof owner, "metadata %u '%.80s': buffer %u", i, md->name, buf);
        if (buf >= c->buffers.len)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "%s out of range (%u buffers)", owner, c->buffers.len);
        if ((st = ld_tfl_buffer(c, buf, owner, &md->data, &md->bytes)))
            return st;
    }
    return LEANDET_OK;
}

/* ---- constants that must be copied -------------------------------------- */

static int misaligned(const ld_tensor_desc *t)
{
    size_t elem = leandet_dtype_size(t->type);
    return t->data && elem > 1 && (uintptr_t)t->data % elem != 0;
}

#define ALIGN_UP(n) (((n) + 63) & ~(size_t)63)

/* Kernels read weights as typed arrays, so a constant that is not aligned to
 * its element size (only in odd or hostile files: writers align buffers to
 * 16) is copied. The copies live in the same block as the tensor array, so
 * freeing that array frees them too. */
static leandet_status align_constants(ld_tfl *c, ld_model_desc *m)
{
    size_t extra = 0, limit = c->fb.size;
    for (int i = 0; i < m->n_tensors; i++) {
        if (!misaligned(&m->tensors[i]))
            continue;
        size_t b = ALIGN_UP(m->tensors[i].data_bytes);
        if (b > limit - extra)
            return ld_tfl_fail(c, LEANDET_ERR_MODEL, "misaligned constant buffers add up to more than the file");
        extra += b;
    }
    if (extra == 0)
        return LEANDET_OK;
    size_t head = ALIGN_UP((size_t)m->n_tensors * sizeof *m->tensors);
    uint8_t *block = ld_malloc(c->alloc, head + extra);
    if (!block)
        return ld_tfl_fail(c, LEANDET_ERR_NO_MEMORY, "out of memory copying %zu bytes of misaligned constants", extra);
    memcpy(block, m->tensors, (size_t)m->n_tensors * sizeof *m->tensors);
    ld_free(c->alloc, m->tensors);
    m->tensors = (ld_tensor_desc *)(void *)block;
    uint8_t *dst = block + head;
    for (int i = 0; i < m->n_tensors; i++) {
        ld_tensor_desc *t = &m->tensors[i];
        if (!misaligned(t))
            continue;
        memcpy(dst, t->data, t->data_bytes);
        t->data = dst;
        m->copied_bytes += t->data_bytes;
        dst += ALIGN_UP(t->data_bytes);
    }
    return LEANDET_OK;
}

/* ---- entry points ------------------------------------------------------- */

static leandet_status parse_model(parse_state *ps, ld_model_desc *m)
{
    ld_tfl *c = &ps->c;
    ld_fb *f = &c->fb;
    ld_fb_table model;
    const char *desc;
    uint32_t version;
    if (!ld_fb_root(f, &model))
        return ld_tfl_bad_fb(c, "root table");
    if (!ld_fb_u32(f, &model, M_VERSION, 0, &version) || !ld_fb_str_field(f, &model, M_DESCRIPTION, &desc) ||
        !ld_fb_vec_field(f, &model, M_BUFFERS, 4, &c->buffers))
        return ld_tfl_bad_fb(c, "model table");
    if (version != LD_SCHEMA_VERSION)
        return ld_tfl_fail(c, c->no_ident ? LEANDET_ERR_MODEL : LEANDET_ERR_UNSUPPORTED,
                           "schema version %u (leandet reads version %u)", version, LD_SCHEMA_VERSION);
    m->version = version;
    m->description = desc ? desc : "";
    leandet_status st;
    if ((st = parse_opcodes(ps, &model)) || (st = parse_subgraph(ps, &model, m)) ||
        (st = parse_metadata(ps, &model, m)))
        return st;
    return align_constants(c, m);
}

leandet_status ld_tflite_parse(const uint8_t *bytes, size_t size, const char *file, ld_alloc *alloc,
                               ld_model_desc *out, leandet_error *err)
{
    if (!out || !alloc || (!bytes && size))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "ld_tflite_parse: NULL argument");
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    ps.c.fb.p = bytes;
    ps.c.fb.size = size;
    ps.c.file = file ? file : "model";
    ps.c.alloc = alloc;
    ps.c.err = err;
    ps.c.copy_budget = size > (SIZE_MAX - 65536) / 4 ? SIZE_MAX : 4 * size + 65536;
    if (size == 0)
        return ld_fail(err, LEANDET_ERR_MODEL, "%s: file is empty", ps.c.file);
    ps.c.no_ident = size < 8 || memcmp(bytes + 4, "TFL3", 4) != 0;

    ld_model_desc m;
    memset(&m, 0, sizeof m);
    leandet_status st = parse_model(&ps, &m);
    ld_free(alloc, ps.codes);
    if (st != LEANDET_OK) {
        ld_model_desc_free(&m, alloc);
        return st;
    }
    *out = m;
    return LEANDET_OK;
}

void ld_model_desc_free(ld_model_desc *m, ld_alloc *alloc)
{
    if (!m)
        return;
    for (int i = 0; m->tensors && i < m->n_tensors; i++)
        ld_tfl_tensor_free(&m->tensors[i], alloc);
    for (int i = 0; m->ops && i < m->n_ops; i++) {
        ld_free(alloc, m->ops[i].inputs);
        ld_free(alloc, m->ops[i].outputs);
    }
    ld_free(alloc, m->tensors);
    ld_free(alloc, m->ops);
    ld_free(alloc, m->inputs);
    ld_free(alloc, m->outputs);
    ld_free(alloc, m->metadata);
    memset(m, 0, sizeof *m);
}

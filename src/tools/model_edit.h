/* An editable model: a mutable ld_model_desc built from a parsed one, for
 * the tools that rewrite models (quantize, dequantize) before
 * tools/tflite_writer.h writes them out.
 *
 * Ownership: the edit shares the large data of its source (names, constant
 * bytes, custom options, metadata, sparsity), so the source description
 * and the file bytes it points into must outlive the edit. Everything the
 * edit creates (its arrays, new constants, new quantization) comes from one
 * ld_alloc and is released at once by ld_edit_free. Edits replace arrays
 * instead of writing into shared ones, so the source is never modified.
 * Tensors' `buffer` numbers are not maintained (the writer numbers buffers
 * by data pointer). */
#ifndef LD_TOOLS_MODEL_EDIT_H
#define LD_TOOLS_MODEL_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

typedef struct ld_edit_block ld_edit_block;

typedef struct ld_edit {
    ld_model_desc m;          /* the model being edited */
    const char *file;         /* names the model in messages */
    ld_alloc *alloc;
    leandet_error *err;
    ld_edit_block *blocks;    /* every allocation of the edit */
} ld_edit;

/* Copy `src` into an editable model. Errors (NO_MEMORY) leave *e empty. */
leandet_status ld_edit_init(ld_edit *e, const ld_model_desc *src, const char *file, ld_alloc *alloc,
                            leandet_error *err);
void ld_edit_free(ld_edit *e);

/* Zeroed memory owned by the edit, or NULL (with e->err set) when out of
 * memory; `what` names it in the message. */
void *ld_edit_alloc(ld_edit *e, size_t n, size_t size, const char *what);

/* Quantization of tensor t replaced by count scales/zero points (copied)
 * along `axis`; count 0 removes it. */
leandet_status ld_edit_set_quant(ld_edit *e, int t, int count, int axis, const float *scale,
                                 const int32_t *zero_point);

/* Make every use of tensor `from` (operator inputs, graph outputs) a use
 * of `to`. Graph inputs are left alone. */
void ld_edit_replace_uses(ld_edit *e, int from, int to);

/* Remove operator `op` (later operators move down one place). */
void ld_edit_remove_op(ld_edit *e, int op);

/* Remove an operator that passes input 0 through unchanged (after an
 * edit made its input and output the same values). The consumers of its
 * output read its input instead; when its output is a graph output and its
 * input is not a graph input, the producer of the input writes the output
 * tensor instead, so the graph keeps its output names. */
leandet_status ld_edit_bypass_op(ld_edit *e, int op);

/* Number of operators reading tensor t, and whether t is a graph output. */
int ld_edit_uses(const ld_edit *e, int t);
int ld_edit_is_output(const ld_edit *e, int t);
int ld_edit_is_input(const ld_edit *e, int t);

/* The operator writing tensor t, or -1. */
int ld_edit_producer(const ld_edit *e, int t);

/* Drop tensors that no operator and no graph input/output refers to, and
 * renumber the rest (order kept). */
leandet_status ld_edit_compact(ld_edit *e);

#endif

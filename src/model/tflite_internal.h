/* Shared state of one ld_tflite_parse() call, split over tflite_reader.c
 * (model, subgraph, operators), tflite_tensor.c (tensors, quantization,
 * sparsity) and options.c (builtin options). Not part of the model contract. */
#ifndef LD_MODEL_TFLITE_INTERNAL_H
#define LD_MODEL_TFLITE_INTERNAL_H

#include "core/error.h"
#include "model/flatbuf.h"
#include "model/model.h"

typedef struct ld_tfl {
    ld_fb fb;
    const char *file;       /* for messages */
    ld_alloc *alloc;
    leandet_error *err;
    ld_fb_vec buffers;      /* Model.buffers */
    int no_ident;           /* bytes 4..7 are not "TFL3": failures say "not a TFLite model" */
    /* Bytes of small arrays the reader may still copy. Flatbuffers can make
     * many tables share one vector, so a small hostile file could otherwise
     * ask for gigabytes of copies; a real model copies less than its size. */
    size_t copy_budget;
} ld_tfl;

/* "file: <context>: <f->why>" as LEANDET_ERR_MODEL. */
leandet_status ld_tfl_bad_fb(ld_tfl *c, const char *ctx_fmt, ...) LD_PRINTF(2, 3);
/* "file: <message>" with the given status. */
leandet_status ld_tfl_fail(ld_tfl *c, leandet_status st, const char *fmt, ...) LD_PRINTF(3, 4);
/* Zeroed array of n elements of `size` bytes for copied data, charged to the
 * copy budget. On failure NULL with *st set and the error reported (NO_MEMORY,
 * or MODEL when over budget); n == 0 gives NULL with *st = LEANDET_OK. */
void *ld_tfl_array(ld_tfl *c, size_t n, size_t size, const char *what, leandet_status *st);

/* Contents of buffer `index` (already range-checked): in the flatbuffer or,
 * for files larger than 2 GiB, at an absolute offset. NULL/0 when empty. */
leandet_status ld_tfl_buffer(ld_tfl *c, uint32_t index, const char *owner, const uint8_t **data, size_t *bytes);

leandet_status ld_tfl_tensor(ld_tfl *c, int index, const ld_fb_table *t, ld_tensor_desc *out);
void ld_tfl_tensor_free(ld_tensor_desc *t, ld_alloc *alloc);

/* Decode the builtin options table (NULL when absent) of `builtin` into
 * `out`, applying the schema defaults. Builtins leandet does not decode are
 * accepted with zeroed params. Sets f->why on failure and returns
 * LEANDET_ERR_MODEL or LEANDET_ERR_UNSUPPORTED. */
leandet_status ld_tfl_options(ld_fb *f, int builtin, unsigned type, const ld_fb_table *opt, ld_op_params *out);

#endif

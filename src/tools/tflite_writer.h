/* The .tflite writer: serializes a model description (ld_model_desc, as the
 * reader produces it or as tools/model_edit.h edits it) into a TensorFlow
 * Lite flatbuffer of schema version 3 that TensorFlow Lite loads.
 *
 * What is written: operator codes (builtin_code and the saturated
 * deprecated_builtin_code, version, custom name), one subgraph (tensors with
 * shape, type, buffer, name, quantization with per-channel scales and
 * quantized_dimension, sparsity, is_variable; operators with inputs,
 * outputs, builtin options re-encoded from ld_op_params, custom options),
 * buffers (buffer 0 empty, every constant 16-byte aligned, tensors that
 * shared a buffer still share one), metadata entries, description, and the
 * "TFL3" identifier.
 *
 * What is not: anything the description does not hold (signature defs, the
 * deprecated metadata_buffer list, quantization min/max, shape signatures,
 * subgraph names, subgraphs other than 0). Builtin operators whose options
 * leandet does not model are refused, since their options cannot be
 * reproduced; so are models with more than one subgraph. */
#ifndef LD_TOOLS_TFLITE_WRITER_H
#define LD_TOOLS_TFLITE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "model/model.h"

/* Serialize `m`. `name` names the output in error messages. On success *out
 * (allocated from `alloc`, release with ld_free) holds *size bytes. Errors:
 * LEANDET_ERR_UNSUPPORTED for what the writer cannot express,
 * LEANDET_ERR_MODEL for an inconsistent description, LEANDET_ERR_NO_MEMORY. */
leandet_status ld_tflite_write(const ld_model_desc *m, const char *name, ld_alloc *alloc, uint8_t **out,
                               size_t *size, leandet_error *err);

/* 1 if the writer can encode builtin operator `builtin` (its options are
 * modelled by ld_op_params, or it has none); CUSTOM counts as known. */
int ld_tflite_writer_knows(int builtin);

#endif

/* The validated, in-memory description of a TFLite model (subgraph 0).
 *
 * Produced by ld_tflite_parse() from bytes that have already been checked:
 * every index is in range, every shape is non-negative, every constant
 * buffer lies inside the file. Large data (weights, names, custom options)
 * is not copied: pointers refer into the mapped file, and weight pointers
 * are aligned to their element size (the reader copies the rare misaligned
 * buffer). Small arrays (shapes, quantization, op inputs) are owned by the
 * description and freed by ld_model_desc_free(). Immutable after parsing. */
#ifndef LD_MODEL_MODEL_H
#define LD_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "leandet.h"

#define LD_MAX_DIMS LEANDET_MAX_DIMS

typedef leandet_dtype ld_dtype;

typedef struct ld_shape {
    int rank;
    int32_t d[LD_MAX_DIMS];
} ld_shape;

typedef struct ld_quant {
    int count;            /* 0: not quantized; 1: per tensor; >1: per channel */
    int axis;             /* quantized_dimension, for count > 1 */
    float *scale;         /* count entries */
    int32_t *zero_point;  /* count entries (schema stores int64; range-checked) */
} ld_quant;

/* Sparse tensor encoding (TFLite SparsityParameters), for DENSIFY. */
typedef enum { LD_DIM_DENSE = 0, LD_DIM_SPARSE_CSR = 1 } ld_dim_format;

typedef struct ld_dim_meta {
    ld_dim_format format;
    int32_t dense_size;
    int n_segments, n_indices;
    int32_t *segments;    /* widened to int32, owned */
    int32_t *indices;     /* widened to int32, owned */
} ld_dim_meta;

typedef struct ld_sparsity {
    int n_traversal, n_block_map, n_dims;
    int32_t *traversal_order;
    int32_t *block_map;
    ld_dim_meta *dims;
} ld_sparsity;

typedef struct ld_tensor_desc {
    const char *name;      /* NUL-terminated, in the file, never NULL ("" if absent) */
    ld_dtype type;
    ld_shape shape;
    ld_quant quant;
    const void *data;      /* constant contents, or NULL for activations */
    size_t data_bytes;     /* equals element count * element size when data != NULL
                              (sparse tensors: size of the stored values) */
    int is_variable;
    int buffer;            /* buffer index in the file */
    ld_sparsity *sparsity; /* NULL when dense */
} ld_tensor_desc;

typedef enum { LD_PAD_SAME = 0, LD_PAD_VALID = 1 } ld_padding;

typedef enum {
    LD_ACT_NONE = 0,
    LD_ACT_RELU = 1,
    LD_ACT_RELU_N1_TO_1 = 2,
    LD_ACT_RELU6 = 3,
    LD_ACT_TANH = 4,
    LD_ACT_SIGN_BIT = 5
} ld_activation;

/* CONV_2D and DEPTHWISE_CONV_2D */
typedef struct ld_conv_params {
    ld_padding padding;
    int stride_w, stride_h;
    int dilation_w, dilation_h;   /* default 1 */
    int depth_multiplier;         /* depthwise only */
    ld_activation act;
} ld_conv_params;

typedef struct ld_pool_params {
    ld_padding padding;
    int stride_w, stride_h, filter_w, filter_h;
    ld_activation act;
} ld_pool_params;

typedef struct ld_fc_params {
    ld_activation act;
    int weights_format;           /* 0 DEFAULT; others unsupported */
    int keep_num_dims;
    int asymmetric_quantize_inputs;
} ld_fc_params;

typedef struct ld_arith_params {  /* ADD, SUB, MUL */
    ld_activation act;
} ld_arith_params;

typedef struct ld_concat_params {
    int axis;
    ld_activation act;
} ld_concat_params;

typedef struct ld_reshape_params {
    int n;                        /* -1: option absent (shape comes from input 1 or output) */
    int32_t shape[LD_MAX_DIMS];
} ld_reshape_params;

typedef struct ld_softmax_params {
    float beta;
} ld_softmax_params;

typedef struct ld_strided_slice_params {
    int begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask;
    int offset;
} ld_strided_slice_params;

typedef struct ld_resize_params { /* RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR */
    int align_corners, half_pixel_centers;
} ld_resize_params;

typedef struct ld_reducer_params { /* MEAN */
    int keep_dims;
} ld_reducer_params;

typedef struct ld_squeeze_params {
    int n;                        /* 0: squeeze every dim of size 1 */
    int32_t dims[LD_MAX_DIMS];
} ld_squeeze_params;

typedef struct ld_depth_to_space_params {
    int block_size;
} ld_depth_to_space_params;

typedef union ld_op_params {
    ld_conv_params conv;
    ld_pool_params pool;
    ld_fc_params fc;
    ld_arith_params arith;
    ld_concat_params concat;
    ld_reshape_params reshape;
    ld_softmax_params softmax;
    ld_strided_slice_params strided_slice;
    ld_resize_params resize;
    ld_reducer_params reducer;
    ld_squeeze_params squeeze;
    ld_depth_to_space_params depth_to_space;
} ld_op_params;

typedef struct ld_op_desc {
    int builtin;                 /* max(builtin_code, deprecated_builtin_code) */
    const char *custom_name;     /* CUSTOM only: NUL-terminated, in the file; else NULL */
    int version;
    int n_inputs, n_outputs;
    int32_t *inputs;             /* owned; -1 marks an omitted optional input */
    int32_t *outputs;            /* owned */
    ld_op_params params;         /* filled for the builtins above; defaults if no options table */
    const uint8_t *custom_options;   /* FlexBuffer bytes in the file, or NULL */
    size_t custom_options_bytes;
} ld_op_desc;

typedef struct ld_metadata {
    const char *name;            /* in the file */
    const uint8_t *data;         /* buffer contents, may be NULL */
    size_t bytes;
} ld_metadata;

typedef struct ld_model_desc {
    uint32_t version;            /* schema version (3) */
    const char *description;     /* "" if absent */
    int n_tensors, n_ops, n_inputs, n_outputs, n_metadata;
    ld_tensor_desc *tensors;
    ld_op_desc *ops;             /* in execution order */
    int32_t *inputs, *outputs;   /* tensor indices */
    ld_metadata *metadata;
    int n_subgraphs;             /* only subgraph 0 is run */
    size_t copied_bytes;         /* weight bytes the reader had to copy (alignment) */
} ld_model_desc;

/* Parse and validate `size` bytes of a .tflite file. `file` names it in error
 * messages. The bytes must outlive the description. */
leandet_status ld_tflite_parse(const uint8_t *bytes, size_t size, const char *file,
                               ld_alloc *alloc, ld_model_desc *out, leandet_error *err);
void ld_model_desc_free(ld_model_desc *m, ld_alloc *alloc);

/* Element count of a shape (1 for rank 0); 0 if any dim is 0. Callers rely on
 * the reader having rejected shapes whose byte size overflows size_t. */
size_t ld_shape_count(const ld_shape *s);
/* Same rank and dims. */
int ld_shape_equal(const ld_shape *a, const ld_shape *b);

#endif

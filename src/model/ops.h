/* TFLite BuiltinOperator codes (schema.fbs) for the operators leandet knows
 * by name. The reader keeps the code of any operator; the registry decides
 * whether it can run. */
#ifndef LD_MODEL_OPS_H
#define LD_MODEL_OPS_H

enum {
    LD_OP_ADD = 0,
    LD_OP_AVERAGE_POOL_2D = 1,
    LD_OP_CONCATENATION = 2,
    LD_OP_CONV_2D = 3,
    LD_OP_DEPTHWISE_CONV_2D = 4,
    LD_OP_DEPTH_TO_SPACE = 5,
    LD_OP_DEQUANTIZE = 6,
    LD_OP_FULLY_CONNECTED = 9,
    LD_OP_LOGISTIC = 14,
    LD_OP_MAX_POOL_2D = 17,
    LD_OP_MUL = 18,
    LD_OP_RELU = 19,
    LD_OP_RELU6 = 21,
    LD_OP_RESHAPE = 22,
    LD_OP_RESIZE_BILINEAR = 23,
    LD_OP_SOFTMAX = 25,
    LD_OP_TANH = 28,
    LD_OP_CUSTOM = 32,
    LD_OP_PAD = 34,
    LD_OP_TRANSPOSE = 39,
    LD_OP_MEAN = 40,
    LD_OP_SUB = 41,
    LD_OP_SQUEEZE = 43,
    LD_OP_STRIDED_SLICE = 45,
    LD_OP_PRELU = 54,
    LD_OP_PADV2 = 60,
    LD_OP_RESIZE_NEAREST_NEIGHBOR = 97,
    LD_OP_QUANTIZE = 114,
    LD_OP_HARD_SWISH = 117,
    LD_OP_DENSIFY = 124
};

/* Name of a builtin code ("CONV_2D"), or "BUILTIN_<n>" written into buf. */
const char *ld_op_name(int builtin, char *buf, int buflen);

#endif

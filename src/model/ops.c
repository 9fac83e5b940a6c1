#include "model/ops.h"

#include <stdio.h>

static const struct { int code; const char *name; } names[] = {
    {LD_OP_ADD, "ADD"}, {LD_OP_AVERAGE_POOL_2D, "AVERAGE_POOL_2D"}, {LD_OP_CONCATENATION, "CONCATENATION"},
    {LD_OP_CONV_2D, "CONV_2D"}, {LD_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D"},
    {LD_OP_DEPTH_TO_SPACE, "DEPTH_TO_SPACE"}, {LD_OP_DEQUANTIZE, "DEQUANTIZE"}, {7, "EMBEDDING_LOOKUP"},
    {8, "FLOOR"}, {LD_OP_FULLY_CONNECTED, "FULLY_CONNECTED"}, {11, "L2_NORMALIZATION"}, {12, "L2_POOL_2D"},
    {LD_OP_LOGISTIC, "LOGISTIC"}, {16, "LSTM"}, {LD_OP_MAX_POOL_2D, "MAX_POOL_2D"}, {LD_OP_MUL, "MUL"},
    {LD_OP_RELU, "RELU"}, {20, "RELU_N1_TO_1"}, {LD_OP_RELU6, "RELU6"}, {LD_OP_RESHAPE, "RESHAPE"},
    {LD_OP_RESIZE_BILINEAR, "RESIZE_BILINEAR"}, {LD_OP_SOFTMAX, "SOFTMAX"}, {26, "SPACE_TO_DEPTH"},
    {LD_OP_TANH, "TANH"}, {LD_OP_CUSTOM, "CUSTOM"}, {LD_OP_PAD, "PAD"}, {36, "GATHER"},
    {37, "BATCH_TO_SPACE_ND"}, {38, "SPACE_TO_BATCH_ND"}, {LD_OP_TRANSPOSE, "TRANSPOSE"}, {LD_OP_MEAN, "MEAN"},
    {LD_OP_SUB, "SUB"}, {42, "DIV"}, {LD_OP_SQUEEZE, "SQUEEZE"}, {LD_OP_STRIDED_SLICE, "STRIDED_SLICE"},
    {47, "EXP"}, {48, "TOPK_V2"}, {49, "SPLIT"}, {53, "CAST"}, {LD_OP_PRELU, "PRELU"}, {55, "MAXIMUM"},
    {56, "ARG_MAX"}, {57, "MINIMUM"}, {LD_OP_PADV2, "PADV2"}, {65, "SLICE"}, {67, "TRANSPOSE_CONV"},
    {69, "TILE"}, {70, "EXPAND_DIMS"}, {74, "SUM"}, {75, "SQRT"}, {76, "RSQRT"}, {77, "SHAPE"},
    {82, "REDUCE_MAX"}, {83, "PACK"}, {88, "UNPACK"}, {92, "SQUARE"},
    {LD_OP_RESIZE_NEAREST_NEIGHBOR, "RESIZE_NEAREST_NEIGHBOR"}, {98, "LEAKY_RELU"}, {100, "MIRROR_PAD"},
    {102, "SPLIT_V"}, {LD_OP_QUANTIZE, "QUANTIZE"}, {LD_OP_HARD_SWISH, "HARD_SWISH"},
    {120, "NON_MAX_SUPPRESSION_V4"}, {121, "NON_MAX_SUPPRESSION_V5"}, {LD_OP_DENSIFY, "DENSIFY"},
    {126, "BATCH_MATMUL"}, {150, "GELU"},
};

const char *ld_op_name(int builtin, char *buf, int buflen)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == builtin)
            return names[i].name;
    snprintf(buf, (size_t)buflen, "BUILTIN_%d", builtin);
    return buf;
}

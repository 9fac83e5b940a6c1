/* libFuzzer target for the TFLite model reader: any bytes must either parse
 * into a description that can be walked, or fail with a message; never crash,
 * overread or leak. Build: cmake -DLEANDET_FUZZ=ON with CC=clang. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ld_alloc a;
    ld_alloc_init(&a, NULL);
    a.limit = (size_t)1 << 30; /* a hostile file must not ask for more */
    ld_model_desc m;
    leandet_error err;
    if (ld_tflite_parse(data, size, "fuzz.tflite", &a, &m, &err) != LEANDET_OK) {
        if (a.current != 0 || strncmp(err.message, "fuzz.tflite: ", 13) != 0)
            __builtin_trap();
        return 0;
    }
    /* Touch what the contract promises is readable. */
    volatile unsigned sink = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        const ld_tensor_desc *t = &m.tensors[i];
        sink += (unsigned)strlen(t->name);
        if (t->data)
            sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->data_bytes - 1];
        for (int q = 0; q < t->quant.count; q++)
            sink += (unsigned)t->quant.zero_point[q];
    }
    for (int i = 0; i < m.n_ops; i++) {
        const ld_op_desc *op = &m.ops[i];
        for (int k = 0; k < op->n_inputs; k++)
            if (op->inputs[k] >= 0)
                sink += (unsigned)m.tensors[op->inputs[k]].shape.rank;
        for (int k = 0; k < op->n_outputs; k++)
            sink += (unsigned)m.tensors[op->outputs[k]].shape.rank;
        if (op->custom_name)
            sink += (unsigned)strlen(op->custom_name);
        if (op->custom_options_bytes)
            sink += op->custom_options[op->custom_options_bytes - 1];
    }
    for (int i = 0; i < m.n_metadata; i++)
        if (m.metadata[i].bytes)
            sink += m.metadata[i].data[m.metadata[i].bytes - 1];
    (void)sink;
    ld_model_desc_free(&m, &a);
    if (a.current != 0)
        __builtin_trap();
    return 0;
}

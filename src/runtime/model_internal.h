/* What the rest of the library (and the CLI's inspect/tensors tools) may see
 * of a leandet_model: the mapped file and its validated description. */
#ifndef LD_RUNTIME_MODEL_INTERNAL_H
#define LD_RUNTIME_MODEL_INTERNAL_H

#include "leandet.h"
#include "model/model.h"

struct leandet_model {
    char *path;               /* owned copy */
    const uint8_t *bytes;     /* mmap of the whole file (read-only) */
    size_t size;
    ld_alloc alloc;           /* used only while opening/closing: the model is immutable after */
    ld_model_desc desc;
};

static inline const ld_model_desc *ld_model_desc_of(const leandet_model *m) { return &m->desc; }

#endif

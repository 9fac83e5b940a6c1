/* leandet_model: the whole .tflite file mapped read-only, plus its validated
 * description. Weights stay in the mapping (shared by every session). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "runtime/model_internal.h"

static leandet_status map_file(const char *path, const uint8_t **bytes, size_t *size, leandet_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ld_fail(err, LEANDET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    leandet_status s = LEANDET_OK;
    if (fstat(fd, &st) != 0)
        s = ld_fail(err, LEANDET_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = ld_fail(err, LEANDET_ERR_IO, "%s: not a regular file", path);
    else if (st.st_size == 0)
        s = ld_fail(err, LEANDET_ERR_MODEL, "%s: file is empty", path);
    else if ((uintmax_t)st.st_size > SIZE_MAX)
        s = ld_fail(err, LEANDET_ERR_IO, "%s: file is too large to map", path);
    if (s == LEANDET_OK) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            s = ld_fail(err, errno == ENOMEM ? LEANDET_ERR_NO_MEMORY : LEANDET_ERR_IO, "%s: cannot map: %s", path,
                        strerror(errno));
        } else {
            *bytes = p;
            *size = (size_t)st.st_size;
        }
    }
    close(fd);
    return s;
}

leandet_status leandet_model_open(const char *path, const leandet_allocator *alloc, leandet_model **out,
                                  leandet_error *err)
{
    if (!path || !out)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_model_open: path and out must not be NULL");
    if (alloc && (!alloc->alloc || !alloc->free))
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "leandet_model_open: allocator needs both alloc and free");
    ld_alloc a;
    ld_alloc_init(&a, alloc);
    const uint8_t *bytes = NULL;
    size_t size = 0;
    leandet_status s = map_file(path, &bytes, &size, err);
    if (s != LEANDET_OK)
        return s;
    size_t plen = strlen(path);
    leandet_model *m = ld_calloc(&a, 1, sizeof *m);
    char *pcopy = ld_malloc(&a, plen + 1);
    if (!m || !pcopy) {
        s = ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory opening the model", path);
    } else {
        memcpy(pcopy, path, plen + 1);
        s = ld_tflite_parse(bytes, size, path, &a, &m->desc, err);
    }
    if (s != LEANDET_OK) {
        ld_free(&a, pcopy);
        ld_free(&a, m);
        munmap((void *)bytes, size);
        return s;
    }
    m->path = pcopy;
    m->bytes = bytes;
    m->size = size;
    m->alloc = a; /* carries the accounting of everything above */
    *out = m;
    return LEANDET_OK;
}

void leandet_model_close(leandet_model *model)
{
    if (!model)
        return;
    ld_alloc a = model->alloc;
    ld_model_desc_free(&model->desc, &a);
    munmap((void *)model->bytes, model->size);
    ld_free(&a, model->path);
    ld_free(&a, model);
}

int leandet_model_num_inputs(const leandet_model *model) { return model ? model->desc.n_inputs : 0; }

int leandet_model_num_outputs(const leandet_model *model) { return model ? model->desc.n_outputs : 0; }

static leandet_status tensor_info(const leandet_model *model, const int32_t *list, int n, int index,
                                  leandet_tensor_info *out)
{
    if (!model || !out || index < 0 || index >= n)
        return LEANDET_ERR_ARGUMENT;
    const ld_tensor_desc *t = &model->desc.tensors[list[index]];
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->type = t->type;
    out->rank = t->shape.rank;
    memcpy(out->dims, t->shape.d, sizeof out->dims);
    out->quantized = t->quant.count > 0;
    if (out->quantized) {
        out->scale = t->quant.scale[0];
        out->zero_point = t->quant.zero_point[0];
        out->per_channel = t->quant.count > 1;
    }
    return LEANDET_OK;
}

leandet_status leandet_model_input_info(const leandet_model *model, int index, leandet_tensor_info *out)
{
    return tensor_info(model, model ? model->desc.inputs : NULL, leandet_model_num_inputs(model), index, out);
}

leandet_status leandet_model_output_info(const leandet_model *model, int index, leandet_tensor_info *out)
{
    return tensor_info(model, model ? model->desc.outputs : NULL, leandet_model_num_outputs(model), index, out);
}

const char *leandet_model_path(const leandet_model *model) { return model ? model->path : NULL; }

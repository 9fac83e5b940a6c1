#include "tensor_dump.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "runtime/session_internal.h"

int ld_make_dirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        fprintf(stderr, "leandet: %s: invalid directory name\n", path);
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, "leandet: %s: cannot create directory: %s\n", buf, strerror(errno));
                return -1;
            }
            buf[i] = c;
        }
    }
    return 0;
}

int ld_write_file(const char *path, const void *data, size_t n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "leandet: %s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    int ok = fwrite(data, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "leandet: %s: write failed: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

static void describe(FILE *f, const ld_tensor *t, int index)
{
    fprintf(f, "{\"index\":%d,\"name\":", index);
    ld_json_string(f, t->desc->name);
    fprintf(f, ",\"dtype\":\"%s\",\"shape\":[", leandet_dtype_name(t->type));
    for (int d = 0; d < t->shape.rank; d++)
        fprintf(f, "%s%d", d ? "," : "", (int)t->shape.d[d]);
    fprintf(f, "]");
    if (t->quant && t->quant->count > 0)
        fprintf(f, ",\"scale\":%.9g,\"zero_point\":%d", (double)t->quant->scale[0], (int)t->quant->zero_point[0]);
    fprintf(f, "}");
}

static int dump_set(const leandet_session *s, const char *dir, const char *kind, int all)
{
    const ld_model_desc *d = &s->model->desc;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.json", dir, all ? "tensors" : "outputs");
    FILE *js = fopen(path, "w");
    if (!js) {
        fprintf(stderr, "leandet: %s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    fputc('[', js);
    int n = all ? d->n_tensors : d->n_outputs, first = 1, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int ti = all ? i : d->outputs[i];
        const ld_tensor *t = &s->tensors[ti];
        if (all && (t->is_const || !t->data))
            continue;
        snprintf(path, sizeof path, "%s/%s_%d.raw", dir, kind, all ? ti : i);
        rc = ld_write_file(path, t->data, t->bytes);
        if (!first)
            fputc(',', js);
        first = 0;
        describe(js, t, ti); /* the model's tensor index, as tensors.json */
    }
    fputs("]\n", js);
    if (fclose(js) != 0)
        rc = -1;
    return rc;
}

int ld_dump_tensors(const leandet_session *s, const char *dir, int all_tensors)
{
    if (ld_make_dirs(dir) != 0)
        return -1;
    if (dump_set(s, dir, "output", 0) != 0)
        return -1;
    if (all_tensors && dump_set(s, dir, "tensor", 1) != 0)
        return -1;
    return 0;
}

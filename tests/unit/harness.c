#include "harness.h"

#include <stdlib.h>

int ld_test_pass, ld_test_fail;

static const char *env_path(const char *var, const char *fallback, const char *file, char *buf, size_t n)
{
    const char *dir = getenv(var);
    snprintf(buf, n, "%s/%s", dir ? dir : fallback, file);
    return buf;
}

const char *ld_test_model(const char *file, char *buf, size_t n)
{
    return env_path("LEANDET_MODELS", "build/models", file, buf, n);
}

const char *ld_test_image(const char *file, char *buf, size_t n)
{
    return env_path("LEANDET_IMAGES", "../shared/images", file, buf, n);
}

unsigned char *ld_test_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
    if (p && len > 0 && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p)
        *size = (size_t)len;
    return p;
}

int ld_test_finish(void)
{
    printf("%d passed, %d failed\n", ld_test_pass, ld_test_fail);
    return ld_test_fail ? 1 : 0;
}

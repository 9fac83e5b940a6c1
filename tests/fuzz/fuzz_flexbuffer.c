/* libFuzzer target: arbitrary bytes as a FlexBuffer root map (the custom
 * options of a model's CUSTOM op). Every accessor is exercised on what
 * opens; ASan/UBSan report any read outside the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/flexbuffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exactly sized copy, so reading one byte past the end is caught */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    ld_flex_map m;
    if (ld_flex_root_map(buf, size, &m, NULL) == LEANDET_OK) {
        for (size_t i = 0; i < m.count; i++) {
            const char *key = ld_flex_map_key(&m, i);
            ld_flex_value v;
            ld_flex_map_value(&m, i, &v);
            int64_t i64;
            double d;
            int b;
            ld_flex_as_int64(&v, &i64, NULL);
            ld_flex_as_double(&v, &d, NULL);
            ld_flex_as_bool(&v, &b, NULL);
            ld_flex_map_find(&m, key, &v);
        }
        int32_t i32;
        float f;
        int b;
        ld_flex_get_int32(&m, "max_detections", 0, &i32, NULL);
        ld_flex_get_float(&m, "nms_iou_threshold", 0, &f, NULL);
        ld_flex_get_bool(&m, "use_regular_nms", 0, &b, NULL);
    }
    free(buf);
    return 0;
}

#include "detjson.h"

#include "json.h"

void ld_json_detections(FILE *f, const leandet_detection *d, int n, const ld_labels *labels)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"class\":%d", i ? "," : "", d[i].class_id);
        const char *name = labels ? ld_labels_name(labels, d[i].class_id) : NULL;
        if (name) {
            fputs(",\"label\":", f);
            ld_json_string(f, name);
        }
        fprintf(f, ",\"score\":%.6g,\"box\":[%.6g,%.6g,%.6g,%.6g]}", (double)d[i].score, (double)d[i].box[0],
                (double)d[i].box[1], (double)d[i].box[2], (double)d[i].box[3]);
    }
    fputc(']', f);
}

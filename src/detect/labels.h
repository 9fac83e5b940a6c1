/* Class-name files, in the two forms detection models ship with:
 *
 *  - indexed: every non-empty line is "<id> <name>" (or "<id>: <name>"),
 *    e.g. "0 person"; ids may have gaps.
 *  - plain: one name per line, class c on line c. If the first line is
 *    "???" the file is offset by one (the TF object-detection label map:
 *    line 0 is the background, class c is line c + 1).
 *
 * Lines "???", "n/a" (any case) and empty lines are placeholders: the class
 * exists but has no name. A UTF-8 BOM and CR line ends are accepted; files
 * over LD_LABELS_MAX_BYTES, lines over LD_LABELS_MAX_LINE bytes, ids at or
 * above LD_LABELS_MAX_CLASSES and binary bytes are refused with an error
 * naming the file and line. */
#ifndef LD_DETECT_LABELS_H
#define LD_DETECT_LABELS_H

#include <stddef.h>

#include "core/alloc.h"
#include "core/error.h"

#define LD_LABELS_MAX_BYTES (1 << 20)
#define LD_LABELS_MAX_LINE 256
#define LD_LABELS_MAX_CLASSES 65536

typedef struct ld_labels {
    int count;            /* class ids 0..count-1 */
    const char **names;   /* count entries; NULL for placeholders */
    void *block;          /* the one allocation holding names and text */
} ld_labels;

leandet_status ld_labels_parse(const char *text, size_t len, const char *what, ld_alloc *alloc, ld_labels *out,
                               leandet_error *err);
leandet_status ld_labels_load(const char *path, ld_alloc *alloc, ld_labels *out, leandet_error *err);

/* Name of a class, or NULL (unknown id or placeholder). */
const char *ld_labels_name(const ld_labels *l, int class_id);

void ld_labels_free(ld_labels *l, ld_alloc *alloc);

#endif

/* Whole-file reads for the dataset tools (annotation json, data.yaml, YOLO
 * label files): one bounded read into a NUL-terminated buffer, so parsers
 * can rely on a terminator and never read past the end. */
#ifndef LD_TOOLS_TEXTFILE_H
#define LD_TOOLS_TEXTFILE_H

#include <stddef.h>

#include "core/alloc.h"
#include "core/error.h"

/* Read `path` into *text (ld_malloc'd from `alloc`, size + 1 bytes, the last
 * one '\0'). Files over max_bytes are refused with an error naming the path
 * and the limit. Release with ld_free(alloc, *text). */
leandet_status ld_read_text_file(const char *path, size_t max_bytes, ld_alloc *alloc, char **text, size_t *size,
                                 leandet_error *err);

/* 1-based line and column of byte offset `pos` in text (for messages). */
void ld_text_position(const char *text, size_t len, size_t pos, int *line, int *column);

#endif

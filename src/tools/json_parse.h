/* A small strict JSON reader (RFC 8259) that walks the text in place: the
 * caller pulls values in document order and skips what it does not need, so
 * reading a COCO annotation file allocates nothing beyond the file itself,
 * however many polygons it holds.
 *
 * Strict: no comments, trailing commas, NaN/Infinity, single quotes, control
 * characters in strings, invalid UTF-8 or lone surrogates. Bounded: nesting
 * is limited to LD_JP_MAX_DEPTH (checked, no recursion), numbers to
 * LD_JP_MAX_NUMBER characters, and every string read goes into a
 * caller-sized buffer. Every error names the source ("file.json"), the line
 * and column, and what was expected.
 *
 * Usage:
 *   ld_jp j; ld_jp_init(&j, text, len, "instances.json");
 *   ld_jp_object_begin(&j, err);
 *   while ((more = ld_jp_object_next(&j, key, sizeof key, err)) == 1) {
 *       if (strcmp(key, "images") == 0) ... else ld_jp_skip(&j, err);
 *   }
 *   ... more < 0 is an error; then ld_jp_finish(&j, err).
 * After each *_next that returns 1 the caller must read exactly one value
 * (a scalar, a container, or ld_jp_skip). All functions return
 * LEANDET_OK or LEANDET_ERR_ARGUMENT (malformed input); the *_next functions
 * return 1 (a member/element follows), 0 (container closed) or -1 (error). */
#ifndef LD_TOOLS_JSON_PARSE_H
#define LD_TOOLS_JSON_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define LD_JP_MAX_DEPTH 64
#define LD_JP_MAX_NUMBER 128

typedef enum ld_jp_type {
    LD_JP_INVALID = 0,
    LD_JP_OBJECT,
    LD_JP_ARRAY,
    LD_JP_STRING,
    LD_JP_NUMBER,
    LD_JP_BOOL,
    LD_JP_NULL
} ld_jp_type;

typedef struct ld_jp {
    const char *text;
    size_t len, pos;
    const char *what;  /* source name for messages */
    int depth;         /* open containers */
    int first;         /* the open container has had no member/element yet */
} ld_jp;

void ld_jp_init(ld_jp *j, const char *text, size_t len, const char *what);

/* Type of the next value from its first character, without consuming it;
 * LD_JP_INVALID (and an error in err) when no value can start there. */
ld_jp_type ld_jp_peek(ld_jp *j, leandet_error *err);
const char *ld_jp_type_name(ld_jp_type t);

leandet_status ld_jp_object_begin(ld_jp *j, leandet_error *err);
/* Next member: its key is decoded into key[cap] (a key that does not fit is
 * returned as "", which matches nothing the caller looks for) and the ':'
 * consumed. */
int ld_jp_object_next(ld_jp *j, char *key, size_t cap, leandet_error *err);
leandet_status ld_jp_array_begin(ld_jp *j, leandet_error *err);
int ld_jp_array_next(ld_jp *j, leandet_error *err);

/* A string value decoded to UTF-8 into buf[cap], NUL-terminated; a string
 * that does not fit is an error naming `cap`. *n (may be NULL) gets the byte
 * length. A decoded U+0000 is refused (it would cut the C string). */
leandet_status ld_jp_string(ld_jp *j, char *buf, size_t cap, size_t *n, leandet_error *err);
leandet_status ld_jp_number(ld_jp *j, double *out, leandet_error *err);
/* A number with an integral value within +-2^53 (so exact as a double). */
leandet_status ld_jp_int(ld_jp *j, int64_t *out, leandet_error *err);
leandet_status ld_jp_bool(ld_jp *j, int *out, leandet_error *err);
leandet_status ld_jp_null(ld_jp *j, leandet_error *err);

/* Consume (and validate) one value of any type. */
leandet_status ld_jp_skip(ld_jp *j, leandet_error *err);

/* After the top-level value: only whitespace may remain. */
leandet_status ld_jp_finish(ld_jp *j, leandet_error *err);

/* An error at the current position: "<what>: line L, column C: <message>".
 * For callers that find a value valid JSON but wrong for them. */
leandet_status ld_jp_error(ld_jp *j, leandet_error *err, const char *fmt, ...) LD_PRINTF(3, 4);

#endif

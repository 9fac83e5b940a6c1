/* Minimal JSON output helpers for the CLI's one-object-per-line results. */
#ifndef LD_CLI_JSON_H
#define LD_CLI_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal (quotes, escapes, control characters). */
void ld_json_string(FILE *f, const char *s);

#endif

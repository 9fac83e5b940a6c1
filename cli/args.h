/* Command-line parsing shared by the subcommands: options are matched in
 * order, each as "--name value" or "--name=value"; everything else is a
 * positional argument. Errors print "leandet <cmd>: ..." and yield exit 2. */
#ifndef LD_CLI_ARGS_H
#define LD_CLI_ARGS_H

#include <stddef.h>

typedef struct ld_args {
    int argc;
    char **argv;
    int i;               /* current position */
    const char *cmd;     /* subcommand name, for messages */
    const char *value;   /* value of the option just matched */
    int error;           /* set once a usage error was printed */
} ld_args;

void ld_args_init(ld_args *a, int argc, char **argv);
/* 1 while arguments remain. */
int ld_args_more(const ld_args *a);
/* If the current argument is the flag `name` (no value), consume it. */
int ld_args_flag(ld_args *a, const char *name);
/* If the current argument is option `name`, consume it and its value (a->value). */
int ld_args_opt(ld_args *a, const char *name);
/* Current argument is a positional (does not start with '-' or is "-"): return and consume it. */
const char *ld_args_positional(ld_args *a);
/* Report the current argument as unknown (sets error). */
void ld_args_unknown(ld_args *a);

/* Value parsers: print a usage error naming the option on failure. */
int ld_parse_float(ld_args *a, const char *opt, float lo, float hi, float *out);
int ld_parse_int(ld_args *a, const char *opt, long lo, long hi, int *out);
/* Bytes with optional K/M/G suffix (powers of 1024). */
int ld_parse_bytes(ld_args *a, const char *opt, size_t *out);

void ld_usage_error(ld_args *a, const char *fmt, ...);

#endif

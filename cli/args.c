#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ld_args_init(ld_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->i = 1;
    a->cmd = argc > 0 ? argv[0] : "leandet";
}

int ld_args_more(const ld_args *a)
{
    return !a->error && a->i < a->argc;
}

void ld_usage_error(ld_args *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "leandet %s: ", a->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'leandet %s --help')\n", a->cmd);
    a->error = 1;
}

int ld_args_flag(ld_args *a, const char *name)
{
    if (a->i < a->argc && strcmp(a->argv[a->i], name) == 0) {
        a->i++;
        return 1;
    }
    return 0;
}

int ld_args_opt(ld_args *a, const char *name)
{
    if (a->i >= a->argc)
        return 0;
    const char *arg = a->argv[a->i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        a->value = arg + n + 1;
        a->i++;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (a->i + 1 >= a->argc) {
        ld_usage_error(a, "option %s needs a value", name);
        a->i++;
        return 0;
    }
    a->value = a->argv[a->i + 1];
    a->i += 2;
    return 1;
}

const char *ld_args_positional(ld_args *a)
{
    if (a->i >= a->argc)
        return NULL;
    const char *arg = a->argv[a->i];
    if (arg[0] == '-' && arg[1] != '\0')
        return NULL;
    a->i++;
    return arg;
}

void ld_args_unknown(ld_args *a)
{
    ld_usage_error(a, "unknown option '%s'", a->argv[a->i]);
}

int ld_parse_float(ld_args *a, const char *opt, float lo, float hi, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(a->value, &end);
    if (errno || end == a->value || *end || !isfinite(v) || v < lo || v > hi) {
        ld_usage_error(a, "%s expects a number in [%g, %g], got '%s'", opt, lo, hi, a->value);
        return 0;
    }
    *out = (float)v;
    return 1;
}

int ld_parse_int(ld_args *a, const char *opt, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(a->value, &end, 10);
    if (errno || end == a->value || *end || v < lo || v > hi) {
        ld_usage_error(a, "%s expects an integer in [%ld, %ld], got '%s'", opt, lo, hi, a->value);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int ld_parse_bytes(ld_args *a, const char *opt, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(a->value, &end);
    double mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024.0, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024.0 * 1024 * 1024, end++;
    if (mul > 1 && *end == 'i')
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (errno || end == a->value || *end || !isfinite(v) || v <= 0 || v * mul > (double)SIZE_MAX / 2) {
        ld_usage_error(a, "%s expects a size like 300M or 2G, got '%s'", opt, a->value);
        return 0;
    }
    *out = (size_t)(v * mul);
    return 1;
}

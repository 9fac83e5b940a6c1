#include "detect/labels.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Marks a placeholder while parsing, so a repeated id is still caught. */
static const char unnamed[] = "";

/* A line with surrounding blanks removed: text[start, end). */
typedef struct span {
    size_t start, end;
} span;

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Next line from *pos; returns 0 at the end of the text. */
static int next_line(const char *t, size_t len, size_t *pos, span *s)
{
    if (*pos >= len)
        return 0;
    size_t a = *pos, e = a;
    while (e < len && t[e] != '\n')
        e++;
    *pos = e < len ? e + 1 : e;
    size_t b = e;
    while (a < b && blank(t[a]))
        a++;
    while (b > a && blank(t[b - 1]))
        b--;
    s->start = a;
    s->end = b;
    return 1;
}

static int is_placeholder(const char *t, span s)
{
    size_t n = s.end - s.start;
    return n == 0 || (n == 3 && memcmp(t + s.start, "\?\?\?", 3) == 0) ||
           (n == 3 && strncasecmp(t + s.start, "n/a", 3) == 0);
}

/* "<id> name" / "<id>: name": id and the name's span, or 0. */
static int parse_indexed(const char *t, span s, int *id, span *name)
{
    size_t i = s.start;
    long v = 0;
    int digits = 0;
    while (i < s.end && isdigit((unsigned char)t[i]) && digits < 7) {
        v = v * 10 + (t[i++] - '0');
        digits++;
    }
    if (digits == 0 || digits == 7 || i >= s.end)
        return 0;
    int colon = t[i] == ':';
    if (colon)
        i++;
    size_t ws = i;
    while (i < s.end && blank(t[i]))
        i++;
    if ((!colon && i == ws) || i >= s.end)
        return 0;
    *id = (int)v;
    name->start = i;
    name->end = s.end;
    return 1;
}

static leandet_status check_bytes(const char *t, size_t len, const char *what, leandet_error *err)
{
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)t[i];
        if (c == 0 || c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: line %d has binary byte 0x%02x: not a label file", what,
                           line, c);
        if (c == '\n') {
            line++;
            line_start = i + 1;
        } else if (i - line_start >= LD_LABELS_MAX_LINE) {
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: line %d is longer than %d bytes", what, line,
                           LD_LABELS_MAX_LINE);
        }
    }
    return LEANDET_OK;
}

leandet_status ld_labels_parse(const char *text, size_t len, const char *what, ld_alloc *alloc, ld_labels *out,
                               leandet_error *err)
{
    if (!what)
        what = "labels";
    if (len > LD_LABELS_MAX_BYTES)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: %zu bytes, a label file is at most %d", what, len,
                       LD_LABELS_MAX_BYTES);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        text += 3;
        len -= 3;
    }
    leandet_status st = check_bytes(text, len, what, err);
    if (st)
        return st;

    /* pass 1: form and class count */
    size_t pos = 0;
    span s, name;
    int lines = 0, last_named = -1, nonempty = 0, indexed = 1, max_id = -1, id;
    while (next_line(text, len, &pos, &s)) {
        if (s.end > s.start) {
            nonempty++;
            last_named = lines;
            if (indexed && parse_indexed(text, s, &id, &name))
                max_id = id > max_id ? id : max_id;
            else
                indexed = 0;
        }
        lines++;
    }
    if (nonempty == 0)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: no labels", what);
    int skip = 0, count;
    if (indexed) {
        if (max_id >= LD_LABELS_MAX_CLASSES)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: class id %d is not below %d", what, max_id,
                           LD_LABELS_MAX_CLASSES);
        count = max_id + 1;
    } else {
        pos = 0;
        next_line(text, len, &pos, &s);
        skip = s.end - s.start == 3 && memcmp(text + s.start, "\?\?\?", 3) == 0; /* background line 0 */
        count = last_named + 1 - skip; /* trailing empty lines are not classes */
        if (count > LD_LABELS_MAX_CLASSES)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: %d labels, at most %d", what, count,
                           LD_LABELS_MAX_CLASSES);
        if (count < 1)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: no labels after the '\?\?\?' background line", what);
    }

    /* pass 2: one block = names[count] + a NUL-terminated copy of the text */
    size_t names_bytes = (size_t)count * sizeof(char *);
    uint8_t *block = ld_malloc(alloc, names_bytes + len + 1);
    if (!block)
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes for %d labels", what,
                       names_bytes + len + 1, count);
    const char **names = (const char **)block;
    char *copy = (char *)block + names_bytes;
    memcpy(copy, text, len);
    copy[len] = '\0';
    for (int i = 0; i < count; i++)
        names[i] = NULL;
    pos = 0;
    for (int line = 0; next_line(copy, len, &pos, &s); line++) {
        if (indexed) {
            if (s.end == s.start)
                continue;
            parse_indexed(copy, s, &id, &name);
            if (names[id]) {
                ld_free(alloc, block);
                return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: line %d gives class %d a second name", what,
                               line + 1, id);
            }
            s = name;
        } else {
            id = line - skip;
            if (id < 0 || id >= count)
                continue;
        }
        copy[s.end] = '\0'; /* s.end is a blank, line end or the final NUL */
        names[id] = is_placeholder(copy, s) ? unnamed : copy + s.start;
    }
    for (int i = 0; i < count; i++)
        if (names[i] == unnamed)
            names[i] = NULL;
    out->count = count;
    out->names = names;
    out->block = block;
    return LEANDET_OK;
}

leandet_status ld_labels_load(const char *path, ld_alloc *alloc, ld_labels *out, leandet_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ld_fail(err, LEANDET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* read at most one byte past the limit so oversized files are named */
    static const size_t cap = LD_LABELS_MAX_BYTES + 1;
    char *buf = ld_malloc(alloc, cap);
    if (!buf) {
        fclose(f);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: cannot allocate a read buffer", path);
    }
    size_t n = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    leandet_status st = bad ? ld_fail(err, LEANDET_ERR_IO, "%s: read error", path)
                            : ld_labels_parse(buf, n, path, alloc, out, err);
    ld_free(alloc, buf);
    return st;
}

const char *ld_labels_name(const ld_labels *l, int class_id)
{
    if (!l || class_id < 0 || class_id >= l->count)
        return NULL;
    return l->names[class_id];
}

void ld_labels_free(ld_labels *l, ld_alloc *alloc)
{
    if (!l)
        return;
    ld_free(alloc, l->block);
    l->block = NULL;
    l->names = NULL;
    l->count = 0;
}

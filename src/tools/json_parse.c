#include "tools/json_parse.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/textfile.h"

void ld_jp_init(ld_jp *j, const char *text, size_t len, const char *what)
{
    memset(j, 0, sizeof *j);
    j->text = text;
    j->len = len;
    j->what = what ? what : "json";
}

/* Error at byte offset `at`. */
static leandet_status fail_at(ld_jp *j, size_t at, leandet_error *err, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    int line, col;
    ld_text_position(j->text, j->len, at, &line, &col);
    return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: line %d, column %d: %s", j->what, line, col, msg);
}

static leandet_status syntax(ld_jp *j, leandet_error *err, const char *fmt, ...) LD_PRINTF(3, 4);
static leandet_status syntax(ld_jp *j, leandet_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    leandet_status st = fail_at(j, j->pos, err, fmt, ap);
    va_end(ap);
    return st;
}

leandet_status ld_jp_error(ld_jp *j, leandet_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    leandet_status st = fail_at(j, j->pos, err, fmt, ap);
    va_end(ap);
    return st;
}

static void skip_ws(ld_jp *j)
{
    while (j->pos < j->len) {
        char c = j->text[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

/* What the next byte is, for messages. */
static const char *describe(const ld_jp *j, char *buf, size_t n)
{
    if (j->pos >= j->len)
        return "the end of the text";
    unsigned char c = (unsigned char)j->text[j->pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02x", c);
    return buf;
}

const char *ld_jp_type_name(ld_jp_type t)
{
    switch (t) {
    case LD_JP_OBJECT: return "an object";
    case LD_JP_ARRAY: return "an array";
    case LD_JP_STRING: return "a string";
    case LD_JP_NUMBER: return "a number";
    case LD_JP_BOOL: return "a boolean";
    case LD_JP_NULL: return "null";
    case LD_JP_INVALID: break;
    }
    return "no value";
}

ld_jp_type ld_jp_peek(ld_jp *j, leandet_error *err)
{
    skip_ws(j);
    char d[16];
    if (j->pos >= j->len) {
        syntax(j, err, "expected a value, found %s", describe(j, d, sizeof d));
        return LD_JP_INVALID;
    }
    char c = j->text[j->pos];
    switch (c) {
    case '{': return LD_JP_OBJECT;
    case '[': return LD_JP_ARRAY;
    case '"': return LD_JP_STRING;
    case 't':
    case 'f': return LD_JP_BOOL;
    case 'n': return LD_JP_NULL;
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return LD_JP_NUMBER;
    }
    syntax(j, err, "expected a value, found %s", describe(j, d, sizeof d));
    return LD_JP_INVALID;
}

/* Consume the value type `want` must start here, else a message naming both. */
static leandet_status expect_type(ld_jp *j, ld_jp_type want, leandet_error *err)
{
    ld_jp_type t = ld_jp_peek(j, err);
    if (t == LD_JP_INVALID)
        return LEANDET_ERR_ARGUMENT;
    if (t != want)
        return syntax(j, err, "expected %s, found %s", ld_jp_type_name(want), ld_jp_type_name(t));
    return LEANDET_OK;
}

static leandet_status open_container(ld_jp *j, ld_jp_type t, leandet_error *err)
{
    leandet_status st = expect_type(j, t, err);
    if (st)
        return st;
    if (j->depth >= LD_JP_MAX_DEPTH)
        return syntax(j, err, "nesting deeper than %d levels", LD_JP_MAX_DEPTH);
    j->pos++;
    j->depth++;
    j->first = 1;
    return LEANDET_OK;
}

leandet_status ld_jp_object_begin(ld_jp *j, leandet_error *err)
{
    return open_container(j, LD_JP_OBJECT, err);
}

leandet_status ld_jp_array_begin(ld_jp *j, leandet_error *err)
{
    return open_container(j, LD_JP_ARRAY, err);
}

/* Shared by object_next/array_next: 1 if a member follows, 0 at the closer. */
static int container_next(ld_jp *j, char closer, const char *what, leandet_error *err)
{
    char d[16];
    skip_ws(j);
    if (j->depth <= 0) {
        syntax(j, err, "no open container (a caller bug)");
        return -1;
    }
    if (j->pos < j->len && j->text[j->pos] == closer) {
        j->pos++;
        j->depth--;
        j->first = 0; /* the container is now a complete value of its parent */
        return 0;
    }
    if (!j->first) {
        if (j->pos >= j->len || j->text[j->pos] != ',') {
            syntax(j, err, "expected ',' or '%c' in %s, found %s", closer, what, describe(j, d, sizeof d));
            return -1;
        }
        j->pos++;
        skip_ws(j);
        if (j->pos < j->len && j->text[j->pos] == closer) {
            syntax(j, err, "trailing comma in %s", what);
            return -1;
        }
    }
    j->first = 0;
    return 1;
}

int ld_jp_array_next(ld_jp *j, leandet_error *err)
{
    return container_next(j, ']', "an array", err);
}

int ld_jp_object_next(ld_jp *j, char *key, size_t cap, leandet_error *err)
{
    int r = container_next(j, '}', "an object", err);
    if (r != 1)
        return r;
    char d[16];
    if (j->pos >= j->len || j->text[j->pos] != '"') {
        syntax(j, err, "expected a '\"' key in an object, found %s", describe(j, d, sizeof d));
        return -1;
    }
    size_t start = j->pos;
    if (ld_jp_string(j, key, cap, NULL, NULL) != LEANDET_OK) {
        /* too long for the caller, or malformed: re-read to tell which */
        j->pos = start;
        if (ld_jp_string(j, NULL, 0, NULL, err) != LEANDET_OK)
            return -1;
        if (cap)
            key[0] = '\0';
    }
    skip_ws(j);
    if (j->pos >= j->len || j->text[j->pos] != ':') {
        syntax(j, err, "expected ':' after an object key, found %s", describe(j, d, sizeof d));
        return -1;
    }
    j->pos++;
    return 1;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Length of the valid UTF-8 sequence at s[0..avail), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    unsigned cp = c & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static size_t utf8_put(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A \u escape at j->pos (pointing at 'u'), with a following low surrogate
 * when it is a high one; the code point in *cp. */
static leandet_status unicode_escape(ld_jp *j, unsigned *cp, leandet_error *err)
{
    unsigned hi;
    if (j->len - j->pos < 5 || !hex4(j->text + j->pos + 1, &hi))
        return syntax(j, err, "\\u must be followed by four hex digits");
    j->pos += 5;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return syntax(j, err, "lone low surrogate \\u%04X in a string", hi);
    if (hi >= 0xd800 && hi <= 0xdbff) {
        unsigned lo;
        if (j->len - j->pos < 6 || j->text[j->pos] != '\\' || j->text[j->pos + 1] != 'u' ||
            !hex4(j->text + j->pos + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return syntax(j, err, "high surrogate \\u%04X is not followed by a low surrogate", hi);
        j->pos += 6;
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    *cp = hi;
    return LEANDET_OK;
}

leandet_status ld_jp_string(ld_jp *j, char *buf, size_t cap, size_t *n, leandet_error *err)
{
    leandet_status st = expect_type(j, LD_JP_STRING, err);
    if (st)
        return st;
    size_t start = j->pos;
    j->pos++;
    size_t out = 0;
    /* buf == NULL: validate only. One byte of buf is kept for the NUL. */
    for (;;) {
        if (j->pos >= j->len) {
            j->pos = start;
            return syntax(j, err, "unterminated string");
        }
        unsigned char c = (unsigned char)j->text[j->pos];
        char tmp[4];
        size_t k;
        if (c == '"') {
            j->pos++;
            break;
        }
        if (c < 0x20)
            return syntax(j, err, "control byte 0x%02x inside a string (must be escaped)", c);
        if (c == '\\') {
            j->pos++;
            char e = j->pos < j->len ? j->text[j->pos] : '\0';
            unsigned cp = 0;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if ((st = unicode_escape(j, &cp, err)) != LEANDET_OK)
                    return st;
                j->pos--; /* the common j->pos++ below */
                break;
            default: return syntax(j, err, "invalid escape '\\%c' in a string", e ? e : '?');
            }
            j->pos++;
            if (cp == 0 && buf)
                return syntax(j, err, "\\u0000 in a string is not supported");
            k = utf8_put(cp, tmp);
        } else {
            k = utf8_len((const unsigned char *)j->text + j->pos, j->len - j->pos);
            if (k == 0)
                return syntax(j, err, "invalid UTF-8 byte 0x%02x in a string", c);
            memcpy(tmp, j->text + j->pos, k);
            j->pos += k;
        }
        if (buf) {
            if (cap == 0 || out + k > cap - 1) {
                j->pos = start;
                return syntax(j, err, "string longer than %zu bytes", cap ? cap - 1 : 0);
            }
            memcpy(buf + out, tmp, k);
        }
        out += k;
    }
    if (buf)
        buf[out] = '\0';
    if (n)
        *n = out;
    return LEANDET_OK;
}

/* The extent of a number per the JSON grammar; 0 if malformed. */
static size_t number_extent(const char *s, size_t avail)
{
    size_t i = 0;
#define DIGIT(k) ((k) < avail && s[k] >= '0' && s[k] <= '9')
    if (i < avail && s[i] == '-')
        i++;
    if (!DIGIT(i))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (DIGIT(i))
            i++;
    if (i < avail && s[i] == '.') {
        i++;
        if (!DIGIT(i))
            return 0;
        while (DIGIT(i))
            i++;
    }
    if (i < avail && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < avail && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!DIGIT(i))
            return 0;
        while (DIGIT(i))
            i++;
    }
#undef DIGIT
    return i;
}

leandet_status ld_jp_number(ld_jp *j, double *out, leandet_error *err)
{
    leandet_status st = expect_type(j, LD_JP_NUMBER, err);
    if (st)
        return st;
    size_t n = number_extent(j->text + j->pos, j->len - j->pos);
    if (n == 0)
        return syntax(j, err, "malformed number");
    if (n > LD_JP_MAX_NUMBER)
        return syntax(j, err, "number longer than %d characters", LD_JP_MAX_NUMBER);
    char buf[LD_JP_MAX_NUMBER + 1];
    memcpy(buf, j->text + j->pos, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return syntax(j, err, "number %s is out of range", buf);
    j->pos += n;
    *out = v;
    return LEANDET_OK;
}

leandet_status ld_jp_int(ld_jp *j, int64_t *out, leandet_error *err)
{
    size_t start = j->pos;
    double v;
    leandet_status st = ld_jp_number(j, &v, err);
    if (st)
        return st;
    static const double limit = 9007199254740992.0; /* 2^53 */
    if (v != floor(v) || v > limit || v < -limit) {
        j->pos = start;
        skip_ws(j);
        return syntax(j, err, "expected an integer, found %.17g", v);
    }
    *out = (int64_t)v;
    return LEANDET_OK;
}

static int literal(ld_jp *j, const char *word)
{
    size_t n = strlen(word);
    if (j->len - j->pos < n || memcmp(j->text + j->pos, word, n) != 0)
        return 0;
    j->pos += n;
    return 1;
}

leandet_status ld_jp_bool(ld_jp *j, int *out, leandet_error *err)
{
    leandet_status st = expect_type(j, LD_JP_BOOL, err);
    if (st)
        return st;
    if (literal(j, "true"))
        *out = 1;
    else if (literal(j, "false"))
        *out = 0;
    else
        return syntax(j, err, "invalid literal (expected true or false)");
    return LEANDET_OK;
}

leandet_status ld_jp_null(ld_jp *j, leandet_error *err)
{
    leandet_status st = expect_type(j, LD_JP_NULL, err);
    if (st)
        return st;
    if (!literal(j, "null"))
        return syntax(j, err, "invalid literal (expected null)");
    return LEANDET_OK;
}

/* One scalar of any type. */
static leandet_status skip_scalar(ld_jp *j, ld_jp_type t, leandet_error *err)
{
    double num;
    int b;
    switch (t) {
    case LD_JP_STRING: return ld_jp_string(j, NULL, 0, NULL, err);
    case LD_JP_NUMBER: return ld_jp_number(j, &num, err);
    case LD_JP_BOOL: return ld_jp_bool(j, &b, err);
    case LD_JP_NULL: return ld_jp_null(j, err);
    default: return syntax(j, err, "expected a value");
    }
}

leandet_status ld_jp_skip(ld_jp *j, leandet_error *err)
{
    /* Iterative, so hostile nesting costs no stack: one flag per level
     * (object or array), bounded by LD_JP_MAX_DEPTH. */
    unsigned char is_object[LD_JP_MAX_DEPTH];
    int base = j->depth, level = 0;
    leandet_status st;
    for (;;) {
        ld_jp_type t = ld_jp_peek(j, err);
        if (t == LD_JP_INVALID)
            return LEANDET_ERR_ARGUMENT;
        if (t == LD_JP_OBJECT || t == LD_JP_ARRAY) {
            if ((st = open_container(j, t, err)) != LEANDET_OK)
                return st;
            is_object[level++] = t == LD_JP_OBJECT;
        } else if ((st = skip_scalar(j, t, err)) != LEANDET_OK) {
            return st;
        }
        /* Close finished containers until one has another member. */
        for (;;) {
            if (level == 0)
                return LEANDET_OK;
            int r = is_object[level - 1] ? ld_jp_object_next(j, NULL, 0, err) : ld_jp_array_next(j, err);
            if (r < 0)
                return LEANDET_ERR_ARGUMENT;
            if (r == 1)
                break;
            level--;
        }
        if (j->depth - base != level)
            return syntax(j, err, "internal: nesting mismatch while skipping");
    }
}

leandet_status ld_jp_finish(ld_jp *j, leandet_error *err)
{
    skip_ws(j);
    char d[16];
    if (j->depth != 0)
        return syntax(j, err, "%d containers left open", j->depth);
    if (j->pos != j->len)
        return syntax(j, err, "unexpected %s after the top-level value", describe(j, d, sizeof d));
    return LEANDET_OK;
}

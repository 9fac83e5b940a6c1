/* YOLO layout: class names from data.yaml, the images in images/<split>, one
 * labels/<split>/<stem>.txt per image. Only the "names:" key of the YAML is
 * read, with the three spellings Ultralytics files use; anything else in
 * that key is refused rather than guessed. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/dataset_internal.h"
#include "tools/textfile.h"

#define MAX_CLASSES 65536

/* ---- lines ------------------------------------------------------------ */

typedef struct line_iter {
    const char *t;
    size_t len, pos;
    int number; /* 1-based number of the line last returned */
} line_iter;

/* Next line without its '\n' (and '\r'); 0 at the end. */
static int next_line(line_iter *it, const char **s, size_t *n)
{
    if (it->pos >= it->len)
        return 0;
    size_t a = it->pos, e = a;
    while (e < it->len && it->t[e] != '\n')
        e++;
    it->pos = e < it->len ? e + 1 : e;
    if (e > a && it->t[e - 1] == '\r')
        e--;
    it->number++;
    *s = it->t + a;
    *n = e - a;
    return 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Length of s without a trailing comment (a '#' at the start or after a
 * blank, outside quotes) and trailing blanks. */
static size_t strip_comment(const char *s, size_t n)
{
    char quote = 0;
    size_t end = n;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '#' && (i == 0 || is_blank(s[i - 1]))) {
            end = i;
            break;
        }
    }
    while (end > 0 && is_blank(s[end - 1]))
        end--;
    return end;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_blank((*s)[*n - 1]))
        (*n)--;
}

/* ---- data.yaml names -------------------------------------------------- */

typedef struct names_ctx {
    ld_dataset *d;
    const char *what;
    const char **names; /* MAX_CLASSES slots */
    int n;              /* highest class + 1 */
    int line;
    leandet_error *err;
} names_ctx;

static leandet_status yaml_error(names_ctx *c, const char *msg, const char *s, size_t n)
{
    return ld_fail(c->err, LEANDET_ERR_ARGUMENT, "%s: line %d: %s%s%.*s%s", c->what, c->line, msg, n ? " '" : "",
                   (int)(n > 60 ? 60 : n), s, n ? "'" : "");
}

/* A scalar: 'single' ('' is a quote), "double" (\" and \\), or plain. */
static leandet_status set_name(names_ctx *c, int id, const char *s, size_t n)
{
    char buf[LD_DATASET_MAX_NAME + 1];
    size_t k = 0;
    trim(&s, &n);
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        char q = s[0];
        for (size_t i = 1; i + 1 < n; i++) {
            char ch = s[i];
            if (q == '\'' && ch == '\'' && i + 2 < n && s[i + 1] == '\'')
                i++;
            else if (q == '"' && ch == '\\' && i + 2 < n)
                ch = s[++i];
            else if (ch == q)
                return yaml_error(c, "unbalanced quotes in name", s, n);
            if (k >= LD_DATASET_MAX_NAME)
                return yaml_error(c, "class name too long:", s, n);
            buf[k++] = ch;
        }
    } else {
        if (n && (s[0] == '\'' || s[0] == '"' || s[0] == '[' || s[0] == '{'))
            return yaml_error(c, "unsupported or unbalanced YAML value", s, n);
        if (n > LD_DATASET_MAX_NAME)
            return yaml_error(c, "class name too long:", s, n);
        memcpy(buf, s, n);
        k = n;
    }
    for (size_t i = 0; i < k; i++)
        if ((unsigned char)buf[i] < 0x20)
            return yaml_error(c, "control character in class name", s, n);
    if (k == 0)
        return yaml_error(c, "empty class name", "", 0);
    if (id >= MAX_CLASSES)
        return yaml_error(c, "too many classes", "", 0);
    if (c->names[id])
        return ld_fail(c->err, LEANDET_ERR_ARGUMENT, "%s: line %d: class %d is named twice", c->what, c->line, id);
    if (!(c->names[id] = ld_ds_strdup(c->d, buf, k)))
        return ld_fail(c->err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", c->what);
    if (id >= c->n)
        c->n = id + 1;
    return LEANDET_OK;
}

/* names: [a, 'b c', "d"] -- possibly continued over several lines. */
static leandet_status flow_list(names_ctx *c, line_iter *it, const char *s, size_t n)
{
    s++; /* '[' */
    n--;
    char quote = 0;
    size_t item = 0; /* start of the current item in s */
    int id = 0;
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            char ch = s[i];
            if (quote) {
                if (ch == quote)
                    quote = 0;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch;
            } else if (ch == ',' || ch == ']') {
                const char *v = s + item;
                size_t vn = i - item;
                trim(&v, &vn);
                if (vn > 0 || ch == ',') { /* "[a, b,]" and "[]" end without an empty item */
                    leandet_status st = set_name(c, id++, v, vn);
                    if (st)
                        return st;
                }
                item = i + 1;
                if (ch == ']') {
                    const char *rest = s + i + 1;
                    size_t rn = n - i - 1;
                    trim(&rest, &rn);
                    return rn ? yaml_error(c, "unexpected text after ']':", rest, rn) : LEANDET_OK;
                }
            }
        }
        if (quote)
            return yaml_error(c, "a quoted name continues past the end of the line", "", 0);
        const char *v = s + item; /* an item cut by the line end must end with ',' */
        size_t vn = n - item;
        trim(&v, &vn);
        if (vn)
            return yaml_error(c, "expected ',' or ']' after", v, vn);
        if (!next_line(it, &s, &n))
            return yaml_error(c, "'[' of names: is never closed", "", 0);
        c->line = it->number;
        n = strip_comment(s, n);
        item = 0;
    }
}

/* names:\n  0: person\n  1: bicycle   or   names:\n  - person\n  - bicycle */
static leandet_status block(names_ctx *c, line_iter *it)
{
    int form = 0; /* 1 list, 2 map */
    int id = 0;
    for (;;) {
        size_t save = it->pos;
        int save_line = it->number;
        const char *s;
        size_t n;
        if (!next_line(it, &s, &n))
            return LEANDET_OK;
        size_t m = strip_comment(s, n);
        const char *v = s;
        size_t vn = m;
        trim(&v, &vn);
        if (vn == 0)
            continue; /* blank or comment line */
        if (!is_blank(s[0]) && !(s[0] == '-' && (m == 1 || is_blank(s[1])))) {
            /* the next top-level key: the block is over ("- x" may sit at column 0) */
            it->pos = save;
            it->number = save_line;
            return LEANDET_OK;
        }
        c->line = it->number;
        leandet_status st;
        if (v[0] == '-' && (vn == 1 || is_blank(v[1]))) {
            if (form == 2)
                return yaml_error(c, "'- name' mixed with 'N: name' under names:", "", 0);
            form = 1;
            st = set_name(c, id++, v + 1, vn - 1);
        } else {
            size_t k = 0;
            long key = 0;
            while (k < vn && v[k] >= '0' && v[k] <= '9' && k < 6)
                key = key * 10 + (v[k++] - '0');
            if (k == 0 || k >= vn || v[k] != ':')
                return yaml_error(c, "expected 'N: name' or '- name' under names:, found", v, vn);
            if (form == 1)
                return yaml_error(c, "'N: name' mixed with '- name' under names:", "", 0);
            form = 2;
            st = set_name(c, (int)key, v + k + 1, vn - k - 1);
        }
        if (st)
            return st;
    }
}

leandet_status ld_yolo_parse_names(ld_dataset *d, const char *text, size_t len, const char *what, const char ***names,
                                   int *n, leandet_error *err)
{
    names_ctx c = {d, what, NULL, 0, 0, err};
    if (!(c.names = ld_calloc(d->alloc, MAX_CLASSES, sizeof *c.names)))
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", what);
    line_iter it = {text, len, 0, 0};
    const char *s;
    size_t ln;
    int found = 0;
    leandet_status st = LEANDET_OK;
    while (st == LEANDET_OK && next_line(&it, &s, &ln)) {
        c.line = it.number;
        if (memchr(s, '\0', ln)) {
            st = yaml_error(&c, "NUL byte: not a YAML text file", "", 0);
            break;
        }
        if (ln < 6 || memcmp(s, "names:", 6) != 0)
            continue;
        if (found++) {
            st = yaml_error(&c, "a second 'names:' key", "", 0);
            break;
        }
        const char *v = s + 6;
        size_t vn = strip_comment(v, ln - 6);
        trim(&v, &vn);
        if (vn == 0)
            st = block(&c, &it);
        else if (v[0] == '[')
            st = flow_list(&c, &it, v, vn);
        else
            st = yaml_error(&c, "names: must be followed by a [list] or an indented block, found", v, vn);
    }
    if (st == LEANDET_OK && !found)
        st = ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: no 'names:' key (the class names)", what);
    if (st == LEANDET_OK && c.n == 0)
        st = ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: 'names:' lists no class", what);
    for (int i = 0; st == LEANDET_OK && i < c.n; i++)
        if (!c.names[i])
            st = ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: names: has no class %d (classes must be 0..%d)", what, i,
                         c.n - 1);
    if (st != LEANDET_OK) {
        ld_free(d->alloc, c.names);
        return st;
    }
    *names = c.names;
    *n = c.n;
    return LEANDET_OK;
}

/* ---- label files ------------------------------------------------------ */

/* One whitespace-separated token from s[*i..n). */
static int next_token(const char *s, size_t n, size_t *i, const char **tok, size_t *tn)
{
    while (*i < n && is_blank(s[*i]))
        (*i)++;
    if (*i >= n)
        return 0;
    size_t a = *i;
    while (*i < n && !is_blank(s[*i]))
        (*i)++;
    *tok = s + a;
    *tn = *i - a;
    return 1;
}

static int parse_coord(const char *tok, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789+-.eE", tok[i]))
            return 0;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + n || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static leandet_status label_error(const char *path, int line, leandet_error *err, const char *msg, const char *tok,
                                  size_t tn)
{
    return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: line %d: %s%s%.*s%s", path, line, msg, tn ? " '" : "",
                   (int)(tn > 40 ? 40 : tn), tok, tn ? "'" : "");
}

/* Parse one label file, appending its objects to d->anns. */
static leandet_status parse_labels(ld_dataset *d, const char *text, size_t len, const char *path, int n_classes,
                                   size_t *ann_cap, leandet_error *err)
{
    line_iter it = {text, len, 0, 0};
    const char *s, *tok;
    size_t n, tn;
    while (next_line(&it, &s, &n)) {
        size_t i = 0;
        if (!next_token(s, n, &i, &tok, &tn))
            continue; /* blank line */
        long cls = 0;
        for (size_t k = 0; k < tn; k++) {
            if (tok[k] < '0' || tok[k] > '9' || k >= 6)
                return label_error(path, it.number, err, "class must be a whole number, found", tok, tn);
            cls = cls * 10 + (tok[k] - '0');
        }
        if (cls >= n_classes)
            return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: line %d: class %ld, but data.yaml names %d classes (0..%d)",
                           path, it.number, cls, n_classes, n_classes - 1);
        double v[4] = {0}, lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
        int count = 0;
        while (next_token(s, n, &i, &tok, &tn)) {
            double x;
            if (!parse_coord(tok, tn, &x))
                return label_error(path, it.number, err, "not a number:", tok, tn);
            if (x < 0 || x > 1)
                return label_error(path, it.number, err, "coordinates are normalized to [0, 1], found", tok, tn);
            if (count < 4)
                v[count] = x;
            lo[count & 1] = fmin(lo[count & 1], x);
            hi[count & 1] = fmax(hi[count & 1], x);
            if (count++ > 2 * 100000)
                return label_error(path, it.number, err, "polygon with more than 100000 points", "", 0);
        }
        if (count != 4 && (count < 6 || count % 2))
            return ld_fail(err, LEANDET_ERR_ARGUMENT,
                           "%s: line %d: %d numbers after the class; expected 'class cx cy w h' (4) or a polygon "
                           "'class x1 y1 x2 y2 x3 y3 ...' (an even number, at least 6)",
                           path, it.number, count);
        ld_dataset_ann a;
        memset(&a, 0, sizeof a);
        a.category = (int)cls;
        if (count == 4) {
            memcpy(a.norm, v, sizeof v);
        } else { /* polygon: its bounding box, as Ultralytics does */
            a.norm[0] = (lo[0] + hi[0]) / 2;
            a.norm[1] = (lo[1] + hi[1]) / 2;
            a.norm[2] = hi[0] - lo[0];
            a.norm[3] = hi[1] - lo[1];
        }
        if (ld_ds_add_ann(d, ann_cap, &a) != 0)
            return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    return LEANDET_OK;
}

/* ---- the layout ------------------------------------------------------- */

static int is_label_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".txt") == 0;
}

static size_t stem_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

/* Index of `stem`.txt in the sorted label list, or -1. */
static int find_label(const char *const *labels, int n, const char *image, size_t stem)
{
    char want[LD_DATASET_MAX_PATH];
    if (stem + 5 > sizeof want)
        return -1;
    memcpy(want, image, stem);
    memcpy(want + stem, ".txt", 5);
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(labels[mid], want);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Image ids: the numeric stems when all are distinct numbers, else 1..n. */
static leandet_status assign_ids(ld_dataset *d, const char *const *files, leandet_error *err)
{
    int numeric = 1;
    for (int i = 0; i < d->n_images && numeric; i++) {
        size_t sn = stem_len(files[i]);
        int64_t v = 0;
        if (sn == 0 || sn > 15)
            numeric = 0;
        for (size_t k = 0; k < sn && numeric; k++) {
            if (files[i][k] < '0' || files[i][k] > '9')
                numeric = 0;
            v = v * 10 + (files[i][k] - '0');
        }
        d->images[i].id = v;
    }
    if (numeric && d->n_images > 1) { /* distinct: "1.jpg" and "01.png" are not */
        int64_t *ids = ld_calloc(d->alloc, (size_t)d->n_images, sizeof *ids);
        if (!ids)
            return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", d->source);
        for (int i = 0; i < d->n_images; i++)
            ids[i] = d->images[i].id;
        qsort(ids, (size_t)d->n_images, sizeof *ids, cmp_i64);
        for (int i = 1; i < d->n_images; i++)
            if (ids[i] == ids[i - 1])
                numeric = 0;
        ld_free(d->alloc, ids);
    }
    if (!numeric)
        for (int i = 0; i < d->n_images; i++)
            d->images[i].id = i + 1;
    return LEANDET_OK;
}

leandet_status ld_dataset_open_yolo(ld_dataset *d, const char *dir, const char *split, leandet_error *err)
{
    char yaml[LD_DATASET_MAX_PATH], images[LD_DATASET_MAX_PATH], labels[LD_DATASET_MAX_PATH];
    char path[LD_DATASET_MAX_PATH];
    leandet_status st;
    if ((st = ld_ds_path(yaml, sizeof yaml, err, dir, "data.yaml", NULL)) ||
        (st = ld_ds_path(images, sizeof images, err, dir, "images", split)) ||
        (st = ld_ds_path(labels, sizeof labels, err, dir, "labels", split)))
        return st;
    if (!ld_ds_is_file(yaml) && (st = ld_ds_path(yaml, sizeof yaml, err, dir, "data.yml", NULL)))
        return st;
    if (!(d->source = ld_ds_strdup(d, yaml, strlen(yaml))))
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", yaml);
    if (!ld_ds_is_dir(images))
        return ld_fail(err, LEANDET_ERR_IO, "%s: no such image folder (YOLO layout: images/<split>)", images);
    if (!ld_ds_is_dir(labels))
        return ld_fail(err, LEANDET_ERR_IO, "%s: no such label folder (YOLO layout: labels/<split>)", labels);

    char *text = NULL;
    size_t len = 0;
    const char **names = NULL, **files = NULL, **label_files = NULL;
    unsigned char *used = NULL;
    int n_names = 0, n_files = 0, n_labels = 0;
    size_t ann_cap = 0;
    if ((st = ld_read_text_file(yaml, LD_DATASET_MAX_TEXT_BYTES, d->alloc, &text, &len, err)) ||
        (st = ld_yolo_parse_names(d, text, len, d->source, &names, &n_names, err)) ||
        (st = ld_ds_list_dir(d, images, ld_ds_is_image_name, &files, &n_files, err)) ||
        (st = ld_ds_list_dir(d, labels, is_label_name, &label_files, &n_labels, err)))
        goto done;
    ld_free(d->alloc, text);
    text = NULL;
    if (!(d->categories = ld_calloc(d->alloc, (size_t)n_names, sizeof *d->categories)) ||
        (n_files && !(d->images = ld_calloc(d->alloc, (size_t)n_files, sizeof *d->images))) ||
        (n_labels && !(used = ld_calloc(d->alloc, (size_t)n_labels, 1)))) {
        st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", dir);
        goto done;
    }
    for (int i = 0; i < n_names; i++) {
        d->categories[i].id = i + 1;
        d->categories[i].name = names[i];
    }
    d->n_categories = n_names;
    for (int i = 0; i < n_files; i++) {
        ld_dataset_image *im = &d->images[i];
        if ((st = ld_ds_path(path, sizeof path, err, images, files[i], NULL)) != LEANDET_OK)
            goto done;
        if (!(im->path = ld_ds_strdup(d, path, strlen(path)))) {
            st = ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: out of memory", dir);
            goto done;
        }
        im->first_ann = d->n_anns;
        int l = find_label(label_files, n_labels, files[i], stem_len(files[i]));
        if (l < 0) {
            d->unlabeled_images++;
            continue;
        }
        used[l] = 1;
        if ((st = ld_ds_path(path, sizeof path, err, labels, label_files[l], NULL)) ||
            (st = ld_read_text_file(path, LD_DATASET_MAX_TEXT_BYTES, d->alloc, &text, &len, err)) ||
            (st = parse_labels(d, text, len, path, n_names, &ann_cap, err)))
            goto done;
        ld_free(d->alloc, text);
        text = NULL;
        im->n_anns = d->n_anns - im->first_ann;
    }
    d->n_images = n_files;
    if ((st = assign_ids(d, files, err)) != LEANDET_OK)
        goto done;
    for (int l = 0; l < n_labels; l++)
        if (!used[l]) {
            ld_ds_warn(d, "%s/%s has no image in %s: skipped", labels, label_files[l], images);
            d->skipped++;
        }
done:
    ld_free(d->alloc, text);
    ld_free(d->alloc, names);
    ld_free(d->alloc, files);
    ld_free(d->alloc, label_files);
    ld_free(d->alloc, used);
    return st;
}

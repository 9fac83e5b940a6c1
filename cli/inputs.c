#include "inputs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(ld_input_list *l, const char *path, size_t len)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        l->paths = p;
        l->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return -1;
    memcpy(s, path, len);
    s[len] = '\0';
    l->paths[l->n++] = s;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of `dir` (symlinks followed), sorted by name. */
static int expand_dir(const char *cmd, const char *dir, ld_input_list *l)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "leandet %s: %s: cannot list the directory: %s\n", cmd, dir, strerror(errno));
        return -1;
    }
    int first = l->n, rc = 0;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t nl = strlen(e->d_name);
        char *p = malloc(dl + 1 + nl + 1);
        if (!p) {
            rc = -1;
            break;
        }
        snprintf(p, dl + 1 + nl + 1, "%.*s/%s", (int)dl, dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            rc = push(l, p, strlen(p));
        free(p);
    }
    closedir(d);
    if (rc != 0)
        fprintf(stderr, "leandet %s: %s: out of memory listing the directory\n", cmd, dir);
    else if (l->n > first) /* an empty directory leaves paths NULL */
        qsort(l->paths + first, (size_t)(l->n - first), sizeof *l->paths, by_name);
    return rc;
}

/* One path per line of `f`. */
static int expand_lines(const char *cmd, const char *what, FILE *f, ld_input_list *l)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    errno = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > 0 && push(l, line, (size_t)len) != 0) {
            fprintf(stderr, "leandet %s: %s: out of memory reading the list\n", cmd, what);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "leandet %s: %s: cannot read the list: %s\n", cmd, what, strerror(errno));
        rc = -1;
    }
    free(line);
    return rc;
}

static int expand_one(const char *cmd, const char *arg, ld_input_list *l)
{
    if (strcmp(arg, "-") == 0)
        return expand_lines(cmd, "stdin", stdin, l);
    if (arg[0] == '@') {
        FILE *f = fopen(arg + 1, "r");
        if (!f) {
            fprintf(stderr, "leandet %s: %s: cannot open the list: %s\n", cmd, arg + 1, strerror(errno));
            return -1;
        }
        int rc = expand_lines(cmd, arg + 1, f, l);
        fclose(f);
        return rc;
    }
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
        return expand_dir(cmd, arg, l);
    /* Anything else, even missing: it fails alone with its own error line. */
    if (push(l, arg, strlen(arg)) != 0) {
        fprintf(stderr, "leandet %s: out of memory\n", cmd);
        return -1;
    }
    return 0;
}

int ld_inputs_expand(const char *cmd, const char *const *args, int n, ld_input_list *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++)
        if (expand_one(cmd, args[i], out) != 0) {
            ld_inputs_free(out);
            return 1;
        }
    return 0;
}

void ld_inputs_free(ld_input_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

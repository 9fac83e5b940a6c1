#include "tools/textfile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

leandet_status ld_read_text_file(const char *path, size_t max_bytes, ld_alloc *alloc, char **text, size_t *size,
                                 leandet_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ld_fail(err, LEANDET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ld_fail(err, LEANDET_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: %lld bytes, more than the limit of %zu", path,
                       (long long)st.st_size, max_bytes);
    }
    size_t want = (size_t)st.st_size;
    char *buf = ld_malloc(alloc, want + 1);
    if (!buf) {
        fclose(f);
        return ld_fail(err, LEANDET_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes to read it", path, want + 1);
    }
    /* Read one byte more than stat said, so a file that grew is noticed
     * rather than silently cut. */
    size_t n = fread(buf, 1, want, f);
    int grew = n == want && fgetc(f) != EOF;
    int bad = ferror(f);
    fclose(f);
    if (bad || n != want || grew) {
        ld_free(alloc, buf);
        return ld_fail(err, LEANDET_ERR_IO, "%s: read error (%s)", path,
                       bad ? "I/O error" : "the file changed while it was read");
    }
    buf[n] = '\0';
    *text = buf;
    *size = n;
    return LEANDET_OK;
}

void ld_text_position(const char *text, size_t len, size_t pos, int *line, int *column)
{
    int l = 1;
    size_t start = 0;
    if (pos > len)
        pos = len;
    for (size_t i = 0; i < pos; i++)
        if (text[i] == '\n') {
            l++;
            start = i + 1;
        }
    *line = l;
    *column = pos - start < (size_t)INT_MAX ? (int)(pos - start) + 1 : INT_MAX; /* one-line json files are common */
}

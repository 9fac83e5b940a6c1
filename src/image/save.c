/* Save an RGB image as PNG or JPEG, chosen by the extension. The bytes go
 * to a temporary file next to the target (same directory, so rename() is
 * atomic on POSIX file systems), which replaces the target only once it is
 * completely written and closed; any failure removes it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "image/codecs.h"
#include "image/image.h"

typedef enum { SAVE_NONE, SAVE_PNG, SAVE_JPEG } save_kind;

#define LD_JPEG_SAVE_QUALITY 90

static save_kind kind_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return SAVE_NONE;
    if (strcasecmp(dot, ".png") == 0)
        return SAVE_PNG;
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0)
        return SAVE_JPEG;
    return SAVE_NONE;
}

static leandet_status errno_fail(leandet_error *err, const char *path, const char *what, int e)
{
    char buf[128];
    if (strerror_r(e, buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "error %d", e);
    return ld_fail(err, LEANDET_ERR_IO, "%s: cannot %s: %s", path, what, buf);
}

/* Create "<path>.tmp<pid>-<k>" exclusively (mode 0666, so the umask applies
 * as for any new file); k moves on if another writer holds that name. */
static int open_temp(const char *path, char *tmp, size_t cap)
{
    for (int k = 0; k < 100; k++) {
        int len = snprintf(tmp, cap, "%s.tmp%ld-%d", path, (long)getpid(), k);
        if (len < 0 || (size_t)len >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static leandet_status write_image(const char *path, save_kind kind, FILE *f, const leandet_image *img,
                                  leandet_error *err)
{
    if (kind == SAVE_PNG)
        return ld_png_encode(path, f, img, err);
    return ld_jpeg_encode(path, f, img, LD_JPEG_SAVE_QUALITY, err);
}

leandet_status ld_image_save(const char *path, const leandet_image *img, leandet_error *err)
{
    if (!path || !img || !img->pixels)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "image save: NULL argument");
    if (img->width <= 0 || img->height <= 0 || img->width > LD_IMAGE_MAX_DIM ||
        img->height > LD_IMAGE_MAX_DIM)
        return ld_fail(err, LEANDET_ERR_ARGUMENT, "%s: cannot save a %dx%d image", path, img->width,
                       img->height);
    save_kind kind = kind_of(path);
    if (kind == SAVE_NONE)
        return ld_fail(err, LEANDET_ERR_ARGUMENT,
                       "%s: unknown image extension (use .png, .jpg or .jpeg)", path);
    char tmp[4096 + 64];
    int fd = open_temp(path, tmp, sizeof tmp);
    if (fd < 0)
        return errno_fail(err, path, "create a temporary file next to it", errno);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return errno_fail(err, path, "open the temporary file", e);
    }
    leandet_status st = write_image(path, kind, f, img, err);
    /* fclose flushes: a full disk may only show up here. */
    int write_failed = ferror(f);
    errno = 0;
    int close_failed = fclose(f) != 0;
    if (close_failed || write_failed) {
        int e = errno ? errno : EIO;
        if (st == LEANDET_OK)
            st = errno_fail(err, path, "write", e);
    }
    if (st == LEANDET_OK && rename(tmp, path) != 0)
        st = errno_fail(err, path, "rename the temporary file onto it", errno);
    if (st != LEANDET_OK)
        unlink(tmp);
    return st;
}

/* `leandet video` runs the leandet-video executable that sits beside this
 * one, so that only video work pays for FFmpeg's libraries. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

int ld_cmd_video(int argc, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "leandet video: cannot locate the leandet executable: %s\n", strerror(errno));
        return LD_EXIT_ERROR;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(path, sizeof path, "%s/leandet-video", slash ? self : ".");
    (void)argc;
    argv[0] = "video"; /* leandet-video parses argv exactly as `leandet video` would */
    execv(path, argv);
    fprintf(stderr, "leandet video: cannot run %s: %s\n", path, strerror(errno));
    return LD_EXIT_ERROR;
}

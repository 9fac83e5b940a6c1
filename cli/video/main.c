/* leandet-video: the `leandet video` command in its own executable (it
 * links FFmpeg; see CMakeLists.txt). argv[0] is "video" when started by
 * leandet, or the program name when run directly. */
#include "commands.h"

int main(int argc, char **argv)
{
    return ld_cmd_video(argc, argv);
}

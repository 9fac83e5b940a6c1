#include <stdio.h>
#include <string.h>

#include "leandet.h"

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: leandet <command> [options]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "leandet: unknown command '%s'\n", argv[1]);
    return 2;
}

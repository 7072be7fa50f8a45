/* What the code under test logs, caught: between capture_begin and
 * capture_end, stderr goes to a file, and capture_end hands back its text
 * (to free; NULL when unreadable) and how many lines it has. Checks go
 * after capture_end, as CHECK reports on stderr. */
#ifndef PGEP_CAPTURE_H
#define PGEP_CAPTURE_H

#include "fsutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int capture_saved_stderr = -1;

static inline void capture_begin(const char *path)
{
    fflush(stderr);
    capture_saved_stderr = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (capture_saved_stderr < 0 || fd < 0) {
        fprintf(stderr, "capture: could not redirect stderr to %s\n", path);
        exit(2);
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static inline char *capture_end(const char *path, int *lines)
{
    char *text = NULL;

    dup2(capture_saved_stderr, STDERR_FILENO);
    close(capture_saved_stderr);
    *lines = 0;
    if (fs_read(path, 1 << 16, &text, NULL) < 0)
        return NULL;
    for (const char *p = text; *p; p++)
        *lines += *p == '\n';
    return text;
}

#endif

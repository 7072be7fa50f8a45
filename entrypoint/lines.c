#include "lines.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

void lines_read(int fd, void (*fn)(char *line, void *arg), void *arg)
{
    char buf[4096];
    size_t used = 0;

    for (;;) {
        ssize_t r = read(fd, buf + used, sizeof(buf) - 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
        buf[used] = '\0';
        char *nl;
        while ((nl = strpbrk(buf, "\r\n")) != NULL) {
            *nl = '\0';
            fn(buf, arg);
            used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, used + 1);
        }
        if (used == sizeof(buf) - 1)
            used = 0; /* an over-long line: drop it */
    }
}

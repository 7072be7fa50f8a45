/* The anonymous password file handed to pg_basebackup and pg_rewind. */
#include "passfd.h"

#include "log.h"
#include "pgconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libpq stats and opens /proc/self/fd/N like any other path. */
int passfd_open(const struct config *cfg, const char *step)
{
    char dir[] = "/tmp/pg-entrypoint.XXXXXX", path[64], line[8704];
    int fd = -1;

    if (!mkdtemp(dir)) {
        log_error(step, "could not create a temporary directory: %s", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/pgpass", dir);
    int n = pgconf_passfile_text(cfg, line, sizeof(line));
    if (n >= 0 && (fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        log_error(step, "could not create a temporary password file in \"%s\": %s", dir,
                  strerror(errno));
    if (fd >= 0 && write(fd, line, (size_t)n) != n) {
        log_error(step, "could not write a temporary password file: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    explicit_bzero(line, sizeof(line));
    unlink(path);
    rmdir(dir);
    return fd;
}

void passfd_env(int fd, char *buf, size_t len)
{
    snprintf(buf, len, "PGPASSFILE=/proc/self/fd/%d", fd);
}

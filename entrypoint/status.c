#include "status.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int status_path(char *const *envp, char *buf, size_t len)
{
    const char *host = NULL;

    for (; envp && *envp; envp++)
        if (strncmp(*envp, "PGHOST=", 7) == 0)
            host = *envp + 7;
    /* the directory the server's socket is in; a TCP host name is not one */
    const char *dir = host && host[0] == '/' ? host : "/var/run/postgresql";
    int n = snprintf(buf, len, "%s/%s", dir, STATUS_FILE_NAME);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Written to a temporary name and renamed: `health` never reads half a line.
 * Not fsynced: it describes this boot only. */
void status_set(const char *path, const char *fmt, ...)
{
    char line[512], tmp[4200];
    va_list ap;

    int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    size_t l = strlen(line);
    bool ok = fd >= 0 && write(fd, line, l) == (ssize_t)l;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (ok && rename(tmp, path) == 0)
        return;
    saved = ok ? errno : saved;
    unlink(tmp);
    log_warn("status",
             "could not write \"%s\": %s; `pg-entrypoint health` cannot tell that the start "
             "is still under way",
             path, strerror(saved));
}

void status_clear(const char *path)
{
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("status", "could not remove \"%s\": %s", path, strerror(errno));
}

bool status_preparing(const char *path, char *reason, size_t len)
{
    char buf[512], proc[64];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (!nl)
        return false;
    *nl = '\0';
    /* A start killed before it could remove the file leaves it behind; its
     * pid is then gone (in a container, pid 1 is the new start, which
     * rewrites the file). */
    if (!*buf || strlen(buf) > 10 || strspn(buf, "0123456789") != strlen(buf))
        return false;
    snprintf(proc, sizeof(proc), "/proc/%.10s", buf);
    struct stat st;
    if (stat(proc, &st) < 0 && errno == ENOENT)
        return false;
    buf[strcspn(nl + 1, "\n") + (size_t)(nl + 1 - buf)] = '\0';
    snprintf(reason, len, "%s", nl + 1);
    return true;
}

#include "server.h"

#include "env.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BINDIR_PREFIX "/usr/lib/postgresql/"

/* A major as PostgreSQL numbers them from 10 on: digits only, 10..99. */
static int parse_major(const char *s, size_t len)
{
    int major = 0;

    if (len == 0 || len > 2)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        major = major * 10 + (s[i] - '0');
    }
    return major >= 10 ? major : 0;
}

int server_major_of_text(const char *text)
{
    return text ? parse_major(text, strlen(text)) : 0;
}

int server_major_of_path(const char *path)
{
    size_t n = strlen(BINDIR_PREFIX);

    if (!path || strncmp(path, BINDIR_PREFIX, n) != 0)
        return 0;
    const char *major = path + n, *slash = strchr(major, '/');
    if (!slash || strcmp(slash, "/bin/postgres") != 0)
        return 0;
    return parse_major(major, (size_t)(slash - major));
}

/* The first executable postgres on PATH, resolved to its real path. */
static int find_postgres(const char *path_var, char *out)
{
    char candidate[PATH_MAX];

    for (const char *p = path_var; p && *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && snprintf(candidate, sizeof(candidate), "%.*s/postgres", (int)len, p) <
                           (int)sizeof(candidate)) {
            if (access(candidate, X_OK) == 0 && realpath(candidate, out))
                return 0;
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

int server_major(char *const envp[])
{
    char real[PATH_MAX];

    if (find_postgres(env_lookup(envp, "PATH"), real) == 0) {
        int major = server_major_of_path(real);
        if (major)
            return major;
    }
    return server_major_of_text(env_lookup(envp, "PG_MAJOR"));
}

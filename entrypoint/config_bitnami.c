/* The data directory of a Bitnami volume: PGDATA rewritten in a copy of the
 * environment when Bitnami's variables and volume are there. */
#include "config_bitnami.h"

#include "env.h"
#include "fsutil.h"
#include "log.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A non-empty PG_VERSION, as datadir_inspect counts a cluster. */
static bool has_cluster(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s/PG_VERSION", dir);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

#define BITNAMI_VOLUME "/bitnami/postgresql"

#define IMAGE_PGDATA "/var/lib/postgresql/data"

static bool use_bitnami(char *const *envp)
{
    const char *pgdata = env_lookup(envp, "PGDATA");
    bool bitnami_vars = false;

    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, "POSTGRESQL_", 11) == 0)
            bitnami_vars = true;
    if (!bitnami_vars || !(fs_is_mount_point(BITNAMI_VOLUME) || fs_is_mount_point("/bitnami")))
        return false;
    if (!pgdata)
        return true;
    /* the image's own ENV PGDATA is no choice of the user's, unless it holds a cluster */
    return strcmp(pgdata, IMAGE_PGDATA) == 0 && !has_cluster(IMAGE_PGDATA);
}

char **config_bitnami_environ(char *const *envp)
{
    size_t n = 0;

    if (!use_bitnami(envp))
        return (char **)envp;
    while (envp[n])
        n++;
    char **env = calloc(n + 2, sizeof(char *));
    if (!env)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], "PGDATA=", 7) != 0)
            env[o++] = envp[i];
    env[o] = "PGDATA=" CONFIG_BITNAMI_PGDATA;
    log_info("start",
             "Bitnami's variables are set and a volume is mounted at /bitnami: the data "
             "directory is %s",
             CONFIG_BITNAMI_PGDATA);
    return env;
}

/* Bitnami's volume layout, seen from the environment: where the data
 * directory is when a Bitnami volume is mounted. Configuration, applied
 * before config_load reads PGDATA. */
#ifndef PGEP_CONFIG_BITNAMI_H
#define PGEP_CONFIG_BITNAMI_H

/* Bitnami's images keep the cluster in /bitnami/postgresql/data on a volume
 * mounted at /bitnami/postgresql. When Bitnami's variables are in use, that
 * volume is mounted, and PGDATA is unset or the image's default with no
 * cluster in it, the data directory is Bitnami's: an existing volume is
 * picked up instead of a new, empty cluster starting next to it. Returns
 * envp itself, or a copy (to free) whose PGDATA says so; NULL when out of
 * memory. */
#define CONFIG_BITNAMI_PGDATA "/bitnami/postgresql/data"
char **config_bitnami_environ(char *const *envp);

#endif

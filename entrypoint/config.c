/* The environment, read once into one struct config: defaults, `_FILE`
 * secrets and Bitnami aliases; config_check.c validates the result. */
#include "config.h"
#include "config_internal.h"
#include "env.h"
#include "server.h"
#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A secret file larger than this is a mistake (a wrong path), not a password. */
#define SECRET_FILE_MAX 65536

/* Reads a `_FILE` secret like the official image's `$(< file)`: the whole
 * file with trailing newlines removed. */
static int read_secret_file(const char *var, const char *path, char **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return env_fail(err, errlen,
                        "%s: could not open file \"%s\": %s; hint: point %s at a readable file",
                        var, path, strerror(errno), var);

    char *buf = malloc(SECRET_FILE_MAX + 1);
    size_t len = 0;
    ssize_t r;
    while (buf && (r = read(fd, buf + len, SECRET_FILE_MAX + 1 - len)) > 0) {
        len += (size_t)r;
        if (len > SECRET_FILE_MAX)
            break;
    }
    int saved = errno;
    close(fd);
    if (!buf)
        return env_fail(err, errlen, "%s: out of memory", var);
    if (len > SECRET_FILE_MAX) {
        free(buf);
        return env_fail(
            err, errlen,
            "%s: file \"%s\" is larger than %d bytes; hint: %s must name a file holding "
            "only the value",
            var, path, SECRET_FILE_MAX, var);
    }
    if (r < 0) {
        free(buf);
        return env_fail(err, errlen,
                        "%s: could not read file \"%s\": %s; hint: check the file's mode and owner",
                        var, path, strerror(saved));
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (len == 0 || memchr(buf, '\0', len)) {
        free(buf);
        return env_fail(
            err, errlen,
            "%s: file \"%s\" is empty or holds a NUL byte; hint: write the value into it", var,
            path);
    }
    *out = buf;
    return 0;
}

/* One logical setting: its name, an optional Bitnami alias, and whether
 * NAME_FILE (and ALIAS_FILE) forms exist. Sets *out to a malloc'd value or
 * NULL when none of the forms is set. */
static int get_var(char *const *envp, const char *name, const char *alias, bool file_form,
                   char **out, char *err, size_t errlen)
{
    const char *names[2] = {name, alias};
    char *vals[2] = {NULL, NULL};

    for (int i = 0; i < 2; i++) {
        if (!names[i])
            continue;
        const char *v = env_lookup(envp, names[i]);
        char file_var[128];
        snprintf(file_var, sizeof(file_var), "%s_FILE", names[i]);
        const char *f = file_form ? env_lookup(envp, file_var) : NULL;
        if (v && f) {
            free(vals[0]);
            return env_fail(err, errlen, "both %s and %s are set; hint: set only one of them",
                            names[i], file_var);
        }
        if (f) {
            if (read_secret_file(file_var, f, &vals[i], err, errlen) < 0) {
                free(vals[0]);
                return -1;
            }
        } else if (v) {
            vals[i] = strdup(v);
        }
    }
    if (vals[0] && vals[1] && strcmp(vals[0], vals[1]) != 0) {
        free(vals[0]);
        free(vals[1]);
        return env_fail(err, errlen,
                        "%s and %s are both set, to different values; hint: keep only one of them",
                        name, alias);
    }
    *out = vals[0] ? vals[0] : vals[1];
    if (vals[0])
        free(vals[1]);
    return 0;
}

static int parse_int(const char *var, const char *s, long min, long max, int *out, char *err,
                     size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max || isspace((unsigned char)*s))
        return env_fail(err, errlen,
                        "%s=\"%s\" is not valid; hint: set it to a whole number from %ld to %ld",
                        var, s, min, max);
    *out = (int)v;
    return 0;
}

/* POSTGRES_ROLE=auto: a StatefulSet pod is NAME-ORDINAL; ordinal 0 is the primary. */
static int role_from_ordinal(const char *hostname, enum role *role, char *err, size_t errlen)
{
    const char *dash = hostname ? strrchr(hostname, '-') : NULL;
    if (!dash || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
        return env_fail(
            err, errlen,
            "POSTGRES_ROLE=auto needs a host name ending in -ORDINAL (like pg-0), but it "
            "is \"%s\"; hint: set POSTGRES_ROLE to primary or replica",
            hostname ? hostname : "");
    *role = strtol(dash + 1, NULL, 10) == 0 ? ROLE_PRIMARY : ROLE_REPLICA;
    return 0;
}

/* The image's default role (the Dockerfiles set it): only what is left when
 * the user said nothing, so that either image serves either role. */
#define DEFAULT_ROLE_VAR "PG_ENTRYPOINT_DEFAULT_ROLE"

static int parse_role(const char *var, const char *r, const char *hostname, enum role *role,
                      char *err, size_t errlen)
{
    if (strcmp(r, "primary") == 0)
        *role = ROLE_PRIMARY;
    else if (strcmp(r, "replica") == 0)
        *role = ROLE_REPLICA;
    else if (strcmp(r, "auto") == 0 && strcmp(var, DEFAULT_ROLE_VAR) != 0)
        return role_from_ordinal(hostname, role, err, errlen);
    else
        return env_fail(err, errlen, "%s=\"%s\" is not valid; hint: use primary, replica%s", var, r,
                        strcmp(var, DEFAULT_ROLE_VAR) != 0 ? " or auto" : "");
    return 0;
}

/* Decides the role, and records which setting decided it (plan and the
 * start's log say so). What the user set, in this order, wins:
 * POSTGRES_ROLE or POSTGRESQL_REPLICATION_MODE (two that disagree are an
 * error), then a primary host (it implies a replica), then the image's
 * default, then primary. */
static int load_role(struct config *cfg, char *const *envp, const char *hostname, char *err,
                     size_t errlen)
{
    char *role = NULL, *mode = NULL;
    const char *image = env_lookup(envp, DEFAULT_ROLE_VAR);
    int rc = -1;

    if (get_var(envp, "POSTGRES_ROLE", NULL, false, &role, err, errlen) < 0 ||
        get_var(envp, "POSTGRESQL_REPLICATION_MODE", NULL, false, &mode, err, errlen) < 0)
        goto out;
    const char *bitnami = NULL;
    if (mode) {
        if (strcmp(mode, "master") == 0)
            bitnami = "primary";
        else if (strcmp(mode, "slave") == 0)
            bitnami = "replica";
        else {
            env_fail(err, errlen,
                     "POSTGRESQL_REPLICATION_MODE=\"%s\" is not valid; hint: use master or slave",
                     mode);
            goto out;
        }
    }
    if (role && bitnami && strcmp(role, bitnami) != 0) {
        env_fail(err, errlen,
                 "POSTGRES_ROLE=\"%s\" and POSTGRESQL_REPLICATION_MODE=\"%s\" disagree; hint: keep "
                 "only one of them",
                 role, mode);
        goto out;
    }
    if (role) {
        if (parse_role("POSTGRES_ROLE", role, hostname, &cfg->role, err, errlen) < 0)
            goto out;
        snprintf(cfg->role_source, sizeof(cfg->role_source), "POSTGRES_ROLE=%.60s%s%.60s", role,
                 strcmp(role, "auto") == 0 ? ", host name " : "",
                 strcmp(role, "auto") == 0 && hostname ? hostname : "");
    } else if (bitnami) {
        cfg->role = strcmp(bitnami, "primary") == 0 ? ROLE_PRIMARY : ROLE_REPLICA;
        snprintf(cfg->role_source, sizeof(cfg->role_source), "POSTGRESQL_REPLICATION_MODE=%s",
                 mode);
    } else if (cfg->primary_host) {
        cfg->role = ROLE_REPLICA;
        snprintf(cfg->role_source, sizeof(cfg->role_source), "%s is set",
                 env_lookup(envp, "POSTGRES_PRIMARY_HOST") ? "POSTGRES_PRIMARY_HOST"
                                                           : "POSTGRESQL_MASTER_HOST");
    } else if (image && *image) {
        if (parse_role(DEFAULT_ROLE_VAR, image, hostname, &cfg->role, err, errlen) < 0)
            goto out;
        snprintf(cfg->role_source, sizeof(cfg->role_source), "the image's default (%s=%.60s)",
                 DEFAULT_ROLE_VAR, image);
    } else {
        cfg->role = ROLE_PRIMARY;
        snprintf(cfg->role_source, sizeof(cfg->role_source),
                 "the default (no POSTGRES_ROLE and no POSTGRES_PRIMARY_HOST)");
    }
    rc = 0;
out:
    free(role);
    free(mode);
    return rc;
}

static char *or_default(char *v, const char *def)
{
    return v ? v : strdup(def);
}

static int load_strings(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    struct {
        const char *name, *alias;
        bool file_form;
        char **dst;
    } vars[] = {
        {"PGDATA", NULL, false, &cfg->pgdata},
        {"POSTGRES_USER", "POSTGRESQL_USERNAME", true, &cfg->superuser},
        {"POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD", true, &cfg->superuser_password},
        {"POSTGRES_DB", "POSTGRESQL_DATABASE", true, &cfg->database},
        {"POSTGRES_HOST_AUTH_METHOD", NULL, false, &cfg->host_auth_method},
        {"POSTGRES_INITDB_ARGS", NULL, true, &cfg->initdb_args},
        {"POSTGRES_INITDB_WALDIR", NULL, false, &cfg->initdb_waldir},
        {"POSTGRES_PRIMARY_HOST", "POSTGRESQL_MASTER_HOST", false, &cfg->primary_host},
        {"POSTGRES_REPLICATION_USER", "POSTGRESQL_REPLICATION_USER", false, &cfg->repl_user},
        {"POSTGRES_REPLICATION_PASSWORD", "POSTGRESQL_REPLICATION_PASSWORD", true,
         &cfg->repl_password},
        {"POSTGRES_REPLICATION_SLOT", NULL, false, &cfg->slot},
        {"POSTGRES_REPLICATION_ALLOW", NULL, false, &cfg->repl_allow},
        {"POSTGRES_WAL_KEEP_SIZE", NULL, false, &cfg->wal_keep_size},
        {"POSTGRES_MAX_SLOT_WAL_KEEP_SIZE", NULL, false, &cfg->max_slot_wal_keep_size},
        /* Bitnami's only: there is no POSTGRES_ name for it */
        {"POSTGRESQL_SYNCHRONOUS_COMMIT_MODE", NULL, false, &cfg->sync_commit},
    };

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (get_var(envp, vars[i].name, vars[i].alias, vars[i].file_form, vars[i].dst, err,
                    errlen) < 0)
            return -1;
    cfg->pgdata_explicit = cfg->pgdata != NULL;
    if (!cfg->pgdata && cfg->server_major >= 18) {
        /* the official 18 image's layout: one volume at /var/lib/postgresql */
        char dir[64];
        snprintf(dir, sizeof(dir), "/var/lib/postgresql/%d/docker", cfg->server_major);
        cfg->pgdata = strdup(dir);
    }
    cfg->pgdata = or_default(cfg->pgdata, "/var/lib/postgresql/data");
    cfg->superuser = or_default(cfg->superuser, "postgres");
    cfg->database = or_default(cfg->database, cfg->superuser);
    cfg->repl_user_explicit = cfg->repl_user != NULL;
    cfg->repl_user = or_default(cfg->repl_user, "replicator");
    cfg->repl_allow = or_default(cfg->repl_allow, "all");
    cfg->wal_keep_size = or_default(cfg->wal_keep_size, "64MB");
    cfg->max_slot_wal_keep_size = or_default(cfg->max_slot_wal_keep_size, "1GB");
    cfg->sync_commit = or_default(cfg->sync_commit, "on");
    return 0;
}

static int load_numbers(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    char *port = NULL, *senders = NULL, *sync = NULL, *timeout = NULL;
    int rc = -1, t = 0;

    cfg->primary_port = 5432;
    cfg->max_wal_senders = 10;
    if (get_var(envp, "POSTGRES_PRIMARY_PORT", "POSTGRESQL_MASTER_PORT_NUMBER", false, &port, err,
                errlen) < 0 ||
        get_var(envp, "POSTGRES_MAX_WAL_SENDERS", NULL, false, &senders, err, errlen) < 0 ||
        get_var(envp, "POSTGRES_SYNCHRONOUS_REPLICAS", "POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS", false,
                &sync, err, errlen) < 0 ||
        get_var(envp, "POSTGRES_PRIMARY_WAIT_TIMEOUT", NULL, false, &timeout, err, errlen) < 0)
        goto out;
    if (port &&
        parse_int("POSTGRES_PRIMARY_PORT", port, 1, 65535, &cfg->primary_port, err, errlen) < 0)
        goto out;
    if (senders && parse_int("POSTGRES_MAX_WAL_SENDERS", senders, 1, 262143, &cfg->max_wal_senders,
                             err, errlen) < 0)
        goto out;
    if (sync && parse_int("POSTGRES_SYNCHRONOUS_REPLICAS", sync, 0, cfg->max_wal_senders,
                          &cfg->sync_replicas, err, errlen) < 0)
        goto out;
    if (timeout &&
        parse_int("POSTGRES_PRIMARY_WAIT_TIMEOUT", timeout, 0, 31536000, &t, err, errlen) < 0)
        goto out;
    cfg->wait_timeout_s = (unsigned)t;
    rc = 0;
out:
    free(port);
    free(senders);
    free(sync);
    free(timeout);
    return rc;
}

static int load_reseed(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    const char *v = env_lookup(envp, "POSTGRES_RESEED");

    if (!v || strcmp(v, "auto") == 0)
        cfg->reseed = RESEED_AUTO;
    else if (strcmp(v, "never") == 0)
        cfg->reseed = RESEED_NEVER;
    else if (strcmp(v, "force") == 0)
        cfg->reseed = RESEED_FORCE;
    else
        return env_fail(err, errlen,
                        "POSTGRES_RESEED=\"%s\" is not valid; hint: use auto, never or force", v);
    return 0;
}

/* HOSTNAME when set (Docker sets it), else the kernel's host name. */
static const char *host_name(char *const *envp, char *buf, size_t len)
{
    const char *h = env_lookup(envp, "HOSTNAME");

    if (h && *h)
        return h;
    if (gethostname(buf, len - 1) < 0)
        return NULL;
    buf[len - 1] = '\0';
    return buf;
}

int config_load(struct config *cfg, char *const *envp, const char *hostname, char *err,
                size_t errlen)
{
    /* cppcheck-suppress variableScope ; hostname points into it after the if */
    char host[256];

    if (!hostname)
        hostname = host_name(envp, host, sizeof(host));
    char status[4200];
    memset(cfg, 0, sizeof(*cfg));
    cfg->server_major = server_major(envp);
    if (status_path(envp, status, sizeof(status)) < 0 || !(cfg->status_file = strdup(status))) {
        env_fail(err, errlen, "PGHOST is too long; hint: use a shorter socket directory");
        return -1;
    }
    if (load_strings(cfg, envp, err, errlen) < 0 || load_numbers(cfg, envp, err, errlen) < 0 ||
        load_role(cfg, envp, hostname, err, errlen) < 0 ||
        load_reseed(cfg, envp, err, errlen) < 0 ||
        config_load_peers(cfg, envp, hostname, err, errlen) < 0 ||
        config_validate(cfg, envp, hostname, err, errlen) < 0) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

const char *config_auth_method(const struct config *cfg)
{
    return cfg->host_auth_method ? cfg->host_auth_method : "scram-sha-256";
}

void config_free(struct config *cfg)
{
    config_free_peers(cfg);
    char **strings[] = {&cfg->pgdata,        &cfg->status_file,
                        &cfg->superuser,     &cfg->superuser_password,
                        &cfg->database,      &cfg->host_auth_method,
                        &cfg->hba_extra,     &cfg->initdb_args,
                        &cfg->initdb_waldir, &cfg->primary_host,
                        &cfg->repl_user,     &cfg->repl_password,
                        &cfg->slot,          &cfg->repl_allow,
                        &cfg->wal_keep_size, &cfg->max_slot_wal_keep_size,
                        &cfg->sync_commit};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        /* cppcheck-suppress shadowVariable ; a false positive: nothing outer is named so */
        free(*strings[i]);
        *strings[i] = NULL;
    }
}

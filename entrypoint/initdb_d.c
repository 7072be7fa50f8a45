#include "initdb_d.h"

#include "fsutil.h"
#include "log.h"
#include "pgconn.h"
#include "proc.h"
#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVER_START_TIMEOUT_S 60
#define SERVER_STOP_TIMEOUT_S 60
#define HELPER_STOP_TIMEOUT_S 10
#define SOURCED_ENV_MAX (1 << 20)

static int visible_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    (void)dirfd;
    (void)st;
    (void)arg;
    return name[0] != '.' ? FS_WALK_STOP : 0;
}

int initdb_d_pending(const char *dir)
{
    int rc = fs_walk_path(dir, visible_entry, NULL);
    if (rc < 0 && errno == ENOENT)
        return 0;
    return rc < 0 ? -1 : rc == FS_WALK_STOP;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *env_or(char *const env[], const char *name, const char *def)
{
    const char *v = env_lookup(env, name);
    return v && *v ? v : def;
}

/* The temporary server: the container's own command line, then no TCP and
 * no synchronous replication. */
static int start_server(const struct config *cfg, const char *const *server_args, char *const env[],
                        pid_t *pid)
{
    /* Like the official image, the port (and here the socket directory) come
     * last, from PGPORT and PGHOST, so that the scripts' psql finds the
     * server whatever -p or -k the container's command line has. */
    const char *host = env_or(env, "PGHOST", "/var/run/postgresql");
    const char *port = env_or(env, "PGPORT", "5432");
    char sockdir[4200];
    snprintf(sockdir, sizeof(sockdir), "unix_socket_directories=%s",
             host[0] == '/' ? host : "/var/run/postgresql");
    size_t n = 0;
    while (server_args[n])
        n++;
    const char **argv = calloc(n + 12, sizeof(char *));
    if (!argv)
        return -1;
    for (size_t i = 0; i < n; i++)
        argv[i] = server_args[i];
    argv[n++] = "-D";
    argv[n++] = cfg->pgdata;
    argv[n++] = "-c";
    argv[n++] = "listen_addresses=";
    /* no standby can confirm the scripts' commits yet */
    argv[n++] = "-c";
    argv[n++] = "synchronous_standby_names=";
    argv[n++] = "-p";
    argv[n++] = port;
    argv[n++] = "-c";
    argv[n++] = sockdir;
    int rc = proc_spawn(argv, env, NULL, pid);
    free(argv);
    if (rc < 0)
        return -1;

    const char *keys[] = {"host", "port", "user", "dbname", NULL};
    const char *vals[] = {host, port, cfg->superuser, "postgres", NULL};
    double deadline = mono_now() + SERVER_START_TIMEOUT_S;
    while (mono_now() < deadline) {
        int st;
        if (proc_poll(*pid, &st) == 1) {
            proc_check_status("initdb.d", "the temporary server", st);
            return -1;
        }
        if (PQpingParams(keys, vals, 0) == PQPING_OK)
            return 0;
        if (proc_sleep_ms(20) < 0)
            return -1;
    }
    log_error("initdb.d", "the temporary server did not accept connections within %d s",
              SERVER_START_TIMEOUT_S);
    return -1;
}

/* Stops whatever server runs on PGDATA: ours, or one an init script started
 * itself with pg_ctl (the official image does the same). */
static int stop_server(const struct config *cfg, pid_t ours)
{
    pid_t pid = ours;

    if (ours <= 0 || proc_poll(ours, NULL) != 0) {
        char path[PATH_MAX], line[32];
        snprintf(path, sizeof(path), "%s/postmaster.pid", cfg->pgdata);
        FILE *f = fopen(path, "re");
        if (!f)
            return 0; /* no server runs */
        long p = fgets(line, sizeof(line), f) ? strtol(line, NULL, 10) : 0;
        fclose(f);
        if (p <= 0 || kill((pid_t)p, 0) < 0)
            return 0;
        pid = (pid_t)p;
        log_info("initdb.d", "stopping the server an init script started (pid %d)", (int)pid);
    }
    if (proc_stop(pid, SIGINT /* fast shutdown */, SERVER_STOP_TIMEOUT_S * 1000) == 0)
        return 0;
    log_error("initdb.d", "the temporary server (pid %d) did not stop within %d s", (int)pid,
              SERVER_STOP_TIMEOUT_S);
    return -1;
}

/* The environment of the scripts: the caller's, until a sourced script
 * replaces it with its own (vars points into buf, both ours to free). */
struct script_env {
    char **vars;
    char *buf;
};

static void script_env_free(struct script_env *e)
{
    if (e->buf) {
        free(e->vars);
        free(e->buf);
    }
}

/* Sourcing cannot happen in our process: a shell sources the file, then
 * hands back its exported environment (NUL-separated, through a pipe) to
 * become the environment of the scripts after it. */
static int source_script(const char *path, struct script_env *env)
{
    int p[2];
    char cmd[64];
    pid_t pid;
    int status;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    snprintf(cmd, sizeof(cmd), ". \"$1\" && exec env -0 >&%d", p[1]);
    const char *shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    const char *argv[] = {shell, "-c", cmd, "pg-entrypoint", path, NULL};
    struct spawn_io io = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .keep_fd = p[1]};
    if (proc_spawn(argv, env->vars, &io, &pid) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    char *buf = malloc(SOURCED_ENV_MAX + 1);
    size_t len = 0;
    ssize_t r;
    while (buf && len < SOURCED_ENV_MAX &&
           ((r = read(p[0], buf + len, SOURCED_ENV_MAX - len)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            len += (size_t)r;
    close(p[0]);
    if (proc_wait(pid, &status) < 0 || proc_check_status("initdb.d", path, status) < 0 || !buf) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\0';
    char **next = calloc(n + 1, sizeof(char *));
    if (!next) {
        free(buf);
        return -1;
    }
    n = 0;
    for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
        next[n++] = buf + i;
    script_env_free(env);
    env->vars = next;
    env->buf = buf;
    return 0;
}

static int run_sql(const struct config *cfg, const char *path, const char *decompressor,
                   char *const env[])
{
    const char *psql[] = {"psql",
                          "-v",
                          "ON_ERROR_STOP=1",
                          "--no-psqlrc",
                          "--no-password",
                          "--username",
                          cfg->superuser,
                          "--dbname",
                          cfg->database,
                          "-q",
                          decompressor ? NULL : "-f",
                          path,
                          NULL};
    if (!decompressor)
        return proc_run("initdb.d", psql, env, NULL);

    int p[2];
    pid_t pids[2];
    int st[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    const char *unpack[] = {decompressor, "-dc", path, NULL};
    struct spawn_io out = {.stdin_fd = -1, .stdout_fd = p[1], .stderr_fd = -1, .keep_fd = -1};
    struct spawn_io in = {.stdin_fd = p[0], .stdout_fd = -1, .stderr_fd = -1, .keep_fd = -1};
    int rc = proc_spawn(unpack, env, &out, &pids[0]);
    if (rc == 0 && proc_spawn(psql, env, &in, &pids[1]) < 0) {
        rc = -1;
        proc_stop(pids[0], SIGTERM, HELPER_STOP_TIMEOUT_S * 1000);
    }
    close(p[0]);
    close(p[1]);
    if (rc == 0 && proc_wait_all(pids, st, 2) == 0)
        rc = proc_check_status("initdb.d", decompressor, st[0]) < 0 ||
                     proc_check_status("initdb.d", "psql", st[1]) < 0
                 ? -1
                 : 0;
    else if (rc == 0)
        rc = -1;
    return rc;
}

static int run_one(const struct config *cfg, const char *dir, const char *name,
                   struct script_env *env)
{
    char path[PATH_MAX];
    static const struct {
        const char *suffix, *decompressor;
    } sql[] = {{".sql", NULL}, {".sql.gz", "gzip"}, {".sql.xz", "xz"}, {".sql.zst", "zstd"}};

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return -1;
    if (ends_with(name, ".sh")) {
        status_set(cfg->status_file, "initialising: running %s", path);
        if (access(path, X_OK) == 0) {
            log_info("initdb.d", "running %s", path);
            const char *argv[] = {path, NULL};
            return proc_run("initdb.d", argv, env->vars, NULL);
        }
        log_info("initdb.d", "sourcing %s", path);
        return source_script(path, env);
    }
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
        if (ends_with(name, sql[i].suffix)) {
            status_set(cfg->status_file, "initialising: running %s", path);
            log_info("initdb.d", "running %s", path);
            return run_sql(cfg, path, sql[i].decompressor, env->vars);
        }
    log_info("initdb.d", "ignoring %s (not .sh, .sql, .sql.gz, .sql.xz or .sql.zst)", path);
    return 0;
}

int initdb_d_run(const struct config *cfg, const char *dir, const char *const *server_args,
                 char *const server_env[], char *const scripts_env[])
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    pid_t server = -1;
    struct script_env script_env = {.vars = (char **)scripts_env, .buf = NULL};
    int rc = 0;

    if (n < 0) {
        log_error("initdb.d", "could not read \"%s\": %s", dir, strerror(errno));
        return -1;
    }
    struct step s;
    step_begin(&s, "initdb.d",
               "running the scripts in %s with a temporary server (unix socket only)", dir);
    if (start_server(cfg, server_args, server_env, &server) < 0)
        rc = -1;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && names[i]->d_name[0] != '.' && !proc_stop_signal() &&
            run_one(cfg, dir, names[i]->d_name, &script_env) < 0 && !proc_stop_signal()) {
            log_error("initdb.d",
                      "%s/%s failed; hint: fix it, then remove the data directory (the volume) so "
                      "that initialisation runs again",
                      dir, names[i]->d_name);
            rc = -1;
        }
        if (proc_stop_signal())
            rc = -1;
        free(names[i]);
    }
    free(names);
    if (stop_server(cfg, server) < 0 || proc_stop_signal())
        rc = -1;
    script_env_free(&script_env);
    return step_end(&s, rc);
}

#include "primary.h"

#include "fsutil.h"
#include "initdb_d.h"
#include "layout.h"
#include "log.h"
#include "pgconf.h"
#include "pgconn.h"
#include "proc.h"
#include "status.h"
#include "words.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int primary_check(const struct config *cfg, const struct datadir_facts *facts,
                  enum datadir_state state)
{
    if (layout_check(cfg, facts, false) < 0)
        return EXIT_RUNTIME;
    switch (state) {
    case DATADIR_EMPTY:
        break;
    case DATADIR_CLUSTER:
    case DATADIR_STANDBY:
        return 0;
    case DATADIR_INIT_INCOMPLETE:
        log_error("data",
                  "the initialisation of PGDATA \"%s\" did not finish (an init script failed, or "
                  "the first start was stopped); refusing to start a half-made cluster; hint: "
                  "remove the data directory's contents (the volume) to initialise again, or "
                  "delete %s/%s to start it as it is",
                  cfg->pgdata, cfg->pgdata, DATADIR_INIT_MARKER);
        return EXIT_RUNTIME;
    default:
        log_error("data",
                  "PGDATA \"%s\" is %s; refusing to initialise a primary there; hint: point PGDATA "
                  "at an empty directory or at an existing cluster",
                  cfg->pgdata, datadir_state_name(state));
        return EXIT_RUNTIME;
    }
    bool trust = cfg->host_auth_method && strcmp(cfg->host_auth_method, "trust") == 0;
    if (!trust && (!cfg->superuser_password || !*cfg->superuser_password)) {
        log_error("config",
                  "the database is uninitialized and POSTGRES_PASSWORD is not set; hint: set "
                  "POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty password for the "
                  "superuser \"%s\"; POSTGRES_HOST_AUTH_METHOD=trust allows connections without "
                  "one, which is not recommended",
                  cfg->superuser);
        return EXIT_CONFIG;
    }
    if (trust)
        log_warn("config", "POSTGRES_HOST_AUTH_METHOD=trust: anyone who can reach this server can "
                           "connect as any user, the superuser and replication included, without a "
                           "password. Use it only for tests.");
    return 0;
}

/* The password reaches initdb through a pipe named /proc/self/fd/N: never on
 * a command line, never in a file. */
static int run_initdb(const struct config *cfg, char *const env[])
{
    struct words extra = {0};
    char err[128], user_arg[128], auth_arg[64], pw_arg[64], waldir_arg[4096];
    const char *argv[CONFIG_INITDB_ARGS_MAX + 10];
    int pw[2] = {-1, -1}, rc = -1;
    size_t n = 0;

    if (cfg->initdb_args && words_split(cfg->initdb_args, &extra, err, sizeof(err)) < 0)
        return -1; /* validated in config already */
    if (extra.n > CONFIG_INITDB_ARGS_MAX)
        goto out; /* refused by config already */
    snprintf(user_arg, sizeof(user_arg), "--username=%s", cfg->superuser);
    /* initdb's default trusts TCP from loopback too (replication included);
     * only the unix socket stays trusted, which the health check and init
     * scripts use and only processes in the container can reach. Options in
     * POSTGRES_INITDB_ARGS come later and win. */
    const char *method = config_auth_method(cfg);
    static const char *const host_methods[] = {"trust", "reject", "scram-sha-256", "md5",
                                               "password"};
    bool plain = false;
    for (size_t i = 0; i < sizeof(host_methods) / sizeof(host_methods[0]); i++)
        plain = plain || strcmp(method, host_methods[i]) == 0;
    /* (gss, cert, ldap, ... need more than initdb can say: loopback gets scram) */
    snprintf(auth_arg, sizeof(auth_arg), "--auth-host=%s", plain ? method : "scram-sha-256");
    argv[n++] = "initdb";
    argv[n++] = user_arg;
    argv[n++] = "--auth-local=trust";
    argv[n++] = auth_arg;
    if (cfg->superuser_password && *cfg->superuser_password) {
        if (pipe2(pw, O_CLOEXEC) < 0) {
            log_error("initdb", "could not create a pipe: %s", strerror(errno));
            goto out;
        }
        size_t len = strlen(cfg->superuser_password);
        if (len >= 65536 - 1 || write(pw[1], cfg->superuser_password, len) != (ssize_t)len ||
            write(pw[1], "\n", 1) != 1) {
            log_error("initdb", "could not pass POSTGRES_PASSWORD to initdb (longer than 64 kB?)");
            goto out;
        }
        close(pw[1]);
        pw[1] = -1;
        snprintf(pw_arg, sizeof(pw_arg), "--pwfile=/proc/self/fd/%d", pw[0]);
        argv[n++] = pw_arg;
    }
    if (cfg->initdb_waldir) {
        snprintf(waldir_arg, sizeof(waldir_arg), "--waldir=%s", cfg->initdb_waldir);
        argv[n++] = waldir_arg;
    }
    for (size_t i = 0; i < extra.n; i++)
        argv[n++] = extra.v[i];
    argv[n++] = "-D";
    argv[n++] = cfg->pgdata;
    argv[n] = NULL;

    struct step s;
    status_set(cfg->status_file, "initialising: initdb");
    step_begin(&s, "initdb", "initialising the cluster in \"%s\"", cfg->pgdata);
    struct spawn_io io = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .keep_fd = pw[0]};
    rc = step_end(&s, proc_run("initdb", argv, env, &io));
out:
    if (pw[0] >= 0)
        close(pw[0]);
    if (pw[1] >= 0)
        close(pw[1]);
    words_free(&extra);
    return rc;
}

static int append_sql(char *buf, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int append_sql(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, len - *o, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *o)
        return -1;
    *o += (size_t)n;
    return 0;
}

/* What pg_rewind --source-server calls on the source, and nothing more: the
 * replication role gets no superuser. These four signatures exist on 15, 17
 * and 18 (docs/design.md, "Facts checked here"). */
#define REWIND_FUNCTIONS                                                                           \
    "pg_catalog.pg_ls_dir(text, boolean, boolean), pg_catalog.pg_stat_file(text, boolean), "       \
    "pg_catalog.pg_read_binary_file(text), "                                                       \
    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)"

/* The SQL for the replication role and (fresh clusters only) the database,
 * one statement a line as single-user mode reads it. The role is created
 * only if missing, so that adopting an existing cluster (whose init scripts
 * may have made it) leaves a role that is there alone; the grant is
 * idempotent, so an upgrade or adoption done again changes nothing. */
static int bootstrap_sql(const struct config *cfg, bool fresh, char *sql, size_t len)
{
    char ident[256];
    size_t o = 0;

    if (cfg->repl_password) {
        char name[256], literal[512], body[1536], quoted_body[3200];
        char *secret = pgconn_scram_secret(cfg->repl_user, cfg->repl_password);
        if (!secret)
            return -1;
        int bad = pgconf_quote_ident(cfg->repl_user, ident, sizeof(ident)) < 0 ||
                  pgconf_quote_literal(cfg->repl_user, name, sizeof(name)) < 0 ||
                  pgconf_quote_literal(secret, literal, sizeof(literal)) < 0;
        PQfreemem(secret);
        if (bad ||
            snprintf(body, sizeof(body),
                     "BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN "
                     "CREATE ROLE %s WITH REPLICATION LOGIN PASSWORD %s; END IF; END",
                     name, ident, literal) >= (int)sizeof(body) ||
            pgconf_quote_literal(body, quoted_body, sizeof(quoted_body)) < 0 ||
            append_sql(sql, len, &o, "DO %s;\n", quoted_body) < 0 ||
            append_sql(sql, len, &o, "GRANT EXECUTE ON FUNCTION " REWIND_FUNCTIONS " TO %s;\n",
                       ident) < 0)
            return -1;
    }
    if (fresh && strcmp(cfg->database, "postgres") != 0) {
        if (pgconf_quote_ident(cfg->database, ident, sizeof(ident)) < 0 ||
            append_sql(sql, len, &o, "CREATE DATABASE %s;\n", ident) < 0)
            return -1;
    }
    return (int)o;
}

/* Single-user mode runs the statements without a server listening anywhere:
 * 0.05 s against 0.27 s for a temporary server (docs/design.md, "Facts
 * checked here"). exit_on_error turns a failed statement into a non-zero
 * exit; no synchronous standby can be there yet to confirm a commit, so none
 * is waited for. */
static int run_single_user(const struct config *cfg, const char *sql, size_t len, char *const env[])
{
    int in[2], devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    const char *argv[] = {"postgres", "--single",
                          "-D",       cfg->pgdata,
                          "-c",       "exit_on_error=on",
                          "-c",       "synchronous_standby_names=",
                          "-c",       "log_min_error_statement=panic",
                          "postgres", NULL};

    if (devnull < 0 || pipe2(in, O_CLOEXEC) < 0) {
        log_error("bootstrap", "could not set up single-user mode: %s", strerror(errno));
        if (devnull >= 0)
            close(devnull);
        return -1;
    }
    ssize_t w = write(in[1], sql, len);
    close(in[1]);
    struct spawn_io io = {.stdin_fd = in[0], .stdout_fd = devnull, .stderr_fd = -1, .keep_fd = -1};
    int rc = (w == (ssize_t)len) ? proc_run("bootstrap", argv, env, &io) : -1;
    close(in[0]);
    close(devnull);
    return rc;
}

static int bootstrap(const struct config *cfg, bool fresh, char *const env[])
{
    char sql[8192];

    if (!cfg->repl_password)
        log_info("bootstrap", "POSTGRES_REPLICATION_PASSWORD is not set: no replication role is "
                              "created, and replicas cannot connect until one exists");
    int len = bootstrap_sql(cfg, fresh, sql, sizeof(sql));
    if (len < 0) {
        log_error("bootstrap", "could not build the statements for role \"%s\" and database \"%s\"",
                  cfg->repl_user, cfg->database);
        return -1;
    }
    if (len == 0)
        return 0;
    struct step s;
    bool db = fresh && strcmp(cfg->database, "postgres") != 0;
    step_begin(&s, "bootstrap", "creating %s%s%s in single-user mode",
               cfg->repl_password ? "the replication role (if missing, and granting it the "
                                    "functions pg_rewind calls)"
                                  : "",
               cfg->repl_password && db ? " and " : "", db ? "the database" : "");
    int rc = run_single_user(cfg, sql, (size_t)len, env);
    explicit_bzero(sql, sizeof(sql));
    return step_end(&s, rc);
}

/* What the official image gives init scripts: the resolved POSTGRES_*
 * values (also those from _FILE and aliases), and PGPASSWORD. */
static char **script_env(const struct config *cfg, char *const env[], char *extra[6])
{
    const char *pgpassword = env_lookup(environ, "PGPASSWORD");
    int n = 0;

    if (asprintf(&extra[n++], "PGDATA=%s", cfg->pgdata) < 0 ||
        asprintf(&extra[n++], "POSTGRES_USER=%s", cfg->superuser) < 0 ||
        asprintf(&extra[n++], "POSTGRES_DB=%s", cfg->database) < 0)
        return NULL;
    if (cfg->superuser_password &&
        (asprintf(&extra[n++], "POSTGRES_PASSWORD=%s", cfg->superuser_password) < 0 ||
         asprintf(&extra[n++], "PGPASSWORD=%s", pgpassword ? pgpassword : cfg->superuser_password) <
             0))
        return NULL;
    extra[n] = NULL;
    return proc_clean_env(env, (const char *const *)extra);
}

static int run_init_scripts(const struct config *cfg, const char *const *server_args,
                            char *const env[])
{
    char *extra[6] = {0};

    int pending = initdb_d_pending(INITDB_D_DIR);
    if (pending < 0)
        log_error("initdb.d",
                  "could not read directory \"%s\": %s; hint: make it and the scripts in it "
                  "readable, or mount nothing there",
                  INITDB_D_DIR, strerror(errno));
    if (pending <= 0)
        return pending;
    char **scripts_env = script_env(cfg, env, extra);
    int rc = scripts_env ? initdb_d_run(cfg, INITDB_D_DIR, server_args, env, scripts_env) : -1;
    free(scripts_env);
    for (int i = 0; extra[i]; i++) {
        explicit_bzero(extra[i], strlen(extra[i]));
        free(extra[i]);
    }
    return rc;
}

/* The marker is gone after the init scripts: one of them emptied PGDATA
 * (`rm -rf "$PGDATA"/ *`) and refilled it, typically with pg_basebackup -R,
 * as recipes written for the official image do on a replica. What it left
 * is started as it is, if it is a cluster; nothing of ours is added to it. */
static int scripts_replaced_cluster(const struct config *cfg)
{
    struct datadir_facts facts;

    if (datadir_inspect(cfg->pgdata, &facts) < 0)
        return -1;
    enum datadir_state state = datadir_classify(&facts);
    if (state != DATADIR_CLUSTER && state != DATADIR_STANDBY) {
        log_error("initdb.d",
                  "the init scripts replaced the contents of PGDATA \"%s\" and left it %s; hint: "
                  "check the scripts in %s, then empty the data directory (the volume) to start "
                  "over",
                  cfg->pgdata, datadir_state_name(state), INITDB_D_DIR);
        return -1;
    }
    log_info("initdb.d",
             "the init scripts replaced the contents of PGDATA \"%s\"; it now holds %s, which is "
             "started as it is",
             cfg->pgdata, datadir_state_name(state));
    return 0;
}

/* Everything between an empty directory and a complete cluster; the marker
 * says it is under way until the end. */
static int initialise(const struct config *cfg, const char *const *server_args, char *const env[])
{
    char marker[PATH_MAX];

    if (run_initdb(cfg, env) < 0)
        return -1;
    snprintf(marker, sizeof(marker), "%s/%s", cfg->pgdata, DATADIR_INIT_MARKER);
    if (fs_write_atomic(marker, "initialisation in progress\n", 27, 0600) < 0)
        return -1;
    struct step s;
    step_begin(&s, "configure", "writing replication settings and pg_hba lines");
    if (step_end(&s, pgconf_write_primary(cfg)) < 0 || bootstrap(cfg, true, env) < 0 ||
        run_init_scripts(cfg, server_args, env) < 0)
        return -1;
    if (unlink(marker) == 0)
        return fs_fsync_path(cfg->pgdata);
    if (errno != ENOENT) {
        log_error("data", "could not remove \"%s\": %s", marker, strerror(errno));
        return -1;
    }
    return scripts_replaced_cluster(cfg);
}

enum prepare { PREPARE_INITIALISE, PREPARE_ADOPT, PREPARE_UPGRADE };

/* Adopt: a cluster made by another entrypoint (the official image's,
 * Bitnami's) has no replication settings, pg_hba lines or role of ours: add
 * them once, so that replicas can follow it. Ours is recognised by the
 * include line, which is written last.
 * Upgrade: a cluster made by an earlier pg-entrypoint (its settings file has
 * no wal_log_hints) lacks what pg_rewind needs to rewind it later: the
 * setting, the grants and the pg_hba lines for database postgres; the
 * settings file is written last and marks it done.
 * Both: the role and its grants come first (created only if missing; GRANT
 * is idempotent), so a start stopped or failed anywhere in between does it
 * again, in full. */
static int add_ours(const struct config *cfg, bool upgrade, char *const env[])
{
    struct step s;
    if (upgrade)
        step_begin(&s, "upgrade",
                   "PGDATA \"%s\" was made by an earlier pg-entrypoint: adding what pg_rewind "
                   "needs (wal_log_hints, the replication role's grants, pg_hba lines for "
                   "database postgres)",
                   cfg->pgdata);
    else
        step_begin(&s, "adopt",
                   "PGDATA \"%s\" was not made by pg-entrypoint: adding the replication role, "
                   "pg_hba lines and replication settings",
                   cfg->pgdata);
    int rc = bootstrap(cfg, false, env) < 0 ||
                     (upgrade ? pgconf_upgrade_primary(cfg) : pgconf_write_primary(cfg)) < 0
                 ? -1
                 : 0;
    return step_end(&s, rc);
}

/* initdb and single-user mode both need a name for the current uid: both
 * run under nss_wrapper when the uid has none. */
static int with_nss(const struct flow_ctx *c, enum prepare what)
{
    char *nss[4], nss_dir[64];

    if (privs_nss_wrapper(c->who, nss, nss_dir, sizeof(nss_dir)) < 0)
        return -1;
    char **init_env = nss[0] ? proc_clean_env(c->env, (const char *const *)nss) : (char **)c->env;
    int rc = !init_env                    ? -1
             : what == PREPARE_INITIALISE ? initialise(c->cfg, c->server_args, init_env)
                                          : add_ours(c->cfg, what == PREPARE_UPGRADE, init_env);
    if (init_env != c->env)
        free(init_env);
    privs_nss_wrapper_cleanup(nss, nss_dir);
    return rc;
}

static int start_standby(const struct flow_ctx *c)
{
    log_info("data", "PGDATA \"%s\" is a standby; starting it as is (it stays a standby)",
             c->cfg->pgdata);
    return 0;
}

static void log_reuse(const struct config *cfg)
{
    log_info("data", "PGDATA \"%s\" holds a cluster; reusing it without initialisation",
             cfg->pgdata);
}

static int reuse_cluster(const struct flow_ctx *c)
{
    log_reuse(c->cfg);
    return 0;
}

static int adopt_cluster(const struct flow_ctx *c)
{
    log_reuse(c->cfg);
    return with_nss(c, PREPARE_ADOPT);
}

static int upgrade_cluster(const struct flow_ctx *c)
{
    log_reuse(c->cfg);
    return with_nss(c, PREPARE_UPGRADE);
}

static int initialise_cluster(const struct flow_ctx *c)
{
    return with_nss(c, PREPARE_INITIALISE);
}

void primary_steps(struct flow *f, const struct flow_ctx *c)
{
    const struct config *cfg = c->cfg;

    if (c->state == DATADIR_STANDBY) {
        flow_add(f, "data", start_standby,
                 "start the standby as is: no initdb, no changes to its files");
        return;
    }
    if (c->state != DATADIR_EMPTY) {
        /* ours (the include line), up to date, made by an earlier version,
         * or another entrypoint's */
        bool ours = pgconf_has_primary_settings(cfg->pgdata);
        if (ours && pgconf_primary_settings_current(cfg->pgdata)) {
            flow_add(f, "data", reuse_cluster,
                     "reuse the existing cluster: no initdb, no changes to its files");
            return;
        }
        const char *name = ours ? "upgrade" : "adopt";
        flow_add(f, name, ours ? upgrade_cluster : adopt_cluster,
                 "%s: no initdb, but %s and pg_hba \"host postgres\" lines for %s",
                 ours ? "upgrade the cluster made by an earlier pg-entrypoint for pg_rewind"
                      : "adopt the existing cluster (not made by pg-entrypoint)",
                 ours ? "rewrite the settings file (wal_log_hints = on)"
                      : "add replication settings (wal_log_hints = on among them), pg_hba "
                        "\"host replication\"",
                 cfg->repl_allow);
        if (cfg->repl_password)
            flow_add(f, name, NULL,
                     "create replication role \"%s\" if it does not exist, and grant it "
                     "EXECUTE on pg_ls_dir, pg_stat_file and pg_read_binary_file",
                     cfg->repl_user);
        return;
    }
    flow_add(f, "initdb", initialise_cluster,
             "initdb as superuser \"%s\" (password through a pipe)%s", cfg->superuser,
             cfg->initdb_args ? ", with POSTGRES_INITDB_ARGS" : "");
    flow_add(f, "configure", NULL,
             "write replication settings (max_wal_senders %d, wal_keep_size %s, "
             "max_slot_wal_keep_size %s%s) and pg_hba \"host replication\" lines for %s",
             cfg->max_wal_senders, cfg->wal_keep_size, cfg->max_slot_wal_keep_size,
             cfg->sync_replicas ? ", synchronous standbys" : "", cfg->repl_allow);
    flow_add(f, "configure", NULL,
             "for pg_rewind: wal_log_hints = on, and pg_hba \"host postgres\" lines for the "
             "replication user");
    if (cfg->repl_password)
        flow_add(f, "bootstrap", NULL,
                 "create replication role \"%s\" (SCRAM secret computed here), granted EXECUTE "
                 "on pg_ls_dir, pg_stat_file and pg_read_binary_file",
                 cfg->repl_user);
    else
        flow_add(f, "bootstrap", NULL,
                 "create no replication role: POSTGRES_REPLICATION_PASSWORD is not set");
    if (strcmp(cfg->database, "postgres") != 0)
        flow_add(f, "bootstrap", NULL, "create database \"%s\"", cfg->database);
}

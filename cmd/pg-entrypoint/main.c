/* pg-entrypoint: the entrypoint of a postgres:15 image that turns two
 * containers into a primary and a streaming replica. This file only
 * dispatches; every step lives in entrypoint/. */
#include "config.h"
#include "config_bitnami.h"
#include "datadir.h"
#include "failover.h"
#include "flow.h"
#include "health.h"
#include "log.h"
#include "plan.h"
#include "primary.h"
#include "privs.h"
#include "proc.h"
#include "promote.h"
#include "replica.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: pg-entrypoint [postgres [ARGS...]]\n"
    "       pg-entrypoint health [--live] [--max-lag BYTES]\n"
    "       pg-entrypoint plan [--ask-primary]\n"
    "       pg-entrypoint promote [--wait SECONDS] [--force]\n"
    "       pg-entrypoint COMMAND [ARGS...]\n"
    "       pg-entrypoint --help | --version\n"
    "\n"
    "Prepares PostgreSQL's data directory from the environment, as a primary or\n"
    "a streaming replica, then executes postgres. Arguments that start with '-'\n"
    "are passed to postgres; any other command is executed as is.\n"
    "\n"
    "  health  exit 0 when the local server is a healthy primary (accepting\n"
    "          connections, not in recovery) or replica (streaming)\n"
    "  plan    print the role, the data directory's state and the steps a start\n"
    "          would take; changes nothing (--ask-primary: a standby asks the\n"
    "          primary, read only, whether it still has the WAL it needs)\n"
    "  promote promote the local standby to a primary that stays one across\n"
    "          restarts; refuses while a member still accepts writes or (unless\n"
    "          --force) has more WAL; waits until a write works (--wait, 60 s)\n"
    "\n"
    "Main variables: POSTGRES_ROLE (primary, replica, auto), POSTGRES_PASSWORD,\n"
    "POSTGRES_PRIMARY_HOST, POSTGRES_REPLICATION_USER, POSTGRES_REPLICATION_PASSWORD,\n"
    "PGDATA. See the README for all of them.\n"
    "\n"
    "Exit status: 1 on a runtime failure, 64 on a wrong command line, 78 on a\n"
    "configuration error, 126 when the command cannot be executed, 127 when it\n"
    "is not found, 128+N when stopped by signal N.\n";

/* Only `postgres` with server arguments gets the data directory prepared;
 * `postgres --help` and any other command run as they are. */
static bool starts_server(const char *const *args)
{
    static const char *const info_flags[] = {"--help", "-?", "--version", "-V", "--describe-config",
                                             "-C",     NULL};

    if (strcmp(args[0], "postgres") != 0)
        return false;
    for (const char *const *a = args + 1; *a; a++)
        for (const char *const *f = info_flags; *f; f++)
            if (strcmp(*a, *f) == 0)
                return false;
    return true;
}

/* The command to exec: argv after ours, `postgres` in front of a leading
 * option, `postgres` alone when there is nothing. */
static const char **server_args(int argc, char **argv)
{
    const char **args = calloc((size_t)argc + 2, sizeof(char *));
    int n = 0;

    if (!args)
        return NULL;
    if (argc < 2 || argv[1][0] == '-')
        args[n++] = "postgres";
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    return args;
}

/* Reports a stop before postgres was started: the exit code alone would
 * leave `docker logs` ending on the last step's line. */
static int stopped(void)
{
    int sig = proc_stop_signal();
    log_info("stop", "stopped by signal %d (%s) before postgres started; exiting with %d", sig,
             strsignal(sig), 128 + sig);
    return 128 + sig;
}

/* The role's steps, decided once (the list `plan` prints), then run. */
static int run_flow(const struct flow_ctx *ctx)
{
    struct flow flow;

    flow_init(&flow);
    if (ctx->cfg->role == ROLE_PRIMARY)
        primary_steps(&flow, ctx);
    else
        replica_steps(&flow, ctx);
    int rc = flow_run(&flow, ctx);
    flow_free(&flow);
    return rc;
}

/* Load the configuration, check it against the data directory, prepare the
 * directories and drop root, run the role's flow, exec postgres. */
static int run_entrypoint(const char *const *args)
{
    struct config cfg;
    struct datadir_facts facts;
    struct runas who;
    char err[1024], pgdata_env[4200], home_env[1040];
    char **env = NULL, **base = config_bitnami_environ(environ);
    int rc, lock_fd = -1;
    bool status = false;

    if (!base || config_load(&cfg, base, NULL, err, sizeof(err)) < 0) {
        log_error("config", "%s", base ? err : "out of memory");
        if (base != environ)
            free(base);
        return EXIT_CONFIG;
    }
    log_info("start", "pg-entrypoint %s, role %s, PGDATA \"%s\"", PG_ENTRYPOINT_VERSION,
             cfg.role == ROLE_PRIMARY ? "primary" : "replica", cfg.pgdata);
    log_info("start", "the role is decided by %s", cfg.role_source);
    rc = EXIT_RUNTIME;
    if (datadir_inspect(cfg.pgdata, &facts) < 0)
        goto out;
    enum datadir_state state = datadir_classify(&facts);
    log_info("data", "PGDATA \"%s\" is %s", cfg.pgdata, datadir_state_name(state));

    /* The promotion record and the peers may change the role, once. */
    struct failover_decision fo;
    rc = failover_resolve(&cfg, &facts, state, true, &fo);
    if (rc != 0) {
        rc = proc_stop_signal() ? stopped() : rc < 0 ? EXIT_RUNTIME : rc;
        goto out;
    }

    /* Nothing is touched before these checks pass. */
    rc = cfg.role == ROLE_PRIMARY ? primary_check(&cfg, &facts, state)
                                  : replica_check(&cfg, &facts, state);
    if (rc != 0)
        goto out;
    rc = EXIT_RUNTIME;
    if (privs_resolve(&who) < 0 || datadir_prepare(&cfg, &who) < 0 ||
        privs_drop(&who, cfg.pgdata) < 0 || (lock_fd = datadir_lock(cfg.pgdata)) < 0)
        goto out;
    /* From here until exec, `health` says the node is not ready yet. */
    status_set(cfg.status_file, "starting: PGDATA is %s", datadir_state_name(state));
    status = true;
    /* postgres finds its data directory through PGDATA, also when only the
     * default (or a Bitnami volume) gave it. */
    snprintf(pgdata_env, sizeof(pgdata_env), "PGDATA=%s", cfg.pgdata);
    const char *extra[] = {pgdata_env, privs_home_env(&who, home_env, sizeof(home_env)), NULL};
    if (!(env = proc_clean_env(base, extra)))
        goto out;

    struct flow_ctx ctx = {
        .cfg = &cfg, .who = &who, .facts = &facts, .state = state, .server_args = args, .env = env};
    int flow = run_flow(&ctx);
    if (proc_stop_signal()) {
        rc = stopped();
        goto out;
    }
    if (flow < 0)
        goto out;

    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    log_info("exec", "starting postgres (pg-entrypoint used %.3f s of CPU, peak RSS %ld kB)",
             (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
                 (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6,
             self.ru_maxrss);
    status_clear(cfg.status_file);
    config_free(&cfg);
    rc = proc_exec(args, env, lock_fd);
    goto cleanup;
out:
    if (status)
        status_clear(cfg.status_file);
    config_free(&cfg);
cleanup:
    free(env);
    if (base != environ)
        free(base);
    return rc;
}

int main(int argc, char **argv)
{
    proc_signals_install();

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("pg-entrypoint %s\n", PG_ENTRYPOINT_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "health") == 0)
        return health_main(argc, argv, environ);
    if (argc > 1 && strcmp(argv[1], "promote") == 0)
        return promote_main(argc, argv, environ);
    if (argc > 1 && strcmp(argv[1], "plan") == 0)
        return argc == 2                                            ? plan_main(environ, false)
               : argc == 3 && strcmp(argv[2], "--ask-primary") == 0 ? plan_main(environ, true)
                                                                    : EXIT_USAGE;
    const char **args = server_args(argc, argv);
    if (!args)
        return EXIT_RUNTIME;
    int rc = starts_server(args) ? run_entrypoint(args) : proc_exec(args, environ, -1);
    free(args);
    return rc < 0 ? EXIT_RUNTIME : rc;
}

#include "plan.h"

#include "config.h"
#include "config_bitnami.h"
#include "datadir.h"
#include "log.h"
#include "pgconf.h"
#include "primary.h"
#include "proc.h"
#include "replica.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The numbered list of steps being printed. */
struct plan {
    int steps;
};

static void step(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void step(struct plan *p, const char *fmt, ...)
{
    va_list ap;
    printf("  %d. ", ++p->steps);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void plan_primary(struct plan *p, const struct config *cfg, enum datadir_state state)
{
    if (state == DATADIR_STANDBY) {
        step(p, "start the standby as is: no initdb, no changes to its files");
        return;
    }
    if (state != DATADIR_EMPTY && pgconf_has_primary_settings(cfg->pgdata)) {
        step(p, "reuse the existing cluster: no initdb, no changes to its files");
        return;
    }
    if (state != DATADIR_EMPTY) {
        step(p,
             "adopt the existing cluster (not made by pg-entrypoint): no initdb, but add "
             "replication settings and pg_hba \"host replication\" lines for %s",
             cfg->repl_allow);
        if (cfg->repl_password)
            step(p, "create replication role \"%s\" if it does not exist", cfg->repl_user);
        return;
    }
    step(p, "initdb as superuser \"%s\" (password through a pipe)%s", cfg->superuser,
         cfg->initdb_args ? ", with POSTGRES_INITDB_ARGS" : "");
    step(p,
         "write replication settings (max_wal_senders %d, wal_keep_size %s, max_slot_wal_keep_size "
         "%s%s) and pg_hba \"host replication\" lines for %s",
         cfg->max_wal_senders, cfg->wal_keep_size, cfg->max_slot_wal_keep_size,
         cfg->sync_replicas ? ", synchronous standbys" : "", cfg->repl_allow);
    if (cfg->repl_password)
        step(p, "create replication role \"%s\" (SCRAM secret computed here)", cfg->repl_user);
    else
        step(p, "create no replication role: POSTGRES_REPLICATION_PASSWORD is not set");
    if (strcmp(cfg->database, "postgres") != 0)
        step(p, "create database \"%s\"", cfg->database);
}

static void plan_clone(struct plan *p, const struct config *cfg, enum replica_action action)
{
    if (cfg->wait_timeout_s)
        step(p, "wait for the primary at %s:%d, for at most %u s", cfg->primary_host,
             cfg->primary_port, cfg->wait_timeout_s);
    else
        step(p, "wait for the primary at %s:%d", cfg->primary_host, cfg->primary_port);
    step(p, "verify the credentials of \"%s\" with IDENTIFY_SYSTEM", cfg->repl_user);
    if (cfg->slot)
        step(p, "create replication slot \"%s\" on the primary if it is missing", cfg->slot);
    step(p, "write the clone marker");
    if (action == REPLICA_RECLONE)
        step(p, "WIPE the contents of PGDATA (lost+found kept, symlinks not followed)");
    step(p, "pg_basebackup -X stream --checkpoint=fast%s%s", cfg->slot ? " -S " : "",
         cfg->slot ? cfg->slot : "");
    step(p, "write standby.signal and primary_conninfo, remove the marker");
}

static void plan_replica(struct plan *p, const struct config *cfg,
                         const struct datadir_facts *facts, enum datadir_state state)
{
    /* The real run asks the primary for its system identifier before it
     * decides about a standby; plan connects nowhere, so it shows both. */
    enum replica_action action = datadir_replica_action(state, 0, 0, cfg->reseed);
    switch (action) {
    case REPLICA_REFUSE:
        return; /* replica_check has refused already, with the reason */
    case REPLICA_START:
        step(p, "ask the primary for its system identifier (when it answers within 2 s)");
        step(p,
             "if it is %" PRIu64 " or the primary does not answer: start the standby as is; "
             "otherwise %s",
             facts->pg_control.system_identifier,
             cfg->reseed == RESEED_NEVER ? "refuse (POSTGRES_RESEED=never)"
                                         : "wipe PGDATA and clone again");
        step(p, "re-create its replication slot on the primary if it is missing");
        step(p, "rewrite primary_conninfo, primary_slot_name and the password file from the "
                "environment");
        break;
    default:
        plan_clone(p, cfg, action);
    }
    step(p, "chmod 0700 PGDATA");
}

int plan_main(char **envp)
{
    struct config cfg;
    struct datadir_facts facts;
    char err[1024];

    char **env = config_bitnami_environ(envp);
    int loaded = env ? config_load(&cfg, env, NULL, err, sizeof(err)) : -1;
    if (env != envp)
        free(env);
    if (loaded < 0) {
        log_error("config", "%s", env ? err : "out of memory");
        return EXIT_CONFIG;
    }
    if (datadir_inspect(cfg.pgdata, &facts) < 0) {
        config_free(&cfg);
        return EXIT_RUNTIME;
    }
    enum datadir_state state = datadir_classify(&facts);
    printf("role: %s\n", cfg.role == ROLE_PRIMARY ? "primary" : "replica");
    printf("role decided by: %s\n", cfg.role_source);
    printf("PGDATA: %s (%s)\n", cfg.pgdata, datadir_state_name(state));
    /* The same checks as a real start, with the same message and exit code. */
    int rc = cfg.role == ROLE_PRIMARY ? primary_check(&cfg, state) : replica_check(&cfg, state);
    if (rc == 0) {
        struct plan plan = {0}, *p = &plan;
        printf("steps:\n");
        if (geteuid() == 0)
            step(p, "create PGDATA if missing, make it postgres's with mode 0700, drop root");
        if (cfg.role == ROLE_PRIMARY)
            plan_primary(p, &cfg, state);
        else
            plan_replica(p, &cfg, &facts, state);
        step(p, "exec postgres");
    }
    config_free(&cfg);
    return rc;
}

#include "plan.h"

#include "config.h"
#include "config_bitnami.h"
#include "datadir.h"
#include "failover.h"
#include "flow.h"
#include "log.h"
#include "primary.h"
#include "proc.h"
#include "replica.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int plan_main(char **envp, bool ask_primary)
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
    /* the same decision as a start; the peers are asked only with
     * --ask-primary (read only), otherwise plan says what a start asks */
    struct failover_decision fo;
    int decided = failover_resolve(&cfg, &facts, state, ask_primary, &fo);
    if (decided != 0) {
        config_free(&cfg);
        return decided < 0 ? EXIT_RUNTIME : decided;
    }
    printf("role: %s\n", cfg.role == ROLE_PRIMARY ? "primary" : "replica");
    printf("role decided by: %s\n", cfg.role_source);
    printf("PGDATA: %s (%s)\n", cfg.pgdata, datadir_state_name(state));
    /* The same checks as a real start, with the same message and exit code. */
    int rc = cfg.role == ROLE_PRIMARY ? primary_check(&cfg, &facts, state)
                                      : replica_check(&cfg, &facts, state);
    if (rc == 0) {
        struct flow flow;
        struct flow_ctx ctx = {
            .cfg = &cfg, .facts = &facts, .state = state, .ask_primary = ask_primary};
        printf("steps:\n");
        flow_init(&flow);
        failover_plan(&flow, &cfg, state, &fo);
        if (geteuid() == 0)
            flow_add(&flow, "directories", NULL,
                     "create PGDATA if missing, make it postgres's with mode 0700, drop root");
        if (cfg.role == ROLE_PRIMARY)
            primary_steps(&flow, &ctx);
        else
            replica_steps(&flow, &ctx);
        flow_add(&flow, "exec", NULL, "exec postgres");
        if (flow_print(&flow) < 0)
            rc = EXIT_RUNTIME;
        flow_free(&flow);
    }
    config_free(&cfg);
    return rc;
}

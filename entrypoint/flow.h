/* A flow: the steps of a start, decided once from the configuration and
 * the data directory, as a list. `plan` prints the list; a real start runs
 * it. primary_steps and replica_steps build the lists. */
#ifndef PGEP_FLOW_H
#define PGEP_FLOW_H

#include "config.h"
#include "datadir.h"
#include "privs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the steps work on. The inputs are set by the caller; plan leaves
 * who, server_args and env NULL, since it runs nothing. */
struct flow_ctx {
    const struct config *cfg;
    const struct runas *who;
    const struct datadir_facts *facts;
    enum datadir_state state;
    const char *const *server_args; /* the postgres command line */
    char *const *env;               /* the children's environment, without secrets */
    bool ask_primary;               /* plan --ask-primary: a standby's plan asks the primary */
};

typedef int (*flow_fn)(const struct flow_ctx *ctx);

/* A step: the name it logs under, the function that carries it out, and
 * the line plan prints. A step without a function is carried out by the
 * function of a step before it (one function can do several lines), or by
 * main (preparing PGDATA, exec). */
struct flow_step {
    const char *name;
    flow_fn run;
    char *text;
};

#define FLOW_MAX_STEPS 16

struct flow {
    size_t n;
    bool failed; /* a step could not be added (out of memory, or no room) */
    struct flow_step steps[FLOW_MAX_STEPS];
};

void flow_init(struct flow *f);
void flow_add(struct flow *f, const char *name, flow_fn run, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints "  N. text" per step on stdout. Returns -1 (logged) when the list
 * is incomplete. */
int flow_print(const struct flow *f);
/* Runs the steps' functions in order; stops at the first that fails and
 * returns -1. */
int flow_run(const struct flow *f, const struct flow_ctx *ctx);
void flow_free(struct flow *f);

#endif

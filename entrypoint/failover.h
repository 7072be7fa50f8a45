/* The start-time decision after a failover (docs/design.md, "Failover"):
 * which role this node really has, given the promotion record in PGDATA and
 * what its peers (POSTGRES_PEERS, and POSTGRES_PRIMARY_HOST) answer. Called
 * once, after the data directory is classified and before the checks; it
 * may change cfg->role, cfg->primary_host and _port (and derive a slot),
 * and mark facts->diverged (rewind, then start as a standby). Never two
 * writable primaries of one system among the peers it reaches. */
#ifndef PGEP_FAILOVER_H
#define PGEP_FAILOVER_H

#include "config.h"
#include "datadir.h"
#include "flow.h"

#include <stdbool.h>

struct failover_decision {
    bool promoted;      /* the promotion record made this node a primary */
    bool would_ask;     /* a start asks the peers (what plan prints) */
    bool asked;         /* the peers were asked */
    bool rejoin;        /* the role became replica of a newer writable primary */
    char writable[300]; /* host:port of the writable primary found, "" when none */
};

/* ask: contact the peers (a start; plan only with --ask-primary). Returns 0,
 * EXIT_RUNTIME after a refusal (logged: another writable primary of this
 * system is not on a newer timeline), or -1 when stopped by a signal. */
int failover_resolve(struct config *cfg, struct datadir_facts *facts, enum datadir_state state,
                     bool ask, struct failover_decision *d);

/* plan's lines for the decision: whom a start asks, and what it does with
 * the answer. */
void failover_plan(struct flow *f, const struct config *cfg, enum datadir_state state,
                   const struct failover_decision *d);

#endif

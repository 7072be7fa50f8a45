#include "failover.h"

#include "catchup.h"
#include "log.h"
#include "peers.h"
#include "pgconn.h"
#include "proc.h"
#include "promoted.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The states a node that would be a primary can hold and still be told by
 * its peers that it is not one: its own old data, none, or a rewind of it. */
static bool primary_asks(const struct config *cfg, enum datadir_state state)
{
    return cfg->role == ROLE_PRIMARY &&
           (state == DATADIR_CLUSTER || state == DATADIR_EMPTY || state == DATADIR_REWOUND ||
            state == DATADIR_REWIND_INTERRUPTED);
}

/* A replica whose data may be on an older timeline than its primary's. */
static bool replica_asks(const struct config *cfg, enum datadir_state state)
{
    return cfg->role == ROLE_REPLICA && (state == DATADIR_CLUSTER || state == DATADIR_STANDBY ||
                                         state == DATADIR_REWIND_INTERRUPTED);
}

/* The writable member of system sysid on the newest timeline (0: any
 * system, for an empty PGDATA); NULL when none. Writable members of other
 * systems are not this cluster's: said once each, and left alone. */
static const struct peer_state *newest_writable(const struct peer_state *st, size_t n,
                                                uint64_t sysid)
{
    const struct peer_state *best = NULL;
    char name[300];

    for (size_t i = 0; i < n; i++) {
        if (!st[i].reached || !st[i].writable)
            continue;
        if (sysid && st[i].sysid != sysid) {
            peers_name(st[i].host, st[i].port, name, sizeof(name));
            log_warn("peers",
                     "the peer %s is a writable primary of another system (%" PRIu64
                     ", this node's is %" PRIu64 "); ignoring it; hint: remove it from "
                     "POSTGRES_PEERS",
                     name, st[i].sysid, sysid);
            continue;
        }
        if (!best || st[i].tli > best->tli)
            best = &st[i];
    }
    return best;
}

static int set_primary(struct config *cfg, const struct peer_state *p)
{
    char *host = strdup(p->host);

    if (!host) {
        log_error("peers", "out of memory");
        return -1;
    }
    free(cfg->primary_host);
    cfg->primary_host = host;
    cfg->primary_port = p->port;
    return 0;
}

/* A node that was to be a primary becomes a replica: it needs a slot name,
 * derived from its host name as a replica's is (config.c). */
static int become_replica(struct config *cfg, const struct peer_state *p, const char *why)
{
    if (set_primary(cfg, p) < 0)
        return -1;
    cfg->role = ROLE_REPLICA;
    snprintf(cfg->role_source, sizeof(cfg->role_source), "%s", why);
    if (!cfg->slot && !cfg->slot_explicit) {
        char host[256] = "", slot[64];
        const char *h = getenv("HOSTNAME");
        if (h && *h)
            snprintf(host, sizeof(host), "%s", h);
        else if (gethostname(host, sizeof(host) - 1) < 0)
            host[0] = '\0';
        if (config_slot_from_hostname(host, slot, sizeof(slot)) == 0 && !(cfg->slot = strdup(slot)))
            return -1;
    }
    return 0;
}

static void log_survey(const struct peer_state *st, size_t n)
{
    char name[300], lsn[32];

    for (size_t i = 0; i < n; i++) {
        peers_name(st[i].host, st[i].port, name, sizeof(name));
        if (!st[i].reached) {
            log_info("peers", "%s: not reached (%s)", name, st[i].why);
            continue;
        }
        catchup_lsn(st[i].lsn, lsn, sizeof(lsn));
        log_info("peers", "%s: %s of system %" PRIu64 " on timeline %" PRIu32 " at %s", name,
                 st[i].writable ? "a writable primary" : "a standby", st[i].sysid, st[i].tli, lsn);
    }
}

/* A clean switchover needs no pg_rewind: this node was shut down cleanly
 * (its shutdown checkpoint is the last record of its WAL) and the primary's
 * history leaves this node's timeline after that checkpoint. The switch
 * point is a record boundary of WAL this node wrote, and the only one past
 * its checkpoint's start is its end: nothing of its own is past the
 * switch. Anything else, or no answer, leaves the decision to pg_rewind. */
static bool follows_without_rewind(const struct config *cfg, const struct datadir_facts *facts,
                                   const struct peer_state *w)
{
    const struct pg_control *c = &facts->pg_control;
    char why[256];
    uint64_t switch_lsn = 0;

    if (c->state != 1 || c->redo_tli >= w->tli)
        return false;
    PGconn *conn = pgconn_replication_to(cfg, w->host, w->port, PEERS_TIMEOUT_MS, why, sizeof(why));
    if (!conn)
        return false;
    int found = peers_timeline_switch(conn, w->tli, c->redo_tli, &switch_lsn, why, sizeof(why));
    PQfinish(conn);
    if (found != 1 || switch_lsn <= c->checkpoint)
        return false;
    char stop[32], leave[32];
    catchup_lsn(c->checkpoint, stop, sizeof(stop));
    catchup_lsn(switch_lsn, leave, sizeof(leave));
    log_info("peers",
             "this node was shut down cleanly at %s, before the primary's history left "
             "timeline %" PRIu32 " at %s: it follows without a rewind (nothing of its own is "
             "lost)",
             stop, c->redo_tli, leave);
    return true;
}

/* The answer for a node that would be a primary: rejoin a newer primary,
 * clone one into an empty PGDATA, or refuse to be a second writable one. */
static int resolve_primary(struct config *cfg, struct datadir_facts *facts,
                           enum datadir_state state, const struct peer_state *w,
                           struct failover_decision *d)
{
    uint64_t local = facts->pg_control.system_identifier;
    uint32_t tli = facts->pg_control.redo_tli;
    char why[160];

    if (state == DATADIR_EMPTY) {
        log_warn("peers",
                 "PGDATA \"%s\" is empty, but the peer %s is a writable primary of system %" PRIu64
                 ": cloning it as its standby instead of creating a second system (a lost volume "
                 "must not split the cluster)",
                 cfg->pgdata, d->writable, w->sysid);
        snprintf(why, sizeof(why), "the writable peer %.100s (PGDATA was empty)", d->writable);
        return become_replica(cfg, w, why);
    }
    if (state == DATADIR_CLUSTER && w->tli <= tli) {
        log_error("peers",
                  "the peer %s is a writable primary of this system (%" PRIu64
                  ") on timeline %" PRIu32 ", and PGDATA \"%s\" is on timeline %" PRIu32
                  " (not older): refusing to start a second writable primary; hint: stop one of "
                  "them; to make this node its standby, start it with POSTGRES_PRIMARY_HOST "
                  "naming %s and POSTGRES_RESEED=force (its own changes are then discarded)",
                  d->writable, local, w->tli, cfg->pgdata, tli, d->writable);
        return EXIT_RUNTIME;
    }
    if (state == DATADIR_CLUSTER) {
        log_warn("peers",
                 "the peer %s is a writable primary of this system on timeline %" PRIu32
                 ", newer than this node's %" PRIu32
                 " (it was promoted): this node rejoins as its standby (pg_rewind), instead of "
                 "starting as a second primary",
                 d->writable, w->tli, tli);
        facts->diverged = true;
        facts->rewind_not_needed = follows_without_rewind(cfg, facts, w);
    } else {
        log_warn("peers",
                 "PGDATA \"%s\" is %s; the peer %s is the writable primary: this node "
                 "continues as its standby",
                 cfg->pgdata, datadir_state_name(state), d->writable);
    }
    d->rejoin = true;
    snprintf(why, sizeof(why), "the writable peer %.100s on timeline %" PRIu32 " (newer)",
             d->writable, w->tli);
    return become_replica(cfg, w, why);
}

/* A replica streams from the writable member; one whose data is on an
 * older timeline than that member's rewinds from it (pg_rewind says "no
 * rewind required" when it can simply follow). */
static int resolve_replica(struct config *cfg, struct datadir_facts *facts,
                           enum datadir_state state, const struct peer_state *w,
                           struct failover_decision *d)
{
    uint32_t tli = facts->pg_control.redo_tli;

    if (!cfg->primary_host || strcmp(w->host, cfg->primary_host) != 0 ||
        w->port != cfg->primary_port) {
        log_info("peers",
                 "the writable primary is the peer %s, not POSTGRES_PRIMARY_HOST %s:%d: "
                 "this start uses %s",
                 d->writable, cfg->primary_host, cfg->primary_port, d->writable);
        if (set_primary(cfg, w) < 0)
            return -1;
    }
    if ((state == DATADIR_CLUSTER || state == DATADIR_STANDBY) && w->tli > tli) {
        log_warn("peers",
                 "PGDATA \"%s\" is %s on timeline %" PRIu32 ", and the primary %s is on timeline "
                 "%" PRIu32 ": rewinding it from there (pg_rewind), then starting it as a standby",
                 cfg->pgdata, datadir_state_name(state), tli, d->writable, w->tli);
        facts->diverged = true;
        facts->rewind_not_needed = follows_without_rewind(cfg, facts, w);
        d->rejoin = true;
    }
    return 0;
}

int failover_resolve(struct config *cfg, struct datadir_facts *facts, enum datadir_state state,
                     bool ask, struct failover_decision *d)
{
    uint64_t local = facts->control == PG_CONTROL_OK ? facts->pg_control.system_identifier : 0;
    char when[64];

    memset(d, 0, sizeof(*d));
    if (state == DATADIR_CLUSTER && local &&
        promoted_read(cfg->pgdata, local, when, sizeof(when))) {
        d->promoted = true;
        cfg->role = ROLE_PRIMARY;
        snprintf(cfg->role_source, sizeof(cfg->role_source),
                 "the promotion record in PGDATA (pg-entrypoint promote at %s)", when);
        log_info("start",
                 "the role is primary: PGDATA holds a promotion by pg-entrypoint promote at %s",
                 when);
    }
    bool as_primary = primary_asks(cfg, state);
    if (!as_primary && !replica_asks(cfg, state))
        return 0;
    /* a promoted node whose environment still names a primary asks it too */
    const char *extra = cfg->primary_host && *cfg->primary_host ? cfg->primary_host : NULL;
    if (as_primary && cfg->npeers == 0 && !extra)
        return 0;
    if (!cfg->repl_password) {
        log_info("peers", "POSTGRES_REPLICATION_PASSWORD is not set: the peers (POSTGRES_PEERS) "
                          "cannot be asked; starting without their answer");
        return 0;
    }
    d->would_ask = true;
    if (!ask)
        return 0;

    struct peer_state st[CONFIG_PEERS_MAX + 1];
    size_t n = peers_survey(cfg, extra, cfg->primary_port, st, sizeof(st) / sizeof(st[0]),
                            PEERS_TIMEOUT_MS);
    if (proc_stop_signal())
        return -1;
    d->asked = true;
    log_survey(st, n);
    const struct peer_state *w = newest_writable(st, n, local);
    if (!w) {
        log_info("peers", "no writable primary of this system among the %zu member(s) asked; %s", n,
                 as_primary ? "this node starts as the primary" : "starting as planned");
        return 0;
    }
    peers_name(w->host, w->port, d->writable, sizeof(d->writable));
    int rc = as_primary ? resolve_primary(cfg, facts, state, w, d)
                        : resolve_replica(cfg, facts, state, w, d);
    if (rc == 0)
        log_info("start", "role %s, decided by %s",
                 cfg->role == ROLE_PRIMARY ? "primary" : "replica", cfg->role_source);
    return rc;
}

void failover_plan(struct flow *f, const struct config *cfg, enum datadir_state state,
                   const struct failover_decision *d)
{
    if (d->promoted)
        flow_add(f, "start", NULL,
                 "the role is primary: PGDATA holds a promotion by pg-entrypoint promote");
    if (!d->would_ask || d->asked)
        return;
    if (primary_asks(cfg, state))
        flow_add(f, "peers", NULL,
                 "ask the %zu peer(s) in POSTGRES_PEERS (IDENTIFY_SYSTEM, %d ms each): a writable "
                 "primary of this system on a newer timeline makes this node its standby "
                 "(pg_rewind, then the standby settings); one on the same or an older timeline "
                 "makes it refuse (exit 1)%s",
                 cfg->npeers, PEERS_TIMEOUT_MS,
                 state == DATADIR_EMPTY ? "; with an empty PGDATA, any writable peer is cloned"
                                        : "");
    else
        flow_add(f, "peers", NULL,
                 "ask the primary %s:%d and the peers which one is writable: when it is on a newer "
                 "timeline than PGDATA, rewind from it (pg_rewind), then start as its standby",
                 cfg->primary_host, cfg->primary_port);
}

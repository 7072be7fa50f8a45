#include "slots.h"

#include "log.h"
#include "peers.h"
#include "pgconn.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Unreserved, because a slot that reserved WAL on a standby would hold that
 * standby's WAL for a follower that does not stream from it. Unreserved, it
 * holds nothing until the follower connects to it, which happens once that
 * peer is promoted: the slot survives the promotion and becomes active
 * (docs/design.md, "Facts checked here"). */
static void make_slot(const struct config *cfg, const struct peer_state *p, const char *slot)
{
    char name[300], why[512];
    int rc = -1;

    peers_name(p->host, p->port, name, sizeof(name));
    PGconn *conn = pgconn_replication_to(cfg, p->host, p->port, PEERS_TIMEOUT_MS, why, sizeof(why));
    if (conn) {
        rc = pgconn_create_slot(conn, slot, false, why, sizeof(why));
        PQfinish(conn);
    }
    if (rc == 1)
        log_info("slot",
                 "created replication slot \"%s\" (unreserved) on the %s at %s, for when it is "
                 "promoted",
                 slot, p->writable ? "primary" : "standby", name);
    else if (rc == 0)
        log_info("slot", "replication slot \"%s\" already exists on the peer at %s", slot, name);
    else
        log_warn("slot",
                 "could not create replication slot \"%s\" on the peer at %s: %s; this replica "
                 "cannot follow it if it is promoted, until the replica's next start",
                 slot, name, why);
}

void slots_on_peers(const struct config *cfg, const char *slot, uint64_t sysid)
{
    struct peer_state st[CONFIG_PEERS_MAX];
    char name[300];

    if (!slot || !cfg->npeers)
        return;
    size_t n = peers_survey(cfg, NULL, 0, st, CONFIG_PEERS_MAX, PEERS_TIMEOUT_MS);
    for (size_t i = 0; i < n; i++) {
        const struct peer_state *p = &st[i];
        peers_name(p->host, p->port, name, sizeof(name));
        if (!p->reached)
            log_info("slot", "no replication slot \"%s\" on the peer at %s: not reached (%s)", slot,
                     name, p->why);
        else if (p->sysid != sysid)
            log_info("slot",
                     "no replication slot \"%s\" on the peer at %s: it runs system %" PRIu64
                     ", not this standby's %" PRIu64,
                     slot, name, p->sysid, sysid);
        /* the primary's own slot was made (reserved) by the clone or the start */
        else if (!(p->writable && p->port == cfg->primary_port && cfg->primary_host &&
                   strcmp(p->host, cfg->primary_host) == 0))
            make_slot(cfg, p, slot);
    }
}

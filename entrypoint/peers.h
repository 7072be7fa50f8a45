/* The other members of the cluster (POSTGRES_PEERS), asked over replication
 * connections as the replication user: which system each runs, on which
 * timeline, how far its WAL goes, and whether it accepts writes. A start
 * asks them before becoming a primary, `promote` before promoting, and a
 * standby's health when it does not stream. */
#ifndef PGEP_PEERS_H
#define PGEP_PEERS_H

#include "config.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long one peer may take to answer. */
#define PEERS_TIMEOUT_MS 2000

struct peer_state {
    const char *host; /* points into the configuration */
    uint64_t sysid;
    uint64_t lsn; /* IDENTIFY_SYSTEM's position */
    int port;
    uint32_t tli;
    bool reached;
    bool writable; /* not in recovery (in_hot_standby is off) */
    char why[256]; /* why it was not reached */
};

/* Asks extra_host:extra_port first (POSTGRES_PRIMARY_HOST; NULL for none),
 * then every peer that is not this node and not the same as one asked
 * already, each for at most timeout_ms, one after the other. Fills out (at
 * most max entries) and returns how many were asked. Stops early, with
 * what it has, on a stop signal. */
size_t peers_survey(const struct config *cfg, const char *extra_host, int extra_port,
                    struct peer_state *out, size_t max, int timeout_ms);

/* The first reached, writable member of system sysid; NULL when none. */
const struct peer_state *peers_find_writable(const struct peer_state *st, size_t n, uint64_t sysid);

/* "host:port" (IPv6 addresses in brackets), for messages. */
void peers_name(const char *host, int port, char *buf, size_t len);

/* On a replication connection to a server on timeline peer_tli: where
 * timeline tli ends in that server's history (TIMELINE_HISTORY), in
 * *switch_lsn. Returns 1 when the history has tli, 0 when tli is the
 * server's own timeline or not in its history, -1 when it could not be
 * asked (why says why). */
int peers_timeline_switch(PGconn *conn, uint32_t peer_tli, uint32_t tli, uint64_t *switch_lsn,
                          char *why, size_t whylen);

#endif

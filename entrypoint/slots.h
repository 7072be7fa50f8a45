/* A replica's slot on the other members of the cluster (POSTGRES_PEERS),
 * made before it is needed: when one of them is promoted, the followers'
 * slots are already there, and they stream from it without a restart. */
#ifndef PGEP_SLOTS_H
#define PGEP_SLOTS_H

#include "config.h"

#include <stdint.h>

/* Creates the physical slot "slot", without reserving WAL, on every peer
 * that answers within PEERS_TIMEOUT_MS and runs system sysid (standbys, and
 * a writable peer other than POSTGRES_PRIMARY_HOST), unless it has it
 * already. Best effort: each peer's outcome is logged, nothing fails. Does
 * nothing without POSTGRES_PEERS or without a slot (NULL). */
void slots_on_peers(const struct config *cfg, const char *slot, uint64_t sysid);

#endif

/* Whether PGDATA fits the server that will run it: the major of its
 * cluster, its pg_control version, and the volume layout of the official
 * images from 18 on. Each refusal happens before anything is touched. */
#ifndef PGEP_LAYOUT_H
#define PGEP_LAYOUT_H

#include "config.h"
#include "datadir.h"

#include <stdbool.h>
#include <stddef.h>

/* Where PostgreSQL 17 and older kept PGDATA in the official images. */
#define LAYOUT_OLD_PGDATA "/var/lib/postgresql/data"

/* Why PGDATA cannot be used by this server, as a message with a hint in
 * buf, or "" when it can. Pure, for unit tests. old_mount says whether
 * LAYOUT_OLD_PGDATA is a mount point. may_discard: a replica with
 * POSTGRES_RESEED=force, which wipes the directory whatever it holds. */
void layout_refusal(const struct config *cfg, const struct datadir_facts *facts, bool old_mount,
                    bool may_discard, char *buf, size_t len);

/* layout_refusal with the mount read from /proc/self/mountinfo; logs the
 * refusal and returns -1, or returns 0. */
int layout_check(const struct config *cfg, const struct datadir_facts *facts, bool may_discard);

/* The replica's check against its primary, before any wipe: the primary's
 * server_version_num (PQserverVersion) against this server's major. */
void layout_primary_refusal(const struct config *cfg, int primary_version_num, char *buf,
                            size_t len);

#endif

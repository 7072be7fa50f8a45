#include "layout.h"

#include "control.h"
#include "fsutil.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

/* Whether path is dir or below it. */
static bool is_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

void layout_refusal(const struct config *cfg, const struct datadir_facts *f, bool old_mount,
                    bool may_discard, char *buf, size_t len)
{
    int server = cfg->server_major;
    const char *discard = cfg->role == ROLE_REPLICA
                              ? ", or set POSTGRES_RESEED=force to discard it and clone the primary"
                              : "";

    buf[0] = '\0';
    if (server >= 18 && old_mount && !is_within(cfg->pgdata, LAYOUT_OLD_PGDATA)) {
        snprintf(buf, len,
                 "a volume is mounted at %s (an unused mount/volume), where PostgreSQL 17 and "
                 "older kept their data, but PostgreSQL %d keeps it in PGDATA \"%s\" (from 18 "
                 "on, the official image's volume is /var/lib/postgresql); refusing to "
                 "initialise or clone beside that volume, which would stay unused while the new "
                 "data is lost with the container; hint: mount the volume at /var/lib/postgresql "
                 "instead (the data then lives in %d/docker), or set PGDATA=%s to keep the old "
                 "path; a volume holding an older major's data needs that major's image or "
                 "pg_upgrade first (major upgrades come later)",
                 LAYOUT_OLD_PGDATA, server, cfg->pgdata, server, LAYOUT_OLD_PGDATA);
        return;
    }
    if (may_discard)
        return;
    if (server && f->pg_version_major && f->pg_version_major != server) {
        snprintf(buf, len,
                 "PGDATA \"%s\" holds a PostgreSQL %d cluster (its PG_VERSION), but this server "
                 "is PostgreSQL %d; refusing to touch it; hint: run it with the image of its "
                 "major (postgres:%d), or upgrade it with pg_upgrade first (major upgrades come "
                 "later)%s",
                 cfg->pgdata, f->pg_version_major, server, f->pg_version_major, discard);
        return;
    }
    if (f->control == PG_CONTROL_CORRUPT && f->pg_control.version &&
        !control_version_known(f->pg_control.version))
        snprintf(buf, len,
                 "PGDATA \"%s\" has pg_control version %u, which this pg-entrypoint cannot read "
                 "(it knows 1300 for PostgreSQL 15 and 16, 1700 for 17, 1800 for 18); refusing "
                 "to guess; hint: use a pg-entrypoint that supports this major%s",
                 cfg->pgdata, (unsigned)f->pg_control.version, discard);
}

int layout_check(const struct config *cfg, const struct datadir_facts *facts, bool may_discard)
{
    char why[1024];
    bool old_mount = cfg->server_major >= 18 && fs_is_mount_point(LAYOUT_OLD_PGDATA);

    layout_refusal(cfg, facts, old_mount, may_discard, why, sizeof(why));
    if (!why[0])
        return 0;
    log_error("data", "%s", why);
    return -1;
}

void layout_primary_refusal(const struct config *cfg, int primary_version_num, char *buf,
                            size_t len)
{
    int primary = primary_version_num / 10000;

    buf[0] = '\0';
    if (cfg->server_major && primary && primary != cfg->server_major)
        snprintf(buf, len,
                 "the primary at %s:%d runs PostgreSQL %d, but this replica's server is "
                 "PostgreSQL %d; a streaming replica must run the primary's major; refusing to "
                 "clone (nothing was wiped); hint: run the replica with the primary's image "
                 "(postgres:%d)",
                 cfg->primary_host, cfg->primary_port, primary, cfg->server_major, primary);
}

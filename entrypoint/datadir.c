#include "datadir.h"

#include "fsutil.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static bool has_file(const char *dir, const char *name, bool nonempty)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (!nonempty || st.st_size > 0);
}

/* PG_VERSION holds the major and a newline ("15\n"). */
static int pg_version_major(const char *pgdata)
{
    char path[PATH_MAX], *data;
    size_t len;

    snprintf(path, sizeof(path), "%s/PG_VERSION", pgdata);
    if (fs_read(path, 16, &data, &len) < 0)
        return 0;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    int major = server_major_of_text(data);
    free(data);
    return major;
}

/* Anything but dotfiles and lost+found: the first one ends the walk. */
static int other_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    (void)dirfd;
    (void)st;
    (void)arg;
    return name[0] != '.' && strcmp(name, "lost+found") != 0 ? FS_WALK_STOP : 0;
}

int datadir_inspect(const char *pgdata, struct datadir_facts *f)
{
    struct stat st;

    memset(f, 0, sizeof(*f));
    f->control = PG_CONTROL_MISSING;
    if (stat(pgdata, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        log_error("data", "could not access \"%s\": %s", pgdata, strerror(errno));
        return -1;
    }
    f->exists = true;
    f->is_dir = S_ISDIR(st.st_mode);
    if (!f->is_dir)
        return 0;

    int rc = fs_walk_path(pgdata, other_entry, NULL);
    if (rc < 0) {
        log_error("data",
                  "could not read directory \"%s\": %s; hint: check its owner and mode, and the "
                  "volume it is on",
                  pgdata, strerror(errno));
        return -1;
    }
    f->has_other_entries = rc == FS_WALK_STOP;

    f->has_marker = has_file(pgdata, DATADIR_CLONE_MARKER, false);
    f->has_rewind_marker = has_file(pgdata, DATADIR_REWIND_MARKER, false) ||
                           getxattr(pgdata, DATADIR_REWIND_XATTR, NULL, 0) >= 0;
    f->has_init_marker = has_file(pgdata, DATADIR_INIT_MARKER, false) ||
                         has_file(pgdata, DATADIR_INIT_MARKER_OLD, false);
    f->has_pg_version = has_file(pgdata, "PG_VERSION", true);
    f->has_standby_signal = has_file(pgdata, "standby.signal", false);
    f->has_recovery_signal = has_file(pgdata, "recovery.signal", false);
    if (f->has_pg_version) {
        f->pg_version_major = pg_version_major(pgdata);
        f->control = control_read(pgdata, &f->pg_control);
    }
    return 0;
}

enum datadir_state datadir_classify(const struct datadir_facts *f)
{
    if (!f->exists)
        return DATADIR_EMPTY;
    if (!f->is_dir)
        return DATADIR_NOT_A_DIRECTORY;
    if (f->has_marker)
        return DATADIR_CLONE_INTERRUPTED;
    if (f->has_rewind_marker)
        return DATADIR_REWIND_INTERRUPTED;
    if (!f->has_other_entries)
        return DATADIR_EMPTY;
    if (!f->has_pg_version)
        return DATADIR_NOT_A_CLUSTER;
    if (f->has_init_marker)
        return DATADIR_INIT_INCOMPLETE;
    if (f->control != PG_CONTROL_OK)
        return DATADIR_CONTROL_BROKEN;
    if (f->has_standby_signal)
        return DATADIR_STANDBY;
    /* pg_rewind leaves pg_control "in archive recovery" and the source's
     * files (no standby.signal when the source is a primary, and a copy of
     * its promotion record): not a primary's data, whatever it looks like. */
    if (!f->has_recovery_signal && f->pg_control.state == DATADIR_DB_IN_ARCHIVE_RECOVERY)
        return DATADIR_REWOUND;
    return DATADIR_CLUSTER;
}

const char *datadir_state_name(enum datadir_state state)
{
    switch (state) {
    case DATADIR_EMPTY:
        return "empty";
    case DATADIR_CLONE_INTERRUPTED:
        return "an interrupted clone";
    case DATADIR_STANDBY:
        return "a standby";
    case DATADIR_REWIND_INTERRUPTED:
        return "a cluster whose rewind (pg_rewind) was interrupted";
    case DATADIR_REWOUND:
        return "a rewound cluster whose standby settings are not written yet";
    case DATADIR_CLUSTER:
        return "a cluster that is not a standby";
    case DATADIR_INIT_INCOMPLETE:
        return "a cluster whose initialisation did not finish";
    case DATADIR_CONTROL_BROKEN:
        return "a cluster whose global/pg_control is missing or corrupt";
    case DATADIR_NOT_A_CLUSTER:
        return "not empty and not a PostgreSQL cluster";
    case DATADIR_NOT_A_DIRECTORY:
        return "not a directory";
    }
    return "unknown";
}

enum replica_action datadir_replica_action(enum datadir_state state, uint64_t local_sysid,
                                           uint64_t primary_sysid, enum reseed reseed)
{
    if (state == DATADIR_NOT_A_DIRECTORY)
        return REPLICA_REFUSE;
    if (reseed == RESEED_FORCE)
        return state == DATADIR_EMPTY ? REPLICA_CLONE : REPLICA_RECLONE;
    switch (state) {
    case DATADIR_EMPTY:
        return REPLICA_CLONE;
    case DATADIR_CLONE_INTERRUPTED:
        return REPLICA_RECLONE;
    case DATADIR_REWIND_INTERRUPTED:
        return reseed == RESEED_NEVER ? REPLICA_REFUSE : REPLICA_RECLONE;
    case DATADIR_REWOUND:
        return REPLICA_START;
    case DATADIR_STANDBY:
        if (primary_sysid == 0 || primary_sysid == local_sysid)
            return REPLICA_START;
        return reseed == RESEED_NEVER ? REPLICA_REFUSE : REPLICA_RECLONE;
    default:
        return REPLICA_REFUSE;
    }
}

enum replica_action datadir_rejoin_action(const struct datadir_facts *facts,
                                          enum datadir_state state, uint64_t primary_sysid,
                                          enum reseed reseed)
{
    if (facts->diverged && reseed != RESEED_FORCE &&
        (state == DATADIR_CLUSTER || state == DATADIR_STANDBY))
        return REPLICA_REWIND;
    return datadir_replica_action(state, facts->pg_control.system_identifier, primary_sysid,
                                  reseed);
}

int datadir_rewind_mark(const char *pgdata)
{
    char path[PATH_MAX];

    if (setxattr(pgdata, DATADIR_REWIND_XATTR, "1", 1, 0) < 0) {
        int err = errno;
        log_error(log_step("rewind"), "could not mark \"%s\" (extended attribute %s): %s", pgdata,
                  DATADIR_REWIND_XATTR, strerror(err));
        errno = err;
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", pgdata, DATADIR_REWIND_MARKER);
    return fs_write_atomic(path, "rewind in progress\n", 19, 0600);
}

int datadir_rewind_unmark(const char *pgdata)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", pgdata, DATADIR_REWIND_MARKER);
    if (unlink(path) < 0 && errno != ENOENT) {
        log_error(log_step("rewind"), "could not remove \"%s\": %s", path, strerror(errno));
        return -1;
    }
    if (removexattr(pgdata, DATADIR_REWIND_XATTR) < 0 && errno != ENODATA && errno != ENOTSUP) {
        log_error(log_step("rewind"), "could not remove the extended attribute %s of \"%s\": %s",
                  DATADIR_REWIND_XATTR, pgdata, strerror(errno));
        return -1;
    }
    return fs_fsync_path(pgdata);
}

#define SOCKET_DIR "/var/run/postgresql"

int datadir_prepare(const struct config *cfg, const struct runas *who)
{
    struct stat st;

    if (!who->started_as_root) {
        if (mkdir(cfg->pgdata, 0700) < 0 && errno != EEXIST) {
            log_error(
                "directories",
                "could not create \"%s\": %s; hint: create it, owned by uid %u, or start as root",
                cfg->pgdata, strerror(errno), (unsigned)who->uid);
            return -1;
        }
        if (access(cfg->pgdata, W_OK | X_OK) < 0) {
            log_error("directories",
                      "PGDATA \"%s\" is not writable by uid %u: %s; hint: make it owned by uid "
                      "%u (or start the container as root, which takes it over)",
                      cfg->pgdata, (unsigned)who->uid, strerror(errno), (unsigned)who->uid);
            return -1;
        }
        if (stat(cfg->pgdata, &st) == 0 && st.st_uid != who->uid) {
            /* initdb must chmod it, and postgres refuses a directory it does
             * not own: say so now, not through their messages. */
            log_error("directories",
                      "PGDATA \"%s\" is owned by uid %u, but this runs as uid %u, which cannot "
                      "take it over; hint: chown it to uid %u, point PGDATA at a subdirectory "
                      "(it is created), or start the container as root",
                      cfg->pgdata, (unsigned)st.st_uid, (unsigned)who->uid, (unsigned)who->uid);
            return -1;
        }
        if (stat(cfg->pgdata, &st) == 0 && (st.st_mode & 0777) != 0700 &&
            chmod(cfg->pgdata, 0700) < 0) {
            log_error("directories", "could not change mode of \"%s\": %s", cfg->pgdata,
                      strerror(errno));
            return -1;
        }
        return 0;
    }
    bool foreign = stat(cfg->pgdata, &st) == 0 && st.st_uid != who->uid;
    if (fs_ensure_dir(cfg->pgdata, 0700, who->uid, who->gid) < 0)
        return -1;
    /* Only a directory that was someone else's is walked: a large data
     * directory that is already ours is not scanned on every start. */
    if (foreign) {
        log_info("directories", "\"%s\" was owned by uid %u; making everything in it %s's",
                 cfg->pgdata, (unsigned)st.st_uid, who->name);
        if (fs_chown_tree(cfg->pgdata, who->uid, who->gid) < 0)
            return -1;
    }
    if (cfg->initdb_waldir && fs_ensure_dir(cfg->initdb_waldir, 0700, who->uid, who->gid) < 0)
        return -1;
    if (fs_ensure_dir(SOCKET_DIR, 03775, who->uid, who->gid) < 0)
        return -1;
    return 0;
}

int datadir_lock(const char *pgdata)
{
    /* Close-on-exec so that helpers (initdb, pg_basebackup, scripts) do not
     * hold the lock; the final exec (proc_exec's keep_fd) hands it to the
     * postmaster. */
    int fd = open(pgdata, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        log_error("lock", "could not open \"%s\": %s", pgdata, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            log_error("lock",
                      "PGDATA \"%s\" is in use by another pg-entrypoint or its postgres; refusing "
                      "to touch it; hint: give every container its own volume",
                      pgdata);
        else
            log_error("lock", "could not lock \"%s\": %s", pgdata, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

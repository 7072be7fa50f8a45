#include "replica.h"

#include "catchup.h"
#include "discard.h"
#include "fsutil.h"
#include "initdb_d.h"
#include "layout.h"
#include "lines.h"
#include "log.h"
#include "passfd.h"
#include "pgconf.h"
#include "pgconn.h"
#include "proc.h"
#include "promoted.h"
#include "rewind.h"
#include "slots.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* On restart, ask the primary (once, briefly) which cluster it runs: a
 * standby of a cluster that no longer exists must be re-cloned. When it is
 * the same cluster, make sure the slot is still there (a primary restored
 * from a backup has lost it, and a replica that fell too far behind finds it
 * invalidated), or streaming would fail for ever, and whether the WAL the
 * standby needs is still there (catchup.c). When the primary cannot be
 * reached, the standby starts as is and postgres retries. */
static uint64_t probe_primary(const struct config *cfg, uint64_t local, const char *slot,
                              struct catchup *cu)
{
    char why[512];
    uint64_t sysid = 0;
    PGconn *conn = pgconn_replication(cfg, CATCHUP_PROBE_TIMEOUT_MS, why, sizeof(why));

    if (!conn) {
        log_info("data",
                 "could not ask the primary at %s:%d for its system identifier (%s); starting the "
                 "standby as is",
                 cfg->primary_host, cfg->primary_port, why);
        return 0;
    }
    if (pgconn_identify_system(conn, &sysid) < 0)
        sysid = 0;
    if (sysid == local)
        catchup_probe(conn, slot, cu);
    PQfinish(conn);
    return sysid;
}

static void explain_refusal(const struct config *cfg, enum datadir_state state, uint64_t local,
                            uint64_t primary)
{
    if (state == DATADIR_STANDBY)
        log_error("data",
                  "PGDATA \"%s\" is a standby of system %" PRIu64
                  ", but the primary runs system %" PRIu64
                  " and POSTGRES_RESEED=never; hint: set POSTGRES_RESEED=auto to re-clone it",
                  cfg->pgdata, local, primary);
    else if (state == DATADIR_REWIND_INTERRUPTED)
        log_error("data",
                  "PGDATA \"%s\" holds a rewind (pg_rewind) that was interrupted: its files are "
                  "half the primary's, half its own, and POSTGRES_RESEED=never; refusing to touch "
                  "it; hint: set POSTGRES_RESEED=auto to discard it and clone the primary",
                  cfg->pgdata);
    else if (state == DATADIR_NOT_A_DIRECTORY)
        log_error("data", "PGDATA \"%s\" is not a directory; hint: point PGDATA at a directory",
                  cfg->pgdata);
    else if (state == DATADIR_CLUSTER)
        log_error("data",
                  "PGDATA \"%s\" holds a cluster that is not a standby (a primary's data, or a "
                  "promoted replica); refusing to overwrite it; hint: start it as a primary, or "
                  "set POSTGRES_RESEED=force to discard it and clone the primary",
                  cfg->pgdata);
    else
        log_error(
            "data",
            "PGDATA \"%s\" is %s; refusing to touch it; hint: point PGDATA at an empty directory, "
            "or set POSTGRES_RESEED=force to discard its contents and clone the primary",
            cfg->pgdata, datadir_state_name(state));
}

int replica_check(const struct config *cfg, const struct datadir_facts *facts,
                  enum datadir_state state)
{
    /* Every refusal that does not depend on the primary's answer happens
     * here, before the directory is created, chowned or chmodded. */
    if (layout_check(cfg, facts, cfg->reseed == RESEED_FORCE) < 0)
        return EXIT_RUNTIME;
    if (datadir_rejoin_action(facts, state, 0, cfg->reseed) == REPLICA_REFUSE) {
        explain_refusal(cfg, state, 0, 0);
        return EXIT_RUNTIME;
    }
    return 0;
}

static bool stop_requested(void)
{
    return proc_stop_signal() != 0;
}

/* pg_basebackup -P prints "N/M kB (P%), ..." lines; report at most one a
 * second, with the rate since the previous report, and pass every other line
 * through. */
struct progress {
    double started, last;
    long long last_kb;
    int last_pct;
};

static void report_progress(char *line, void *arg)
{
    struct progress *p = arg;
    long long done_kb, total_kb;
    int pct;

    /* pg_basebackup's own progress line, whose numbers fit; a malformed line
     * only goes to the log as it is. */
    /* NOLINTNEXTLINE(cert-err34-c) */
    if (sscanf(line, " %lld/%lld kB (%d%%)", &done_kb, &total_kb, &pct) == 3) {
        double now = mono_now();
        /* the final 100% is always worth a line, once */
        if (now - p->last < 1.0 && (pct < 100 || p->last_pct == 100))
            return;
        double span = now - (p->last > 0 ? p->last : p->started);
        double rate = span > 0 ? (double)(done_kb - p->last_kb) / 1024.0 / span : 0;
        log_info("clone", "%d%% copied (%lld of %lld kB, %.1f MB/s)", pct, done_kb, total_kb, rate);
        p->last = now;
        p->last_kb = done_kb;
        p->last_pct = pct;
    } else if (*line) {
        log_msg(strstr(line, "error") ? LOG_ERROR : LOG_INFO, "clone", "%s", line);
    }
}

static int run_basebackup(const struct config *cfg, const char *target, char *const env[])
{
    char port[16], pfenv[64];
    int out[2];
    pid_t pid;
    int status, rc = -1;

    int passfd = passfd_open(cfg, "clone");
    if (passfd < 0)
        return -1;
    snprintf(port, sizeof(port), "%d", cfg->primary_port);
    passfd_env(passfd, pfenv, sizeof(pfenv));
    const char *extra[] = {pfenv, NULL};
    char **child_env = proc_clean_env(env, extra);
    const char *argv[] = {"pg_basebackup",
                          "-D",
                          target,
                          "-h",
                          cfg->primary_host,
                          "-p",
                          port,
                          "-U",
                          cfg->repl_user,
                          "-w",
                          "-X",
                          "stream",
                          "--checkpoint=fast",
                          "-P",
                          cfg->slot ? "-S" : NULL,
                          cfg->slot,
                          NULL};

    if (!child_env || pipe2(out, O_CLOEXEC) < 0) {
        log_error("clone", "could not start pg_basebackup: %s",
                  strerror(child_env ? errno : ENOMEM));
        goto out;
    }
    struct spawn_io io = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = out[1], .keep_fd = passfd};
    if (proc_spawn(argv, child_env, &io, &pid) < 0) {
        close(out[0]);
        close(out[1]);
        goto out;
    }
    close(out[1]);
    struct progress progress = {.started = mono_now()};
    lines_read(out[0], report_progress, &progress);
    close(out[0]);
    if (proc_wait(pid, &status) == 0)
        rc = proc_check_status("clone", "pg_basebackup", status);
out:
    close(passfd);
    free(child_env);
    return rc;
}

static int check_backup(const char *dir)
{
    const char *required[] = {"global/pg_control", "backup_manifest", "PG_VERSION"};
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (snprintf(path, sizeof(path), "%s/%s", dir, required[i]) >= (int)sizeof(path) ||
            !fs_exists(path)) {
            log_error("clone", "the copy in \"%s\" has no %s; it is incomplete", dir, required[i]);
            return -1;
        }
    }
    return 0;
}

static int clone_from_primary(const struct config *cfg, enum replica_action action,
                              char *const env[])
{
    char marker[PATH_MAX], staging[PATH_MAX];
    uint64_t sysid;

    status_set(cfg->status_file, "waiting for the primary at %s:%d", cfg->primary_host,
               cfg->primary_port);
    PGconn *conn = pgconn_wait_for_primary(cfg);
    if (!conn)
        return -1;
    int rc = pgconn_identify_system(conn, &sysid);
    if (rc == 0) { /* before the marker and any wipe */
        char why[512];
        layout_primary_refusal(cfg, PQserverVersion(conn), why, sizeof(why));
        if (why[0]) {
            log_error("clone", "%s", why);
            rc = -1;
        }
    }
    if (rc == 0 && cfg->slot && pgconn_ensure_slot(conn, cfg->slot) < 0)
        rc = -1;
    PQfinish(conn);
    if (rc < 0)
        return -1;
    log_info("clone", "the primary at %s:%d runs system %" PRIu64 " and accepts \"%s\"",
             cfg->primary_host, cfg->primary_port, sysid, cfg->repl_user);

    snprintf(marker, sizeof(marker), "%s/%s", cfg->pgdata, DATADIR_CLONE_MARKER);
    snprintf(staging, sizeof(staging), "%s/%s", cfg->pgdata, DATADIR_CLONE_STAGING);
    if (fs_write_atomic(marker, "clone in progress\n", 18, 0600) < 0)
        return -1;
    /* The old copy is deleted while the new one is copied in beside it. */
    struct discard old = {0};
    if (action == REPLICA_RECLONE) {
        static const char *const keep[] = {DATADIR_CLONE_MARKER, "lost+found", NULL};
        if (discard_begin(&old, cfg->pgdata, keep, stop_requested) < 0)
            return -1;
    }

    struct step s;
    status_set(cfg->status_file, "cloning from the primary at %s:%d (pg_basebackup)",
               cfg->primary_host, cfg->primary_port);
    step_begin(&s, "clone", "pg_basebackup from %s:%d%s%s", cfg->primary_host, cfg->primary_port,
               cfg->slot ? " with slot " : "", cfg->slot ? cfg->slot : "");
    rc = run_basebackup(cfg, staging, env);
    if (discard_end(&old) < 0)
        rc = -1;
    if (rc == 0)
        rc = check_backup(staging);
    if (rc == 0)
        rc = fs_move_contents(staging, cfg->pgdata);
    /* a copy of a promoted primary holds its promotion record; a re-seed
     * after an interrupted rewind leaves its mark on PGDATA itself */
    if (rc == 0)
        rc = promoted_remove(cfg->pgdata);
    if (rc == 0)
        rc = datadir_rewind_unmark(cfg->pgdata);
    if (rc == 0)
        rc = pgconf_write_standby(cfg, cfg->pgdata, cfg->slot);
    if (rc == 0 && unlink(marker) < 0) {
        log_error("clone", "could not remove \"%s\": %s", marker, strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        rc = fs_fsync_path(cfg->pgdata);
    if (rc == 0)
        slots_on_peers(cfg, cfg->slot, sysid);
    return step_end(&s, rc);
}

/* The slot a standby keeps streaming from: POSTGRES_REPLICATION_SLOT when
 * set, else the one in its own settings (a re-created container has a new
 * host name, and so another derived name), else the derived one. */
static const char *standby_slot(const struct config *cfg, char *buf, size_t len)
{
    if (cfg->slot_explicit)
        return cfg->slot;
    if (pgconf_read_slot(cfg->pgdata, buf, len) == 0 && buf[0])
        return buf;
    return cfg->slot;
}

/* The slot a rewound node streams from must exist on its new primary
 * before it starts (a clone makes it the same way). */
static int ensure_slot_on_primary(const struct config *cfg, const char *slot)
{
    char why[512];

    if (!slot)
        return 0;
    PGconn *conn = pgconn_replication(cfg, CATCHUP_PROBE_TIMEOUT_MS, why, sizeof(why));
    if (!conn) {
        log_error("rewind", "could not reach the primary at %s:%d to create slot \"%s\": %s",
                  cfg->primary_host, cfg->primary_port, slot, why);
        return -1;
    }
    int rc = pgconn_ensure_slot(conn, slot);
    PQfinish(conn);
    return rc < 0 ? -1 : 0;
}

/* A node that diverged from a newer primary (failover.c): pg_rewind from
 * it; when that is impossible, the safe re-seed, or a refusal under
 * POSTGRES_RESEED=never with PGDATA as it was. */
static int rejoin(const struct config *cfg, const struct datadir_facts *facts, const char *slot,
                  char *const env[])
{
    if (ensure_slot_on_primary(cfg, slot) < 0)
        return -1;
    enum rewind_result r =
        rewind_run(cfg, &facts->pg_control, !facts->rewind_not_needed, slot, env);
    if (r != REWIND_IMPOSSIBLE)
        return r == REWIND_DONE ? 0 : -1;
    if (cfg->reseed == RESEED_NEVER) {
        log_error("rewind",
                  "PGDATA \"%s\" cannot be rewound from the primary at %s:%d (pg_rewind's reason "
                  "is above), and POSTGRES_RESEED=never: refusing; PGDATA is unchanged; hint: set "
                  "POSTGRES_RESEED=auto to discard it and clone the primary, or make a rewind "
                  "possible: wal_log_hints=on (or data checksums) on this node before it diverged, "
                  "its WAL back to the last common checkpoint, and on the primary the grants on "
                  "pg_ls_dir, pg_stat_file and pg_read_binary_file to \"%s\" with a pg_hba line "
                  "for its connection to the database postgres",
                  cfg->pgdata, cfg->primary_host, cfg->primary_port, cfg->repl_user);
        return -1;
    }
    log_warn("rewind",
             "PGDATA \"%s\" cannot be rewound from the primary at %s:%d (pg_rewind's reason is "
             "above): re-seeding instead, wiping it and cloning the primary",
             cfg->pgdata, cfg->primary_host, cfg->primary_port);
    return clone_from_primary(cfg, REPLICA_RECLONE, env);
}

/* Asks the primary when the standby's fate depends on its answer, then
 * starts, clones or refuses: the steps a plan lists after this one are done
 * here, on the same connection and in the same order. */
static int start_or_clone(const struct flow_ctx *c)
{
    const struct config *cfg = c->cfg;
    const struct datadir_facts *facts = c->facts;
    char *const *env = c->env;
    char slot_buf[64];
    const char *slot = standby_slot(cfg, slot_buf, sizeof(slot_buf));
    enum datadir_state state = datadir_classify(facts);
    uint64_t local = facts->pg_control.system_identifier, primary = 0;
    struct catchup cu = {0};

    if (state == DATADIR_STANDBY && cfg->reseed != RESEED_FORCE && !facts->diverged) {
        catchup_local_need(cfg->pgdata, &facts->pg_control, &cu);
        primary = probe_primary(cfg, local, slot, &cu);
    }
    enum replica_action action = datadir_rejoin_action(facts, state, primary, cfg->reseed);
    if (action == REPLICA_START && cu.verdict == CATCHUP_GONE) {
        catchup_report(cfg, &cu);
        if (cfg->reseed == RESEED_NEVER)
            return -1;
        action = REPLICA_RECLONE;
    }
    /* only a remark: a replica runs no scripts, so one it cannot read is no error */
    if (initdb_d_pending(INITDB_D_DIR) == 1)
        log_info("initdb.d",
                 "not running the scripts in %s: a replica's data comes from the primary, which "
                 "ran them",
                 INITDB_D_DIR);

    switch (action) {
    case REPLICA_REFUSE:
        explain_refusal(cfg, state, local, primary);
        return -1;
    case REPLICA_REWIND:
        if (rejoin(cfg, facts, slot, env) < 0)
            return -1;
        break;
    case REPLICA_START:
        if (state == DATADIR_REWOUND) {
            /* pg_rewind finished on an earlier start, which ended before this */
            log_info("data", "PGDATA \"%s\" is %s: writing them now", cfg->pgdata,
                     datadir_state_name(state));
            /* its recovery settings are the source's copy: not its slot */
            if (ensure_slot_on_primary(cfg, cfg->slot) < 0 || rewind_finish(cfg, cfg->slot) < 0)
                return -1;
            break;
        }
        if (cu.verdict == CATCHUP_OK)
            catchup_report(cfg, &cu);
        log_info("data",
                 "PGDATA \"%s\" is a standby of system %" PRIu64
                 "; starting it as is, without a clone",
                 cfg->pgdata, local);
        if (pgconf_write_standby(cfg, cfg->pgdata, slot) < 0)
            return -1;
        slots_on_peers(cfg, slot, local);
        break;
    case REPLICA_RECLONE:
        /* catchup_report has said why when the WAL is gone */
        if (cu.verdict != CATCHUP_GONE && state == DATADIR_STANDBY && cfg->reseed != RESEED_FORCE)
            log_warn("data",
                     "PGDATA \"%s\" is a standby of system %" PRIu64
                     ", but the primary now runs system %" PRIu64
                     " (it was re-created): discarding this copy and cloning again",
                     cfg->pgdata, local, primary);
        else if (cu.verdict != CATCHUP_GONE)
            log_warn("data", "PGDATA \"%s\" is %s; %s: wiping it and cloning again", cfg->pgdata,
                     datadir_state_name(state),
                     cfg->reseed == RESEED_FORCE ? "POSTGRES_RESEED=force"
                                                 : "nothing in it is usable");
        /* fall through */
    case REPLICA_CLONE:
        if (clone_from_primary(cfg, action, env) < 0)
            return -1;
        break;
    }
    return 0;
}

static int chmod_pgdata(const struct flow_ctx *c)
{
    const struct config *cfg = c->cfg;

    if (chmod(cfg->pgdata, 0700) < 0) {
        log_error("data", "could not change mode of \"%s\" to 0700: %s", cfg->pgdata,
                  strerror(errno));
        return -1;
    }
    return 0;
}

static void clone_steps(struct flow *f, const struct config *cfg, enum replica_action action)
{
    if (cfg->wait_timeout_s)
        flow_add(f, "wait", start_or_clone, "wait for the primary at %s:%d, for at most %u s",
                 cfg->primary_host, cfg->primary_port, cfg->wait_timeout_s);
    else
        flow_add(f, "wait", start_or_clone, "wait for the primary at %s:%d", cfg->primary_host,
                 cfg->primary_port);
    flow_add(f, "clone", NULL, "verify the credentials of \"%s\" with IDENTIFY_SYSTEM",
             cfg->repl_user);
    if (cfg->slot)
        flow_add(f, "slot", NULL, "create replication slot \"%s\" on the primary if it is missing",
                 cfg->slot);
    flow_add(f, "clone", NULL, "write the clone marker");
    if (action == REPLICA_RECLONE)
        flow_add(f, "clone", NULL,
                 "WIPE the contents of PGDATA (lost+found kept, symlinks not followed)");
    flow_add(f, "clone", NULL, "pg_basebackup -X stream --checkpoint=fast%s%s",
             cfg->slot ? " -S " : "", cfg->slot ? cfg->slot : "");
    flow_add(f, "clone", NULL, "write standby.signal and primary_conninfo, remove the marker");
}

static void rewind_steps(struct flow *f, const struct config *cfg)
{
    flow_add(f, "rewind", start_or_clone,
             "create replication slot \"%s\" on the primary at %s:%d if it is missing",
             cfg->slot ? cfg->slot : "(none)", cfg->primary_host, cfg->primary_port);
    if (cfg->reseed == RESEED_NEVER)
        flow_add(f, "rewind", NULL,
                 "pg_rewind --dry-run: if it fails, refuse (exit 1), PGDATA "
                 "unchanged (POSTGRES_RESEED=never)");
    flow_add(f, "rewind", NULL, "write the rewind marker %s", DATADIR_REWIND_MARKER);
    flow_add(f, "rewind", NULL,
             "pg_rewind --no-sync from %s:%d as \"%s\" (database postgres), then syncfs%s",
             cfg->primary_host, cfg->primary_port, cfg->repl_user,
             cfg->reseed == RESEED_NEVER ? "" : "; if it fails: wipe PGDATA and clone again");
    flow_add(f, "rewind", NULL,
             "write standby.signal and primary_conninfo, remove the copied promotion record and "
             "the marker; log the discarded WAL range");
}

/* plan --ask-primary: the primary's answer now, read only, and what a
 * start would do with it. */
static void plan_answer(struct flow *f, const struct flow_ctx *c, struct catchup *cu)
{
    const struct config *cfg = c->cfg;
    char slot_buf[64], why[512], need[32], have[32];
    static const char *const slot_states[] = {"unknown", "missing", "reserving WAL",
                                              "lost (invalidated)"};

    if (catchup_inspect(cfg, c->facts->pg_control.system_identifier,
                        standby_slot(cfg, slot_buf, sizeof(slot_buf)), cu, why, sizeof(why)) < 0) {
        flow_add(f, "data", NULL, "(the primary at %s:%d, asked now: no answer about the WAL: %s)",
                 cfg->primary_host, cfg->primary_port, why);
        return;
    }
    catchup_lsn(cu->need, need, sizeof(need));
    catchup_lsn(cu->primary_lsn, have, sizeof(have));
    flow_add(
        f, "data", NULL,
        "(the primary at %s:%d, asked now: it is at %s, the slot is %s, the WAL from %s is %s: "
        "a start would %s)",
        cfg->primary_host, cfg->primary_port, have, slot_states[cu->slot], need,
        cu->verdict == CATCHUP_GONE ? "gone"
        : cu->verdict == CATCHUP_OK ? "there"
                                    : "not known",
        cu->verdict != CATCHUP_GONE   ? "start the standby as is"
        : cfg->reseed == RESEED_NEVER ? "refuse"
                                      : "re-seed");
}

/* The lines of the catch-up question, with the LSN the standby's own files
 * give (plan contacts no server unless asked to; the start may move it to
 * the slot's restart_lsn, and logs the primary's answer with both LSNs). */
static void plan_catchup(struct flow *f, const struct flow_ctx *c)
{
    const struct config *cfg = c->cfg;
    struct catchup cu = {0};
    char need[32];

    catchup_local_need(cfg->pgdata, &c->facts->pg_control, &cu);
    catchup_lsn(cu.need, need, sizeof(need));
    flow_add(f, "slot", NULL,
             "if the primary invalidated that slot (wal_status lost): drop it and create it again");
    flow_add(f, "data", NULL,
             "ask whether the primary still has the WAL from %s on timeline %u (its restart point "
             "or newest WAL; the slot's restart_lsn if later); if it is gone: %s",
             need, cu.tli,
             cfg->reseed == RESEED_NEVER
                 ? "refuse, exit 1 (POSTGRES_RESEED=never)"
                 : "wipe PGDATA and clone again, with a warning that gives both LSNs");
    if (c->ask_primary)
        plan_answer(f, c, &cu);
}

void replica_steps(struct flow *f, const struct flow_ctx *c)
{
    const struct config *cfg = c->cfg;
    /* Decided without the primary, as replica_check decides; a standby's
     * start asks the primary first and may still turn into a clone. */
    enum replica_action action = datadir_rejoin_action(c->facts, c->state, 0, cfg->reseed);

    switch (action) {
    case REPLICA_REFUSE:
        return; /* replica_check has refused already, with the reason */
    case REPLICA_REWIND:
        rewind_steps(f, cfg);
        break;
    case REPLICA_START:
        flow_add(f, "data", start_or_clone,
                 "ask the primary for its system identifier (when it answers within 2 s)");
        flow_add(f, "data", NULL,
                 "if it is %" PRIu64 " or the primary does not answer: start the standby as is; "
                 "otherwise %s",
                 c->facts->pg_control.system_identifier,
                 cfg->reseed == RESEED_NEVER ? "refuse (POSTGRES_RESEED=never)"
                                             : "wipe PGDATA and clone again");
        flow_add(f, "slot", NULL, "re-create its replication slot on the primary if it is missing");
        plan_catchup(f, c);
        flow_add(f, "data", NULL,
                 "rewrite primary_conninfo, primary_slot_name and the password file from the "
                 "environment");
        break;
    default:
        clone_steps(f, cfg, action);
    }
    flow_add(f, "data", chmod_pgdata, "chmod 0700 PGDATA");
}

#include "rewind.h"

#include "catchup.h"
#include "datadir.h"
#include "fsutil.h"
#include "lines.h"
#include "log.h"
#include "passfd.h"
#include "pgconf.h"
#include "pgconn.h"
#include "proc.h"
#include "promoted.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What pg_rewind said, line by line into the log. */
struct rewind_output {
    char diverged[32]; /* "servers diverged at WAL location X on timeline N" */
    unsigned diverged_tli;
    bool nothing_to_do; /* "no rewind required" */
    bool same_timeline; /* "source and target cluster are on the same timeline" */
};

static void log_line(char *line, void *arg)
{
    struct rewind_output *o = arg;
    const char *text = strncmp(line, "pg_rewind: ", 11) == 0 ? line + 11 : line;
    char lsn[32];
    unsigned tli;

    if (!*text)
        return;
    /* NOLINTNEXTLINE(cert-err34-c) */
    if (sscanf(text, "servers diverged at WAL location %31s on timeline %u", lsn, &tli) == 2) {
        snprintf(o->diverged, sizeof(o->diverged), "%s", lsn);
        o->diverged_tli = tli;
    }
    if (strstr(text, "no rewind required"))
        o->nothing_to_do = true;
    if (strstr(text, "are on the same timeline"))
        o->same_timeline = true;
    /* an error here is the reason for the re-seed that follows, not the end */
    log_msg(strncmp(text, "error", 5) == 0 || strncmp(text, "fatal", 5) == 0 ? LOG_WARN : LOG_INFO,
            "rewind", "pg_rewind: %s", text);
}

/* pg_rewind as a child, stop signals forwarded (its process group: also the
 * single-user postgres it runs to finish a crashed target's recovery).
 * Returns 0 when it exited 0, 1 when it failed, -1 when it could not run or
 * was stopped. */
static int run_pg_rewind(const struct config *cfg, bool dry_run, char *const env[],
                         struct rewind_output *o)
{
    char host[1100], user[300], source[1600], target[PATH_MAX + 20], pfenv[64];
    int out[2], status, rc = -1;
    pid_t pid;

    memset(o, 0, sizeof(*o));
    if (pgconf_quote_conninfo(cfg->primary_host, host, sizeof(host)) < 0 ||
        pgconf_quote_conninfo(cfg->repl_user, user, sizeof(user)) < 0) {
        log_error("rewind", "POSTGRES_PRIMARY_HOST or POSTGRES_REPLICATION_USER holds a line "
                            "break or is too long for a connection string");
        return -1;
    }
    snprintf(source, sizeof(source),
             "--source-server=host=%s port=%d user=%s dbname=postgres "
             "application_name=pg-entrypoint connect_timeout=10",
             host, cfg->primary_port, user);
    snprintf(target, sizeof(target), "--target-pgdata=%s", cfg->pgdata);
    int passfd = passfd_open(cfg, "rewind");
    if (passfd < 0)
        return -1;
    passfd_env(passfd, pfenv, sizeof(pfenv));
    const char *extra[] = {pfenv, NULL};
    char **child_env = proc_clean_env(env, extra);
    /* --no-sync: syncfs afterwards makes it durable in one call instead of
     * an fsync per file of the target (docs/design.md, "Facts checked here") */
    const char *argv[] = {"pg_rewind", target, source, "--no-sync", dry_run ? "--dry-run" : NULL,
                          NULL};

    if (!child_env || pipe2(out, O_CLOEXEC) < 0) {
        log_error("rewind", "could not start pg_rewind: %s", strerror(child_env ? errno : ENOMEM));
        goto out;
    }
    struct spawn_io io = {
        .stdin_fd = -1, .stdout_fd = out[1], .stderr_fd = out[1], .keep_fd = passfd};
    if (proc_spawn(argv, child_env, &io, &pid) < 0) {
        close(out[0]);
        close(out[1]);
        goto out;
    }
    close(out[1]);
    lines_read(out[0], log_line, o);
    close(out[0]);
    if (proc_wait(pid, &status) == 0 && !proc_stop_signal())
        rc = proc_check_status("rewind", "pg_rewind", status) == 0 ? 0 : 1;
out:
    close(passfd);
    free(child_env);
    return rc;
}

/* How long a rewind waits for a just promoted primary's first checkpoint
 * on its new timeline (a spread one after pg_ctl promote can take minutes;
 * `pg-entrypoint promote` makes an immediate one). */
#define SOURCE_CHECKPOINT_WAIT_S 600

/* The timeline in the source's pg_control (checkPointCopy.ThisTimeLineID),
 * read as pg_rewind reads it: pg_read_binary_file('global/pg_control') as
 * the replication user, database postgres. 0 when it cannot be read. */
static uint32_t source_control_tli(PGconn *conn)
{
    struct pg_control c;
    uint32_t tli = 0;
    PGresult *res = PQexecParams(conn, "SELECT pg_catalog.pg_read_binary_file('global/pg_control')",
                                 0, NULL, NULL, NULL, NULL, 1);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        control_parse((const unsigned char *)PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
                      &c) == PG_CONTROL_OK)
        tli = c.redo_tli;
    PQclear(res);
    return tli;
}

/* pg_rewind takes the source's timeline from its pg_control, which a
 * promoted server updates only at its first checkpoint after the promotion;
 * before that, pg_rewind says "source and target cluster are on the same
 * timeline ... no rewind required" and leaves the divergent WAL in place
 * (seen here on 15). So: wait until the source's pg_control has the
 * timeline it streams on (IDENTIFY_SYSTEM). 0 when it does, 1 when it
 * cannot be asked or does not within the wait, -1 on a stop signal. */
static int wait_source_checkpoint(const struct config *cfg)
{
    char port[16], why[512];
    struct identity id;
    double start = mono_now(), last_log = 0;

    PGconn *repl = pgconn_replication(cfg, 10000, why, sizeof(why));
    if (!repl || pgconn_identify(repl, &id, why, sizeof(why)) < 0) {
        log_warn("rewind", "could not ask the primary at %s:%d for its timeline: %s",
                 cfg->primary_host, cfg->primary_port, why);
        PQfinish(repl);
        return proc_stop_signal() ? -1 : 1;
    }
    PQfinish(repl);
    snprintf(port, sizeof(port), "%d", cfg->primary_port);
    const char *keys[] = {"host", "port", "user", "password", "dbname", "application_name", NULL};
    const char *vals[] = {cfg->primary_host, port, cfg->repl_user, cfg->repl_password, "postgres",
                          "pg-entrypoint",   NULL};
    PGconn *conn = pgconn_open(keys, vals, 10000, why, sizeof(why));
    if (!conn) {
        log_warn("rewind",
                 "could not connect to the database postgres at %s:%d as \"%s\" (pg_rewind "
                 "needs that): %s",
                 cfg->primary_host, cfg->primary_port, cfg->repl_user, why);
        return proc_stop_signal() ? -1 : 1;
    }
    int rc = 1;
    for (;;) {
        uint32_t tli = source_control_tli(conn);
        if (tli == id.tli) {
            rc = 0;
            break;
        }
        double waited = mono_now() - start;
        if (tli == 0 || waited >= SOURCE_CHECKPOINT_WAIT_S) {
            log_warn("rewind",
                     "the pg_control of the primary at %s:%d %s timeline %" PRIu32 " after %.0f s: "
                     "%s",
                     cfg->primary_host, cfg->primary_port,
                     tli == 0 ? "could not be read to check" : "still does not have its", id.tli,
                     waited, tli == 0 ? PQerrorMessage(conn) : "no checkpoint since its promotion");
            break;
        }
        if (waited - last_log >= 5 || last_log == 0) {
            log_info("rewind",
                     "waiting for the primary's first checkpoint on timeline %" PRIu32
                     " (its pg_control still says %" PRIu32
                     "; pg_rewind reads the timeline there); hint: run CHECKPOINT on it",
                     id.tli, tli);
            last_log = waited > 0 ? waited : 0.001;
        }
        if (proc_sleep_ms(200) < 0) {
            rc = -1;
            break;
        }
    }
    PQfinish(conn);
    return rc;
}

/* syncfs of the file system that holds path. */
static int sync_fs_of(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || syncfs(fd) < 0) {
        log_error("rewind", "could not sync the file system of \"%s\": %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* pg_rewind --no-sync wrote through the page cache: one syncfs of PGDATA's
 * file system (and of the WAL directory's, when pg_wal is a link to
 * another) makes every file durable before anything else happens. */
static int make_durable(const char *pgdata)
{
    char wal[PATH_MAX];
    struct stat st;

    if (sync_fs_of(pgdata) < 0)
        return -1;
    snprintf(wal, sizeof(wal), "%s/pg_wal", pgdata);
    if (lstat(wal, &st) == 0 && S_ISLNK(st.st_mode))
        return sync_fs_of(wal);
    return 0;
}

/* A killed postmaster leaves postmaster.pid naming PID 1, which in a
 * container is now this process: the single-user postgres pg_rewind runs to
 * finish the crash recovery takes that for a live postmaster and refuses.
 * The start holds PGDATA's lock (datadir_lock), so a file naming this
 * process or a process that does not exist is stale, and goes. */
static int remove_stale_pid_file(const char *pgdata)
{
    char path[PATH_MAX], *text = NULL;

    snprintf(path, sizeof(path), "%s/postmaster.pid", pgdata);
    if (!fs_exists(path) || fs_read(path, 4096, &text, NULL) < 0)
        return 0;
    long pid = strtol(text, NULL, 10);
    free(text);
    if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) {
        log_error("rewind",
                  "\"%s\" names PID %ld, which is running: another postgres may use PGDATA; "
                  "hint: stop it first",
                  path, pid);
        return -1;
    }
    log_info("rewind", "removing the stale \"%s\" (PID %ld) of the postgres that was killed", path,
             pid);
    if (unlink(path) < 0 && errno != ENOENT) {
        log_error("rewind", "could not remove \"%s\": %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int rewind_finish(const struct config *cfg, const char *slot)
{
    if (promoted_remove(cfg->pgdata) < 0 || pgconf_write_standby(cfg, cfg->pgdata, slot) < 0)
        return -1;
    return datadir_rewind_unmark(cfg->pgdata);
}

static void log_discarded(const struct config *cfg, const struct pg_control *before,
                          const struct rewind_output *o)
{
    char last[32];

    catchup_lsn(before->checkpoint, last, sizeof(last));
    if (o->nothing_to_do || !o->diverged[0]) {
        log_info("rewind",
                 "no rewind required: PGDATA \"%s\" had nothing past the point where the primary "
                 "at %s:%d left its timeline; nothing discarded",
                 cfg->pgdata, cfg->primary_host, cfg->primary_port);
        return;
    }
    if (before->state == 1) /* shut down: the shutdown checkpoint ends its WAL */
        log_warn("rewind",
                 "discarded this node's WAL of timeline %u from %s (where the servers diverged) "
                 "to %s (its end, the shutdown checkpoint): transactions in that range were on "
                 "this node only, and are gone; it now follows the primary at %s:%d",
                 o->diverged_tli, o->diverged, last, cfg->primary_host, cfg->primary_port);
    else
        log_warn("rewind",
                 "discarded this node's WAL of timeline %u from %s (where the servers diverged) "
                 "to its end (it had not been shut down cleanly; its last checkpoint before the "
                 "rewind was at %s): transactions in that range were on this node only, and are "
                 "gone; it now follows the primary at %s:%d",
                 o->diverged_tli, o->diverged, last, cfg->primary_host, cfg->primary_port);
}

enum rewind_result rewind_run(const struct config *cfg, const struct pg_control *before,
                              bool needed, const char *slot, char *const env[])
{
    struct rewind_output o;
    struct step s;

    if (!needed) {
        if (rewind_finish(cfg, slot) < 0)
            return REWIND_FAILED;
        memset(&o, 0, sizeof(o));
        o.nothing_to_do = true;
        log_discarded(cfg, before, &o);
        return REWIND_DONE;
    }

    if (remove_stale_pid_file(cfg->pgdata) < 0)
        return REWIND_FAILED;
    status_set(cfg->status_file, "rewinding from the primary at %s:%d (pg_rewind)",
               cfg->primary_host, cfg->primary_port);
    int ready = wait_source_checkpoint(cfg);
    if (ready != 0)
        return ready < 0 ? REWIND_FAILED : REWIND_IMPOSSIBLE;
    if (cfg->reseed == RESEED_NEVER) {
        /* under never a refusal must leave PGDATA as it was: ask first */
        step_begin(&s, "rewind", "pg_rewind --dry-run from %s:%d (POSTGRES_RESEED=never)",
                   cfg->primary_host, cfg->primary_port);
        int dry = run_pg_rewind(cfg, true, env, &o);
        step_end(&s, dry == 0 ? 0 : -1);
        if (dry != 0)
            return dry < 0 ? REWIND_FAILED : REWIND_IMPOSSIBLE;
    }
    if (datadir_rewind_mark(cfg->pgdata) < 0) {
        if (errno != ENOTSUP)
            return REWIND_FAILED;
        /* without it, a kill during pg_rewind's copy could go unnoticed */
        log_warn("rewind",
                 "the file system of PGDATA \"%s\" keeps no extended attributes, which "
                 "mark a rewind in progress durably: not rewinding",
                 cfg->pgdata);
        return REWIND_IMPOSSIBLE;
    }
    step_begin(&s, "rewind", "pg_rewind from %s:%d", cfg->primary_host, cfg->primary_port);
    int rc = run_pg_rewind(cfg, false, env, &o);
    bool was_primary = before->state == 1 || before->state == 4 || before->state == 6;
    if (rc == 0 && o.same_timeline && was_primary) {
        /* failover.c found the primary on a newer timeline than this old
         * primary's: "same timeline" means pg_rewind read an old one, and
         * did nothing (a standby's own timeline may be the new one) */
        log_warn("rewind", "pg_rewind saw the primary on this node's timeline, which it has left: "
                           "its answer cannot be trusted");
        rc = 1;
    }
    if (rc != 0) {
        step_end(&s, -1);
        return rc < 0 ? REWIND_FAILED : REWIND_IMPOSSIBLE;
    }
    if (make_durable(cfg->pgdata) < 0 || rewind_finish(cfg, slot) < 0) {
        step_end(&s, -1);
        return REWIND_FAILED;
    }
    step_end(&s, 0);
    log_discarded(cfg, before, &o);
    return REWIND_DONE;
}

#include "promote.h"

#include "catchup.h"
#include "config.h"
#include "log.h"
#include "peers.h"
#include "pgconn.h"
#include "privs.h"
#include "proc.h"
#include "promoted.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMOTE_WAIT_DEFAULT_S 60
#define PROMOTE_WAIT_MAX_S 86400
#define LOCAL_TIMEOUT_MS 3000
#define WRITE_POLL_MS 20
/* POSTGRES_PRIMARY_HOST and every peer */
#define SURVEY_MAX (CONFIG_PEERS_MAX + 1)

static const char usage[] = "usage: pg-entrypoint promote [--wait SECONDS] [--force]\n";

struct promote_opts {
    int wait_s; /* 0: wait for the promotion only, not for a write */
    bool force; /* promote although a standby has more WAL */
};

static int parse_opts(int argc, char **argv, struct promote_opts *o)
{
    o->wait_s = PROMOTE_WAIT_DEFAULT_S;
    o->force = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) {
            o->force = true;
        } else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || v < 0 || v > PROMOTE_WAIT_MAX_S) {
                fprintf(stderr, "promote: --wait takes a number of seconds, 0 to %d\n%s",
                        PROMOTE_WAIT_MAX_S, usage);
                return -1;
            }
            o->wait_s = (int)v;
        } else {
            fputs(usage, stderr);
            return -1;
        }
    }
    return 0;
}

/* PQexec that a stop signal interrupts: the query is cancelled and NULL
 * returned. NULL also when the query could not be sent. */
static PGresult *exec_interruptible(PGconn *conn, const char *sql)
{
    if (!PQsendQuery(conn, sql))
        return NULL;
    while (PQisBusy(conn)) {
        int r = proc_wait_readable(PQsocket(conn), 1000, false);
        if (r < 0) {
            PGcancel *c = PQgetCancel(conn);
            if (c) {
                char buf[256];
                PQcancel(c, buf, sizeof(buf));
                PQfreeCancel(c);
            }
            return NULL;
        }
        if (r > 0 && !PQconsumeInput(conn))
            break;
    }
    PGresult *last = NULL, *res;
    while ((res = PQgetResult(conn)) != NULL) {
        PQclear(last);
        last = res;
    }
    return last;
}

/* Asks POSTGRES_PRIMARY_HOST and the peers: 0 to go on, 1 to refuse. A
 * writable member of this system is refused always (two primaries would
 * each take writes the other never sees); a standby that has more WAL
 * unless --force (its extra transactions would be lost to the new primary). */
static int check_members(const struct config *cfg, const struct local_identity *l,
                         const struct promote_opts *o, struct peer_state *st, size_t *n)
{
    char name[300], theirs[32], ours[32];
    int refuse = 0;

    *n = peers_survey(cfg, cfg->primary_host, cfg->primary_port, st, SURVEY_MAX, PEERS_TIMEOUT_MS);
    catchup_lsn(l->id.lsn, ours, sizeof(ours));
    for (size_t i = 0; i < *n; i++) {
        const struct peer_state *p = &st[i];
        peers_name(p->host, p->port, name, sizeof(name));
        catchup_lsn(p->lsn, theirs, sizeof(theirs));
        if (!p->reached) {
            log_warn("peers", "%s did not answer, so it is not compared: %s", name, p->why);
        } else if (p->sysid != l->id.sysid) {
            log_warn("peers",
                     "%s runs another system (identifier %" PRIu64 ", this node %" PRIu64
                     "); not compared",
                     name, p->sysid, l->id.sysid);
        } else if (p->writable) {
            log_error("promote",
                      "refusing: the primary at %s still accepts writes; stop it first (--force "
                      "does not override this: two writable primaries would each lose the "
                      "other's writes)",
                      name);
            return 1;
        } else if (p->lsn > l->id.lsn) {
            if (o->force)
                log_warn("promote",
                         "--force: the standby at %s has received WAL up to %s, this node only "
                         "up to %s; promoting this node anyway (that standby rewinds on its "
                         "next start)",
                         name, theirs, ours);
            else
                log_error("promote",
                          "refusing: the standby at %s has received more WAL (up to %s) than "
                          "this node (up to %s); promote that one instead, or run again with "
                          "--force to promote this node and lose what only that standby has",
                          name, theirs, ours);
            refuse |= !o->force;
        } else {
            log_info("peers", "the standby at %s has WAL up to %s, this node up to %s", name,
                     theirs, ours);
        }
    }
    return refuse;
}

/* Records, then promotes: a node promoted without its record would be
 * taken for one promoted by hand at its next start. pg_promote waits at
 * most wait_s (60 s when the writes are not waited for). 0 when the
 * promotion finished, 1 when it failed (the record removed again) or did not
 * finish in time (the record kept: the server may still finish it), or
 * 128+N on a stop signal. */
static int promote_now(PGconn *conn, const struct local_identity *l, int wait_s)
{
    char sql[64];

    if (promoted_write(l->pgdata, l->id.sysid, l->id.tli) < 0) {
        log_error("promote", "not promoted: the promotion record could not be written into \"%s\"",
                  l->pgdata);
        return 1;
    }
    snprintf(sql, sizeof(sql), "SELECT pg_promote(true, %d)",
             wait_s > 0 ? wait_s : PROMOTE_WAIT_DEFAULT_S);
    PGresult *res = exec_interruptible(conn, sql);
    if (!res && proc_stop_signal()) {
        log_warn("promote",
                 "stopped by signal %d while waiting for the promotion; it may still finish, and "
                 "the promotion record stays; check with `pg-entrypoint health`",
                 proc_stop_signal());
        return 128 + proc_stop_signal();
    }
    int rc = 1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        char why[256];
        pgconn_first_line(PQerrorMessage(conn), why, sizeof(why));
        log_error("promote", "pg_promote failed: %s; the promotion record is removed again", why);
        promoted_remove(l->pgdata);
    } else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        log_error("promote",
                  "the promotion did not finish within %d s; the server may still finish it, so "
                  "the promotion record stays; check with `pg-entrypoint health`, or give a "
                  "longer --wait",
                  wait_s > 0 ? wait_s : PROMOTE_WAIT_DEFAULT_S);
    } else {
        rc = 0;
    }
    PQclear(res);
    return rc;
}

/* One query returning one value into out: 0, or -1 (why says why; a stop
 * signal too). */
static int query_value(PGconn *conn, const char *sql, char *out, size_t len, char *why,
                       size_t whylen)
{
    PGresult *res = exec_interruptible(conn, sql);
    int rc = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
        rc = 0;
    } else if (!res && proc_stop_signal()) {
        snprintf(why, whylen, "stopped by signal %d", proc_stop_signal());
    } else {
        pgconn_first_line(PQerrorMessage(conn), why, whylen);
    }
    PQclear(res);
    return rc;
}

/* Until a transaction commits (a write: it assigns a transaction id and
 * logs its commit), for at most wait_s. Synchronous standbys configured
 * here must not hold that commit up: none may be connected yet. */
static int wait_writable(PGconn *conn, int wait_s)
{
    char val[64], why[256] = "";
    double deadline = mono_now() + wait_s;

    PQclear(PQexec(conn, "SET synchronous_commit = local"));
    for (;;) {
        if (query_value(conn, "SELECT txid_current()", val, sizeof(val), why, sizeof(why)) == 0)
            return 0;
        if (proc_stop_signal() || mono_now() >= deadline || proc_sleep_ms(WRITE_POLL_MS) < 0)
            break;
    }
    if (proc_stop_signal()) {
        log_warn("promote", "stopped by signal %d while waiting for a write to work",
                 proc_stop_signal());
        return 128 + proc_stop_signal();
    }
    log_error("promote", "promoted, but a write did not work within %d s: %s", wait_s, why);
    return 1;
}

/* The timeline WAL is written on now: pg_control's checkpoint still names
 * the old one until the first checkpoint after the promotion. */
static uint32_t current_timeline(PGconn *conn)
{
    char val[32], why[256];

    if (query_value(conn,
                    "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))"
                    "::bit(32)::bigint",
                    val, sizeof(val), why, sizeof(why)) < 0) {
        log_warn("promote", "could not read the new timeline: %s", why);
        return 0;
    }
    return (uint32_t)strtoul(val, NULL, 10);
}

/* A standby's primary_slot_name, asked on a replication connection (SHOW
 * works there for a role without superuser): 0, or -1 with why. */
static int ask_slot(const struct config *cfg, const struct peer_state *p, char *slot, size_t len,
                    char *why, size_t whylen)
{
    PGconn *conn = pgconn_replication_to(cfg, p->host, p->port, PEERS_TIMEOUT_MS, why, whylen);
    if (!conn)
        return -1;
    int rc = query_value(conn, "SHOW primary_slot_name", slot, len, why, whylen);
    PQfinish(conn);
    return rc;
}

/* The slot a standby streams through (its primary_slot_name), created here
 * (reserving WAL from now) unless it exists, so that the standby finds it
 * when it follows this node. Best effort: a failure is a warning. */
static void ensure_follower_slot(const struct config *cfg, PGconn *local,
                                 const struct peer_state *p)
{
    char name[300], slot[128] = "", why[256];

    peers_name(p->host, p->port, name, sizeof(name));
    if (ask_slot(cfg, p, slot, sizeof(slot), why, sizeof(why)) < 0) {
        log_warn("slots", "could not ask the standby at %s for its slot: %s", name, why);
        return;
    }
    if (!*slot) {
        log_info("slots", "the standby at %s streams without a slot", name);
        return;
    }
    if (!config_valid_slot_name(slot)) {
        log_warn("slots", "the standby at %s names slot \"%s\", which is no valid slot name", name,
                 slot);
        return;
    }
    const char *params[] = {slot};
    PGresult *res = PQexecParams(local,
                                 "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT "
                                 "EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pgconn_first_line(PQerrorMessage(local), why, sizeof(why));
        log_warn("slots", "could not create slot \"%s\" for the standby at %s: %s", slot, name,
                 why);
    } else if (PQntuples(res) == 1) {
        log_info("slots", "created physical replication slot \"%s\" for the standby at %s", slot,
                 name);
    } else {
        log_info("slots", "slot \"%s\" of the standby at %s exists already", slot, name);
    }
    PQclear(res);
}

/* The checkpoint that follows a promotion is a spread one (minutes on a
 * busy server), and until it ends pg_control names the old timeline: an old
 * primary that rejoins meanwhile must wait for it, since pg_rewind reads the
 * source's timeline there. An immediate one now ends that wait. Best
 * effort: the promotion is done either way; a stop signal cancels it. */
static void checkpoint_now(PGconn *conn)
{
    double started = mono_now();
    PGresult *res = exec_interruptible(conn, "CHECKPOINT");

    if (res && PQresultStatus(res) == PGRES_COMMAND_OK)
        log_info("promote",
                 "checkpoint done in %.2f s: pg_control names the new timeline, so an old primary "
                 "can rewind from this node at once",
                 mono_now() - started);
    else {
        char why[256];
        pgconn_first_line(res ? PQresultErrorMessage(res) : "stopped, or not sent", why,
                          sizeof(why));
        log_warn("promote",
                 "no checkpoint after the promotion (%s); an old primary that rejoins waits for "
                 "the next one",
                 why);
    }
    PQclear(res);
}

/* Connected, privileges dropped: the checks, the promotion, the wait, the
 * slots. */
static int promote_local(const struct config *cfg, PGconn *conn, const struct promote_opts *o)
{
    struct local_identity l;
    struct peer_state st[SURVEY_MAX];
    size_t n = 0;
    char why[256];

    if (pgconn_local_identity(conn, &l, why, sizeof(why)) < 0) {
        log_error("promote", "could not ask the local server about itself: %s", why);
        return EXIT_RUNTIME;
    }
    if (!l.recovery) {
        log_error("promote", "refusing: this node is a primary (not in recovery)");
        return EXIT_RUNTIME;
    }
    int rc = check_members(cfg, &l, o, st, &n);
    if (proc_stop_signal())
        return 128 + proc_stop_signal();
    if (rc == 0)
        rc = promote_now(conn, &l, o->wait_s);
    if (rc == 0 && o->wait_s > 0)
        rc = wait_writable(conn, o->wait_s);
    if (rc != 0)
        return rc;
    printf("promoted: now a primary on timeline %" PRIu32 "\n", current_timeline(conn));
    fflush(stdout);
    for (size_t i = 0; i < n && !proc_stop_signal(); i++)
        if (st[i].reached && !st[i].writable && st[i].sysid == l.id.sysid)
            ensure_follower_slot(cfg, conn, &st[i]);
    checkpoint_now(conn);
    return 0;
}

int promote_main(int argc, char **argv, char **envp)
{
    struct promote_opts opts;
    struct config cfg;
    struct runas who;
    char err[1024];

    if (parse_opts(argc, argv, &opts) < 0)
        return EXIT_USAGE;
    if (config_load(&cfg, envp, NULL, err, sizeof(err)) < 0) {
        log_error("config", "%s", err);
        return EXIT_CONFIG;
    }
    int rc = EXIT_RUNTIME;
    /* The record must be the server's own file, as every file in PGDATA
     * (a root-owned one would break pg_basebackup and pg_rewind from here). */
    if (privs_resolve(&who) < 0 || privs_drop(&who, cfg.pgdata) < 0)
        goto out;
    PGconn *conn =
        pgconn_local(&cfg, envp, "pg-entrypoint promote", LOCAL_TIMEOUT_MS, err, sizeof(err));
    if (!conn) {
        log_error("promote",
                  "could not connect to the local server: %s; hint: run promote in the "
                  "container of the standby, with its environment (PGHOST, PGPORT, "
                  "POSTGRES_USER, POSTGRES_PASSWORD)",
                  err);
        rc = proc_stop_signal() ? 128 + proc_stop_signal() : EXIT_RUNTIME;
        goto out;
    }
    rc = promote_local(&cfg, conn, &opts);
    PQfinish(conn);
out:
    config_free(&cfg);
    return rc;
}

#include "health.h"

#include "catchup.h"
#include "config.h"
#include "peers.h"
#include "pgconn.h"
#include "proc.h"
#include "promoted.h"
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_TIMEOUT_MS 3000

static int unhealthy(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int unhealthy(const char *fmt, ...)
{
    va_list ap;

    printf("unhealthy: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return 1;
}

struct health_opts {
    long long max_lag; /* -1: any */
    bool live_only;    /* --live: the server answers (and is no standby that
                          cannot catch up); its role is not checked */
};

static int parse_opts(int argc, char **argv, struct health_opts *o)
{
    o->max_lag = -1;
    o->live_only = false;
    for (int i = 2; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--live") == 0) {
            o->live_only = true;
        } else if (strcmp(argv[i], "--max-lag") == 0 && i + 1 < argc) {
            errno = 0;
            o->max_lag = strtoll(argv[++i], &end, 10);
            if (errno || *end || o->max_lag < 0) {
                fprintf(stderr, "health: --max-lag takes a number of bytes\n");
                return -1;
            }
        } else {
            fprintf(stderr, "usage: pg-entrypoint health [--live] [--max-lag BYTES]\n");
            return -1;
        }
    }
    return 0;
}

/* A standby that is not streaming may be one that never will again: the
 * primary has removed the WAL from where its replay stands, and postgres
 * retries for ever. The primary is the judge, asked the same question as at
 * a start (catchup.c) from where the standby is now; it is asked only when
 * the WAL receiver is not streaming, and no answer is no verdict. */
static bool cannot_catch_up(const struct config *cfg, PGconn *local, char *msg, size_t len)
{
    struct catchup cu = {0};
    char why[256];

    if (!cfg->primary_host || !*cfg->primary_host)
        return false;
    PGresult *res = PQexec(local, "SELECT greatest(pg_last_wal_receive_lsn(), "
                                  "pg_last_wal_replay_lsn()) - '0/0'::pg_lsn, "
                                  "(SELECT timeline_id FROM pg_control_checkpoint())");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        cu.need = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        cu.tli = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    PGconn *primary = cu.need ? pgconn_replication(cfg, HEALTH_TIMEOUT_MS, why, sizeof(why)) : NULL;
    if (!primary)
        return false;
    catchup_ask(primary, &cu);
    PQfinish(primary);
    if (cu.verdict != CATCHUP_GONE)
        return false;
    char need[32];
    catchup_lsn(cu.need, need, sizeof(need));
    snprintf(msg, len,
             "cannot catch up: the WAL it needs is gone on the primary; restart the container to "
             "re-seed (it needs WAL from %s; the primary at %s:%d says \"%s\")",
             need, cfg->primary_host, cfg->primary_port, cu.detail);
    return true;
}

/* A standby that is not streaming because the writable member (the primary
 * host or a peer) is on a newer timeline that forked off before this
 * standby's position: postgres retries for ever ("forked off current
 * database system timeline ... before current recovery point"); a start
 * rewinds it. Asked only when the WAL receiver is not streaming; no answer
 * is no verdict. */
static bool cannot_follow(const struct config *cfg, PGconn *local, char *msg, size_t len)
{
    struct local_identity me;
    struct peer_state st[CONFIG_PEERS_MAX + 1];
    char why[256];
    uint64_t fork = 0;

    if (pgconn_local_identity(local, &me, why, sizeof(why)) < 0 || !me.recovery || !me.id.lsn)
        return false;
    size_t n = peers_survey(cfg, cfg->primary_host, cfg->primary_port, st,
                            sizeof(st) / sizeof(st[0]), PEERS_TIMEOUT_MS);
    const struct peer_state *w = peers_find_writable(st, n, me.id.sysid);
    if (!w || w->tli <= me.id.tli)
        return false;
    PGconn *conn = pgconn_replication_to(cfg, w->host, w->port, PEERS_TIMEOUT_MS, why, sizeof(why));
    int found = conn ? peers_timeline_switch(conn, w->tli, me.id.tli, &fork, why, sizeof(why)) : -1;
    PQfinish(conn);
    if (found != 1 || me.id.lsn <= fork)
        return false;
    char name[300], have[32], at[32];
    peers_name(w->host, w->port, name, sizeof(name));
    catchup_lsn(me.id.lsn, have, sizeof(have));
    catchup_lsn(fork, at, sizeof(at));
    snprintf(msg, len,
             "cannot follow the new primary at %s: this standby has WAL up to %s on timeline "
             "%" PRIu32 ", past the switch to timeline %" PRIu32
             " at %s; restart the container to rewind it",
             name, have, me.id.tli, w->tli, at);
    return true;
}

/* A server out of recovery whose data directory holds the promotion record
 * of its own system was promoted by `pg-entrypoint promote`: a primary,
 * whatever the environment's role says. when gets the record's time. */
static bool promoted_here(PGconn *conn, char *when, size_t len)
{
    struct local_identity me;
    char why[256];

    return pgconn_local_identity(conn, &me, why, sizeof(why)) == 0 && !me.recovery &&
           promoted_read(me.pgdata, me.id.sysid, when, len);
}

int health_main(int argc, char **argv, char **envp)
{
    struct config cfg;
    char err[1024];
    struct health_opts opts;

    if (parse_opts(argc, argv, &opts) < 0)
        return EXIT_USAGE;
    if (config_load(&cfg, envp, NULL, err, sizeof(err)) < 0)
        return unhealthy("configuration error: %s", err);

    int rc;
    /* The temporary server of the init scripts answers on the socket too. */
    if (!opts.live_only && status_preparing(cfg.status_file, err, sizeof(err))) {
        rc = unhealthy("%s", err);
        goto out;
    }
    PGconn *conn =
        pgconn_local(&cfg, envp, "pg-entrypoint health", HEALTH_TIMEOUT_MS, err, sizeof(err));
    if (!conn) {
        rc = unhealthy("%s", err);
        goto out;
    }
    PGresult *res =
        PQexec(conn, "SELECT pg_is_in_recovery(), "
                     "(SELECT status FROM pg_stat_wal_receiver), "
                     "(SELECT pg_wal_lsn_diff(latest_end_lsn, pg_last_wal_replay_lsn()) "
                     "   FROM pg_stat_wal_receiver)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = unhealthy("query failed: %s", PQerrorMessage(conn));
    } else {
        bool recovery = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        const char *status = PQgetisnull(res, 0, 1) ? "not running" : PQgetvalue(res, 0, 1);
        long long lag = PQgetisnull(res, 0, 2) ? 0 : strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        bool waiting = recovery && strcmp(status, "streaming") != 0;
        char when[64] = "";
        bool promoted = !recovery && promoted_here(conn, when, sizeof(when));
        /* Never alive again without a restart, which re-seeds or rewinds
         * it: the failures --live reports beyond a server that does not
         * answer. */
        if (waiting && (cannot_catch_up(&cfg, conn, err, sizeof(err)) ||
                        cannot_follow(&cfg, conn, err, sizeof(err))))
            rc = unhealthy("%s", err);
        else if (opts.live_only) {
            printf("alive: the server answers (%s)\n",
                   recovery ? "in recovery" : "not in recovery");
            rc = 0;
        } else if (promoted) {
            printf("healthy: primary accepting connections (promoted by pg-entrypoint promote "
                   "at %s)\n",
                   when);
            rc = 0;
        } else if (cfg.role == ROLE_REPLICA && !recovery)
            rc = unhealthy("%s", "the replica is not in recovery: promoted by hand? run "
                                 "`pg-entrypoint promote` next time, or start it as a primary");
        /* A server in recovery is judged as the standby it is, also where
         * the role says primary: a start keeps a standby it finds (a recipe
         * that cloned the primary from an init script leaves one). */
        else if (waiting)
            rc = unhealthy("the WAL receiver is %s, not streaming", status);
        else if (recovery && opts.max_lag >= 0 && lag > opts.max_lag)
            rc = unhealthy("replay lags %lld bytes behind the received WAL", lag);
        else {
            printf("healthy: %s\n", !recovery                  ? "primary accepting connections"
                                    : cfg.role == ROLE_REPLICA ? "replica streaming"
                                                               : "standby streaming (the role is "
                                                                 "primary, but this node is a "
                                                                 "standby: an old primary that "
                                                                 "rejoined a promoted peer, or "
                                                                 "PGDATA held a standby)");
            rc = 0;
        }
    }
    PQclear(res);
    PQfinish(conn);
out:
    config_free(&cfg);
    return rc;
}

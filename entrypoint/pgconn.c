#include "pgconn.h"

#include "log.h"
#include "proc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_FIRST_MS 20
#define BACKOFF_MAX_MS 250
#define WAIT_LOG_EVERY_S 5.0
#define CONNECT_ATTEMPT_MS 3000

static const struct {
    const char *needle;
    enum conn_failure failure;
} failure_patterns[] = {
    {"no pg_hba.conf entry", CONN_HBA},
    {"password authentication failed", CONN_AUTH},
    {"authentication failed", CONN_AUTH},
    {"no password supplied", CONN_AUTH},
    {"could not translate host name", CONN_DNS},
    {"Name or service not known", CONN_DNS},
    {"Temporary failure in name resolution", CONN_DNS},
    {"Connection refused", CONN_REFUSED},
    {"No such file or directory", CONN_REFUSED},
    {"timeout expired", CONN_TIMEOUT},
    {"timed out", CONN_TIMEOUT},
    {"No route to host", CONN_TIMEOUT},
    {"the database system is starting up", CONN_STARTING},
    {"the database system is shutting down", CONN_STARTING},
    {"not yet accepting connections", CONN_STARTING},
    {"the database system is in recovery mode", CONN_STARTING},
};

enum conn_failure pgconn_classify_failure(const char *message)
{
    for (size_t i = 0; i < sizeof(failure_patterns) / sizeof(failure_patterns[0]); i++)
        if (strstr(message, failure_patterns[i].needle))
            return failure_patterns[i].failure;
    return CONN_OTHER;
}

bool pgconn_failure_is_final(enum conn_failure f)
{
    return f == CONN_AUTH || f == CONN_HBA;
}

const char *pgconn_failure_hint(enum conn_failure f)
{
    switch (f) {
    case CONN_AUTH:
        return "check that POSTGRES_REPLICATION_USER and POSTGRES_REPLICATION_PASSWORD match the "
               "primary's";
    case CONN_HBA:
        return "the primary's pg_hba.conf has no \"host replication\" line for this user and "
               "address; check POSTGRES_REPLICATION_USER and POSTGRES_REPLICATION_ALLOW on the "
               "primary";
    case CONN_DNS:
        return "check POSTGRES_PRIMARY_HOST; the name does not resolve (yet)";
    case CONN_REFUSED:
        return "the primary is not listening (yet)";
    case CONN_STARTING:
        return "the primary is starting up";
    default:
        return "";
    }
}

void pgconn_first_line(const char *msg, char *out, size_t len)
{
    const char *fatal = strstr(msg, "FATAL:  ");
    size_t n;

    if (fatal)
        msg = fatal + 8;
    n = strcspn(msg, "\n");
    snprintf(out, len, "%.*s", (int)n, msg);
}

PGconn *pgconn_open(const char *const *keys, const char *const *vals, int timeout_ms, char *why,
                    size_t whylen)
{
    PGconn *conn = PQconnectStartParams(keys, vals, 0);
    if (!conn) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    double deadline = mono_now() + timeout_ms / 1000.0;
    while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        int left = (int)((deadline - mono_now()) * 1000);
        int r =
            left > 0 ? proc_wait_readable(PQsocket(conn), left, st == PGRES_POLLING_WRITING) : 0;
        if (r < 0) {
            snprintf(why, whylen, "stopped by signal %d", proc_stop_signal());
            PQfinish(conn);
            return NULL;
        }
        if (r == 0) {
            snprintf(why, whylen, "timeout expired after %d ms", timeout_ms);
            PQfinish(conn);
            return NULL;
        }
        st = PQconnectPoll(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        pgconn_first_line(PQerrorMessage(conn), why, whylen);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

PGconn *pgconn_local(const struct config *cfg, char *const *envp, const char *application,
                     int timeout_ms, char *why, size_t whylen)
{
    const char *host = env_lookup(envp, "PGHOST");
    const char *port = env_lookup(envp, "PGPORT");
    const char *keys[] = {"host", "port", "user", "password", "dbname", "application_name", NULL};
    const char *vals[] = {host && *host ? host : "/var/run/postgresql",
                          port && *port ? port : "5432",
                          cfg->superuser,
                          cfg->superuser_password,
                          "postgres",
                          application,
                          NULL};

    return pgconn_open(keys, vals, timeout_ms, why, whylen);
}

PGconn *pgconn_replication_to(const struct config *cfg, const char *host, int port, int timeout_ms,
                              char *why, size_t whylen)
{
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    const char *keys[] = {
        "host", "port", "user", "password", "dbname", "replication", "application_name", NULL};
    const char *vals[] = {host,          port_s, cfg->repl_user,  cfg->repl_password,
                          "replication", "true", "pg-entrypoint", NULL};

    return pgconn_open(keys, vals, timeout_ms, why, whylen);
}

PGconn *pgconn_replication(const struct config *cfg, int timeout_ms, char *why, size_t whylen)
{
    return pgconn_replication_to(cfg, cfg->primary_host, cfg->primary_port, timeout_ms, why,
                                 whylen);
}

PGconn *pgconn_wait_for_primary(const struct config *cfg)
{
    double start = mono_now(), last_log = 0;
    unsigned delay = BACKOFF_FIRST_MS;
    char why[512];

    for (unsigned attempt = 1;; attempt++) {
        PGconn *conn = pgconn_replication(cfg, CONNECT_ATTEMPT_MS, why, sizeof(why));
        if (conn) {
            if (attempt > 1)
                log_info("wait", "the primary at %s:%d answered after %.2f s", cfg->primary_host,
                         cfg->primary_port, mono_now() - start);
            return conn;
        }
        if (proc_stop_signal())
            return NULL;
        enum conn_failure f = pgconn_classify_failure(why);
        if (pgconn_failure_is_final(f)) {
            log_error(
                "wait",
                "the primary at %s:%d refused the replication connection as \"%s\": %s; hint: %s",
                cfg->primary_host, cfg->primary_port, cfg->repl_user, why, pgconn_failure_hint(f));
            return NULL;
        }
        double waited = mono_now() - start;
        if (cfg->wait_timeout_s && waited >= cfg->wait_timeout_s) {
            log_error("wait",
                      "gave up waiting for the primary at %s:%d after %.0f s "
                      "(POSTGRES_PRIMARY_WAIT_TIMEOUT=%u): %s; hint: %s",
                      cfg->primary_host, cfg->primary_port, waited, cfg->wait_timeout_s, why,
                      *pgconn_failure_hint(f) ? pgconn_failure_hint(f)
                                              : "check that the primary runs and is reachable");
            return NULL;
        }
        if (last_log == 0 || mono_now() - last_log >= WAIT_LOG_EVERY_S) {
            const char *hint = pgconn_failure_hint(f);
            log_info("wait", "waiting for the primary at %s:%d (%.0f s so far): %s%s%s",
                     cfg->primary_host, cfg->primary_port, waited, why, *hint ? "; " : "", hint);
            last_log = mono_now();
        }
        if (proc_sleep_ms(delay) < 0)
            return NULL;
        delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
    }
}

uint64_t pgconn_parse_lsn(const char *s)
{
    unsigned hi, lo;

    /* NOLINTNEXTLINE(cert-err34-c) */
    return sscanf(s, "%X/%X", &hi, &lo) == 2 ? (uint64_t)hi << 32 | lo : 0;
}

int pgconn_identify(PGconn *conn, struct identity *id, char *why, size_t whylen)
{
    PGresult *res = PQexec(conn, "IDENTIFY_SYSTEM");

    /* systemid, timeline, xlogpos, dbname */
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3) {
        pgconn_first_line(PQerrorMessage(conn), why, whylen);
        PQclear(res);
        return -1;
    }
    id->sysid = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    id->tli = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    id->lsn = pgconn_parse_lsn(PQgetvalue(res, 0, 2));
    PQclear(res);
    return 0;
}

int pgconn_local_identity(PGconn *conn, struct local_identity *me, char *why, size_t whylen)
{
    PGresult *res = PQexec(conn, "SELECT pg_is_in_recovery(), "
                                 "(SELECT system_identifier FROM pg_control_system()), "
                                 "greatest((SELECT timeline_id FROM pg_control_checkpoint()), "
                                 "  (SELECT min_recovery_end_timeline FROM pg_control_recovery()), "
                                 "  (SELECT received_tli FROM pg_stat_wal_receiver)), "
                                 "CASE WHEN pg_is_in_recovery() THEN "
                                 "  greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) "
                                 "  ELSE pg_current_wal_flush_lsn() END, "
                                 "current_setting('data_directory')");
    int rc = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        me->recovery = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        me->id.sysid = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        me->id.tli = (uint32_t)strtoul(PQgetvalue(res, 0, 2), NULL, 10);
        me->id.lsn = pgconn_parse_lsn(PQgetvalue(res, 0, 3));
        snprintf(me->pgdata, sizeof(me->pgdata), "%s", PQgetvalue(res, 0, 4));
        rc = 0;
    } else {
        pgconn_first_line(PQerrorMessage(conn), why, whylen);
    }
    PQclear(res);
    return rc;
}

int pgconn_identify_system(PGconn *conn, uint64_t *sysid)
{
    struct identity id;
    char why[512];

    if (pgconn_identify(conn, &id, why, sizeof(why)) < 0) {
        log_error("identify", "IDENTIFY_SYSTEM failed on the primary: %s", why);
        return -1;
    }
    *sysid = id.sysid;
    return 0;
}

int pgconn_create_slot(PGconn *conn, const char *slot, bool reserve, char *why, size_t whylen)
{
    char sql[128];

    /* The name was validated as [a-z0-9_]{1,63}, but one starting with a
     * digit (a container id) is no identifier unless quoted. */
    snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT \"%s\" PHYSICAL%s", slot,
             reserve ? " RESERVE_WAL" : "");
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc = 0;

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        rc = 1;
    } else if (!state || strcmp(state, "42710") != 0) {
        snprintf(why, whylen, "%s", PQerrorMessage(conn));
        why[strcspn(why, "\n")] = '\0';
        rc = -1;
    }
    PQclear(res);
    return rc;
}

int pgconn_ensure_slot(PGconn *conn, const char *slot)
{
    char why[512];
    int rc = pgconn_create_slot(conn, slot, true, why, sizeof(why));

    if (rc == 1)
        log_info("slot", "created physical replication slot \"%s\" on the primary", slot);
    else if (rc == 0)
        log_info("slot", "replication slot \"%s\" already exists on the primary; reusing it", slot);
    else
        log_error("slot", "could not create replication slot \"%s\" on the primary: %s", slot, why);
    return rc;
}

char *pgconn_scram_secret(const char *user, const char *password)
{
    /* PQencryptPasswordConn wants a PGconn only for its error buffer and for
     * asking the server's default algorithm; with the algorithm given, an
     * unconnected object (a deliberately invalid conninfo) serves. */
    PGconn *offline = PQconnectStart("pg_entrypoint_offline=1");
    char *secret = offline ? PQencryptPasswordConn(offline, password, user, "scram-sha-256") : NULL;

    if (!secret)
        log_error("configure", "could not compute the SCRAM secret for role \"%s\"", user);
    PQfinish(offline);
    return secret;
}

/* libpq: connecting without blocking signals out, waiting for a primary with
 * backoff, the replication commands a replica needs, and password hashing. */
#ifndef PGEP_PGCONN_H
#define PGEP_PGCONN_H

#include "config.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

enum conn_failure {
    CONN_DNS,      /* the host name does not resolve */
    CONN_REFUSED,  /* nothing listens (yet) */
    CONN_TIMEOUT,  /* no answer in time */
    CONN_STARTING, /* the server is starting or shutting down */
    CONN_AUTH,     /* wrong password or user */
    CONN_HBA,      /* no pg_hba.conf entry */
    CONN_OTHER,
};

/* Classifies libpq's error message; auth and pg_hba failures are final. */
enum conn_failure pgconn_classify_failure(const char *message);
bool pgconn_failure_is_final(enum conn_failure f);
const char *pgconn_failure_hint(enum conn_failure f);

/* libpq's messages span lines ("connection to server ... failed: X\n\tIs the
 * server running..."); the first line (after a "FATAL:  ", when there is
 * one) says it all. */
void pgconn_first_line(const char *msg, char *out, size_t len);
/* Connects without blocking signals out: a stop signal or timeout_ms ends
 * the attempt. Returns NULL with the reason in why. */
PGconn *pgconn_open(const char *const *keys, const char *const *vals, int timeout_ms, char *why,
                    size_t whylen);

/* The local server over its unix socket (PGHOST, else /var/run/postgresql;
 * PGPORT, else 5432) as the superuser POSTGRES_USER, database postgres: what
 * `health` and `promote` run in the container ask. Its password, if any,
 * comes from the configuration, never from a command line. Returns NULL with
 * the reason in why. */
PGconn *pgconn_local(const struct config *cfg, char *const *envp, const char *application,
                     int timeout_ms, char *why, size_t whylen);

/* A replication connection to host:port (the primary, or any peer), as the
 * replication user. Returns NULL with the reason in why (stopped by a
 * signal: why says so). */
PGconn *pgconn_replication_to(const struct config *cfg, const char *host, int port, int timeout_ms,
                              char *why, size_t whylen);
/* The same to the primary, POSTGRES_PRIMARY_HOST and _PORT. */
PGconn *pgconn_replication(const struct config *cfg, int timeout_ms, char *why, size_t whylen);

/* Retries pgconn_replication with a backoff from 20 ms, doubling up to
 * 250 ms, logging at most every 5 s; gives up on a final failure, after
 * POSTGRES_PRIMARY_WAIT_TIMEOUT, or on a stop signal. */
PGconn *pgconn_wait_for_primary(const struct config *cfg);

/* What IDENTIFY_SYSTEM says: the system, its timeline, and its WAL
 * position (a primary's flush position; a standby's received and flushed,
 * or replayed, whichever is later). */
struct identity {
    uint64_t sysid;
    uint32_t tli;
    uint64_t lsn;
};
/* The same about the local server, over its SQL connection (pgconn_local):
 * its system, the timeline it is on (a standby: the latest its control
 * file or WAL receiver names), what WAL it has (a standby: received or
 * replayed, whichever is later), whether it is in recovery, and where its
 * data directory is. 0, or -1 with the reason in why. */
struct local_identity {
    struct identity id;
    bool recovery;
    char pgdata[4096];
};
int pgconn_local_identity(PGconn *conn, struct local_identity *me, char *why, size_t whylen);
/* IDENTIFY_SYSTEM, without logging: 0, or -1 with the server's reason in why. */
int pgconn_identify(PGconn *conn, struct identity *id, char *why, size_t whylen);
/* IDENTIFY_SYSTEM: proves host, password and pg_hba; returns the system id
 * (a failure is logged). */
int pgconn_identify_system(PGconn *conn, uint64_t *sysid);
/* "X/Y", as PostgreSQL prints an LSN, to a number; 0 when it is none. */
uint64_t pgconn_parse_lsn(const char *s);

/* CREATE_REPLICATION_SLOT "slot" PHYSICAL, with RESERVE_WAL when reserve,
 * without logging: 1 when it created the slot, 0 when it existed, -1 with
 * the server's reason in why. */
int pgconn_create_slot(PGconn *conn, const char *slot, bool reserve, char *why, size_t whylen);
/* The same, reserved, on the primary, logged: "already exists" is success. */
int pgconn_ensure_slot(PGconn *conn, const char *slot);

/* A SCRAM-SHA-256 secret for password, computed here so that the password
 * itself never reaches the server or its logs. Free with PQfreemem. */
char *pgconn_scram_secret(const char *user, const char *password);

#endif

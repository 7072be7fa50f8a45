/* Whether a standby can still catch up with its primary: the WAL it will
 * ask the primary for (from its own files) against what the primary still
 * has (asked over a replication connection), and the state of its slot. */
#ifndef PGEP_CATCHUP_H
#define PGEP_CATCHUP_H

/* How long a start (and a plan that asks) waits for the primary to answer
 * its one question on restart. */
#define CATCHUP_PROBE_TIMEOUT_MS 2000

#include "config.h"
#include "control.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum catchup_verdict {
    CATCHUP_UNKNOWN, /* not asked, or no clear answer: start as is, as before */
    CATCHUP_OK,      /* the primary still has the WAL */
    CATCHUP_GONE,    /* the primary has removed it: only a new copy helps */
};

enum slot_state { SLOT_UNKNOWN, SLOT_MISSING, SLOT_RESERVED, SLOT_LOST };

struct catchup {
    uint64_t need;        /* where the standby will ask the primary to stream from */
    uint32_t tli;         /* on this timeline */
    uint64_t primary_lsn; /* the primary's WAL flush position */
    enum slot_state slot;
    enum catchup_verdict verdict;
    char detail[256]; /* the primary's own words, when it refused */
};

/* A WAL segment file name (24 hex digits) as timeline and segment number,
 * for segments of seg_size bytes. Returns -1 for any other name. */
int catchup_parse_walname(const char *name, uint64_t seg_size, uint32_t *tli, uint64_t *segno);

/* Whether buf holds the first page of a WAL segment of system sysid that
 * starts at LSN start (a recycled or preallocated file does not): checks the
 * long page header's page address, flag and system identifier, and returns
 * the segment size it declares (0 when it is not such a page). */
uint32_t catchup_segment_size(const unsigned char *buf, size_t len, uint64_t sysid, uint64_t start);

/* The LSN a standby in pgdata will stream from: the later of its restart
 * point (pg_control's REDO location) and the start of the newest segment of
 * its own pg_wal that holds its system's WAL (the walreceiver asks for whole
 * segments, from the end of what the standby has). Sets c->need and c->tli. */
void catchup_local_need(const char *pgdata, const struct pg_control *pc, struct catchup *c);

/* On a replication connection to the primary of the same system: the
 * slot's state (READ_REPLICATION_SLOT); a lost slot is dropped and made
 * again, a missing one made, each logged; then whether the primary still
 * has the WAL from c->need (START_REPLICATION there, without a slot, ended
 * at the first message: the primary refuses at once when the segment is
 * gone). Leaves c->verdict UNKNOWN when c->need is 0. */
void catchup_probe(PGconn *conn, const char *slot, struct catchup *c);

/* Only asks whether the WAL from c->need is still there (no slot changes). */
void catchup_ask(PGconn *conn, struct catchup *c);

/* For plan --ask-primary: connects as a start would (2 s at most) and, when
 * the primary runs system sysid, reads the slot's state and asks about the
 * WAL, changing nothing. Returns -1 when the primary could not be asked or
 * runs another system (why says which). */
int catchup_inspect(const struct config *cfg, uint64_t sysid, const char *slot, struct catchup *c,
                    char *why, size_t whylen);

/* "X/Y", as PostgreSQL prints an LSN. */
void catchup_lsn(uint64_t lsn, char *buf, size_t len);

/* The start's one message about the verdict: INFO when the WAL is there;
 * for a standby that cannot catch up a WARNING (re-seeding) under
 * POSTGRES_RESEED=auto, an ERROR with the fix under never. */
void catchup_report(const struct config *cfg, const struct catchup *c);

#endif

/* Whether a standby can still catch up: what it needs, read from its own
 * files, against what the primary still has, asked over the replication
 * protocol. The primary is the only judge of the latter: a START_REPLICATION
 * from a removed segment fails at once with "requested WAL segment ... has
 * already been removed", the very error a standby's walreceiver would then
 * repeat for ever. */
#include "catchup.h"

#include "fsutil.h"
#include "log.h"
#include "pgconn.h"
#include "proc.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long the primary may take to send the first message of a stream. */
#define ASK_TIMEOUT_MS 5000
/* XLogLongPageHeaderData: magic, info, tli, pageaddr, rem_len, sysid,
 * seg_size, xlog_blcksz; the same in every version since 11. */
#define LONG_HEADER_SIZE 40
#define XLP_LONG_HEADER 0x0002
/* ERRCODE_UNDEFINED_FILE: the walsender's "has already been removed" */
#define SQLSTATE_UNDEFINED_FILE "58P01"

void catchup_lsn(uint64_t lsn, char *buf, size_t len)
{
    snprintf(buf, len, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

static bool valid_seg_size(uint64_t size)
{
    return size >= (1u << 20) && size <= (1u << 30) && (size & (size - 1)) == 0;
}

int catchup_parse_walname(const char *name, uint64_t seg_size, uint32_t *tli, uint64_t *segno)
{
    unsigned t, hi, lo;

    if (strlen(name) != 24 || strspn(name, "0123456789ABCDEF") != 24 || !valid_seg_size(seg_size))
        return -1;
    /* 24 upper-case hex digits, checked above: each field fits */
    /* NOLINTNEXTLINE(cert-err34-c) */
    if (sscanf(name, "%8X%8X%8X", &t, &hi, &lo) != 3)
        return -1;
    uint64_t per_id = 0x100000000ull / seg_size;
    if (lo >= per_id)
        return -1;
    *tli = t;
    *segno = (uint64_t)hi * per_id + lo;
    return 0;
}

uint32_t catchup_segment_size(const unsigned char *buf, size_t len, uint64_t sysid, uint64_t start)
{
    uint16_t info;
    uint64_t pageaddr, id;
    uint32_t size;

    if (len < LONG_HEADER_SIZE)
        return 0;
    memcpy(&info, buf + 2, sizeof(info));
    memcpy(&pageaddr, buf + 8, sizeof(pageaddr));
    memcpy(&id, buf + 24, sizeof(id));
    memcpy(&size, buf + 32, sizeof(size));
    if (!(info & XLP_LONG_HEADER) || id != sysid || pageaddr != start || !valid_seg_size(size))
        return 0;
    return size;
}

struct wal_scan {
    uint64_t sysid;
    uint64_t newest; /* the start of the newest segment found */
    uint32_t tli, size;
    char name[25];
};

/* One pg_wal entry: a segment whose first page says it is the segment its
 * name says, of this system, is a candidate for the newest. */
static int scan_segment(int dirfd, const char *name, const struct stat *st, void *arg)
{
    struct wal_scan *w = arg;
    unsigned char head[LONG_HEADER_SIZE];
    uint32_t size, tli;
    uint64_t pageaddr, segno;

    if (!S_ISREG(st->st_mode) || strlen(name) != 24)
        return 0;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, head, sizeof(head), 0);
    close(fd);
    if (n != (ssize_t)sizeof(head))
        return 0;
    memcpy(&size, head + 32, sizeof(size));
    memcpy(&pageaddr, head + 8, sizeof(pageaddr));
    if (catchup_parse_walname(name, size, &tli, &segno) < 0 || segno * size != pageaddr ||
        catchup_segment_size(head, sizeof(head), w->sysid, pageaddr) == 0)
        return 0;
    if (pageaddr > w->newest || (pageaddr == w->newest && tli > w->tli)) {
        w->newest = pageaddr;
        w->tli = tli;
        w->size = size;
        snprintf(w->name, sizeof(w->name), "%s", name);
    }
    return 0;
}

/* Whether the newest segment was received to its last page (the primary
 * writes every page's header, also those a segment switch pads): its
 * walreceiver then asks for the next segment, not this one. */
static bool segment_complete(const char *waldir, const struct wal_scan *w)
{
    char path[PATH_MAX];
    unsigned char head[24];
    uint32_t blcksz = 0;
    uint64_t pageaddr = 0;
    bool complete = false;

    if (snprintf(path, sizeof(path), "%s/%s", waldir, w->name) >= (int)sizeof(path))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    if (pread(fd, &blcksz, sizeof(blcksz), 36) == (ssize_t)sizeof(blcksz) && blcksz >= 1024 &&
        blcksz < w->size && (blcksz & (blcksz - 1)) == 0 &&
        pread(fd, head, sizeof(head), (off_t)(w->size - blcksz)) == (ssize_t)sizeof(head)) {
        memcpy(&pageaddr, head + 8, sizeof(pageaddr));
        complete = pageaddr == w->newest + w->size - blcksz;
    }
    close(fd);
    return complete;
}

void catchup_local_need(const char *pgdata, const struct pg_control *pc, struct catchup *c)
{
    char path[PATH_MAX];
    struct wal_scan w = {.sysid = pc->system_identifier};

    c->need = pc->redo;
    c->tli = pc->redo_tli;
    /* A pg_wal that cannot be read leaves the restart point: the earlier
     * LSN, so at worst a copy that could have caught up is made again. */
    if (snprintf(path, sizeof(path), "%s/pg_wal", pgdata) >= (int)sizeof(path) ||
        fs_walk_path(path, scan_segment, &w) < 0 || w.newest <= c->need)
        return;
    c->need = segment_complete(path, &w) ? w.newest + w.size : w.newest;
    c->tli = w.tli;
}

/* The slot's state, and in *restart where it keeps WAL from. */
static enum slot_state read_slot(PGconn *conn, const char *slot, uint64_t *restart)
{
    char sql[128];
    enum slot_state s = SLOT_UNKNOWN;

    snprintf(sql, sizeof(sql), "READ_REPLICATION_SLOT \"%s\"", slot);
    PGresult *res = PQexec(conn, sql);
    /* one row; all NULL when there is no such slot, restart_lsn NULL when
     * its WAL was invalidated (wal_status "lost"); before PostgreSQL 15 the
     * command does not exist and the state stays unknown */
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 2) {
        s = PQgetisnull(res, 0, 0)   ? SLOT_MISSING
            : PQgetisnull(res, 0, 1) ? SLOT_LOST
                                     : SLOT_RESERVED;
        if (s == SLOT_RESERVED)
            *restart = pgconn_parse_lsn(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return s;
}

/* A lost slot keeps nothing and a walreceiver cannot use it: drop it so
 * that a new one reserves WAL from now on. */
static void renew_lost_slot(PGconn *conn, const char *slot)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "DROP_REPLICATION_SLOT \"%s\"", slot);
    PGresult *res = PQexec(conn, sql);
    bool dropped = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!dropped)
        log_warn("slot",
                 "could not drop the invalidated replication slot \"%s\" on the primary: %s; "
                 "hint: drop it on the primary with pg_drop_replication_slot('%s')",
                 slot, PQerrorMessage(conn), slot);
    PQclear(res);
    if (dropped && pgconn_ensure_slot(conn, slot) == 1)
        log_warn("slot",
                 "replication slot \"%s\" on the primary was invalidated (wal_status lost: "
                 "this replica fell more than POSTGRES_MAX_SLOT_WAL_KEEP_SIZE behind); dropped "
                 "it and created it again",
                 slot);
}

/* The slot's restart point is what this standby last reported to have
 * flushed: it has everything before it, and its walreceiver asks for
 * nothing earlier (its own files may not say where they end: the last
 * segment of a clone stops mid-segment, at a segment switch). */
static void ask_from(PGconn *conn, uint64_t restart, struct catchup *c)
{
    if (c->need && restart > c->need)
        c->need = restart;
    catchup_ask(conn, c);
}

void catchup_probe(PGconn *conn, const char *slot, struct catchup *c)
{
    uint64_t restart = 0;

    if (slot) {
        c->slot = read_slot(conn, slot, &restart);
        if (c->slot == SLOT_LOST)
            renew_lost_slot(conn, slot);
        else if (c->slot != SLOT_RESERVED && pgconn_ensure_slot(conn, slot) == 1)
            log_warn("slot",
                     "replication slot \"%s\" was missing on the primary and has been created "
                     "again; whether the primary still has the WAL this standby needs is "
                     "checked next",
                     slot);
    }
    ask_from(conn, restart, c);
}

static uint64_t primary_flush_lsn(PGconn *conn)
{
    struct identity id;
    char why[256];

    return pgconn_identify(conn, &id, why, sizeof(why)) == 0 ? id.lsn : 0;
}

static void judge_error(PGconn *conn, PGresult *res, struct catchup *c)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    snprintf(c->detail, sizeof(c->detail), "%s", msg ? msg : PQerrorMessage(conn));
    c->detail[strcspn(c->detail, "\n")] = '\0';
    if ((state && strcmp(state, SQLSTATE_UNDEFINED_FILE) == 0) ||
        strstr(c->detail, "has already been removed"))
        c->verdict = CATCHUP_GONE;
}

/* In COPY BOTH mode: the first message is WAL or a keepalive (the WAL is
 * there), or the stream ends with the primary's error. */
static void await_first_message(PGconn *conn, struct catchup *c)
{
    double deadline = mono_now() + ASK_TIMEOUT_MS / 1000.0;
    char *buf = NULL;

    for (;;) {
        int n = PQgetCopyData(conn, &buf, 1);
        if (n > 0) {
            PQfreemem(buf);
            c->verdict = CATCHUP_OK;
            return;
        }
        if (n < 0)
            break;
        int left = (int)((deadline - mono_now()) * 1000);
        if (left <= 0 || proc_wait_readable(PQsocket(conn), left, false) <= 0 ||
            !PQconsumeInput(conn))
            break;
    }
    PGresult *res = PQgetResult(conn);
    if (res && PQresultStatus(res) == PGRES_FATAL_ERROR)
        judge_error(conn, res, c);
    PQclear(res);
}

void catchup_ask(PGconn *conn, struct catchup *c)
{
    char sql[128], need[32];

    c->verdict = CATCHUP_UNKNOWN;
    c->detail[0] = '\0';
    if (!c->need || !(c->primary_lsn = primary_flush_lsn(conn)))
        return;
    /* Nothing to stream yet is no missing WAL; a standby ahead of its
     * primary is another story, left to postgres as before. */
    if (c->need >= c->primary_lsn) {
        if (c->need == c->primary_lsn)
            c->verdict = CATCHUP_OK;
        return;
    }
    catchup_lsn(c->need, need, sizeof(need));
    snprintf(sql, sizeof(sql), "START_REPLICATION PHYSICAL %s TIMELINE %u", need, c->tli);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) == PGRES_COPY_BOTH)
        await_first_message(conn, c);
    else
        judge_error(conn, res, c);
    PQclear(res);
}

int catchup_inspect(const struct config *cfg, uint64_t sysid, const char *slot, struct catchup *c,
                    char *why, size_t whylen)
{
    uint64_t primary = 0, restart = 0;
    PGconn *conn = pgconn_replication(cfg, CATCHUP_PROBE_TIMEOUT_MS, why, whylen);

    if (!conn)
        return -1;
    if (pgconn_identify_system(conn, &primary) < 0 || primary != sysid) {
        snprintf(why, whylen, "it runs system %" PRIu64 ", not %" PRIu64, primary, sysid);
        PQfinish(conn);
        return -1;
    }
    if (slot)
        c->slot = read_slot(conn, slot, &restart);
    ask_from(conn, restart, c);
    PQfinish(conn);
    return 0;
}

void catchup_report(const struct config *cfg, const struct catchup *c)
{
    char need[32], have[32], facts[768];

    catchup_lsn(c->need, need, sizeof(need));
    catchup_lsn(c->primary_lsn, have, sizeof(have));
    if (c->verdict == CATCHUP_OK) {
        log_info("data",
                 "the primary at %s:%d still has the WAL this standby needs (from %s on timeline "
                 "%u; the primary is at %s)",
                 cfg->primary_host, cfg->primary_port, need, c->tli, have);
        return;
    }
    snprintf(facts, sizeof(facts),
             "PGDATA \"%s\" is a standby that can no longer catch up: it needs the primary's WAL "
             "from %s (timeline %u), which the primary at %s:%d has removed (\"%s\"; the primary "
             "is at %s%s)",
             cfg->pgdata, need, c->tli, cfg->primary_host, cfg->primary_port, c->detail, have,
             c->slot == SLOT_LOST ? "; its replication slot was invalidated" : "");
    if (cfg->reseed == RESEED_NEVER)
        log_error("data",
                  "%s; refusing, since POSTGRES_RESEED=never; hint: set POSTGRES_RESEED=auto to "
                  "discard this copy and clone the primary again (a standby holds only a copy, so "
                  "nothing is lost)",
                  facts);
    else
        log_warn("data", "%s; discarding this copy and cloning again", facts);
}

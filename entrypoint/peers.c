#include "peers.h"

#include "pgconn.h"
#include "proc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void peers_name(const char *host, int port, char *buf, size_t len)
{
    snprintf(buf, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

static void ask(const struct config *cfg, const char *host, int port, int timeout_ms,
                struct peer_state *p)
{
    struct identity id;

    memset(p, 0, sizeof(*p));
    p->host = host;
    p->port = port;
    PGconn *conn = pgconn_replication_to(cfg, host, port, timeout_ms, p->why, sizeof(p->why));
    if (!conn)
        return;
    if (pgconn_identify(conn, &id, p->why, sizeof(p->why)) == 0) {
        const char *hot = PQparameterStatus(conn, "in_hot_standby");
        p->reached = true;
        p->sysid = id.sysid;
        p->tli = id.tli;
        p->lsn = id.lsn;
        /* reported by servers from 14 on; older ones are taken as standbys,
         * never as a second primary */
        p->writable = hot && strcmp(hot, "off") == 0;
    }
    PQfinish(conn);
}

static bool asked(const struct peer_state *out, size_t n, const char *host, int port)
{
    for (size_t i = 0; i < n; i++)
        if (out[i].port == port && strcmp(out[i].host, host) == 0)
            return true;
    return false;
}

size_t peers_survey(const struct config *cfg, const char *extra_host, int extra_port,
                    struct peer_state *out, size_t max, int timeout_ms)
{
    size_t n = 0;

    if (extra_host && *extra_host && n < max)
        ask(cfg, extra_host, extra_port, timeout_ms, &out[n++]);
    for (size_t i = 0; i < cfg->npeers && n < max && !proc_stop_signal(); i++) {
        const struct peer_addr *a = &cfg->peers[i];
        if (a->self || asked(out, n, a->host, a->port))
            continue;
        ask(cfg, a->host, a->port, timeout_ms, &out[n++]);
    }
    return n;
}

const struct peer_state *peers_find_writable(const struct peer_state *st, size_t n, uint64_t sysid)
{
    for (size_t i = 0; i < n; i++)
        if (st[i].reached && st[i].writable && st[i].sysid == sysid)
            return &st[i];
    return NULL;
}

int peers_timeline_switch(PGconn *conn, uint32_t peer_tli, uint32_t tli, uint64_t *switch_lsn,
                          char *why, size_t whylen)
{
    char cmd[64];

    *switch_lsn = 0;
    if (tli >= peer_tli)
        return 0;
    snprintf(cmd, sizeof(cmd), "TIMELINE_HISTORY %" PRIu32, peer_tli);
    PGresult *res = PQexec(conn, cmd);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 2) {
        pgconn_first_line(PQerrorMessage(conn), why, whylen);
        PQclear(res);
        return -1;
    }
    /* lines of "parentTLI<tab>switchpoint<tab>reason"; comments start with # */
    int found = 0;
    const char *p = PQgetvalue(res, 0, 1);
    while (*p && !found) {
        unsigned long parent;
        char lsn[32];
        /* NOLINTNEXTLINE(cert-err34-c) */
        if (*p != '#' && sscanf(p, "%lu %31s", &parent, lsn) == 2 && parent == tli) {
            *switch_lsn = pgconn_parse_lsn(lsn);
            found = 1;
        }
        p += strcspn(p, "\n");
        p += *p == '\n';
    }
    PQclear(res);
    return found;
}

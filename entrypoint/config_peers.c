/* POSTGRES_PEERS: the other members of the cluster, "host[:port]" separated
 * by commas ("[v6-address]:port" for an IPv6 address with a port). An entry
 * that names this node itself (its host name, or its host name followed by
 * a domain) is kept but flagged: a node never asks or streams from itself. */
#include "config.h"
#include "config_internal.h"
#include "env.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_HOST_MAX 255

static bool valid_host(const char *s, size_t n)
{
    if (n == 0 || n > PEER_HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr(".:-_", s[i])))
            return false;
    return true;
}

static bool is_self(const char *host, const char *hostname)
{
    size_t n = hostname ? strlen(hostname) : 0;

    return n > 0 && host && strncmp(host, hostname, n) == 0 && (host[n] == '\0' || host[n] == '.');
}

/* One entry, [from, from + n): its host and port. */
static int parse_entry(const char *from, size_t n, struct peer_addr *out, char *err, size_t errlen)
{
    char entry[PEER_HOST_MAX + 16];
    const char *host = entry, *port = NULL;
    size_t host_len;

    if (n == 0 || n >= sizeof(entry))
        return env_fail(err, errlen,
                        "POSTGRES_PEERS has an empty or over-long entry; hint: list the other "
                        "members as host[:port], separated by commas (like "
                        "\"pg-0.pg:5432,pg-1.pg:5432\")");
    memcpy(entry, from, n);
    entry[n] = '\0';
    if (entry[0] == '[') {
        char *close = strchr(entry, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return env_fail(err, errlen,
                            "POSTGRES_PEERS entry \"%s\" is not valid; hint: write an IPv6 "
                            "address with a port as [address]:port",
                            entry);
        host = entry + 1;
        host_len = (size_t)(close - host);
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(entry, ':');
        /* more than one colon: an IPv6 address without a port */
        if (colon && !strchr(colon + 1, ':')) {
            host_len = (size_t)(colon - entry);
            port = colon + 1;
        } else {
            host_len = n;
        }
    }
    if (!valid_host(host, host_len))
        return env_fail(err, errlen,
                        "POSTGRES_PEERS entry \"%s\" is not a host name or address; hint: use "
                        "letters, digits, '.', '-', '_' and ':' only, as host[:port]",
                        entry);
    out->port = 5432;
    if (port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (!*port || *end || p < 1 || p > 65535 || !isdigit((unsigned char)*port))
            return env_fail(err, errlen,
                            "POSTGRES_PEERS entry \"%s\" has an invalid port; hint: use a port "
                            "from 1 to 65535, as host:port",
                            entry);
        out->port = (int)p;
    }
    out->host = strndup(host, host_len);
    if (!out->host)
        return env_fail(err, errlen, "POSTGRES_PEERS: out of memory");
    return 0;
}

int config_load_peers(struct config *cfg, char *const *envp, const char *hostname, char *err,
                      size_t errlen)
{
    const char *v = env_lookup(envp, "POSTGRES_PEERS");

    cfg->peers = NULL;
    cfg->npeers = 0;
    if (!v || !*v)
        return 0;
    size_t max = 1;
    for (const char *p = v; *p; p++)
        max += *p == ',';
    if (max > CONFIG_PEERS_MAX)
        return env_fail(err, errlen,
                        "POSTGRES_PEERS lists %zu members; hint: list at most %d (the other "
                        "members of one cluster)",
                        max, CONFIG_PEERS_MAX);
    cfg->peers = calloc(max, sizeof(*cfg->peers));
    if (!cfg->peers)
        return env_fail(err, errlen, "POSTGRES_PEERS: out of memory");
    for (const char *p = v;;) {
        size_t n = strcspn(p, ",");
        /* spaces around entries are forgiven, as in a YAML list written by hand */
        const char *s = p;
        size_t len = n;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        struct peer_addr *peer = &cfg->peers[cfg->npeers];
        if (parse_entry(s, len, peer, err, errlen) < 0)
            return -1;
        cfg->npeers++;
        peer->self = is_self(peer->host, hostname);
        if (!p[n])
            break;
        p += n + 1;
    }
    return 0;
}

void config_free_peers(struct config *cfg)
{
    for (size_t i = 0; i < cfg->npeers; i++)
        free(cfg->peers[i].host);
    free(cfg->peers);
    cfg->peers = NULL;
    cfg->npeers = 0;
}

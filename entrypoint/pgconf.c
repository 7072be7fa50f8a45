#include "pgconf.h"

#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies in to out, putting esc before every character of escaped (0: that
 * character itself, i.e. doubling it), between two delim characters (none
 * when delim is 0). Line breaks are refused: no
 * syntax here can hold one. */
static int escape_into(const char *in, char *out, size_t outlen, const char *escaped, char esc,
                       char delim)
{
    size_t o = 0;

    if (outlen < 3)
        return -1;
    if (delim)
        out[o++] = delim;
    for (; *in; in++) {
        if (*in == '\n' || *in == '\r' || o + 3 >= outlen)
            return -1;
        if (strchr(escaped, *in))
            out[o++] = esc ? esc : *in;
        out[o++] = *in;
    }
    if (delim)
        out[o++] = delim;
    out[o] = '\0';
    return 0;
}

int pgconf_quote_setting(const char *in, char *out, size_t outlen)
{
    /* postgresql.conf reads \ as an escape inside quotes, and '' as a quote. */
    return escape_into(in, out, outlen, "'\\", 0, '\'');
}

int pgconf_quote_conninfo(const char *in, char *out, size_t outlen)
{
    return escape_into(in, out, outlen, "\\'", '\\', '\'');
}

int pgconf_escape_pgpass(const char *in, char *out, size_t outlen)
{
    return escape_into(in, out, outlen, "\\:", '\\', 0);
}

int pgconf_quote_ident(const char *in, char *out, size_t outlen)
{
    return escape_into(in, out, outlen, "\"", 0, '"');
}

int pgconf_quote_literal(const char *in, char *out, size_t outlen)
{
    return escape_into(in, out, outlen, "'", 0, '\'');
}

int pgconf_quote_hba_name(const char *in, char *out, size_t outlen)
{
    for (const char *p = in; *p; p++)
        if (*p == '"' || (unsigned char)*p < 0x20)
            return -1;
    if (strlen(in) + 3 > outlen)
        return -1;
    snprintf(out, outlen, "\"%s\"", in);
    return 0;
}

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
    if (snprintf(buf, len, "%s/%s", dir, name) < (int)len)
        return 0;
    log_error(log_step("configure"), "the path \"%s/%s\" is too long", dir, name);
    return -1;
}

#define INCLUDE_LINE "include_if_exists = '" PGCONF_SETTINGS_FILE "'"

bool pgconf_has_primary_settings(const char *pgdata)
{
    char path[PATH_MAX], *text;
    bool found;

    if (path_in(path, sizeof(path), pgdata, "postgresql.conf") < 0 ||
        fs_read(path, 1 << 22, &text, NULL) < 0)
        return false;
    found = strstr(text, INCLUDE_LINE) != NULL;
    free(text);
    return found;
}

/* True when the settings file has every setting this version writes: a
 * cluster made by an earlier pg-entrypoint lacks wal_log_hints, which is
 * what marks it for the upgrade (pgconf_upgrade_primary). */
bool pgconf_primary_settings_current(const char *pgdata)
{
    char path[PATH_MAX], *text, *line, *save = NULL;
    bool found = false;

    if (path_in(path, sizeof(path), pgdata, PGCONF_SETTINGS_FILE) < 0 ||
        fs_read(path, 1 << 20, &text, NULL) < 0)
        return false;
    for (line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
        found = strncmp(line + strspn(line, " \t"), "wal_log_hints", 13) == 0;
    free(text);
    return found;
}

int pgconf_settings_text(const struct config *cfg, char *text, size_t len)
{
    char sync[128] = "";

    /* The replicas' application_name is their slot name, but ANY n (*)
     * counts any standby: a replica added later needs no change here. */
    if (cfg->sync_replicas > 0)
        snprintf(sync, sizeof(sync),
                 "synchronous_standby_names = 'ANY %d (*)'\nsynchronous_commit = %s\n",
                 cfg->sync_replicas, cfg->sync_commit);
    /* wal_log_hints: pg_rewind needs it (or data checksums, which 18's
     * initdb turns on by default but a cluster may lack); it stays on with
     * checksums too, so that the answer never depends on how initdb ran.
     * recovery_init_sync_method: a start after a crash, or after a rewind
     * (whose backup_label makes it one), fsyncs every file of the data
     * directory before replaying anything, seconds per GiB; syncfs (14+,
     * Linux) flushes the file system in one call instead (docs/benchmarks.md,
     * the rejoin rows). */
    int n = snprintf(text, len,
                     "# Written by pg-entrypoint when this cluster was initialised (or upgraded).\n"
                     "# Settings in postgresql.auto.conf (ALTER SYSTEM) and on the command line\n"
                     "# win over these.\n"
                     "listen_addresses = '*'\n"
                     "wal_level = replica\n"
                     "max_wal_senders = %d\n"
                     "max_replication_slots = %d\n"
                     "wal_keep_size = '%s'\n"
                     "max_slot_wal_keep_size = '%s'\n"
                     "hot_standby = on\n"
                     "wal_log_hints = on\n"
                     "recovery_init_sync_method = syncfs\n"
                     "%s",
                     cfg->max_wal_senders, cfg->max_wal_senders, cfg->wal_keep_size,
                     cfg->max_slot_wal_keep_size, sync);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* The settings file is rewritten whole; the include line is appended to
 * postgresql.conf only when it is not there yet (an upgrade finds it). */
static int write_settings(const struct config *cfg)
{
    char path[PATH_MAX], text[2048];

    int n = pgconf_settings_text(cfg, text, sizeof(text));
    if (n < 0) {
        log_error(log_step("configure"), "the settings for %s are too long", PGCONF_SETTINGS_FILE);
        return -1;
    }
    if (path_in(path, sizeof(path), cfg->pgdata, PGCONF_SETTINGS_FILE) < 0 ||
        fs_write_atomic(path, text, (size_t)n, 0600) < 0)
        return -1;
    if (pgconf_has_primary_settings(cfg->pgdata))
        return 0;
    if (path_in(path, sizeof(path), cfg->pgdata, "postgresql.conf") < 0)
        return -1;
    return fs_append(path, "\n" INCLUDE_LINE "\n", 0600);
}

/* The user field of our pg_hba lines. They name the replication user
 * whenever we know it: we create it, or it was named. A primary that
 * creates no role (its init scripts may) and was told no name lets any role
 * with REPLICATION in, with a password. */
static int hba_user(const struct config *cfg, char *user, size_t len)
{
    if (!cfg->repl_password && !cfg->repl_user_explicit) {
        snprintf(user, len, "all");
        return 0;
    }
    if (pgconf_quote_hba_name(cfg->repl_user, user, len) == 0)
        return 0;
    log_error(log_step("configure"),
              "POSTGRES_REPLICATION_USER cannot hold a double quote or control character");
    return -1;
}

/* One of our lines for one POSTGRES_REPLICATION_ALLOW field (the first n
 * bytes of field), without its newline: database "replication" for the
 * replicas' replication connections, "postgres" for the same user's
 * ordinary connections, which pg_rewind --source-server and the peers'
 * questions make. -1 when it does not fit. */
static int hba_line(const char *database, const char *user, const char *field, size_t n,
                    const char *method, char *out, size_t len)
{
    int w = snprintf(out, len, "host %s %s %.*s %s", database, user, (int)n, field, method);
    return w < 0 || (size_t)w >= len ? -1 : w;
}

int pgconf_hba_text(const struct config *cfg, char *text, size_t len)
{
    char user[128];
    const char *method = config_auth_method(cfg);
    size_t o = 0;

    if (hba_user(cfg, user, sizeof(user)) < 0)
        return -1;
    int w = snprintf(text, len,
                     "\n# pg-entrypoint: replication connections from the replicas, and the "
                     "replication user's to database postgres (pg_rewind)\n");
    if (w < 0 || (size_t)w >= len)
        goto allow_too_long;
    o = (size_t)w;
    for (const char *p = cfg->repl_allow;;) {
        size_t n = strcspn(p, ",");
        for (int db = 0; db < 2; db++) {
            if ((w = hba_line(db ? "postgres" : "replication", user, p, n, method, text + o,
                              len - o)) < 0 ||
                (size_t)w + 1 >= len - o)
                goto allow_too_long;
            o += (size_t)w;
            text[o++] = '\n';
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    /* What the official image appends: it does not match replication. */
    w = snprintf(text + o, len - o, "host all all all %s\n", method);
    if (w < 0 || (size_t)w >= len - o)
        goto allow_too_long;
    o += (size_t)w;
    if (cfg->hba_extra) {
        /* after "host all all all", where the official image's line break puts them */
        size_t n = strlen(cfg->hba_extra);
        w = snprintf(text + o, len - o,
                     "# pg-entrypoint: the later lines of POSTGRES_HOST_AUTH_METHOD\n%s%s",
                     cfg->hba_extra, n && cfg->hba_extra[n - 1] != '\n' ? "\n" : "");
        if (w < 0 || (size_t)w >= len - o) {
            log_error(log_step("configure"),
                      "POSTGRES_HOST_AUTH_METHOD is too long: its pg_hba lines and ours must fit "
                      "in %zu bytes",
                      len);
            return -1;
        }
        o += (size_t)w;
    }
    return (int)o;
allow_too_long:
    log_error(log_step("configure"),
              "POSTGRES_REPLICATION_ALLOW is too long: our pg_hba lines must fit in %zu bytes",
              len);
    return -1;
}

static int write_hba(const struct config *cfg)
{
    char path[PATH_MAX], text[16384];

    if (!cfg->repl_password && !cfg->repl_user_explicit)
        log_info(log_step("configure"),
                 "no POSTGRES_REPLICATION_PASSWORD or POSTGRES_REPLICATION_USER: the "
                 "\"host replication\" lines admit any role with REPLICATION");
    if (pgconf_hba_text(cfg, text, sizeof(text)) < 0)
        return -1;
    if (path_in(path, sizeof(path), cfg->pgdata, "pg_hba.conf") < 0)
        return -1;
    /* A cluster whose pg_hba.conf lived elsewhere (Bitnami keeps it outside
     * the data directory) gets initdb's local line first. */
    if (!fs_exists(path) && fs_append(path, "local all all trust\n", 0600) < 0)
        return -1;
    /* An adoption stopped after this append and before the include line is
     * done again: the same lines are not added twice. */
    char *old = NULL;
    bool there = fs_read(path, 1 << 22, &old, NULL) == 0 && strstr(old, text) != NULL;
    free(old);
    if (there)
        return 0;
    if (fs_append(path, text, 0600) < 0)
        return -1;
    if (cfg->hba_extra)
        log_info(log_step("configure"),
                 "POSTGRES_HOST_AUTH_METHOD: added %d pg_hba line%s after \"host all "
                 "all all %s\"",
                 cfg->hba_extra_records, cfg->hba_extra_records == 1 ? "" : "s",
                 config_auth_method(cfg));
    return 0;
}

/* Where text holds line (n bytes, without its newline) as a whole line. */
static const char *find_line(const char *text, const char *line, size_t n)
{
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return p;
    return NULL;
}

int pgconf_hba_upgrade_text(const struct config *cfg, const char *old, char **out)
{
    char user[128], rep[1024], pg[1024];
    const char *method = config_auth_method(cfg);
    size_t fields = 1, o;
    bool changed = false;

    *out = NULL;
    if (hba_user(cfg, user, sizeof(user)) < 0)
        return -1;
    for (const char *p = cfg->repl_allow; *p; p++)
        fields += *p == ',';
    /* room for one line (and newlines) a field */
    size_t cap = strlen(old) + fields * (sizeof(pg) + 2) + 2;
    char *text = malloc(cap);
    if (!text)
        return -1;
    memcpy(text, old, strlen(old) + 1);
    for (const char *p = cfg->repl_allow;;) {
        size_t n = strcspn(p, ",");
        int rn = hba_line("replication", user, p, n, method, rep, sizeof(rep));
        int pn = hba_line("postgres", user, p, n, method, pg, sizeof(pg));
        const char *at = NULL;
        if (rn < 0 || pn < 0) {
            log_error(log_step("upgrade"), "POSTGRES_REPLICATION_ALLOW is too long");
            free(text);
            return -1;
        }
        if (!find_line(text, pg, (size_t)pn)) {
            /* Right after the replication line of the same field; at the end
             * when there is none (POSTGRES_REPLICATION_ALLOW changed since). */
            if ((at = find_line(text, rep, (size_t)rn)) != NULL) {
                size_t pos = (size_t)(at - text) + (size_t)rn + (at[rn] == '\n');
                if (!at[rn])
                    text[pos++] = '\n', text[pos] = '\0';
                memmove(text + pos + pn + 1, text + pos, strlen(text + pos) + 1);
                memcpy(text + pos, pg, (size_t)pn);
                text[pos + (size_t)pn] = '\n';
            } else {
                o = strlen(text);
                snprintf(text + o, cap - o, "%s%s\n", o && text[o - 1] != '\n' ? "\n" : "", pg);
            }
            changed = true;
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    *out = text;
    return changed ? 1 : 0;
}

/* Adds the database postgres lines to the pg_hba.conf of a cluster made by
 * an earlier pg-entrypoint, next to its replication lines; a file that
 * already has them is not written. */
static int upgrade_hba(const struct config *cfg)
{
    char path[PATH_MAX], *old = NULL, *text = NULL;

    if (path_in(path, sizeof(path), cfg->pgdata, "pg_hba.conf") < 0)
        return -1;
    if (!fs_exists(path))
        return write_hba(cfg);
    if (fs_read(path, 1 << 22, &old, NULL) < 0) {
        log_error(log_step("upgrade"), "could not read file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    int rc = pgconf_hba_upgrade_text(cfg, old, &text);
    free(old);
    if (rc > 0)
        rc = fs_write_atomic(path, text, strlen(text), 0600);
    free(text);
    return rc < 0 ? -1 : 0;
}

/* The include line in postgresql.conf is written last: it is what marks a
 * cluster as configured by us (pgconf_has_primary_settings), so a start
 * stopped before it does everything again, and everything is idempotent. */
int pgconf_write_primary(const struct config *cfg)
{
    return write_hba(cfg) < 0 || write_settings(cfg) < 0 ? -1 : 0;
}

/* The settings file is written last: its wal_log_hints line is what marks
 * the upgrade as done (pgconf_primary_settings_current), so a start
 * stopped before it upgrades again. */
int pgconf_upgrade_primary(const struct config *cfg)
{
    return upgrade_hba(cfg) < 0 || write_settings(cfg) < 0 ? -1 : 0;
}

int pgconf_passfile_text(const struct config *cfg, char *line, size_t len)
{
    char user[256], pass[8192];
    int n = -1;

    if (pgconf_escape_pgpass(cfg->repl_user, user, sizeof(user)) < 0 ||
        pgconf_escape_pgpass(cfg->repl_password, pass, sizeof(pass)) < 0)
        log_error(log_step("configure"),
                  "POSTGRES_REPLICATION_PASSWORD or POSTGRES_REPLICATION_USER holds a "
                  "line break or is too long");
    else if ((n = snprintf(line, len, "*:*:*:%s:%s\n", user, pass)) < 0 || (size_t)n >= len)
        log_error(log_step("configure"),
                  "the password file line for POSTGRES_REPLICATION_USER is too long");
    explicit_bzero(pass, sizeof(pass));
    return n >= 0 && (size_t)n < len ? n : -1;
}

int pgconf_write_passfile(const struct config *cfg, const char *dir)
{
    char path[PATH_MAX], line[8704];
    int n = pgconf_passfile_text(cfg, line, sizeof(line));
    int rc = n < 0 || path_in(path, sizeof(path), dir, PGCONF_PASSFILE) < 0
                 ? -1
                 : fs_write_atomic(path, line, (size_t)n, 0600);
    explicit_bzero(line, sizeof(line));
    return rc;
}

#define STANDBY_COMMENT "# pg-entrypoint: this replica streams from its primary"
/* A follower with peers retries its host list once per
 * wal_retrieve_retry_interval: 5 s by default, which is how long it may
 * take to follow a promotion; at 1 s, one second (docs/design.md). */
#define RETRY_SETTING "wal_retrieve_retry_interval"
#define RETRY_LINE RETRY_SETTING " = '1s'"

/* postgresql.auto.conf without any earlier primary_conninfo or
 * primary_slot_name (ours from a previous start, pg_basebackup -R's, a
 * former image's), so that the settings appended after it are the only ones;
 * without our retry interval either. *user_retry: another retry interval
 * stays (an ALTER SYSTEM), which ours must not override. */
static int auto_conf_without_recovery(const char *path, char **out, size_t *len, bool *user_retry)
{
    char *text = NULL, *line, *save = NULL;
    size_t n = 0;

    if (fs_exists(path) && fs_read(path, 1 << 20, &text, &n) < 0) {
        log_error(log_step("configure"), "could not read file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    /* Every line kept ends with a newline, also a last one that had none in
     * the file: at most n + 1 bytes, and the NUL. */
    char *kept = malloc(n + 2);
    size_t o = 0;

    *user_retry = false;
    if (!kept) {
        log_error(log_step("configure"), "out of memory reading \"%s\"", path);
        free(text);
        return -1;
    }
    for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, "primary_conninfo", 16) == 0 || strncmp(p, "primary_slot_name", 17) == 0 ||
            strcmp(line, STANDBY_COMMENT) == 0 || strcmp(line, RETRY_LINE) == 0)
            continue;
        if (strncmp(p, RETRY_SETTING, strlen(RETRY_SETTING)) == 0)
            *user_retry = true;
        size_t n_line = strlen(line);
        memcpy(kept + o, line, n_line + 1);
        kept[o + n_line] = '\n';
        o += n_line + 1;
    }
    free(text);
    *out = kept;
    *len = o;
    return 0;
}

/* One host of primary_conninfo's list, [host, host + len), and its port. */
struct conn_host {
    const char *host;
    size_t len;
    int port;
};

static bool listed(const struct conn_host *h, size_t n, const char *host, size_t len, int port)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].port == port && h[i].len == len && strncmp(h[i].host, host, len) == 0)
            return true;
    return false;
}

/* The hosts a standby may stream from: POSTGRES_PRIMARY_HOST first (each of
 * its comma-separated names, as libpq reads it, with POSTGRES_PRIMARY_PORT),
 * then every POSTGRES_PEERS member that is not this node nor listed already.
 * Fills at most max entries and returns how many. */
static size_t standby_hosts(const struct config *cfg, struct conn_host *h, size_t max)
{
    size_t n = 0;

    for (const char *p = cfg->primary_host; n < max;) {
        size_t len = strcspn(p, ",");
        if (!listed(h, n, p, len, cfg->primary_port))
            h[n++] = (struct conn_host){p, len, cfg->primary_port};
        if (!p[len])
            break;
        p += len + 1;
    }
    for (size_t i = 0; i < cfg->npeers && n < max; i++) {
        const struct peer_addr *a = &cfg->peers[i];
        size_t len = strlen(a->host);
        if (!a->self && !listed(h, n, a->host, len, a->port))
            h[n++] = (struct conn_host){a->host, len, a->port};
    }
    return n;
}

/* A host that vanished without a word (no RST) would otherwise hold each
 * attempt for the kernel's SYN retries, about 2 min, before the next host is
 * tried, and hold a stream for 60 s (wal_receiver_timeout) before it is given
 * up. */
#define TCP_USER_TIMEOUT_MS 5000

/* host= and port= of primary_conninfo, and how many hosts they name (-1:
 * too long or unquotable). Without POSTGRES_PEERS they are what
 * they always were: host='<POSTGRES_PRIMARY_HOST>' port=<its port>. With
 * peers, libpq's multi-host lists (host='a,b,c' port=1,2,3; a host name
 * cannot hold a comma, so one quoted value holds the list) and
 * target_session_attrs=read-write: the WAL receiver tries them in order and
 * streams only from the one that accepts writes, and so follows a promoted
 * peer without a restart (docs/design.md, "Facts checked here"). And
 * tcp_user_timeout (TCP_USER_TIMEOUT_MS). */
static int conninfo_hosts(const struct config *cfg, char *out, size_t outlen)
{
    struct conn_host h[CONFIG_PEERS_MAX + 8];
    char list[(CONFIG_PEERS_MAX + 8) * 264], ports[(CONFIG_PEERS_MAX + 8) * 8],
        host[sizeof(list) * 2 + 8];
    size_t n = cfg->npeers ? standby_hosts(cfg, h, sizeof(h) / sizeof(h[0])) : 0;
    size_t lo = 0, po = 0;

    if (n <= 1) {
        if (pgconf_quote_conninfo(cfg->primary_host, host, sizeof(host)) < 0)
            return -1;
        snprintf(out, outlen, "host=%s port=%d", host, cfg->primary_port);
        return 1;
    }
    /* POSTGRES_PRIMARY_HOST and each peer's host have at most 255
     * characters: the lists fit, and the checks are only a guard */
    for (size_t i = 0; i < n && lo < sizeof(list) && po < sizeof(ports); i++) {
        lo += (size_t)snprintf(list + lo, sizeof(list) - lo, "%s%.*s", i ? "," : "", (int)h[i].len,
                               h[i].host);
        po += (size_t)snprintf(ports + po, sizeof(ports) - po, "%s%d", i ? "," : "", h[i].port);
    }
    if (lo >= sizeof(list) || po >= sizeof(ports) ||
        pgconf_quote_conninfo(list, host, sizeof(host)) < 0)
        return -1;
    snprintf(out, outlen, "host=%s port=%s target_session_attrs=read-write tcp_user_timeout=%d",
             host, ports, TCP_USER_TIMEOUT_MS);
    return (int)n;
}

int pgconf_write_standby(const struct config *cfg, const char *dir, const char *slot)
{
    char path[PATH_MAX], passfile[PATH_MAX], hosts[16384], user[256], pf[PATH_MAX + 8];
    char app[128] = "", conninfo[16384 + PATH_MAX * 2], q[sizeof(conninfo) * 2 + 8];
    char text[sizeof(q) + 256];
    char *kept;
    size_t kept_len;
    bool user_retry;

    if (pgconf_write_passfile(cfg, dir) < 0)
        return -1;
    if (path_in(passfile, sizeof(passfile), cfg->pgdata, PGCONF_PASSFILE) < 0)
        return -1;
    int nhosts = conninfo_hosts(cfg, hosts, sizeof(hosts));
    if (nhosts < 0 || pgconf_quote_conninfo(cfg->repl_user, user, sizeof(user)) < 0 ||
        pgconf_quote_conninfo(passfile, pf, sizeof(pf)) < 0) {
        log_error(log_step("configure"),
                  "POSTGRES_PRIMARY_HOST, POSTGRES_REPLICATION_USER or PGDATA holds a "
                  "line break or is too long for primary_conninfo");
        return -1;
    }
    /* application_name = the slot: what synchronous_standby_names can name */
    if (slot)
        snprintf(app, sizeof(app), " application_name=%s", slot);
    snprintf(conninfo, sizeof(conninfo), "%s user=%s passfile=%s%s", hosts, user, pf, app);
    if (pgconf_quote_setting(conninfo, q, sizeof(q)) < 0) {
        log_error(log_step("configure"), "primary_conninfo is too long or holds a line break");
        return -1;
    }
    if (path_in(path, sizeof(path), dir, "postgresql.auto.conf") < 0 ||
        auto_conf_without_recovery(path, &kept, &kept_len, &user_retry) < 0)
        return -1;
    snprintf(text, sizeof(text),
             STANDBY_COMMENT "\nprimary_conninfo = %s\nprimary_slot_name = '%s'\n%s", q,
             slot ? slot : "", nhosts > 1 && !user_retry ? RETRY_LINE "\n" : "");
    char *all = malloc(kept_len + strlen(text) + 1);
    int rc = -1;
    if (all) {
        memcpy(all, kept, kept_len);
        memcpy(all + kept_len, text, strlen(text) + 1);
        rc = fs_write_atomic(path, all, strlen(all), 0600);
    } else {
        log_error(log_step("configure"), "out of memory writing \"%s\"", path);
    }
    free(all);
    free(kept);
    if (rc < 0 || path_in(path, sizeof(path), dir, "standby.signal") < 0 ||
        (!fs_exists(path) && fs_write_atomic(path, "", 0, 0600) < 0))
        return -1;
    return 0;
}

int pgconf_read_slot(const char *pgdata, char *slot, size_t len)
{
    char path[PATH_MAX], *text, *line, *save = NULL;

    slot[0] = '\0';
    if (path_in(path, sizeof(path), pgdata, "postgresql.auto.conf") < 0 ||
        fs_read(path, 1 << 20, &text, NULL) < 0)
        return -1;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char value[128];
        /* we write it as primary_slot_name = 'name', a name of [a-z0-9_] */
        if (sscanf(line, " primary_slot_name = '%127[a-z0-9_]'", value) == 1)
            snprintf(slot, len, "%s", value);
        else if (strncmp(line, "primary_slot_name = ''", 22) == 0)
            slot[0] = '\0';
    }
    free(text);
    return 0;
}

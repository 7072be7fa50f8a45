/* Validation of a loaded struct config: every rule that makes a value
 * acceptable, with a message that names the variable and a hint. */
#include "config.h"
#include "config_internal.h"
#include "env.h"

#include "hba.h"
#include "words.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL truncates identifiers at NAMEDATALEN - 1 bytes; refuse instead. */
#define IDENT_MAX 63
/* Paths go into fixed buffers, and the socket path has a limit of its own. */
#define PGDATA_MAX 1024
/* The replica's .pgpass line (pgconf_passfile_text) holds the replication
 * password with every character possibly escaped, in 8 kB. */
#define REPL_PASSWORD_MAX 4000
/* A host name (253) or an address; libpq's multi-host lists fit too. */
#define HOST_MAX 255

bool config_valid_slot_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > IDENT_MAX)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

bool config_valid_size(const char *s, bool allow_minus_one)
{
    if (allow_minus_one && strcmp(s, "-1") == 0)
        return true;
    if (!isdigit((unsigned char)*s))
        return false;
    while (isdigit((unsigned char)*s))
        s++;
    return *s == '\0' || strcmp(s, "kB") == 0 || strcmp(s, "MB") == 0 || strcmp(s, "GB") == 0 ||
           strcmp(s, "TB") == 0;
}

int config_slot_from_hostname(const char *hostname, char *out, size_t outlen)
{
    size_t o = 0;

    for (const char *p = hostname; *p && *p != '.' && o + 1 < outlen && o < IDENT_MAX; p++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*p);
        out[o++] = (isalnum(c) && c < 0x80) ? (char)c : '_';
    }
    out[o] = '\0';
    return o > 0 ? 0 : -1;
}

/* pg_hba address fields we accept: keywords, and host names, IPs or CIDRs
 * made of characters that cannot break the pg_hba line. */
static bool valid_allow_item(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr(".:/-_", s[i])))
            return false;
    return true;
}

static bool has_control(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* Names go into SQL, pg_hba.conf and single-user mode input: control
 * characters (a line break ends a statement there) are refused. */
static bool valid_identifier(const char *s)
{
    return *s && strlen(s) <= IDENT_MAX && !has_control(s);
}

/* POSTGRES_HOST_AUTH_METHOD is written after "host all all all" by the
 * official image, so a value with line breaks adds pg_hba lines, and compose
 * files rely on it: the first line is the method, each later line a record
 * appended as it is (hba_extra). A line that is not one is refused here,
 * before anything is written, instead of a server that cannot start. */
static int split_host_auth_method(struct config *cfg, char *err, size_t errlen)
{
    char *nl = cfg->host_auth_method ? strchr(cfg->host_auth_method, '\n') : NULL;

    if (!nl)
        return 0;
    if (!(cfg->hba_extra = strdup(nl + 1)))
        return env_fail(err, errlen, "POSTGRES_HOST_AUTH_METHOD: out of memory");
    *nl = '\0';
    /* the first line's own trailing blanks and carriage return */
    for (size_t n = strlen(cfg->host_auth_method);
         n > 0 && strchr(" \t\r", cfg->host_auth_method[n - 1]); n--)
        cfg->host_auth_method[n - 1] = '\0';
    int line_no = 1;
    for (const char *p = cfg->hba_extra; *p; line_no++) {
        size_t len = strcspn(p, "\n"), n = len;
        char why[160];
        while (n > 0 && p[n - 1] == '\r')
            n--;
        int kind = hba_check_line(p, n, why, sizeof(why));
        if (kind < 0)
            return env_fail(err, errlen,
                            "POSTGRES_HOST_AUTH_METHOD: line %d, \"%.*s\", is not a pg_hba "
                            "record: %s; hint: after the method on the first line, each line "
                            "must be a pg_hba.conf record such as \"host replication all "
                            "0.0.0.0/0 scram-sha-256\"",
                            line_no + 1, (int)(n > 200 ? 200 : n), p, why);
        cfg->hba_extra_records += kind;
        p += len + (p[len] == '\n');
    }
    return 0;
}

int config_validate(struct config *cfg, char *const *envp, const char *hostname, char *err,
                    size_t errlen)
{
    const char *fmt = env_lookup(envp, "POSTGRES_LOG_FORMAT");
    if (fmt && strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0)
        return env_fail(err, errlen,
                        "POSTGRES_LOG_FORMAT=\"%s\" is not valid; hint: use text or json", fmt);
    if (cfg->pgdata[0] != '/')
        return env_fail(
            err, errlen,
            "PGDATA=\"%s\" is not an absolute path; hint: set PGDATA to a path starting with /",
            cfg->pgdata);
    if (strlen(cfg->pgdata) > PGDATA_MAX)
        return env_fail(err, errlen,
                        "PGDATA is %zu characters long; hint: use a path of at most %d characters",
                        strlen(cfg->pgdata), PGDATA_MAX);
    if (cfg->initdb_waldir &&
        (cfg->initdb_waldir[0] != '/' || strlen(cfg->initdb_waldir) > PGDATA_MAX))
        return env_fail(
            err, errlen,
            "POSTGRES_INITDB_WALDIR=\"%.*s\" is not an absolute path; hint: set it to a path "
            "starting with /, of at most %d characters",
            64, cfg->initdb_waldir, PGDATA_MAX);
    /* initdb puts the superuser's name between double quotes unescaped, and
     * PostgreSQL 15 refuses an extension owner (the superuser) named with any
     * of " $ ' \, and from 15.19 on also with -- or a comment's slash-star
     * or star-slash: initdb fails on them, after half a cluster was made */
    if (!valid_identifier(cfg->superuser) || strpbrk(cfg->superuser, "\"$'\\") ||
        strstr(cfg->superuser, "--") || strstr(cfg->superuser, "/*") ||
        strstr(cfg->superuser, "*/"))
        return env_fail(
            err, errlen,
            "POSTGRES_USER must be 1 to %d bytes long, without any of \" $ ' \\ -- /* */ or "
            "control characters; hint: choose a plain name",
            IDENT_MAX);
    if (strncmp(cfg->superuser, "pg_", 3) == 0 || strncmp(cfg->repl_user, "pg_", 3) == 0)
        return env_fail(
            err, errlen,
            "%s=\"%s\" starts with pg_, which PostgreSQL reserves for its own roles; hint: "
            "choose a name without that prefix",
            strncmp(cfg->superuser, "pg_", 3) == 0 ? "POSTGRES_USER" : "POSTGRES_REPLICATION_USER",
            strncmp(cfg->superuser, "pg_", 3) == 0 ? cfg->superuser : cfg->repl_user);
    /* initdb reads the password's first line only; pgpass lines cannot hold one */
    if (cfg->superuser_password && strpbrk(cfg->superuser_password, "\r\n"))
        return env_fail(
            err, errlen,
            "POSTGRES_PASSWORD holds a line break, and only its first line would become the "
            "password; hint: use a password of one line");
    if (cfg->repl_password && strpbrk(cfg->repl_password, "\r\n"))
        return env_fail(
            err, errlen,
            "POSTGRES_REPLICATION_PASSWORD holds a line break, which a password file cannot "
            "hold; hint: use a password of one line");
    if (!valid_identifier(cfg->database))
        return env_fail(err, errlen,
                        "POSTGRES_DB must be 1 to %d bytes long, without control characters; hint: "
                        "choose a shorter plain name",
                        IDENT_MAX);
    if (!valid_identifier(cfg->repl_user) || strchr(cfg->repl_user, '"'))
        return env_fail(
            err, errlen,
            "POSTGRES_REPLICATION_USER must be 1 to %d bytes long, without double quotes "
            "or control characters; hint: choose a plain name (it goes into pg_hba.conf)",
            IDENT_MAX);
    /* The replica writes it into a .pgpass line, every character possibly
     * escaped, after the data directory was prepared (or wiped). */
    if (cfg->repl_password && strlen(cfg->repl_password) > REPL_PASSWORD_MAX)
        return env_fail(
            err, errlen,
            "POSTGRES_REPLICATION_PASSWORD is %zu bytes long; hint: use a password of at "
            "most %d bytes",
            strlen(cfg->repl_password), REPL_PASSWORD_MAX);
    /* It goes into primary_conninfo, which cannot hold a line break. */
    if (cfg->primary_host &&
        (strlen(cfg->primary_host) > HOST_MAX || has_control(cfg->primary_host)))
        return env_fail(err, errlen,
                        "POSTGRES_PRIMARY_HOST must be a host name or address of at most %d bytes, "
                        "without control characters; hint: set it to the primary's host name",
                        HOST_MAX);
    if (cfg->initdb_args) {
        struct words w;
        char why[64];
        if (words_split(cfg->initdb_args, &w, why, sizeof(why)) < 0)
            return env_fail(
                err, errlen,
                "POSTGRES_INITDB_ARGS cannot be split into words: %s; hint: close every "
                "quote, as in a shell command line",
                why);
        size_t n = w.n;
        words_free(&w);
        if (n > CONFIG_INITDB_ARGS_MAX)
            return env_fail(
                err, errlen,
                "POSTGRES_INITDB_ARGS has %zu words; hint: pass at most %d options to initdb", n,
                CONFIG_INITDB_ARGS_MAX);
    }
    if (split_host_auth_method(cfg, err, errlen) < 0)
        return -1;
    if (cfg->host_auth_method && !hba_valid_method(cfg->host_auth_method))
        return env_fail(
            err, errlen,
            "POSTGRES_HOST_AUTH_METHOD=\"%s\" is not a pg_hba authentication method; hint: "
            "use scram-sha-256, md5, trust, ...; later lines, if any, are pg_hba records",
            cfg->host_auth_method);
    if (!config_valid_size(cfg->wal_keep_size, false))
        return env_fail(
            err, errlen,
            "POSTGRES_WAL_KEEP_SIZE=\"%s\" is not a size; hint: use a number with kB, MB, "
            "GB or TB, like 64MB",
            cfg->wal_keep_size);
    if (!config_valid_size(cfg->max_slot_wal_keep_size, true))
        return env_fail(
            err, errlen,
            "POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=\"%s\" is not a size; hint: use a number with "
            "kB, MB, GB or TB, like 1GB, or -1 for no limit",
            cfg->max_slot_wal_keep_size);
    static const char *const commit_modes[] = {"on",    "remote_apply", "remote_write",
                                               "local", "off",          NULL};
    const char *const *m = commit_modes;
    while (*m && strcmp(*m, cfg->sync_commit) != 0)
        m++;
    if (!*m)
        return env_fail(err, errlen,
                        "POSTGRESQL_SYNCHRONOUS_COMMIT_MODE=\"%s\" is not valid; hint: use on, "
                        "remote_apply, remote_write, local or off",
                        cfg->sync_commit);
    for (const char *p = cfg->repl_allow;;) {
        size_t n = strcspn(p, ",");
        if (!valid_allow_item(p, n))
            return env_fail(
                err, errlen,
                "POSTGRES_REPLICATION_ALLOW=\"%s\" has an invalid entry; hint: use a "
                "comma-separated list of all, samenet, host names or CIDRs like 10.0.0.0/8",
                cfg->repl_allow);
        if (!p[n])
            break;
        p += n + 1;
    }

    cfg->slot_explicit = cfg->slot != NULL;
    if (cfg->slot && strcmp(cfg->slot, "none") == 0) {
        free(cfg->slot);
        cfg->slot = NULL;
    } else if (cfg->slot) {
        if (!config_valid_slot_name(cfg->slot))
            return env_fail(
                err, errlen,
                "POSTGRES_REPLICATION_SLOT=\"%s\" is not a valid slot name; hint: use 1 to "
                "63 lower-case letters, digits and underscores, or none",
                cfg->slot);
    } else if (cfg->role == ROLE_REPLICA) {
        char slot[IDENT_MAX + 1];
        if (!hostname || config_slot_from_hostname(hostname, slot, sizeof(slot)) < 0)
            return env_fail(err, errlen,
                            "cannot derive a replication slot name from the host name; hint: set "
                            "POSTGRES_REPLICATION_SLOT");
        cfg->slot = strdup(slot);
    }

    if (cfg->role == ROLE_REPLICA) {
        if (!cfg->primary_host || !*cfg->primary_host)
            return env_fail(
                err, errlen,
                "POSTGRES_PRIMARY_HOST is not set, and the role is replica (%s); hint: a "
                "replica needs the primary's host name, e.g. POSTGRES_PRIMARY_HOST=primary; for "
                "a primary, set POSTGRES_ROLE=primary",
                cfg->role_source);
        if (!cfg->repl_password || !*cfg->repl_password)
            return env_fail(
                err, errlen,
                "POSTGRES_REPLICATION_PASSWORD is not set; hint: a replica needs the password of "
                "POSTGRES_REPLICATION_USER (\"%s\"), the same as on the primary",
                cfg->repl_user);
    }
    return 0;
}

#include "config.h"

#include "words.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A secret file larger than this is a mistake (a wrong path), not a password. */
#define SECRET_FILE_MAX 65536
/* PostgreSQL truncates identifiers at NAMEDATALEN - 1 bytes; refuse instead. */
#define IDENT_MAX 63
/* Paths go into fixed buffers, and the socket path has a limit of its own. */
#define PGDATA_MAX 1024
/* The replica's .pgpass line (pgconf_passfile_text) holds the replication
 * password with every character possibly escaped, in 8 kB. */
#define REPL_PASSWORD_MAX 4000
/* A host name (253) or an address; libpq's multi-host lists fit too. */
#define HOST_MAX 255

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Messages echo the value they refuse, which can be long (a whole file's
 * worth): shorten the message before its hint, never the hint. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    char *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&full, fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* The last one: the value itself may hold "; hint: ". */
    const char *hint = NULL;
    for (const char *h = strstr(full, "; hint: "); h; h = strstr(h + 1, "; hint: "))
        hint = h;
    size_t tail = hint ? strlen(hint) : 0;
    if ((size_t)n >= errlen && hint && tail + 4 < errlen)
        snprintf(err, errlen, "%.*s...%s", (int)(errlen - tail - 4), full, hint);
    else
        snprintf(err, errlen, "%s", full);
    free(full);
    return -1;
}

const char *env_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static const char *const secret_names[] = {
    "POSTGRES_PASSWORD",
    "POSTGRES_REPLICATION_PASSWORD",
    "POSTGRESQL_PASSWORD",
    "POSTGRESQL_REPLICATION_PASSWORD",
    "POSTGRESQL_POSTGRES_PASSWORD",
    "PGPASSWORD",
};

bool env_is_secret(const char *entry)
{
    for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++) {
        size_t n = strlen(secret_names[i]);
        if (strncmp(entry, secret_names[i], n) == 0 && entry[n] == '=')
            return true;
    }
    return false;
}

/* Reads a `_FILE` secret like the official image's `$(< file)`: the whole
 * file with trailing newlines removed. */
static int read_secret_file(const char *var, const char *path, char **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen,
                    "%s: could not open file \"%s\": %s; hint: point %s at a readable file", var,
                    path, strerror(errno), var);

    char *buf = malloc(SECRET_FILE_MAX + 1);
    size_t len = 0;
    ssize_t r;
    while (buf && (r = read(fd, buf + len, SECRET_FILE_MAX + 1 - len)) > 0) {
        len += (size_t)r;
        if (len > SECRET_FILE_MAX)
            break;
    }
    int saved = errno;
    close(fd);
    if (!buf)
        return fail(err, errlen, "%s: out of memory", var);
    if (len > SECRET_FILE_MAX) {
        free(buf);
        return fail(err, errlen,
                    "%s: file \"%s\" is larger than %d bytes; hint: %s must name a file holding "
                    "only the value",
                    var, path, SECRET_FILE_MAX, var);
    }
    if (r < 0) {
        free(buf);
        return fail(err, errlen,
                    "%s: could not read file \"%s\": %s; hint: check the file's mode and owner",
                    var, path, strerror(saved));
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (len == 0 || memchr(buf, '\0', len)) {
        free(buf);
        return fail(err, errlen,
                    "%s: file \"%s\" is empty or holds a NUL byte; hint: write the value into it",
                    var, path);
    }
    *out = buf;
    return 0;
}

/* One logical setting: its name, an optional Bitnami alias, and whether
 * NAME_FILE (and ALIAS_FILE) forms exist. Sets *out to a malloc'd value or
 * NULL when none of the forms is set. */
static int get_var(char *const *envp, const char *name, const char *alias, bool file_form,
                   char **out, char *err, size_t errlen)
{
    const char *names[2] = {name, alias};
    char *vals[2] = {NULL, NULL};

    for (int i = 0; i < 2; i++) {
        if (!names[i])
            continue;
        const char *v = env_lookup(envp, names[i]);
        char file_var[128];
        snprintf(file_var, sizeof(file_var), "%s_FILE", names[i]);
        const char *f = file_form ? env_lookup(envp, file_var) : NULL;
        if (v && f) {
            free(vals[0]);
            return fail(err, errlen, "both %s and %s are set; hint: set only one of them", names[i],
                        file_var);
        }
        if (f) {
            if (read_secret_file(file_var, f, &vals[i], err, errlen) < 0) {
                free(vals[0]);
                return -1;
            }
        } else if (v) {
            vals[i] = strdup(v);
        }
    }
    if (vals[0] && vals[1] && strcmp(vals[0], vals[1]) != 0) {
        free(vals[0]);
        free(vals[1]);
        return fail(err, errlen,
                    "%s and %s are both set, to different values; hint: keep only one of them",
                    name, alias);
    }
    *out = vals[0] ? vals[0] : vals[1];
    if (vals[0])
        free(vals[1]);
    return 0;
}

static int parse_int(const char *var, const char *s, long min, long max, int *out, char *err,
                     size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max || isspace((unsigned char)*s))
        return fail(err, errlen,
                    "%s=\"%s\" is not valid; hint: set it to a whole number from %ld to %ld", var,
                    s, min, max);
    *out = (int)v;
    return 0;
}

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

static const char *const auth_methods[] = {"trust", "reject", "scram-sha-256", "md5",  "password",
                                           "gss",   "sspi",   "ident",         "peer", "pam",
                                           "ldap",  "radius", "cert"};

static bool valid_auth_method(const char *s)
{
    for (size_t i = 0; i < sizeof(auth_methods) / sizeof(auth_methods[0]); i++)
        if (strcmp(s, auth_methods[i]) == 0)
            return true;
    return false;
}

/* POSTGRES_ROLE=auto: a StatefulSet pod is NAME-ORDINAL; ordinal 0 is the primary. */
static int role_from_ordinal(const char *hostname, enum role *role, char *err, size_t errlen)
{
    const char *dash = hostname ? strrchr(hostname, '-') : NULL;
    if (!dash || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
        return fail(err, errlen,
                    "POSTGRES_ROLE=auto needs a host name ending in -ORDINAL (like pg-0), but it "
                    "is \"%s\"; hint: set POSTGRES_ROLE to primary or replica",
                    hostname ? hostname : "");
    *role = strtol(dash + 1, NULL, 10) == 0 ? ROLE_PRIMARY : ROLE_REPLICA;
    return 0;
}

static int load_role(struct config *cfg, char *const *envp, const char *hostname, char *err,
                     size_t errlen)
{
    char *role = NULL, *mode = NULL;
    int rc = -1;

    if (get_var(envp, "POSTGRES_ROLE", NULL, false, &role, err, errlen) < 0 ||
        get_var(envp, "POSTGRESQL_REPLICATION_MODE", NULL, false, &mode, err, errlen) < 0)
        goto out;
    const char *bitnami = NULL;
    if (mode) {
        if (strcmp(mode, "master") == 0)
            bitnami = "primary";
        else if (strcmp(mode, "slave") == 0)
            bitnami = "replica";
        else {
            fail(err, errlen,
                 "POSTGRESQL_REPLICATION_MODE=\"%s\" is not valid; hint: use master or slave",
                 mode);
            goto out;
        }
    }
    if (role && bitnami && strcmp(role, bitnami) != 0) {
        fail(err, errlen,
             "POSTGRES_ROLE=\"%s\" and POSTGRESQL_REPLICATION_MODE=\"%s\" disagree; hint: keep "
             "only one of them",
             role, mode);
        goto out;
    }
    const char *r = role ? role : bitnami;
    if (!r)
        cfg->role = cfg->primary_host ? ROLE_REPLICA : ROLE_PRIMARY;
    else if (strcmp(r, "primary") == 0)
        cfg->role = ROLE_PRIMARY;
    else if (strcmp(r, "replica") == 0)
        cfg->role = ROLE_REPLICA;
    else if (strcmp(r, "auto") == 0) {
        if (role_from_ordinal(hostname, &cfg->role, err, errlen) < 0)
            goto out;
    } else {
        fail(err, errlen, "POSTGRES_ROLE=\"%s\" is not valid; hint: use primary, replica or auto",
             r);
        goto out;
    }
    rc = 0;
out:
    free(role);
    free(mode);
    return rc;
}

static char *or_default(char *v, const char *def)
{
    return v ? v : strdup(def);
}

static int load_strings(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    struct {
        const char *name, *alias;
        bool file_form;
        char **dst;
    } vars[] = {
        {"PGDATA", NULL, false, &cfg->pgdata},
        {"POSTGRES_USER", "POSTGRESQL_USERNAME", true, &cfg->superuser},
        {"POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD", true, &cfg->superuser_password},
        {"POSTGRES_DB", "POSTGRESQL_DATABASE", true, &cfg->database},
        {"POSTGRES_HOST_AUTH_METHOD", NULL, false, &cfg->host_auth_method},
        {"POSTGRES_INITDB_ARGS", NULL, true, &cfg->initdb_args},
        {"POSTGRES_INITDB_WALDIR", NULL, false, &cfg->initdb_waldir},
        {"POSTGRES_PRIMARY_HOST", "POSTGRESQL_MASTER_HOST", false, &cfg->primary_host},
        {"POSTGRES_REPLICATION_USER", "POSTGRESQL_REPLICATION_USER", false, &cfg->repl_user},
        {"POSTGRES_REPLICATION_PASSWORD", "POSTGRESQL_REPLICATION_PASSWORD", true,
         &cfg->repl_password},
        {"POSTGRES_REPLICATION_SLOT", NULL, false, &cfg->slot},
        {"POSTGRES_REPLICATION_ALLOW", NULL, false, &cfg->repl_allow},
        {"POSTGRES_WAL_KEEP_SIZE", NULL, false, &cfg->wal_keep_size},
        {"POSTGRES_MAX_SLOT_WAL_KEEP_SIZE", NULL, false, &cfg->max_slot_wal_keep_size},
        /* Bitnami's only: there is no POSTGRES_ name for it */
        {"POSTGRESQL_SYNCHRONOUS_COMMIT_MODE", NULL, false, &cfg->sync_commit},
    };

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (get_var(envp, vars[i].name, vars[i].alias, vars[i].file_form, vars[i].dst, err,
                    errlen) < 0)
            return -1;
    cfg->pgdata = or_default(cfg->pgdata, "/var/lib/postgresql/data");
    cfg->superuser = or_default(cfg->superuser, "postgres");
    cfg->database = or_default(cfg->database, cfg->superuser);
    cfg->repl_user_explicit = cfg->repl_user != NULL;
    cfg->repl_user = or_default(cfg->repl_user, "replicator");
    cfg->repl_allow = or_default(cfg->repl_allow, "all");
    cfg->wal_keep_size = or_default(cfg->wal_keep_size, "64MB");
    cfg->max_slot_wal_keep_size = or_default(cfg->max_slot_wal_keep_size, "1GB");
    cfg->sync_commit = or_default(cfg->sync_commit, "on");
    return 0;
}

static int load_numbers(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    char *port = NULL, *senders = NULL, *sync = NULL, *timeout = NULL;
    int rc = -1, t = 0;

    cfg->primary_port = 5432;
    cfg->max_wal_senders = 10;
    if (get_var(envp, "POSTGRES_PRIMARY_PORT", "POSTGRESQL_MASTER_PORT_NUMBER", false, &port, err,
                errlen) < 0 ||
        get_var(envp, "POSTGRES_MAX_WAL_SENDERS", NULL, false, &senders, err, errlen) < 0 ||
        get_var(envp, "POSTGRES_SYNCHRONOUS_REPLICAS", "POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS", false,
                &sync, err, errlen) < 0 ||
        get_var(envp, "POSTGRES_PRIMARY_WAIT_TIMEOUT", NULL, false, &timeout, err, errlen) < 0)
        goto out;
    if (port &&
        parse_int("POSTGRES_PRIMARY_PORT", port, 1, 65535, &cfg->primary_port, err, errlen) < 0)
        goto out;
    if (senders && parse_int("POSTGRES_MAX_WAL_SENDERS", senders, 1, 262143, &cfg->max_wal_senders,
                             err, errlen) < 0)
        goto out;
    if (sync && parse_int("POSTGRES_SYNCHRONOUS_REPLICAS", sync, 0, cfg->max_wal_senders,
                          &cfg->sync_replicas, err, errlen) < 0)
        goto out;
    if (timeout &&
        parse_int("POSTGRES_PRIMARY_WAIT_TIMEOUT", timeout, 0, 31536000, &t, err, errlen) < 0)
        goto out;
    cfg->wait_timeout_s = (unsigned)t;
    rc = 0;
out:
    free(port);
    free(senders);
    free(sync);
    free(timeout);
    return rc;
}

static int load_reseed(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
    const char *v = env_lookup(envp, "POSTGRES_RESEED");

    if (!v || strcmp(v, "auto") == 0)
        cfg->reseed = RESEED_AUTO;
    else if (strcmp(v, "never") == 0)
        cfg->reseed = RESEED_NEVER;
    else if (strcmp(v, "force") == 0)
        cfg->reseed = RESEED_FORCE;
    else
        return fail(err, errlen,
                    "POSTGRES_RESEED=\"%s\" is not valid; hint: use auto, never or force", v);
    return 0;
}

static int validate(struct config *cfg, char *const *envp, const char *hostname, char *err,
                    size_t errlen)
{
    const char *fmt = env_lookup(envp, "POSTGRES_LOG_FORMAT");
    if (fmt && strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0)
        return fail(err, errlen, "POSTGRES_LOG_FORMAT=\"%s\" is not valid; hint: use text or json",
                    fmt);
    if (cfg->pgdata[0] != '/')
        return fail(
            err, errlen,
            "PGDATA=\"%s\" is not an absolute path; hint: set PGDATA to a path starting with /",
            cfg->pgdata);
    if (strlen(cfg->pgdata) > PGDATA_MAX)
        return fail(err, errlen,
                    "PGDATA is %zu characters long; hint: use a path of at most %d characters",
                    strlen(cfg->pgdata), PGDATA_MAX);
    if (cfg->initdb_waldir &&
        (cfg->initdb_waldir[0] != '/' || strlen(cfg->initdb_waldir) > PGDATA_MAX))
        return fail(
            err, errlen,
            "POSTGRES_INITDB_WALDIR=\"%.*s\" is not an absolute path; hint: set it to a path "
            "starting with /, of at most %d characters",
            64, cfg->initdb_waldir, PGDATA_MAX);
    /* initdb puts the superuser's name between double quotes unescaped, and
     * PostgreSQL 15 refuses an extension owner (the superuser) named with any
     * of " $ ' \ */
    if (!valid_identifier(cfg->superuser) || strpbrk(cfg->superuser, "\"$'\\"))
        return fail(err, errlen,
                    "POSTGRES_USER must be 1 to %d bytes long, without any of \" $ ' \\ or control "
                    "characters; hint: choose a plain name",
                    IDENT_MAX);
    if (strncmp(cfg->superuser, "pg_", 3) == 0 || strncmp(cfg->repl_user, "pg_", 3) == 0)
        return fail(err, errlen,
                    "%s=\"%s\" starts with pg_, which PostgreSQL reserves for its own roles; hint: "
                    "choose a name without that prefix",
                    strncmp(cfg->superuser, "pg_", 3) == 0 ? "POSTGRES_USER"
                                                           : "POSTGRES_REPLICATION_USER",
                    strncmp(cfg->superuser, "pg_", 3) == 0 ? cfg->superuser : cfg->repl_user);
    /* initdb reads the password's first line only; pgpass lines cannot hold one */
    if (cfg->superuser_password && strpbrk(cfg->superuser_password, "\r\n"))
        return fail(
            err, errlen,
            "POSTGRES_PASSWORD holds a line break, and only its first line would become the "
            "password; hint: use a password of one line");
    if (cfg->repl_password && strpbrk(cfg->repl_password, "\r\n"))
        return fail(
            err, errlen,
            "POSTGRES_REPLICATION_PASSWORD holds a line break, which a password file cannot "
            "hold; hint: use a password of one line");
    if (!valid_identifier(cfg->database))
        return fail(err, errlen,
                    "POSTGRES_DB must be 1 to %d bytes long, without control characters; hint: "
                    "choose a shorter plain name",
                    IDENT_MAX);
    if (!valid_identifier(cfg->repl_user) || strchr(cfg->repl_user, '"'))
        return fail(err, errlen,
                    "POSTGRES_REPLICATION_USER must be 1 to %d bytes long, without double quotes "
                    "or control characters; hint: choose a plain name (it goes into pg_hba.conf)",
                    IDENT_MAX);
    /* The replica writes it into a .pgpass line, every character possibly
     * escaped, after the data directory was prepared (or wiped). */
    if (cfg->repl_password && strlen(cfg->repl_password) > REPL_PASSWORD_MAX)
        return fail(err, errlen,
                    "POSTGRES_REPLICATION_PASSWORD is %zu bytes long; hint: use a password of at "
                    "most %d bytes",
                    strlen(cfg->repl_password), REPL_PASSWORD_MAX);
    /* It goes into primary_conninfo, which cannot hold a line break. */
    if (cfg->primary_host &&
        (strlen(cfg->primary_host) > HOST_MAX || has_control(cfg->primary_host)))
        return fail(err, errlen,
                    "POSTGRES_PRIMARY_HOST must be a host name or address of at most %d bytes, "
                    "without control characters; hint: set it to the primary's host name",
                    HOST_MAX);
    if (cfg->initdb_args) {
        struct words w;
        char why[64];
        if (words_split(cfg->initdb_args, &w, why, sizeof(why)) < 0)
            return fail(err, errlen,
                        "POSTGRES_INITDB_ARGS cannot be split into words: %s; hint: close every "
                        "quote, as in a shell command line",
                        why);
        size_t n = w.n;
        words_free(&w);
        if (n > CONFIG_INITDB_ARGS_MAX)
            return fail(
                err, errlen,
                "POSTGRES_INITDB_ARGS has %zu words; hint: pass at most %d options to initdb", n,
                CONFIG_INITDB_ARGS_MAX);
    }
    if (cfg->host_auth_method && !valid_auth_method(cfg->host_auth_method))
        return fail(err, errlen,
                    "POSTGRES_HOST_AUTH_METHOD=\"%s\" is not a pg_hba authentication method; hint: "
                    "use scram-sha-256, md5, trust, ...",
                    cfg->host_auth_method);
    if (!config_valid_size(cfg->wal_keep_size, false))
        return fail(err, errlen,
                    "POSTGRES_WAL_KEEP_SIZE=\"%s\" is not a size; hint: use a number with kB, MB, "
                    "GB or TB, like 64MB",
                    cfg->wal_keep_size);
    if (!config_valid_size(cfg->max_slot_wal_keep_size, true))
        return fail(err, errlen,
                    "POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=\"%s\" is not a size; hint: use a number with "
                    "kB, MB, GB or TB, like 1GB, or -1 for no limit",
                    cfg->max_slot_wal_keep_size);
    static const char *const commit_modes[] = {"on",    "remote_apply", "remote_write",
                                               "local", "off",          NULL};
    const char *const *m = commit_modes;
    while (*m && strcmp(*m, cfg->sync_commit) != 0)
        m++;
    if (!*m)
        return fail(err, errlen,
                    "POSTGRESQL_SYNCHRONOUS_COMMIT_MODE=\"%s\" is not valid; hint: use on, "
                    "remote_apply, remote_write, local or off",
                    cfg->sync_commit);
    for (const char *p = cfg->repl_allow;;) {
        size_t n = strcspn(p, ",");
        if (!valid_allow_item(p, n))
            return fail(err, errlen,
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
            return fail(err, errlen,
                        "POSTGRES_REPLICATION_SLOT=\"%s\" is not a valid slot name; hint: use 1 to "
                        "63 lower-case letters, digits and underscores, or none",
                        cfg->slot);
    } else if (cfg->role == ROLE_REPLICA) {
        char slot[IDENT_MAX + 1];
        if (!hostname || config_slot_from_hostname(hostname, slot, sizeof(slot)) < 0)
            return fail(err, errlen,
                        "cannot derive a replication slot name from the host name; hint: set "
                        "POSTGRES_REPLICATION_SLOT");
        cfg->slot = strdup(slot);
    }

    if (cfg->role == ROLE_REPLICA) {
        if (!cfg->primary_host || !*cfg->primary_host)
            return fail(err, errlen,
                        "POSTGRES_PRIMARY_HOST is not set; hint: a replica needs the primary's "
                        "host name, e.g. POSTGRES_PRIMARY_HOST=primary");
        if (!cfg->repl_password || !*cfg->repl_password)
            return fail(
                err, errlen,
                "POSTGRES_REPLICATION_PASSWORD is not set; hint: a replica needs the password of "
                "POSTGRES_REPLICATION_USER (\"%s\"), the same as on the primary",
                cfg->repl_user);
    }
    return 0;
}

/* HOSTNAME when set (Docker sets it), else the kernel's host name. */
static const char *host_name(char *const *envp, char *buf, size_t len)
{
    const char *h = env_lookup(envp, "HOSTNAME");

    if (h && *h)
        return h;
    if (gethostname(buf, len - 1) < 0)
        return NULL;
    buf[len - 1] = '\0';
    return buf;
}

int config_load(struct config *cfg, char *const *envp, const char *hostname, char *err,
                size_t errlen)
{
    /* cppcheck-suppress variableScope ; hostname points into it after the if */
    char host[256];

    if (!hostname)
        hostname = host_name(envp, host, sizeof(host));
    memset(cfg, 0, sizeof(*cfg));
    if (load_strings(cfg, envp, err, errlen) < 0 || load_numbers(cfg, envp, err, errlen) < 0 ||
        load_role(cfg, envp, hostname, err, errlen) < 0 ||
        load_reseed(cfg, envp, err, errlen) < 0 || validate(cfg, envp, hostname, err, errlen) < 0) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

const char *config_auth_method(const struct config *cfg)
{
    return cfg->host_auth_method ? cfg->host_auth_method : "scram-sha-256";
}

void config_free(struct config *cfg)
{
    char **strings[] = {&cfg->pgdata,
                        &cfg->superuser,
                        &cfg->superuser_password,
                        &cfg->database,
                        &cfg->host_auth_method,
                        &cfg->initdb_args,
                        &cfg->initdb_waldir,
                        &cfg->primary_host,
                        &cfg->repl_user,
                        &cfg->repl_password,
                        &cfg->slot,
                        &cfg->repl_allow,
                        &cfg->wal_keep_size,
                        &cfg->max_slot_wal_keep_size,
                        &cfg->sync_commit};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        /* cppcheck-suppress shadowVariable ; a false positive: nothing outer is named so */
        free(*strings[i]);
        *strings[i] = NULL;
    }
}

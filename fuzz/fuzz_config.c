/* config_load on an environment built from the input: the bytes are split
 * on NUL and newline into "NAME=value" entries. Values of NAME_FILE entries
 * are replaced by one of a fixed set of files made at start-up (valid,
 * empty, oversized, with a NUL, with a line break, missing, a directory), so
 * that no input can make the harness read a device or a pipe that blocks.
 *
 * Invariants: an error message names a variable and says how to fix it
 * ("hint"); a configuration that loads is what validation promises (absolute
 * PGDATA, identifiers of 1 to 63 bytes without control characters, a valid
 * slot, ports and counts in range, a replica with a host and a password); and
 * nothing accepted fails later, half way through a start: every value can be
 * written where it goes (pg_hba.conf, the .pgpass file, primary_conninfo,
 * initdb's one-line password file), and initdb and CREATE ROLE accept the
 * names, the WAL directory and the number of POSTGRES_INITDB_ARGS words. */
#include "config.h"
#include "fuzz.h"
#include "pgconf.h"
#include "words.h"

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES 128

static char dir[64];
static char paths[8][128];
static size_t n_paths;

static void put_file(const char *name, const char *data, size_t len)
{
    snprintf(paths[n_paths], sizeof(paths[0]), "%s/%s", dir, name);
    if (data) {
        int fd = open(paths[n_paths], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, data, len) != (ssize_t)len)
            abort();
        close(fd);
    }
    n_paths++;
}

static void remove_files(void)
{
    for (size_t i = 0; i < n_paths; i++)
        unlink(paths[i]);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char big[65537 + 1];

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/tmp/pgep-fuzz-config.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    memset(big, 'x', sizeof(big) - 1);
    put_file("valid", "s3cret p\xc3\xa4ssw\xc3\xb6rd \xe2\x82\xac\n", 23);
    put_file("empty", "", 0);
    put_file("newlines", "\n\r\n", 3);
    put_file("nul", "ab\0cd\n", 6);
    put_file("two-lines", "first\nsecond\n", 13);
    put_file("big", big, sizeof(big) - 1);
    put_file("missing", NULL, 0);
    snprintf(paths[n_paths++], sizeof(paths[0]), "%s", dir); /* a directory */
    atexit(remove_files);
    return 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool plain_identifier(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static const char *const secrets[] = {"POSTGRES_PASSWORD",
                                      "POSTGRES_REPLICATION_PASSWORD",
                                      "POSTGRESQL_PASSWORD",
                                      "POSTGRESQL_REPLICATION_PASSWORD",
                                      "POSTGRESQL_POSTGRES_PASSWORD",
                                      "PGPASSWORD",
                                      NULL};

static void check_secret_names(char *const *envp)
{
    for (; *envp; envp++) {
        const char *eq = strchr(*envp, '=');
        bool want = false;
        for (const char *const *s = secrets; eq && *s; s++)
            want |= strlen(*s) == (size_t)(eq - *envp) && strncmp(*envp, *s, strlen(*s)) == 0;
        FUZZ_CHECK(env_is_secret(*envp) == want, "entry \"%s\"", *envp);
    }
}

static void check_loaded(const struct config *c)
{
    char out[8192];

    FUZZ_CHECK(c->pgdata && c->pgdata[0] == '/', "PGDATA \"%s\"", c->pgdata);
    FUZZ_CHECK(c->role == ROLE_PRIMARY || c->role == ROLE_REPLICA, "role %d", (int)c->role);
    FUZZ_CHECK(plain_identifier(c->superuser), "POSTGRES_USER \"%s\"", c->superuser);
    FUZZ_CHECK(plain_identifier(c->database), "POSTGRES_DB \"%s\"", c->database);
    FUZZ_CHECK(plain_identifier(c->repl_user) && !strchr(c->repl_user, '"'),
               "POSTGRES_REPLICATION_USER \"%s\"", c->repl_user);
    FUZZ_CHECK(c->primary_port >= 1 && c->primary_port <= 65535, "port %d", c->primary_port);
    FUZZ_CHECK(c->max_wal_senders >= 1 && c->sync_replicas >= 0 &&
                   c->sync_replicas <= c->max_wal_senders,
               "senders %d, sync %d", c->max_wal_senders, c->sync_replicas);
    FUZZ_CHECK(!c->slot || config_valid_slot_name(c->slot), "slot \"%s\"", c->slot);
    FUZZ_CHECK(config_valid_size(c->wal_keep_size, false), "%s", c->wal_keep_size);
    FUZZ_CHECK(config_valid_size(c->max_slot_wal_keep_size, true), "%s", c->max_slot_wal_keep_size);
    FUZZ_CHECK(c->repl_allow && c->sync_commit, "defaults");
    /* What initdb and CREATE ROLE would refuse after PGDATA was made. */
    FUZZ_CHECK(!strpbrk(c->superuser, "\"$'\\"),
               "POSTGRES_USER \"%s\" is accepted, but initdb cannot use it", c->superuser);
    FUZZ_CHECK(strncmp(c->superuser, "pg_", 3) != 0 && strncmp(c->repl_user, "pg_", 3) != 0,
               "a reserved pg_ role name is accepted: \"%s\" / \"%s\"", c->superuser, c->repl_user);
    FUZZ_CHECK(!c->initdb_waldir || c->initdb_waldir[0] == '/',
               "a relative POSTGRES_INITDB_WALDIR \"%s\" is accepted", c->initdb_waldir);
    FUZZ_CHECK(strlen(c->pgdata) <= 1024, "PGDATA of %zu bytes is accepted", strlen(c->pgdata));
    if (c->initdb_args) {
        struct words w;
        char why[64];
        FUZZ_CHECK(words_split(c->initdb_args, &w, why, sizeof(why)) == 0, "initdb args");
        FUZZ_CHECK(w.n <= 64, "POSTGRES_INITDB_ARGS of %zu words is accepted", w.n);
        words_free(&w);
    }
    if (c->role == ROLE_REPLICA) {
        FUZZ_CHECK(c->primary_host && *c->primary_host, "a replica without a primary host");
        FUZZ_CHECK(c->repl_password && *c->repl_password, "a replica without a password");
        FUZZ_CHECK(c->slot || c->slot_explicit, "a replica without a derived slot");
    }

    /* What a start writes later must not fail on an accepted value: pg_hba
     * (primary), the .pgpass file and primary_conninfo (replica, after the
     * data directory has been wiped), and initdb's one-line password file. */
    FUZZ_CHECK(pgconf_quote_hba_name(c->repl_user, out, 128) == 0, "pg_hba user \"%s\"",
               c->repl_user);
    FUZZ_CHECK(pgconf_escape_pgpass(c->repl_user, out, 256) == 0, ".pgpass user \"%s\"",
               c->repl_user);
    FUZZ_CHECK(pgconf_quote_conninfo(c->repl_user, out, 256) == 0, "conninfo user \"%s\"",
               c->repl_user);
    if (c->repl_password)
        FUZZ_CHECK(pgconf_escape_pgpass(c->repl_password, out, sizeof(out)) == 0,
                   "POSTGRES_REPLICATION_PASSWORD (%zu bytes) is accepted but cannot be written "
                   "into the .pgpass file",
                   strlen(c->repl_password));
    if (c->primary_host)
        FUZZ_CHECK(pgconf_quote_conninfo(c->primary_host, out, 512) == 0,
                   "POSTGRES_PRIMARY_HOST (%zu bytes) is accepted but cannot be written into "
                   "primary_conninfo",
                   strlen(c->primary_host));
    if (c->superuser_password)
        FUZZ_CHECK(!strpbrk(c->superuser_password, "\n"),
                   "POSTGRES_PASSWORD with a line break is accepted, but initdb's --pwfile keeps "
                   "only its first line");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *envp[MAX_ENTRIES + 1], *owned[MAX_ENTRIES];
    size_t n = 0, n_owned = 0, start = 0;

    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    for (size_t i = 0; i <= size && n < MAX_ENTRIES; i++) {
        if (i < size && text[i] != '\0' && text[i] != '\n')
            continue;
        text[i] = '\0';
        char *e = text + start;
        size_t len = i - start;
        start = i + 1;
        const char *eq = memchr(e, '=', len);
        if (len == 0)
            continue;
        if (eq && ends_with(e, (size_t)(eq - e), "_FILE")) {
            unsigned h = 0;
            for (const char *p = eq + 1; *p; p++)
                h = h * 31 + (unsigned char)*p;
            if (asprintf(&owned[n_owned], "%.*s=%s", (int)(eq - e), e, paths[h % n_paths]) < 0)
                abort();
            e = owned[n_owned++];
        }
        envp[n++] = e;
    }
    envp[n] = NULL;
    check_secret_names(envp);

    struct config cfg;
    char err[1024];
    memset(err, 0, sizeof(err));
    if (config_load(&cfg, envp, NULL, err, sizeof(err)) == 0) {
        check_loaded(&cfg);
        config_free(&cfg);
        FUZZ_CHECK(cfg.pgdata == NULL && cfg.slot == NULL, "config_free leaves pointers");
    } else {
        FUZZ_CHECK(err[0] && (strstr(err, "hint: ") || strstr(err, "out of memory")),
                   "an error without a hint: \"%s\"", err);
        /* The message names a variable. */
        FUZZ_CHECK(strstr(err, "POSTGRES") || strstr(err, "PGDATA"), "no variable named: \"%s\"",
                   err);
    }
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(text);
    return 0;
}

/* pgconf_write_standby and pgconf_read_slot: what a replica writes on every
 * start, over a postgresql.auto.conf it finds (written by us, by
 * pg_basebackup -R, by ALTER SYSTEM, by hand). The input holds, separated by
 * NUL bytes: the file's earlier contents, the primary's host, the
 * replication user, its password and the slot name. Values that config_load
 * would refuse are skipped (fuzz_config checks that side); the files go to a
 * directory on /dev/shm, so that the fsyncs cost nothing.
 *
 * Invariants: the write succeeds; every earlier line that is not a recovery
 * setting of ours is kept, in order; exactly one primary_conninfo and one
 * primary_slot_name follow; libpq reads host, user and passfile back from
 * primary_conninfo (once unquoted as a setting); the .pgpass line reads back
 * as user and password; pgconf_read_slot gives the slot back;
 * standby.signal exists. */
#include "config.h"
#include "fuzz.h"
#include "pgconf.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void remove_files(void)
{
    static const char *const names[] = {"postgresql.auto.conf", PGCONF_PASSFILE,
                                        "standby.signal",       "postgresql.auto.conf.tmp",
                                        PGCONF_PASSFILE ".tmp", "standby.signal.tmp"};
    char p[128];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        path(p, sizeof(p), names[i]);
        unlink(p);
    }
}

static void remove_dir(void)
{
    remove_files();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/pgep-fuzz-standby.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        abort();
    atexit(remove_dir);
    return 0;
}

static char *slurp(const char *name, size_t *len)
{
    char p[128];
    path(p, sizeof(p), name);
    FILE *f = fopen(p, "rb");
    FUZZ_CHECK(f, "%s is missing", name);
    char *buf = malloc(1 << 20);
    if (!buf)
        abort();
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static bool is_ours(const char *line)
{
    const char *p = line + strspn(line, " \t");
    return strncmp(p, "primary_conninfo", 16) == 0 || strncmp(p, "primary_slot_name", 17) == 0 ||
           strcmp(line, "# pg-entrypoint: this replica streams from its primary") == 0;
}

/* Unescapes one .pgpass field (\x is x) up to an unescaped ':' or the end. */
static const char *pgpass_field(const char *p, char *out)
{
    while (*p && *p != ':' && *p != '\n') {
        if (*p == '\\' && p[1])
            p++;
        *out++ = *p++;
    }
    *out = '\0';
    return p;
}

static void check_conninfo(const char *line, const char *host, const char *user)
{
    const char *v = line + strlen("primary_conninfo = ");
    size_t n = strlen(v);
    FUZZ_CHECK(n >= 2 && v[0] == '\'' && v[n - 1] == '\'', "primary_conninfo %s", v);
    char *conninfo = malloc(n), *o = conninfo;
    if (!conninfo)
        abort();
    for (size_t i = 1; i + 1 < n; i++) {
        if (v[i] == '\'' || v[i] == '\\') {
            FUZZ_CHECK(v[i + 1] == v[i] && i + 2 < n, "lone %c in %s", v[i], v);
            i++;
        }
        *o++ = v[i];
    }
    *o = '\0';
    char *err = NULL, passfile[128];
    path(passfile, sizeof(passfile), PGCONF_PASSFILE);
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    FUZZ_CHECK(opts, "libpq refuses primary_conninfo %s: %s", conninfo, err ? err : "");
    int seen = 0;
    for (PQconninfoOption *p = opts; p->keyword; p++) {
        const char *want = strcmp(p->keyword, "host") == 0       ? host
                           : strcmp(p->keyword, "user") == 0     ? user
                           : strcmp(p->keyword, "passfile") == 0 ? passfile
                                                                 : NULL;
        if (want) {
            FUZZ_CHECK(p->val && strcmp(p->val, want) == 0, "%s is \"%s\", want \"%s\"", p->keyword,
                       p->val ? p->val : "(null)", want);
            seen++;
        }
        if (strcmp(p->keyword, "password") == 0)
            FUZZ_CHECK(!p->val, "a password in primary_conninfo");
    }
    FUZZ_CHECK(seen == 3, "host, user and passfile");
    PQconninfoFree(opts);
    PQfreemem(err);
    free(conninfo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *field[5] = {"", "primary", "replicator", "secret", ""};
    char *copy = malloc(size + 1), p[128];
    size_t f = 0, start = 0;

    if (!copy)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t i = 0; i <= size && f < 5; i++)
        if (i == size || copy[i] == '\0') {
            copy[i] = '\0';
            if (i > start || f == 0)
                field[f] = copy + start;
            f++;
            start = i + 1;
        }
    const char *old = field[0], *host = field[1], *user = field[2], *pw = field[3];
    const char *slot = config_valid_slot_name(field[4]) ? field[4] : NULL;
    bool plain_user = strlen(user) <= 63 && !strpbrk(user, "\"");
    for (const char *c = user; *c; c++)
        plain_user &= (unsigned char)*c >= 0x20 && *c != 0x7f;
    if (!plain_user || strpbrk(host, "\r\n") || strpbrk(pw, "\r\n") || strlen(host) > 250 ||
        strlen(pw) > 4000) {
        free(copy);
        return 0;
    }

    remove_files();
    path(p, sizeof(p), "postgresql.auto.conf");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, old, strlen(old)) != (ssize_t)strlen(old))
        abort();
    close(fd);

    struct config cfg = {.pgdata = dir,
                         .primary_host = (char *)host,
                         .primary_port = 5432,
                         .repl_user = (char *)user,
                         .repl_password = (char *)pw};
    FUZZ_CHECK(pgconf_write_standby(&cfg, dir, slot) == 0, "the write failed");

    size_t len;
    char *text = slurp("postgresql.auto.conf", &len), *save = NULL;
    char *oldcopy = strdup(old), *osave = NULL;
    char *want = oldcopy ? strtok_r(oldcopy, "\n", &osave) : NULL;
    int conninfos = 0, slots = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (want && is_ours(want))
            want = strtok_r(NULL, "\n", &osave);
        if (want) {
            FUZZ_CHECK(strcmp(line, want) == 0, "kept line \"%s\", want \"%s\"", line, want);
            want = strtok_r(NULL, "\n", &osave);
            continue;
        }
        if (strncmp(line, "primary_conninfo = ", 19) == 0) {
            check_conninfo(line, host, user);
            conninfos++;
        } else if (strncmp(line, "primary_slot_name = ", 20) == 0) {
            slots++;
        } else {
            FUZZ_CHECK(is_ours(line), "an unexpected line \"%s\"", line);
        }
    }
    while (want && is_ours(want))
        want = strtok_r(NULL, "\n", &osave);
    FUZZ_CHECK(!want, "an earlier line is lost: \"%s\"", want);
    FUZZ_CHECK(conninfos == 1 && slots == 1, "%d primary_conninfo, %d primary_slot_name lines",
               conninfos, slots);
    free(oldcopy);
    free(text);

    char got_slot[128];
    FUZZ_CHECK(pgconf_read_slot(dir, got_slot, sizeof(got_slot)) == 0, "read_slot");
    FUZZ_CHECK(strcmp(got_slot, slot ? slot : "") == 0, "slot \"%s\", want \"%s\"", got_slot,
               slot ? slot : "");

    char *pass = slurp(PGCONF_PASSFILE, &len), u[300], w[8200];
    FUZZ_CHECK(strncmp(pass, "*:*:*:", 6) == 0, "passfile %s", pass);
    const char *q = pgpass_field(pass + 6, u);
    FUZZ_CHECK(*q == ':', "passfile user field");
    q = pgpass_field(q + 1, w);
    FUZZ_CHECK(strcmp(q, "\n") == 0 && strcmp(u, user) == 0 && strcmp(w, pw) == 0,
               "passfile reads back as \"%s\" / \"%s\"", u, w);
    free(pass);
    path(p, sizeof(p), "standby.signal");
    FUZZ_CHECK(access(p, F_OK) == 0, "standby.signal");
    free(copy);
    return 0;
}

/* pgconf.c: a replica's settings that cannot be written fail with one log
 * line that says why, never without a word. */
#include "capture.h"
#include "check.h"
#include "config.h"
#include "pgconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char root[] = "/tmp/pgep-pgconf-faults-XXXXXX";
static char log_path[600];

static struct config replica_config(void)
{
    struct config cfg = {.pgdata = root,
                         .primary_host = "primary",
                         .primary_port = 5432,
                         .repl_user = "replicator",
                         .repl_password = "secret"};
    return cfg;
}

/* postgresql.auto.conf that cannot be read (here: a directory). */
static void test_unreadable_auto_conf(void)
{
    char path[700];
    int lines;
    struct config cfg = replica_config();

    snprintf(path, sizeof(path), "%s/postgresql.auto.conf", root);
    CHECK(mkdir(path, 0700) == 0);
    capture_begin(log_path);
    int rc = pgconf_write_standby(&cfg, root, "replica_1");
    char *log = capture_end(log_path, &lines);
    CHECK(rc == -1 && lines == 1);
    CHECK_CONTAINS(log, path);
    free(log);
    rmdir(path);
}

/* A host that cannot go into primary_conninfo. */
static void test_unquotable_host(void)
{
    int lines;
    struct config cfg = replica_config();

    cfg.primary_host = "primary\nhost";
    capture_begin(log_path);
    int rc = pgconf_write_standby(&cfg, root, "replica_1");
    char *log = capture_end(log_path, &lines);
    CHECK(rc == -1 && lines == 1);
    CHECK_CONTAINS(log, "POSTGRES_PRIMARY_HOST");
    free(log);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    snprintf(log_path, sizeof(log_path), "%s.log", root);
    test_unreadable_auto_conf();
    test_unquotable_host();
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "test_pgconf_faults: could not remove %s\n", root);
    return check_done("test_pgconf_faults");
}

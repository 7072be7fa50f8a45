/* server.c and layout.c: which major the server is, and each refusal of a
 * data directory, a volume or a primary that does not fit it. */
#include "check.h"
#include "config.h"
#include "datadir.h"
#include "layout.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_server_major(void)
{
    CHECK(server_major_of_path("/usr/lib/postgresql/15/bin/postgres") == 15);
    CHECK(server_major_of_path("/usr/lib/postgresql/18/bin/postgres") == 18);
    CHECK(server_major_of_path("/usr/lib/postgresql/18/bin/initdb") == 0);
    CHECK(server_major_of_path("/usr/local/bin/postgres") == 0);
    CHECK(server_major_of_path("/usr/lib/postgresql/x/bin/postgres") == 0);
    CHECK(server_major_of_path("/usr/lib/postgresql/9.6/bin/postgres") == 0);
    CHECK(server_major_of_text("17") == 17);
    CHECK(server_major_of_text("9") == 0 && server_major_of_text("") == 0);
    CHECK(server_major_of_text("17beta") == 0 && server_major_of_text(NULL) == 0);

    /* No postgres on PATH: the official images' PG_MAJOR. */
    char *env[] = {"PATH=/nonexistent", "PG_MAJOR=18", NULL};
    CHECK(server_major(env) == 18);
    char *none[] = {"PATH=/nonexistent", NULL};
    CHECK(server_major(none) == 0);
}

/* From 18 on, PGDATA defaults to the official image's /var/lib/postgresql/<major>/docker. */
static void test_pgdata_default(void)
{
    struct config cfg;
    char err[512];
    char *env18[] = {"PATH=/nonexistent", "PG_MAJOR=18", "POSTGRES_PASSWORD=pw", NULL};
    char *env17[] = {"PATH=/nonexistent", "PG_MAJOR=17", "POSTGRES_PASSWORD=pw", NULL};
    char *set18[] = {"PATH=/nonexistent", "PG_MAJOR=18", "PGDATA=/data", NULL};

    CHECK(config_load(&cfg, env18, "pg-0", err, sizeof(err)) == 0);
    CHECK_STR(cfg.pgdata, "/var/lib/postgresql/18/docker");
    CHECK(cfg.server_major == 18 && !cfg.pgdata_explicit);
    config_free(&cfg);
    CHECK(config_load(&cfg, env17, "pg-0", err, sizeof(err)) == 0);
    CHECK_STR(cfg.pgdata, "/var/lib/postgresql/data");
    config_free(&cfg);
    CHECK(config_load(&cfg, set18, "pg-0", err, sizeof(err)) == 0);
    CHECK_STR(cfg.pgdata, "/data");
    CHECK(cfg.pgdata_explicit);
    config_free(&cfg);
}

static struct config config_of(int major, enum role role, const char *pgdata)
{
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.server_major = major;
    cfg.role = role;
    cfg.pgdata = (char *)pgdata;
    cfg.primary_host = "db";
    cfg.primary_port = 5432;
    return cfg;
}

static struct datadir_facts cluster_of(int pg_version_major, uint32_t control_version)
{
    struct datadir_facts f;
    memset(&f, 0, sizeof(f));
    f.exists = f.is_dir = f.has_other_entries = f.has_pg_version = true;
    f.pg_version_major = pg_version_major;
    f.pg_control.version = control_version;
    f.control = control_version == 1300 || control_version == 1700 || control_version == 1800
                    ? PG_CONTROL_OK
                    : PG_CONTROL_CORRUPT;
    return f;
}

static void test_major_mismatch(void)
{
    char why[1024];
    struct config cfg = config_of(18, ROLE_PRIMARY, "/var/lib/postgresql/18/docker");
    struct datadir_facts f15 = cluster_of(15, 1300), f18 = cluster_of(18, 1800), empty;
    memset(&empty, 0, sizeof(empty));

    layout_refusal(&cfg, &f15, false, false, why, sizeof(why));
    CHECK_CONTAINS(why, "holds a PostgreSQL 15 cluster");
    CHECK_CONTAINS(why, "this server is PostgreSQL 18");
    CHECK_CONTAINS(why, "pg_upgrade");
    CHECK_CONTAINS(why, "postgres:15");
    CHECK(strstr(why, "POSTGRES_RESEED") == NULL); /* a primary is never wiped */
    layout_refusal(&cfg, &f18, false, false, why, sizeof(why));
    CHECK_STR(why, "");
    layout_refusal(&cfg, &empty, false, false, why, sizeof(why));
    CHECK_STR(why, "");

    cfg = config_of(15, ROLE_REPLICA, "/data");
    struct datadir_facts f17 = cluster_of(17, 1700);
    layout_refusal(&cfg, &f17, false, false, why, sizeof(why));
    CHECK_CONTAINS(why, "PostgreSQL 17 cluster");
    CHECK_CONTAINS(why, "POSTGRES_RESEED=force");
    /* POSTGRES_RESEED=force discards whatever is there */
    layout_refusal(&cfg, &f17, false, true, why, sizeof(why));
    CHECK_STR(why, "");

    /* An unknown server major checks nothing. */
    cfg = config_of(0, ROLE_PRIMARY, "/data");
    layout_refusal(&cfg, &f17, false, false, why, sizeof(why));
    CHECK_STR(why, "");
}

static void test_unknown_control_version(void)
{
    char why[1024];
    struct config cfg = config_of(19, ROLE_PRIMARY, "/data");
    struct datadir_facts f = cluster_of(19, 1900);

    layout_refusal(&cfg, &f, false, false, why, sizeof(why));
    CHECK_CONTAINS(why, "pg_control version 1900");
    CHECK_CONTAINS(why, "refusing to guess");
    /* a corrupt file of a known version is not called unknown */
    f = cluster_of(15, 1300);
    f.control = PG_CONTROL_CORRUPT;
    cfg.server_major = 15;
    layout_refusal(&cfg, &f, false, false, why, sizeof(why));
    CHECK_STR(why, "");
}

static void test_old_mount(void)
{
    char why[1024];
    struct config cfg = config_of(18, ROLE_PRIMARY, "/var/lib/postgresql/18/docker");
    struct datadir_facts empty;
    memset(&empty, 0, sizeof(empty));

    layout_refusal(&cfg, &empty, true, false, why, sizeof(why));
    CHECK_CONTAINS(why, "a volume is mounted at /var/lib/postgresql/data");
    CHECK_CONTAINS(why, "mount the volume at /var/lib/postgresql instead");
    CHECK_CONTAINS(why, "PGDATA=/var/lib/postgresql/data");
    /* also a replica with POSTGRES_RESEED=force: its clone would be lost */
    cfg.role = ROLE_REPLICA;
    layout_refusal(&cfg, &empty, true, true, why, sizeof(why));
    CHECK_CONTAINS(why, "/var/lib/postgresql/data");
    layout_refusal(&cfg, &empty, false, false, why, sizeof(why));
    CHECK_STR(why, "");

    /* PGDATA set to the mount, or below it, uses the volume: fine. */
    cfg.pgdata = "/var/lib/postgresql/data";
    layout_refusal(&cfg, &empty, true, false, why, sizeof(why));
    CHECK_STR(why, "");
    cfg.pgdata = "/var/lib/postgresql/data/pgdata";
    layout_refusal(&cfg, &empty, true, false, why, sizeof(why));
    CHECK_STR(why, "");
    cfg.pgdata = "/var/lib/postgresql/database";
    layout_refusal(&cfg, &empty, true, false, why, sizeof(why));
    CHECK_CONTAINS(why, "/var/lib/postgresql/data");
    /* 17 and older kept their data there */
    cfg = config_of(17, ROLE_PRIMARY, "/var/lib/postgresql/17/docker");
    layout_refusal(&cfg, &empty, true, false, why, sizeof(why));
    CHECK_STR(why, "");
}

static void test_primary_major(void)
{
    char why[1024];
    struct config cfg = config_of(18, ROLE_REPLICA, "/data");

    layout_primary_refusal(&cfg, 150018, why, sizeof(why));
    CHECK_CONTAINS(why, "the primary at db:5432 runs PostgreSQL 15");
    CHECK_CONTAINS(why, "this replica's server is PostgreSQL 18");
    CHECK_CONTAINS(why, "nothing was wiped");
    layout_primary_refusal(&cfg, 180006, why, sizeof(why));
    CHECK_STR(why, "");
    layout_primary_refusal(&cfg, 0, why, sizeof(why)); /* not known: postgres decides */
    CHECK_STR(why, "");
}

/* datadir_inspect reads PG_VERSION's major. */
static void test_inspect_pg_version(void)
{
    char dir[] = "/tmp/test_layout.XXXXXX", path[256];
    struct datadir_facts f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/PG_VERSION", dir);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs("17\n", fp);
    fclose(fp);
    CHECK(datadir_inspect(dir, &f) == 0);
    CHECK(f.has_pg_version && f.pg_version_major == 17);
    CHECK(f.control == PG_CONTROL_MISSING);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_server_major();
    test_pgdata_default();
    test_major_mismatch();
    test_unknown_control_version();
    test_old_mount();
    test_primary_major();
    test_inspect_pg_version();
    return check_done("test_layout");
}

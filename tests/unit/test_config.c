/* config.c: defaults, role detection, aliases, _FILE secrets, and a message
 * that names the variable for every invalid input. */
#include "check.h"
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

static char err[1024];

static int load(struct config *cfg, char **env)
{
    err[0] = '\0';
    return config_load(cfg, env, "pg-1", err, sizeof(err));
}

static void expect_error(char **env, const char *needle)
{
    struct config cfg;
    CHECK(load(&cfg, env) == -1);
    CHECK_CONTAINS(err, needle);
    CHECK_CONTAINS(err, "hint");
}

static void test_defaults(void)
{
    struct config cfg;
    char *env[] = {"POSTGRES_PASSWORD=pw", NULL};

    CHECK(load(&cfg, env) == 0);
    CHECK(cfg.role == ROLE_PRIMARY);
    CHECK_STR(cfg.pgdata, "/var/lib/postgresql/data");
    CHECK_STR(cfg.superuser, "postgres");
    CHECK_STR(cfg.database, "postgres");
    CHECK_STR(cfg.repl_user, "replicator");
    CHECK(cfg.repl_password == NULL);
    CHECK(cfg.slot == NULL);
    CHECK_STR(cfg.repl_allow, "all");
    CHECK_STR(cfg.wal_keep_size, "64MB");
    CHECK_STR(cfg.max_slot_wal_keep_size, "1GB");
    CHECK(cfg.max_wal_senders == 10);
    CHECK(cfg.primary_port == 5432);
    CHECK(cfg.wait_timeout_s == 0);
    CHECK(cfg.reseed == RESEED_AUTO);
    CHECK(cfg.sync_replicas == 0);
    CHECK_STR(cfg.sync_commit, "on");
    CHECK_STR(config_auth_method(&cfg), "scram-sha-256");
    config_free(&cfg);
}

static void test_replica_implied_by_primary_host(void)
{
    struct config cfg;
    char *env[] = {"POSTGRES_PRIMARY_HOST=db", "POSTGRES_REPLICATION_PASSWORD=r",
                   "POSTGRES_USER=app", NULL};

    CHECK(load(&cfg, env) == 0);
    CHECK(cfg.role == ROLE_REPLICA);
    CHECK_STR(cfg.slot, "pg_1"); /* derived from the host name */
    CHECK_STR(cfg.database, "app");
    config_free(&cfg);
}

static void test_role_auto(void)
{
    struct config cfg;
    char *env[] = {"POSTGRES_ROLE=auto", "POSTGRES_PRIMARY_HOST=pg-0.pg",
                   "POSTGRES_REPLICATION_PASSWORD=r", NULL};

    CHECK(config_load(&cfg, env, "pg-0", err, sizeof(err)) == 0 && cfg.role == ROLE_PRIMARY);
    config_free(&cfg);
    CHECK(config_load(&cfg, env, "pg-12", err, sizeof(err)) == 0 && cfg.role == ROLE_REPLICA);
    config_free(&cfg);
    CHECK(config_load(&cfg, env, "standalone", err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, "POSTGRES_ROLE");
}

static void test_bitnami_aliases(void)
{
    struct config cfg;
    char *env[] = {"POSTGRESQL_REPLICATION_MODE=slave",  "POSTGRESQL_MASTER_HOST=master",
                   "POSTGRESQL_MASTER_PORT_NUMBER=5433", "POSTGRESQL_REPLICATION_USER=rep",
                   "POSTGRESQL_REPLICATION_PASSWORD=pw", NULL};

    CHECK(load(&cfg, env) == 0);
    CHECK(cfg.role == ROLE_REPLICA);
    CHECK_STR(cfg.primary_host, "master");
    CHECK(cfg.primary_port == 5433);
    CHECK_STR(cfg.repl_user, "rep");
    CHECK_STR(cfg.repl_password, "pw");
    config_free(&cfg);

    char *same[] = {"POSTGRES_USER=a", "POSTGRESQL_USERNAME=a", "POSTGRES_PASSWORD=x", NULL};
    CHECK(load(&cfg, same) == 0);
    config_free(&cfg);
    char *conflict[] = {"POSTGRES_USER=a", "POSTGRESQL_USERNAME=b", NULL};
    expect_error(conflict, "POSTGRES_USER and POSTGRESQL_USERNAME");
}

static void test_secret_files(void)
{
    char path[] = "/tmp/pgep-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "s3cret\n\n", 8) == 8);
    close(fd);

    char var[300];
    snprintf(var, sizeof(var), "POSTGRES_PASSWORD_FILE=%s", path);
    char *env[] = {var, NULL};
    struct config cfg;
    CHECK(load(&cfg, env) == 0);
    CHECK_STR(cfg.superuser_password, "s3cret");
    config_free(&cfg);

    char *both[] = {var, "POSTGRES_PASSWORD=x", NULL};
    expect_error(both, "both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE");
    unlink(path);
    char *missing[] = {var, NULL};
    expect_error(missing, "POSTGRES_PASSWORD_FILE");
}

static void test_invalid_values(void)
{
    struct {
        char *var;
        const char *needle;
    } cases[] = {
        {"POSTGRES_ROLE=leader", "POSTGRES_ROLE"},
        {"POSTGRES_PRIMARY_PORT=abc", "POSTGRES_PRIMARY_PORT"},
        {"POSTGRES_PRIMARY_PORT=0", "POSTGRES_PRIMARY_PORT"},
        {"POSTGRES_PRIMARY_PORT=70000", "POSTGRES_PRIMARY_PORT"},
        {"POSTGRES_PRIMARY_PORT= 5432", "POSTGRES_PRIMARY_PORT"},
        {"POSTGRES_MAX_WAL_SENDERS=0", "POSTGRES_MAX_WAL_SENDERS"},
        {"POSTGRES_SYNCHRONOUS_REPLICAS=-1", "POSTGRES_SYNCHRONOUS_REPLICAS"},
        {"POSTGRES_PRIMARY_WAIT_TIMEOUT=soon", "POSTGRES_PRIMARY_WAIT_TIMEOUT"},
        {"POSTGRES_RESEED=always", "POSTGRES_RESEED"},
        {"POSTGRES_REPLICATION_SLOT=Bad-Name", "POSTGRES_REPLICATION_SLOT"},
        {"POSTGRES_WAL_KEEP_SIZE=64 MB", "POSTGRES_WAL_KEEP_SIZE"},
        {"POSTGRES_WAL_KEEP_SIZE=64mb", "POSTGRES_WAL_KEEP_SIZE"},
        {"POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=lots", "POSTGRES_MAX_SLOT_WAL_KEEP_SIZE"},
        {"POSTGRES_REPLICATION_ALLOW=10.0.0.0/8 trust", "POSTGRES_REPLICATION_ALLOW"},
        {"POSTGRES_REPLICATION_ALLOW=all,,", "POSTGRES_REPLICATION_ALLOW"},
        {"POSTGRES_HOST_AUTH_METHOD=letmein", "POSTGRES_HOST_AUTH_METHOD"},
        {"POSTGRES_INITDB_ARGS=--locale='C", "POSTGRES_INITDB_ARGS"},
        {"POSTGRES_LOG_FORMAT=xml", "POSTGRES_LOG_FORMAT"},
        {"PGDATA=relative/path", "PGDATA"},
        {"POSTGRESQL_REPLICATION_MODE=leader", "POSTGRESQL_REPLICATION_MODE"},
        {"POSTGRESQL_SYNCHRONOUS_COMMIT_MODE=maybe", "POSTGRESQL_SYNCHRONOUS_COMMIT_MODE"},
        {"POSTGRES_USER=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "POSTGRES_USER"},
        {"POSTGRES_DB=a\nb", "POSTGRES_DB"},
        {"POSTGRES_REPLICATION_USER=a\"b", "POSTGRES_REPLICATION_USER"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *env[] = {cases[i].var, "POSTGRES_PASSWORD=x", NULL};
        expect_error(env, cases[i].needle);
    }
}

static void test_replica_requirements(void)
{
    char *no_host[] = {"POSTGRES_ROLE=replica", "POSTGRES_REPLICATION_PASSWORD=x", NULL};
    expect_error(no_host, "POSTGRES_PRIMARY_HOST");
    char *no_pass[] = {"POSTGRES_PRIMARY_HOST=db", NULL};
    expect_error(no_pass, "POSTGRES_REPLICATION_PASSWORD");
}

static void test_slot_names(void)
{
    char out[64];

    CHECK(config_slot_from_hostname("Replica-2.db.svc", out, sizeof(out)) == 0);
    CHECK_STR(out, "replica_2");
    CHECK(config_slot_from_hostname("4f2a9c1d0e3b", out, sizeof(out)) == 0);
    CHECK_STR(out, "4f2a9c1d0e3b");
    CHECK(config_slot_from_hostname("", out, sizeof(out)) == -1);
    char longname[100];
    memset(longname, 'a', 99);
    longname[99] = '\0';
    CHECK(config_slot_from_hostname(longname, out, sizeof(out)) == 0 && strlen(out) == 63);
    CHECK(config_valid_slot_name(out));
    CHECK(!config_valid_slot_name("a-b"));
    CHECK(!config_valid_slot_name(""));
}

static void test_secret_env_names(void)
{
    CHECK(env_is_secret("POSTGRES_PASSWORD=x"));
    CHECK(env_is_secret("POSTGRES_REPLICATION_PASSWORD=x"));
    CHECK(env_is_secret("POSTGRESQL_PASSWORD=x"));
    CHECK(env_is_secret("PGPASSWORD=x"));
    CHECK(!env_is_secret("POSTGRES_PASSWORD_FILE=/run/secrets/pw"));
    CHECK(!env_is_secret("POSTGRES_USER=x"));
}

/* The official image writes POSTGRES_HOST_AUTH_METHOD after "host all all
 * all", so a line break adds pg_hba lines (../shared/seeds/001_*): the first
 * line is the method, the later ones records, each checked. */
static void test_host_auth_method_lines(void)
{
    struct config cfg;
    char *seed[] = {"POSTGRES_PASSWORD=x",
                    "POSTGRES_HOST_AUTH_METHOD=scram-sha-256\nhost replication all 0.0.0.0/0 md5",
                    NULL};
    CHECK(load(&cfg, seed) == 0);
    CHECK_STR(config_auth_method(&cfg), "scram-sha-256");
    CHECK_STR(cfg.hba_extra, "host replication all 0.0.0.0/0 md5");
    CHECK(cfg.hba_extra_records == 1);
    config_free(&cfg);

    char *crlf[] = {"POSTGRES_PASSWORD=x",
                    "POSTGRES_HOST_AUTH_METHOD=md5 \r\n# ours\r\nlocal all all peer\r\n\n"
                    "host all all ::1/128 trust\n",
                    NULL};
    CHECK(load(&cfg, crlf) == 0);
    CHECK_STR(config_auth_method(&cfg), "md5");
    CHECK(cfg.hba_extra_records == 2);
    config_free(&cfg);

    char *plain[] = {"POSTGRES_PASSWORD=x", "POSTGRES_HOST_AUTH_METHOD=md5", NULL};
    CHECK(load(&cfg, plain) == 0);
    CHECK(cfg.hba_extra == NULL && cfg.hba_extra_records == 0);
    config_free(&cfg);

    char *typo[] = {"POSTGRES_PASSWORD=x",
                    "POSTGRES_HOST_AUTH_METHOD=md5\nhost all all all md5\nhots replication all "
                    "0.0.0.0/0 md5",
                    NULL};
    expect_error(typo, "POSTGRES_HOST_AUTH_METHOD: line 3, \"hots replication all 0.0.0.0/0 md5\"");
    char *bad_first[] = {"POSTGRES_PASSWORD=x",
                         "POSTGRES_HOST_AUTH_METHOD=letmein\nhost all all all md5", NULL};
    expect_error(bad_first, "POSTGRES_HOST_AUTH_METHOD=\"letmein\"");
}

/* The image's default role yields to anything the user sets; two user
 * settings that disagree are an error; the deciding setting is recorded. */
static void test_role_precedence(void)
{
    struct config cfg;
    char *image_primary_host[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=primary", "POSTGRES_PRIMARY_HOST=db",
                                  "POSTGRES_REPLICATION_PASSWORD=r", NULL};
    CHECK(load(&cfg, image_primary_host) == 0);
    CHECK(cfg.role == ROLE_REPLICA);
    CHECK_CONTAINS(cfg.role_source, "POSTGRES_PRIMARY_HOST");
    config_free(&cfg);

    char *image_bitnami[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=primary",
                             "POSTGRESQL_REPLICATION_MODE=slave", "POSTGRESQL_MASTER_HOST=db",
                             "POSTGRESQL_REPLICATION_PASSWORD=r", NULL};
    CHECK(load(&cfg, image_bitnami) == 0);
    CHECK(cfg.role == ROLE_REPLICA);
    CHECK_STR(cfg.role_source, "POSTGRESQL_REPLICATION_MODE=slave");
    config_free(&cfg);

    char *image_replica_master[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=replica",
                                    "POSTGRESQL_REPLICATION_MODE=master", "POSTGRES_PASSWORD=x",
                                    NULL};
    CHECK(load(&cfg, image_replica_master) == 0);
    CHECK(cfg.role == ROLE_PRIMARY);
    config_free(&cfg);

    char *image_replica_role[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=replica", "POSTGRES_ROLE=primary",
                                  "POSTGRES_PASSWORD=x", NULL};
    CHECK(load(&cfg, image_replica_role) == 0);
    CHECK(cfg.role == ROLE_PRIMARY);
    CHECK_STR(cfg.role_source, "POSTGRES_ROLE=primary");
    config_free(&cfg);

    char *image_only[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=primary", "POSTGRES_PASSWORD=x", NULL};
    CHECK(load(&cfg, image_only) == 0);
    CHECK(cfg.role == ROLE_PRIMARY);
    CHECK_CONTAINS(cfg.role_source, "the image's default");
    config_free(&cfg);

    char *auto_role[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=primary", "POSTGRES_ROLE=auto",
                         "POSTGRES_PRIMARY_HOST=pg-0.pg", "POSTGRES_REPLICATION_PASSWORD=r", NULL};
    CHECK(load(&cfg, auto_role) == 0); /* host name pg-1 */
    CHECK(cfg.role == ROLE_REPLICA);
    CHECK_CONTAINS(cfg.role_source, "POSTGRES_ROLE=auto");
    config_free(&cfg);

    char *image_replica_alone[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=replica",
                                   "POSTGRES_REPLICATION_PASSWORD=r", NULL};
    expect_error(image_replica_alone, "PG_ENTRYPOINT_DEFAULT_ROLE=replica");
    char *disagree[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=primary", "POSTGRES_ROLE=primary",
                        "POSTGRESQL_REPLICATION_MODE=slave", NULL};
    expect_error(disagree, "POSTGRESQL_REPLICATION_MODE");
    char *bad_image[] = {"PG_ENTRYPOINT_DEFAULT_ROLE=auto", "POSTGRES_PASSWORD=x", NULL};
    expect_error(bad_image, "PG_ENTRYPOINT_DEFAULT_ROLE");
}

static void test_peers(void)
{
    struct config cfg;
    char *none[] = {"POSTGRES_PASSWORD=pw", NULL};
    char *list[] = {
        "POSTGRES_PASSWORD=pw",
        "POSTGRES_PEERS=pg-0.pg:5433, pg-1.pg.default.svc ,10.0.0.7,[fd00::1]:6000,fd00::2", NULL};

    CHECK(load(&cfg, none) == 0);
    CHECK(cfg.npeers == 0 && cfg.peers == NULL);
    config_free(&cfg);
    /* load() names this node pg-1 */
    CHECK(load(&cfg, list) == 0);
    CHECK(cfg.npeers == 5);
    if (cfg.npeers == 5) {
        CHECK_STR(cfg.peers[0].host, "pg-0.pg");
        CHECK(cfg.peers[0].port == 5433 && !cfg.peers[0].self);
        CHECK_STR(cfg.peers[1].host, "pg-1.pg.default.svc");
        CHECK(cfg.peers[1].port == 5432 && cfg.peers[1].self);
        CHECK_STR(cfg.peers[2].host, "10.0.0.7");
        CHECK(!cfg.peers[2].self);
        CHECK_STR(cfg.peers[3].host, "fd00::1");
        CHECK(cfg.peers[3].port == 6000);
        CHECK_STR(cfg.peers[4].host, "fd00::2");
        CHECK(cfg.peers[4].port == 5432);
    }
    config_free(&cfg);
    char *bad_port[] = {"POSTGRES_PASSWORD=pw", "POSTGRES_PEERS=a:99999", NULL};
    expect_error(bad_port, "POSTGRES_PEERS");
    char *empty_entry[] = {"POSTGRES_PASSWORD=pw", "POSTGRES_PEERS=a,,b", NULL};
    expect_error(empty_entry, "POSTGRES_PEERS");
    char *bad_host[] = {"POSTGRES_PASSWORD=pw", "POSTGRES_PEERS=a b", NULL};
    expect_error(bad_host, "POSTGRES_PEERS");
    char *bad_v6[] = {"POSTGRES_PASSWORD=pw", "POSTGRES_PEERS=[fd00::1", NULL};
    expect_error(bad_v6, "POSTGRES_PEERS");
    /* pg-10 is not pg-1 */
    char *prefix[] = {"POSTGRES_PASSWORD=pw", "POSTGRES_PEERS=pg-10", NULL};
    CHECK(load(&cfg, prefix) == 0 && cfg.npeers == 1 && !cfg.peers[0].self);
    config_free(&cfg);
}

int main(void)
{
    test_defaults();
    test_replica_implied_by_primary_host();
    test_role_auto();
    test_bitnami_aliases();
    test_secret_files();
    test_invalid_values();
    test_replica_requirements();
    test_slot_names();
    test_secret_env_names();
    test_host_auth_method_lines();
    test_role_precedence();
    test_peers();
    return check_done("test_config");
}

/* env.c: lookup by exact name, the secret list, and an error message that
 * is shortened before its hint, never in it. */
#include "check.h"
#include "env.h"

#include <string.h>

static void test_lookup(void)
{
    char *env[] = {"PGDATA_X=no", "PGDATA=/var/lib/pg", "EMPTY=", "PGDATA=second", NULL};

    CHECK_STR(env_lookup(env, "PGDATA"), "/var/lib/pg");
    CHECK_STR(env_lookup(env, "EMPTY"), "");
    CHECK(env_lookup(env, "PGDAT") == NULL);
    CHECK(env_lookup(env, "MISSING") == NULL);
    CHECK(env_lookup(NULL, "PGDATA") == NULL);
}

static void test_secrets(void)
{
    CHECK(env_is_secret("POSTGRES_PASSWORD=x"));
    CHECK(env_is_secret("POSTGRES_PASSWORD="));
    CHECK(env_is_secret("POSTGRESQL_REPLICATION_PASSWORD=x"));
    CHECK(env_is_secret("POSTGRESQL_POSTGRES_PASSWORD=x"));
    CHECK(!env_is_secret("POSTGRES_PASSWORD"));
    CHECK(!env_is_secret("POSTGRES_PASSWORDS=x"));
    CHECK(!env_is_secret("POSTGRES_REPLICATION_PASSWORD_FILE=/run/secrets/pw"));
    CHECK(!env_is_secret("PGDATA=/x"));
}

static void test_fail(void)
{
    char err[64];

    CHECK(env_fail(err, sizeof(err), "%s is bad; hint: %s", "X", "fix it") == -1);
    CHECK_STR(err, "X is bad; hint: fix it");

    /* A long echoed value is cut before the hint, which stays whole. */
    char value[200];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    CHECK(env_fail(err, sizeof(err), "X=\"%s\" is bad; hint: set X", value) == -1);
    CHECK(strlen(err) == sizeof(err) - 1);
    CHECK_CONTAINS(err, "...; hint: set X");
    CHECK(strncmp(err, "X=\"vvv", 6) == 0);

    /* The hint is the last one: a value holding "; hint: " does not count. */
    CHECK(env_fail(err, sizeof(err), "X=\"; hint: fake%s\"; hint: real", value) == -1);
    CHECK_CONTAINS(err, "...; hint: real");
}

int main(void)
{
    test_lookup();
    test_secrets();
    test_fail();
    return check_done("test_env");
}

/* hba.c: which later lines of POSTGRES_HOST_AUTH_METHOD are pg_hba records. */
#include "check.h"
#include "hba.h"

static int line(const char *s)
{
    char why[160];
    return hba_check_line(s, strlen(s), why, sizeof(why));
}

int main(void)
{
    /* records PostgreSQL accepts */
    CHECK(line("host replication all 0.0.0.0/0 md5") == 1);
    CHECK(line("host replication replica 0.0.0.0/0 md5") == 1);
    CHECK(line("local all all peer") == 1);
    CHECK(line("hostssl all \"odd user\" 10.0.0.0/8 scram-sha-256 clientcert=verify-full") == 1);
    CHECK(line("host all all 10.0.0.0 255.0.0.0 md5") == 1);
    CHECK(line("\thost\tall\tall\t::1/128\ttrust  # a comment") == 1);
    CHECK(line("include_if_exists extra.conf") == 1);
    /* written, not counted */
    CHECK(line("") == 0);
    CHECK(line("   ") == 0);
    CHECK(line("# only a comment") == 0);
    /* refused, with a reason */
    char why[160];
    CHECK(hba_check_line("hots all all all md5", 20, why, sizeof(why)) == -1);
    CHECK_CONTAINS(why, "hots");
    CHECK(hba_check_line("host all all all letmein", 24, why, sizeof(why)) == -1);
    CHECK_CONTAINS(why, "letmein");
    CHECK(hba_check_line("host replication all md5", 24, why, sizeof(why)) == -1);
    CHECK_CONTAINS(why, "fields");
    CHECK(line("local all all") == -1);
    CHECK(line("host all \"all all 0.0.0.0/0 md5") == -1);
    CHECK(line("host all all all md5\x01") == -1);
    CHECK(line("include") == -1);
    CHECK(line("scram-sha-256") == -1);
    CHECK(hba_valid_method("scram-sha-256") && hba_valid_method("md5") && !hba_valid_method(""));
    return check_done("test_hba");
}

/* pgconn.c: libpq's failure messages sorted into what the wait loop does:
 * retry (not there yet) or stop (wrong password, no pg_hba entry). */
#include "check.h"
#include "pgconn.h"

#include <stdlib.h>

int main(void)
{
    struct {
        const char *msg;
        enum conn_failure want;
    } cases[] = {
        {"could not translate host name \"primary\" to address: Name or service not known",
         CONN_DNS},
        {"connection to server at \"10.0.0.2\", port 5432 failed: Connection refused",
         CONN_REFUSED},
        {"FATAL:  password authentication failed for user \"replicator\"", CONN_AUTH},
        {"FATAL:  no pg_hba.conf entry for replication connection from host \"1.2.3.4\"", CONN_HBA},
        {"FATAL:  the database system is starting up", CONN_STARTING},
        {"timeout expired after 3000 ms", CONN_TIMEOUT},
        {"something new", CONN_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(pgconn_classify_failure(cases[i].msg) == cases[i].want);
    CHECK(pgconn_failure_is_final(CONN_AUTH));
    CHECK(pgconn_failure_is_final(CONN_HBA));
    CHECK(!pgconn_failure_is_final(CONN_REFUSED));
    CHECK(!pgconn_failure_is_final(CONN_DNS));
    CHECK_CONTAINS(pgconn_failure_hint(CONN_AUTH), "POSTGRES_REPLICATION_PASSWORD");

    /* The secret is computed offline, salted, and never holds the password. */
    char *a = pgconn_scram_secret("replicator", "hunter2");
    char *b = pgconn_scram_secret("replicator", "hunter2");
    CHECK(a && strncmp(a, "SCRAM-SHA-256$4096:", 19) == 0);
    CHECK(a && b && strcmp(a, b) != 0);
    CHECK(a && !strstr(a, "hunter2"));
    PQfreemem(a);
    PQfreemem(b);
    return check_done("test_pgconn");
}

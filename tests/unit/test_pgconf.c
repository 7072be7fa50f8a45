/* pgconf.c: quoting for each syntax PostgreSQL reads, and pg_control parsing
 * with its CRC. */
#include "check.h"
#include "pgconf.h"

#include <stdint.h>

static void test_quoting(void)
{
    char out[256];

    CHECK(pgconf_quote_setting("it's a \\ test", out, sizeof(out)) == 0);
    CHECK_STR(out, "'it''s a \\\\ test'");
    CHECK(pgconf_quote_conninfo("it's \\", out, sizeof(out)) == 0);
    CHECK_STR(out, "'it\\'s \\\\'");
    CHECK(pgconf_escape_pgpass("a:b\\c", out, sizeof(out)) == 0);
    CHECK_STR(out, "a\\:b\\\\c");
    CHECK(pgconf_quote_ident("we\"ird name", out, sizeof(out)) == 0);
    CHECK_STR(out, "\"we\"\"ird name\"");
    CHECK(pgconf_quote_literal("o'neil; --", out, sizeof(out)) == 0);
    CHECK_STR(out, "'o''neil; --'");
    CHECK(pgconf_quote_hba_name("replicator", out, sizeof(out)) == 0);
    CHECK_STR(out, "\"replicator\"");
    CHECK(pgconf_quote_hba_name("a\"b", out, sizeof(out)) == -1);
    CHECK(pgconf_quote_literal("line\nbreak", out, sizeof(out)) == -1);
    CHECK(pgconf_quote_setting("too long for the buffer", out, 8) == -1);
    CHECK(pgconf_quote_literal("", out, sizeof(out)) == 0);
    CHECK_STR(out, "''");
}

/* A pg_control image as PostgreSQL 15 writes it: system id, version 1300,
 * catalog version, state, and the CRC-32C of the first 288 bytes at 288. */
static void make_control(unsigned char *buf, uint64_t sysid, int32_t state)
{
    uint32_t version = 1300, catversion = 202209061;
    memset(buf, 0, 8192);
    memcpy(buf, &sysid, 8);
    memcpy(buf + 8, &version, 4);
    memcpy(buf + 12, &catversion, 4);
    memcpy(buf + 16, &state, 4);
    uint32_t crc = pgconf_crc32c(buf, 288);
    memcpy(buf + 288, &crc, 4);
}

static void test_control(void)
{
    static unsigned char buf[8192];
    struct pg_control c;

    /* The CRC-32C check value of "123456789". */
    CHECK(pgconf_crc32c((const unsigned char *)"123456789", 9) == 0xE3069283u);

    make_control(buf, 7710772929471740298ull, 6);
    CHECK(pgconf_parse_control(buf, sizeof(buf), &c) == PG_CONTROL_OK);
    CHECK(c.system_identifier == 7710772929471740298ull);
    CHECK(c.state == 6);
    CHECK(c.version == 1300);

    buf[100] ^= 1; /* a flipped bit inside the checked range */
    CHECK(pgconf_parse_control(buf, sizeof(buf), &c) == PG_CONTROL_CORRUPT);
    make_control(buf, 1, 1);
    CHECK(pgconf_parse_control(buf, 200, &c) == PG_CONTROL_CORRUPT); /* truncated */
    uint32_t v14 = 1300 - 1;
    memcpy(buf + 8, &v14, 4);
    CHECK(pgconf_parse_control(buf, sizeof(buf), &c) == PG_CONTROL_CORRUPT);
}

int main(void)
{
    test_quoting();
    test_control();
    return check_done("test_pgconf");
}

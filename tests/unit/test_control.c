/* control.c: pg_control parsing with its CRC, for each layout it knows. */
#include "check.h"
#include "control.h"

#include <stdint.h>
#include <string.h>

static void make_control(unsigned char *buf, uint64_t sysid, int32_t state)
{
    uint32_t version = 1300, catversion = 202209061;
    memset(buf, 0, 8192);
    memcpy(buf, &sysid, 8);
    memcpy(buf + 8, &version, 4);
    memcpy(buf + 12, &catversion, 4);
    memcpy(buf + 16, &state, 4);
    uint32_t crc = control_crc32c(buf, 288);
    memcpy(buf + 288, &crc, 4);
}

static void test_control(void)
{
    static unsigned char buf[8192];
    struct pg_control c;

    /* The CRC-32C check value of "123456789". */
    CHECK(control_crc32c((const unsigned char *)"123456789", 9) == 0xE3069283u);

    make_control(buf, 7710772929471740298ull, 6);
    CHECK(control_parse(buf, sizeof(buf), &c) == PG_CONTROL_OK);
    CHECK(c.system_identifier == 7710772929471740298ull);
    CHECK(c.state == 6);
    CHECK(c.version == 1300);

    buf[100] ^= 1; /* a flipped bit inside the checked range */
    CHECK(control_parse(buf, sizeof(buf), &c) == PG_CONTROL_CORRUPT);
    make_control(buf, 1, 1);
    CHECK(control_parse(buf, 200, &c) == PG_CONTROL_CORRUPT); /* truncated */
    uint32_t v14 = 1300 - 1;
    memcpy(buf + 8, &v14, 4);
    CHECK(control_parse(buf, sizeof(buf), &c) == PG_CONTROL_CORRUPT);
}

/* The restart point, at its 1300 offsets (checked against pg_controldata's
 * "Latest checkpoint's REDO location" of a PostgreSQL 15 cluster). */
static void test_redo(void)
{
    static unsigned char buf[8192];
    struct pg_control c;
    uint64_t redo = 0x13002028ull;
    uint32_t tli = 3;

    make_control(buf, 42, 4);
    memcpy(buf + 40, &redo, 8);
    memcpy(buf + 48, &tli, 4);
    uint32_t crc = control_crc32c(buf, 288);
    memcpy(buf + 288, &crc, 4);
    CHECK(control_parse(buf, sizeof(buf), &c) == PG_CONTROL_OK);
    CHECK(c.redo == 0x13002028ull);
    CHECK(c.redo_tli == 3);
}

int main(void)
{
    test_control();
    test_redo();
    return check_done("test_control");
}

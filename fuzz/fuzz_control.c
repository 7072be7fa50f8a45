/* control_parse on arbitrary bytes, and on bytes made valid (version
 * 1300 and the right CRC) when the first byte asks for it, so that both
 * sides of every check are reached.
 *
 * Invariants: nothing is read past len (AddressSanitizer); OK only when the
 * version is 1300 and the stored CRC-32C of the first 288 bytes matches, as
 * computed here by an independent table-driven implementation; the fields
 * parsed are the bytes at their offsets. */
#include "control.h"
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

static uint32_t table[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    FUZZ_CHECK(control_crc32c((const unsigned char *)"123456789", 9) == 0xE3069283u, "check value");
    return 0;
}

static uint32_t crc32c_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_control c;
    uint32_t version, stored;

    if (size == 0)
        return 0;
    bool make_valid = data[0] & 1;
    size_t len = size - 1;
    /* An exact-size copy: reads past the end are caught. */
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    memcpy(buf, data + 1, len);
    if (make_valid && len >= 292) {
        version = 1300;
        memcpy(buf + 8, &version, 4);
        uint32_t crc = crc32c_ref(buf, 288);
        memcpy(buf + 288, &crc, 4);
    }
    FUZZ_CHECK(control_crc32c(buf, len) == crc32c_ref(buf, len), "CRC of %zu bytes", len);

    memset(&c, 0xA5, sizeof(c));
    enum pg_control_status st = control_parse(buf, len, &c);
    FUZZ_CHECK(st == PG_CONTROL_OK || st == PG_CONTROL_CORRUPT, "status %d", (int)st);
    bool want_ok = false;
    if (len >= 292) {
        memcpy(&version, buf + 8, 4);
        memcpy(&stored, buf + 288, 4);
        want_ok = version == 1300 && stored == crc32c_ref(buf, 288);
    }
    FUZZ_CHECK((st == PG_CONTROL_OK) == want_ok, "status %d for %zu bytes", (int)st, len);
    if (make_valid && len >= 292)
        FUZZ_CHECK(st == PG_CONTROL_OK, "a valid image was refused");
    if (st == PG_CONTROL_OK) {
        uint64_t sysid;
        int32_t state;
        memcpy(&sysid, buf, 8);
        memcpy(&state, buf + 16, 4);
        FUZZ_CHECK(c.system_identifier == sysid && c.version == 1300 && c.state == state, "fields");
    }
    free(buf);
    return 0;
}

/* The pg_control reader: a table of layouts keyed by pg_control version, a
 * parser that picks its row, and the CRC-32C that guards the file. */
#include "control.h"

#include "fsutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL writes pg_control padded to 8 kB in every version. */
#define PG_CONTROL_FILE_SIZE 8192
/* pg_control_version sits after the 8-byte system identifier in every
 * version, which is how the layout is chosen. */
#define PG_CONTROL_VERSION_OFFSET 8

/* Where a version keeps its fields (offsets into ControlFileData of
 * src/include/catalog/pg_control.h on x86-64 and arm64, in bytes); the
 * CRC-32C of the bytes before crc is stored at crc. */
struct control_layout {
    uint32_t version;
    size_t system_identifier;
    size_t state;
    size_t data_checksum_version;
    size_t crc;
    size_t checkpoint; /* checkPoint: the last checkpoint record's location */
    size_t redo;       /* checkPointCopy.redo: where recovery starts reading WAL */
    size_t redo_tli;   /* checkPointCopy.ThisTimeLineID */
};

/* Each row was checked against a real initdb's file (tests/unit/fixtures).
 * 17's changes left these offsets as 15's (the CRC of its real file is at
 * 288 too); 18 added the bool default_char_signedness after
 * data_checksum_version, which moves the 32-byte mock authentication nonce
 * by one byte and the CRC (4-aligned) by four. */
static const struct control_layout layouts[] = {
    {1300, 0, 16, 252, 288, 32, 40, 48}, /* PostgreSQL 15 and 16 */
    {1700, 0, 16, 252, 288, 32, 40, 48}, /* PostgreSQL 17 */
    {1800, 0, 16, 252, 292, 32, 40, 48}, /* PostgreSQL 18 */
};

static const struct control_layout *layout_of(uint32_t version)
{
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (layouts[i].version == version)
            return &layouts[i];
    return NULL;
}

bool control_version_known(uint32_t version)
{
    return layout_of(version) != NULL;
}

uint32_t control_crc32c(const unsigned char *buf, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

enum pg_control_status control_parse(const unsigned char *buf, size_t len, struct pg_control *out)
{
    uint32_t version, stored;

    memset(out, 0, sizeof(*out));
    if (len < PG_CONTROL_VERSION_OFFSET + sizeof(version))
        return PG_CONTROL_CORRUPT;
    memcpy(&version, buf + PG_CONTROL_VERSION_OFFSET, sizeof(version));
    const struct control_layout *l = layout_of(version);
    out->version = version;
    if (!l) /* never guess a layout; the caller names the version */
        return PG_CONTROL_CORRUPT;
    if (len < l->crc + sizeof(stored))
        return PG_CONTROL_CORRUPT;
    memcpy(&out->system_identifier, buf + l->system_identifier, sizeof(out->system_identifier));
    memcpy(&out->state, buf + l->state, sizeof(out->state));
    memcpy(&out->checkpoint, buf + l->checkpoint, sizeof(out->checkpoint));
    memcpy(&out->redo, buf + l->redo, sizeof(out->redo));
    memcpy(&out->redo_tli, buf + l->redo_tli, sizeof(out->redo_tli));
    memcpy(&out->data_checksum_version, buf + l->data_checksum_version,
           sizeof(out->data_checksum_version));
    memcpy(&stored, buf + l->crc, sizeof(stored));
    if (control_crc32c(buf, l->crc) != stored)
        return PG_CONTROL_CORRUPT;
    return PG_CONTROL_OK;
}

enum pg_control_status control_read(const char *pgdata, struct pg_control *out)
{
    char path[PATH_MAX], *data;
    size_t len;

    if (snprintf(path, sizeof(path), "%s/global/pg_control", pgdata) >= (int)sizeof(path))
        return PG_CONTROL_CORRUPT;
    if (!fs_exists(path))
        return PG_CONTROL_MISSING;
    if (fs_read(path, PG_CONTROL_FILE_SIZE, &data, &len) < 0)
        return PG_CONTROL_CORRUPT;
    enum pg_control_status st = len == PG_CONTROL_FILE_SIZE
                                    ? control_parse((unsigned char *)data, len, out)
                                    : PG_CONTROL_CORRUPT;
    free(data);
    return st;
}

/* global/pg_control: the system identifier, version, state and restart point
 * (REDO location) of a cluster, CRC-checked. Its layout differs per PostgreSQL major; control.c
 * holds one row per pg_control version it knows. */
#ifndef PGEP_CONTROL_H
#define PGEP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pg_control_status { PG_CONTROL_OK, PG_CONTROL_MISSING, PG_CONTROL_CORRUPT };

struct pg_control {
    uint64_t system_identifier;
    uint32_t version; /* pg_control version: 1300 (15, 16), 1700 (17), 1800 (18) */
    int32_t state;    /* DBState: 1 shut down, 2 shut down in recovery, 6 in production, ... */
    uint32_t data_checksum_version; /* 0: no data checksums */
    uint64_t checkpoint;            /* the last checkpoint record's own location (checkPoint) */
    uint64_t redo;                  /* the last checkpoint's (or restartpoint's) REDO location */
    uint32_t redo_tli;              /* its timeline */
};

/* Parses the first bytes of a pg_control file; pure, for unit tests.
 * CORRUPT for a version with no layout here, a short buffer or a bad CRC;
 * out->version is the file's version whenever the buffer holds one (0
 * otherwise), so that an unknown version can be named. */
enum pg_control_status control_parse(const unsigned char *buf, size_t len, struct pg_control *out);
enum pg_control_status control_read(const char *pgdata, struct pg_control *out);

/* Whether control.c has a layout for this pg_control version. */
bool control_version_known(uint32_t version);

uint32_t control_crc32c(const unsigned char *buf, size_t len);

#endif

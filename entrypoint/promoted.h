/* The promotion record: `pg-entrypoint promote` writes it into PGDATA
 * before it promotes, so that the node stays a primary across restarts
 * whatever its environment says. It counts only for the system it names:
 * pg_basebackup and pg_rewind copy it from a promoted source, and every
 * clone and rewind removes it from the copy. A cluster promoted by hand
 * (pg_ctl promote) has none. */
#ifndef PGEP_PROMOTED_H
#define PGEP_PROMOTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROMOTED_RECORD "pg-entrypoint-promoted"

/* Writes the record (0600, atomically and durably): the system, the
 * timeline it was promoted from, and the time. Logged on failure. */
int promoted_write(const char *pgdata, uint64_t sysid, uint32_t from_tli);

/* True when PGDATA holds a record for system sysid; when is set to the time
 * it records (may be NULL). */
bool promoted_read(const char *pgdata, uint64_t sysid, char *when, size_t len);

/* Removes the record, durably; none is no error. Logged on failure. */
int promoted_remove(const char *pgdata);

#endif

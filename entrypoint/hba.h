/* pg_hba.conf syntax: which authentication methods exist, and whether a
 * line someone else wrote (the later lines of POSTGRES_HOST_AUTH_METHOD) is
 * a record PostgreSQL will accept, so that a typo is a configuration error
 * instead of a server that refuses to start. A leaf: nothing of ours below. */
#ifndef PGEP_HBA_H
#define PGEP_HBA_H

#include <stdbool.h>
#include <stddef.h>

bool hba_valid_method(const char *s);

/* 1 for a record, 0 for a blank or comment line (written, not counted), -1
 * when the line is neither; why then says what is wrong. */
int hba_check_line(const char *line, size_t len, char *why, size_t whylen);

#endif

/* The files PostgreSQL reads: server settings and pg_hba lines of a primary,
 * the recovery settings and password file of a replica. Quoting lives here
 * too, one function per syntax. (global/pg_control is read by control.c.) */
#ifndef PGEP_PGCONF_H
#define PGEP_PGCONF_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

/* Our own settings file, included from postgresql.conf. */
#define PGCONF_SETTINGS_FILE "pg-entrypoint.conf"
/* The replica's password file: it must live as long as the data directory,
 * since primary_conninfo names it (see docs/design.md, "Facts checked here"). */
#define PGCONF_PASSFILE "pg-entrypoint.pgpass"

/* Replication settings and pg_hba lines, written before the first start. */
int pgconf_write_primary(const struct config *cfg);

/* True when postgresql.conf already includes our settings file. */
bool pgconf_has_primary_settings(const char *pgdata);

/* True when our settings file has what this version writes (wal_log_hints,
 * for pg_rewind); a cluster made by an earlier pg-entrypoint does not. */
bool pgconf_primary_settings_current(const char *pgdata);

/* Brings such a cluster up to date: the pg_hba lines for database postgres
 * added next to its replication lines (none twice), then the settings file
 * rewritten, last, so that a start stopped in between upgrades again. */
int pgconf_upgrade_primary(const struct config *cfg);

/* The text of our settings file, and of our pg_hba lines (the replication
 * and database postgres lines of each POSTGRES_REPLICATION_ALLOW field, then
 * `host all all all`, then the later lines of POSTGRES_HOST_AUTH_METHOD).
 * Return the length, or -1 (logged, naming the variable) when it does not fit. */
int pgconf_settings_text(const struct config *cfg, char *text, size_t len);
int pgconf_hba_text(const struct config *cfg, char *text, size_t len);

/* old (a pg_hba.conf) with the database postgres line of each field added
 * after the replication line of that field, or at the end when there is
 * none; lines already there are not added again. *out (malloc'd) is set on
 * 0 (nothing to add) and 1 (added); -1 on an error (logged). */
int pgconf_hba_upgrade_text(const struct config *cfg, const char *old, char **out);

/* standby.signal, primary_conninfo and primary_slot_name (slot may be NULL:
 * none), and the password file, in dir. Earlier recovery settings in
 * postgresql.auto.conf are replaced, so it can run on every start: a changed
 * primary host, port, user or password takes effect. */
int pgconf_write_standby(const struct config *cfg, const char *dir, const char *slot);

/* The one line of a password file for the replication user (any host, port
 * and database); returns its length, or -1 (logged). */
int pgconf_passfile_text(const struct config *cfg, char *line, size_t len);

/* Writes the replica's password file from the current environment. */
int pgconf_write_passfile(const struct config *cfg, const char *dir);

/* The primary_slot_name a standby was set up with (the last one in
 * postgresql.auto.conf); an empty string when there is none. */
int pgconf_read_slot(const char *pgdata, char *slot, size_t len);

/* 'value' for postgresql.conf: quotes doubled, backslashes escaped. */
int pgconf_quote_setting(const char *in, char *out, size_t outlen);
/* 'value' for a libpq connection string: \ and ' backslash-escaped. */
int pgconf_quote_conninfo(const char *in, char *out, size_t outlen);
/* A .pgpass field: \ and : backslash-escaped. */
int pgconf_escape_pgpass(const char *in, char *out, size_t outlen);
/* "name" for pg_hba.conf; names holding " or control characters are refused. */
int pgconf_quote_hba_name(const char *in, char *out, size_t outlen);

/* SQL: "identifier" and 'literal' (standard_conforming_strings on). Refuse
 * line breaks, which single-user mode reads as the end of a statement. */
int pgconf_quote_ident(const char *in, char *out, size_t outlen);
int pgconf_quote_literal(const char *in, char *out, size_t outlen);

#endif

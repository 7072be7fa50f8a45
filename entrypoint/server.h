/* Which PostgreSQL major the server that will be exec'd is: the one
 * `postgres` found on PATH, as execvp would find it. */
#ifndef PGEP_SERVER_H
#define PGEP_SERVER_H

/* The major of the postgres on envp's PATH: from its directory, which is
 * /usr/lib/postgresql/<major>/bin in the official images and on Debian
 * hosts (its real path, so a symlink elsewhere still counts); else the
 * PG_MAJOR the official images set; else 0 (unknown: the checks that need
 * it are skipped, and initdb or postgres report a missing server). */
int server_major(char *const envp[]);

/* Pure parsers, for unit tests: "/usr/lib/postgresql/18/bin/postgres" -> 18;
 * "17" -> 17; anything else -> 0. */
int server_major_of_path(const char *path);
int server_major_of_text(const char *text);

#endif

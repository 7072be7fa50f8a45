/* The replication user's password for a client tool (pg_basebackup,
 * pg_rewind) as a password file that has no name: the tool gets
 * PGPASSFILE=/proc/self/fd/N, never the password on its command line or in
 * its environment. */
#ifndef PGEP_PASSFD_H
#define PGEP_PASSFD_H

#include "config.h"

#include <stddef.h>

/* Creates the file 0600 in a private directory, writes the password line
 * (pgconf_passfile_text), and unlinks it at once. A SIGKILL after the
 * unlink leaves nothing behind; one in the short window between open and
 * unlink leaves the file, readable only by this user, in its 0700 directory
 * /tmp/pg-entrypoint.XXXXXX, which nothing removes. Returns the descriptor
 * (close-on-exec; hand it over as spawn_io.keep_fd), or -1, logged under
 * step. */
int passfd_open(const struct config *cfg, const char *step);

/* "PGPASSFILE=/proc/self/fd/N" for the child's environment. */
void passfd_env(int fd, char *buf, size_t len);

#endif

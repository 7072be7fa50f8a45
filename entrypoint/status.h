/* What a start is doing before postgres runs, for `health`: while init
 * scripts run against the temporary server, or a replica waits or clones,
 * the server may answer on its socket, yet the node is not ready. The
 * entrypoint writes one line into a file beside the socket
 * (STATUS_FILE_NAME in PGHOST's directory, else /var/run/postgresql) and
 * removes it right before it execs postgres or exits. Best effort: a
 * status that cannot be written is a WARNING, and the start goes on. */
#ifndef PGEP_STATUS_H
#define PGEP_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#define STATUS_FILE_NAME "pg-entrypoint.status"

/* The status file's path for this environment. */
int status_path(char *const *envp, char *buf, size_t len);

void status_set(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void status_clear(const char *path);

/* True, with the line in reason, while a start is under way: the file
 * exists and the process that wrote it still exists. */
bool status_preparing(const char *path, char *reason, size_t len);

#endif

/* A child's output, line by line: pg_basebackup's and pg_rewind's stderr
 * go into the log one line at a time. */
#ifndef PGEP_LINES_H
#define PGEP_LINES_H

/* Reads fd until end of file, calling fn for each line (split at \r or \n,
 * without it; empty lines too). A line longer than 4 kB is dropped. */
void lines_read(int fd, void (*fn)(char *line, void *arg), void *arg);

#endif

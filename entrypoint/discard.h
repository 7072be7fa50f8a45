/* Discarding the old contents of a data directory without holding up the
 * clone that replaces them: the top-level entries are renamed into a trash
 * directory inside it (a rename each, whatever they hold), and a thread
 * deletes the trash while pg_basebackup writes the new copy beside it. The
 * caller writes the clone marker first, so that a run stopped half way is
 * wiped and cloned again on the next start, trash included. */
#ifndef PGEP_DISCARD_H
#define PGEP_DISCARD_H

#include "log.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#define DISCARD_TRASH ".pg-entrypoint-trash"
#define DISCARD_KEEP_MAX 6

struct discard {
    char trash[PATH_MAX];
    const char *dir;
    bool (*should_stop)(void);
    struct step step;
    pthread_t thread;
    bool running;
    int rc;
};

/* Empties dir except the top-level names in keep (NULL-terminated, at most
 * DISCARD_KEEP_MAX, may be NULL). When the volume has as much space free as
 * it has in use (so the new copy fits beside the old), the deletion goes on
 * in the background until discard_end; otherwise it is done before
 * returning, as a plain wipe. Stops early once should_stop returns true.
 * -1 when what had to be done now failed. */
int discard_begin(struct discard *d, const char *dir, const char *const keep[],
                  bool (*should_stop)(void));

/* Waits for the background deletion, if any; 0 when it emptied dir. */
int discard_end(struct discard *d);

#endif

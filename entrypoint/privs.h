/* Who postgres runs as, and the one-way drop from root to that user:
 * setgroups, then setgid, then setuid, verified afterwards. */
#ifndef PGEP_PRIVS_H
#define PGEP_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

struct runas {
    uid_t uid;
    gid_t gid;
    bool started_as_root;
    char name[64];
};

/* As root: the "postgres" account from /etc/passwd. Otherwise: the current
 * uid and gid (no drop needed). */
int privs_resolve(struct runas *who);

/* Drops root for good when started as root; a no-op otherwise. */
int privs_drop(const struct runas *who);

#endif

/* Who postgres runs as, and the one-way drop from root to that user:
 * setgroups, then setgid, then setuid, verified afterwards. */
#ifndef PGEP_PRIVS_H
#define PGEP_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct runas {
    uid_t uid;
    gid_t gid;
    bool started_as_root;
    char name[64];
    char home[1024]; /* the account's home directory; empty when not root */
};

/* As root: the "postgres" account from /etc/passwd. Otherwise: the current
 * uid and gid (no drop needed). */
int privs_resolve(struct runas *who);

/* Drops root for good when started as root, then moves to a directory the
 * user can be in: its home when reachable, else pgdata, else /. A no-op
 * when not started as root. (HOME is the caller's: privs_home_env.) */
int privs_drop(const struct runas *who, const char *pgdata);

/* "HOME=<home>" into buf after a drop from root (su-exec does the same);
 * NULL when not started as root (HOME stays as it is). */
const char *privs_home_env(const struct runas *who, char *buf, size_t len);

/* A uid without a passwd entry (an arbitrary uid from `docker run --user`
 * or Kubernetes) makes initdb and single-user postgres fail to name the
 * current user. Like the official image, lend them one through nss_wrapper:
 * fills extra with LD_PRELOAD and NSS_WRAPPER_* entries (NULL-terminated,
 * at most 4) and dir with the temporary directory that holds the files;
 * both stay empty when the uid has an entry. */
int privs_nss_wrapper(const struct runas *who, char *extra[4], char *dir, size_t dirlen);
void privs_nss_wrapper_cleanup(char *extra[4], const char *dir);

#endif

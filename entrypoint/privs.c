#include "privs.h"

#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RUN_AS_USER "postgres"

int privs_resolve(struct runas *who)
{
    memset(who, 0, sizeof(*who));
    if (geteuid() != 0) {
        who->uid = geteuid();
        who->gid = getegid();
        snprintf(who->name, sizeof(who->name), "%u", (unsigned)who->uid);
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(RUN_AS_USER);
    if (!pw) {
        log_error("privileges",
                  "could not find user \"%s\" in /etc/passwd%s%s; hint: the image must have a "
                  "postgres user",
                  RUN_AS_USER, errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    who->uid = pw->pw_uid;
    who->gid = pw->pw_gid;
    who->started_as_root = true;
    snprintf(who->name, sizeof(who->name), "%s", pw->pw_name);
    return 0;
}

/* After the drop nothing may be left of root: all three uids and gids are
 * the target's, and asking for root back must fail. */
static int verify_dropped(const struct runas *who)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;

    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != who->uid ||
        e != who->uid || s != who->uid || rg != who->gid || eg != who->gid || sg != who->gid) {
        log_error("privileges", "privilege drop to \"%s\" did not take effect", who->name);
        return -1;
    }
    if (who->uid != 0 && setuid(0) == 0) {
        log_error("privileges", "could regain root after dropping to \"%s\"", who->name);
        return -1;
    }
    return 0;
}

int privs_drop(const struct runas *who)
{
    gid_t groups[64];
    int n = (int)(sizeof(groups) / sizeof(groups[0]));

    if (!who->started_as_root)
        return 0;
    if (getgrouplist(who->name, who->gid, groups, &n) < 0) {
        log_warn("privileges",
                 "user \"%s\" is in more than %zu groups; keeping only its primary group",
                 who->name, sizeof(groups) / sizeof(groups[0]));
        groups[0] = who->gid;
        n = 1;
    }
    if (setgroups((size_t)n, groups) < 0 || setgid(who->gid) < 0 || setuid(who->uid) < 0) {
        log_error("privileges", "could not switch to user \"%s\" (uid %u, gid %u): %s", who->name,
                  (unsigned)who->uid, (unsigned)who->gid, strerror(errno));
        return -1;
    }
    if (verify_dropped(who) < 0)
        return -1;
    log_info("privileges", "running as %s (uid %u, gid %u)", who->name, (unsigned)who->uid,
             (unsigned)who->gid);
    return 0;
}

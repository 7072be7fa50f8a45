#include "privs.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_AS_USER "postgres"
#define PASSWD_FILE "/etc/passwd"
#define GROUP_FILE "/etc/group"

/* Users and groups come from the files themselves, never through NSS: a
 * static glibc that meets a module in nsswitch.conf (systemd, sss, ldap)
 * dlopens it and can crash. The images this runs in keep their accounts in
 * these files; a uid found nowhere gets nss_wrapper for initdb (below). */
static bool passwd_find(const char *name, uid_t uid, struct passwd *out, char *buf, size_t len)
{
    FILE *f = fopen(PASSWD_FILE, "re");
    struct passwd *pw;
    bool found = false;

    if (!f)
        return false;
    while (!found && (pw = fgetpwent(f)) != NULL) {
        if (name ? strcmp(pw->pw_name, name) == 0 : pw->pw_uid == uid) {
            *out = *pw;
            snprintf(buf, len, "%s", pw->pw_name);
            out->pw_name = buf;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The supplementary groups of user: its primary group, and every group of
 * /etc/group that lists it as a member. */
static int group_list(const char *user, gid_t primary, gid_t *groups, int max)
{
    FILE *f = fopen(GROUP_FILE, "re");
    struct group *gr;
    int n = 0;

    groups[n++] = primary;
    if (!f)
        return n;
    while ((gr = fgetgrent(f)) != NULL && n < max) {
        if (gr->gr_gid == primary)
            continue;
        for (char **m = gr->gr_mem; m && *m; m++)
            if (strcmp(*m, user) == 0) {
                groups[n++] = gr->gr_gid;
                break;
            }
    }
    fclose(f);
    return n;
}

int privs_resolve(struct runas *who)
{
    memset(who, 0, sizeof(*who));
    if (geteuid() != 0) {
        who->uid = geteuid();
        who->gid = getegid();
        snprintf(who->name, sizeof(who->name), "%u", (unsigned)who->uid);
        return 0;
    }
    /* From the file, like every other lookup here: not through NSS. */
    struct passwd pw;
    if (!passwd_find(RUN_AS_USER, 0, &pw, who->name, sizeof(who->name))) {
        log_error("privileges",
                  "could not find user \"%s\" in %s; hint: the image must have a postgres user",
                  RUN_AS_USER, PASSWD_FILE);
        return -1;
    }
    who->uid = pw.pw_uid;
    who->gid = pw.pw_gid;
    who->started_as_root = true;
    snprintf(who->home, sizeof(who->home), "%s", pw.pw_dir ? pw.pw_dir : "");
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

/* The working directory we were started in may not be reachable for the
 * user: move to one that is, so that helpers and postgres do not start in a
 * directory they cannot read. */
static void settle_cwd(const struct runas *who, const char *pgdata)
{
    const char *const candidates[] = {who->home, pgdata, "/"};

    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
        if (candidates[i] && candidates[i][0] == '/' && chdir(candidates[i]) == 0)
            return;
    log_warn("privileges", "could not change to any of \"%s\", \"%s\" or /: %s", who->home,
             pgdata ? pgdata : "", strerror(errno));
}

const char *privs_home_env(const struct runas *who, char *buf, size_t len)
{
    if (!who->started_as_root || !who->home[0])
        return NULL;
    snprintf(buf, len, "HOME=%s", who->home);
    return buf;
}

int privs_drop(const struct runas *who, const char *pgdata)
{
    gid_t groups[64];

    if (!who->started_as_root)
        return 0;
    int n = group_list(who->name, who->gid, groups, (int)(sizeof(groups) / sizeof(groups[0])));
    if (setgroups((size_t)n, groups) < 0 || setgid(who->gid) < 0 || setuid(who->uid) < 0) {
        log_error("privileges", "could not switch to user \"%s\" (uid %u, gid %u): %s", who->name,
                  (unsigned)who->uid, (unsigned)who->gid, strerror(errno));
        return -1;
    }
    if (verify_dropped(who) < 0)
        return -1;
    settle_cwd(who, pgdata);
    log_info("privileges", "running as %s (uid %u, gid %u)", who->name, (unsigned)who->uid,
             (unsigned)who->gid);
    return 0;
}

static const char *const nss_wrapper_paths[] = {"/usr/lib/x86_64-linux-gnu/libnss_wrapper.so",
                                                "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
                                                "/usr/lib/arm-linux-gnueabihf/libnss_wrapper.so",
                                                "/usr/lib/i386-linux-gnu/libnss_wrapper.so",
                                                "/usr/lib/libnss_wrapper.so",
                                                "/usr/lib64/libnss_wrapper.so",
                                                NULL};

static int write_small(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

int privs_nss_wrapper(const struct runas *who, char *extra[4], char *dir, size_t dirlen)
{
    char path[PATH_MAX], line[256];
    const char *lib = NULL;

    struct passwd pw;
    char name[64];

    memset(extra, 0, 4 * sizeof(char *));
    dir[0] = '\0';
    if (who->started_as_root || passwd_find(NULL, who->uid, &pw, name, sizeof(name)))
        return 0;
    for (const char *const *p = nss_wrapper_paths; *p && !lib; p++)
        if (access(*p, R_OK) == 0)
            lib = *p;
    if (!lib) {
        log_error("privileges",
                  "uid %u has no entry in /etc/passwd, and libnss_wrapper.so (which would lend it "
                  "one) is not installed; hint: run as a user in /etc/passwd (postgres is uid 999 "
                  "in the official image) or install libnss-wrapper",
                  (unsigned)who->uid);
        return -1;
    }
    snprintf(dir, dirlen, "/tmp/pg-entrypoint-nss.XXXXXX");
    if (!mkdtemp(dir)) {
        log_error("privileges", "could not create a temporary directory: %s", strerror(errno));
        dir[0] = '\0';
        return -1;
    }
    snprintf(path, sizeof(path), "%s/passwd", dir);
    snprintf(line, sizeof(line), "postgres:x:%u:%u:PostgreSQL:/var/lib/postgresql:/bin/false\n",
             (unsigned)who->uid, (unsigned)who->gid);
    int rc = write_small(path, line);
    if (rc == 0 && asprintf(&extra[0], "NSS_WRAPPER_PASSWD=%s", path) < 0)
        rc = -1;
    snprintf(path, sizeof(path), "%s/group", dir);
    snprintf(line, sizeof(line), "postgres:x:%u:\n", (unsigned)who->gid);
    if (rc == 0 &&
        (write_small(path, line) < 0 || asprintf(&extra[1], "NSS_WRAPPER_GROUP=%s", path) < 0 ||
         asprintf(&extra[2], "LD_PRELOAD=%s", lib) < 0))
        rc = -1;
    if (rc < 0) {
        log_error("privileges", "could not set up nss_wrapper in \"%s\"", dir);
        privs_nss_wrapper_cleanup(extra, dir);
        return -1;
    }
    log_info("privileges",
             "uid %u has no passwd entry: initdb runs with nss_wrapper as \"postgres\"",
             (unsigned)who->uid);
    return 0;
}

void privs_nss_wrapper_cleanup(char *extra[4], const char *dir)
{
    char path[PATH_MAX];

    for (int i = 0; i < 4; i++) {
        free(extra[i]);
        extra[i] = NULL;
    }
    if (!dir[0])
        return;
    snprintf(path, sizeof(path), "%s/passwd", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/group", dir);
    unlink(path);
    rmdir(dir);
}

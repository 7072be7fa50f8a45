#include "fsutil.h"

#include "log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int fs_ensure_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    char buf[PATH_MAX];
    struct stat st;

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        log_error(log_step("directories"), "the path \"%s\" is too long", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST) {
            log_error(log_step("directories"),
                      "could not create directory \"%s\": %s; hint: check that its parent exists "
                      "and is writable",
                      buf, strerror(errno));
            return -1;
        }
        *p = c;
        if (!c)
            break;
    }
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        log_error(log_step("directories"),
                  "\"%s\" is not a directory; hint: point it at a directory", path);
        return -1;
    }
    if ((st.st_uid != uid || st.st_gid != gid) && chown(path, uid, gid) < 0) {
        log_error(log_step("directories"),
                  "could not change owner of \"%s\" to %u:%u: %s; hint: mount it read-write, "
                  "and owned by that user if the container does not start as root",
                  path, (unsigned)uid, (unsigned)gid, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0) {
        log_error(log_step("directories"),
                  "could not change mode of \"%s\" to %04o: %s; hint: mount it read-write, and "
                  "owned by that user if the container does not start as root",
                  path, (unsigned)mode, strerror(errno));
        return -1;
    }
    return 0;
}

int fs_walk_dir(int dirfd, fs_entry_fn fn, void *arg)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    int rc = 0;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* the duplicate shares dirfd's position, which an earlier walk left at the end */
    rewinddir(d);
    for (;;) {
        struct stat st;
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            rc = errno ? -1 : 0;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            rc = -1;
            break;
        }
        rc = fn(dirfd, de->d_name, &st, arg);
        if (rc != 0)
            break;
    }
    int err = errno;
    closedir(d);
    errno = err;
    return rc;
}

int fs_walk_path(const char *path, fs_entry_fn fn, void *arg)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fs_walk_dir(fd, fn, arg);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* A walk that failed on its own (-1: the directory could not be read) is
 * logged here, naming the directory (name inside top, or top itself when
 * name is NULL); a callback's failure has been logged where it happened.
 * Either way the result is FS_WALK_REPORTED. */
static int walk_result(int rc, const char *fallback, const char *name, const char *top)
{
    if (rc == -1 && name)
        log_error(log_step(fallback), "could not read directory \"%s\" in \"%s\": %s", name, top,
                  strerror(errno));
    else if (rc == -1)
        log_error(log_step(fallback), "could not read directory \"%s\": %s", top, strerror(errno));
    return rc < 0 ? FS_WALK_REPORTED : rc;
}

struct tree_walk {
    dev_t dev;
    uid_t uid;
    gid_t gid;
    const char *top;
};

static int chown_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    struct tree_walk *w = arg;

    if (st->st_dev != w->dev)
        return 0; /* another mount: not ours to change */
    if ((st->st_uid != w->uid || st->st_gid != w->gid) &&
        fchownat(dirfd, name, w->uid, w->gid, AT_SYMLINK_NOFOLLOW) < 0) {
        log_error(log_step("directories"), "could not change owner of \"%s\" in \"%s\": %s", name,
                  w->top, strerror(errno));
        return FS_WALK_REPORTED;
    }
    if (!S_ISDIR(st->st_mode))
        return 0;
    int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc =
        walk_result(sub < 0 ? -1 : fs_walk_dir(sub, chown_entry, w), "directories", name, w->top);
    if (sub >= 0)
        close(sub);
    return rc;
}

int fs_chown_tree(const char *path, uid_t uid, gid_t gid)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        log_error(log_step("directories"), "could not open directory \"%s\": %s", path,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct tree_walk w = {.dev = st.st_dev, .uid = uid, .gid = gid, .top = path};
    int rc = -1;
    if (fchown(fd, uid, gid) < 0)
        log_error(log_step("directories"), "could not change owner of \"%s\" to %u:%u: %s", path,
                  (unsigned)uid, (unsigned)gid, strerror(errno));
    else
        rc = walk_result(fs_walk_dir(fd, chown_entry, &w), "directories", NULL, path);
    close(fd);
    return rc < 0 ? -1 : 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

int fs_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);

    if (rc < 0)
        log_error(log_step("files"), "could not fsync \"%s\": %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

static void parent_dir(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == out)
        out[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(out, len, ".");
}

/* True when path already holds exactly data with exactly mode. */
static bool same_file(const char *path, const char *data, size_t len, mode_t mode)
{
    struct stat st;
    char *old;
    size_t old_len;

    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode ||
        (size_t)st.st_size != len || fs_read(path, len, &old, &old_len) < 0)
        return false;
    bool same = old_len == len && memcmp(old, data, len) == 0;
    explicit_bzero(old, old_len);
    free(old);
    return same;
}

int fs_write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    /* A restart that changes nothing writes nothing: no fsync, no rename. */
    if (same_file(path, data, len, mode))
        return 0;
    char tmp[PATH_MAX], dir[PATH_MAX];

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        log_error(log_step("files"), "the path \"%s\" is too long", path);
        return -1;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        log_error(log_step("files"), "could not create file \"%s\": %s", tmp, strerror(errno));
        return -1;
    }
    if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        log_error(log_step("files"), "could not write file \"%s\": %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        log_error(log_step("files"), "could not rename \"%s\" to \"%s\": %s", tmp, path,
                  strerror(errno));
        unlink(tmp);
        return -1;
    }
    parent_dir(path, dir, sizeof(dir));
    return fs_fsync_path(dir);
}

int fs_append(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 || write_all(fd, data, strlen(data)) < 0 || fsync(fd) < 0) {
        log_error(log_step("files"), "could not append to file \"%s\": %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (close(fd) < 0) {
        log_error(log_step("files"), "could not close file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int fs_read(const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *buf = malloc(max + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n < max && (r = read(fd, buf + n, max - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (!buf || r < 0) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return 0;
}

struct wipe {
    dev_t dev;
    const char *top;
    bool (*should_stop)(void);
};

static int wipe_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    struct wipe *w = arg;

    if (w->should_stop && w->should_stop()) {
        log_info(log_step("wipe"), "stopped before \"%s\" was empty", w->top);
        return FS_WALK_REPORTED;
    }
    if (S_ISDIR(st->st_mode)) {
        if (st->st_dev != w->dev) {
            log_error(log_step("wipe"),
                      "\"%s\" inside \"%s\" is another mount; refusing to cross it; hint: unmount "
                      "it or mount it elsewhere",
                      name, w->top);
            return FS_WALK_REPORTED;
        }
        int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int rc = walk_result(sub < 0 ? -1 : fs_walk_dir(sub, wipe_entry, w), "wipe", name, w->top);
        if (sub >= 0)
            close(sub);
        if (rc < 0)
            return rc;
    }
    if (unlinkat(dirfd, name, S_ISDIR(st->st_mode) ? AT_REMOVEDIR : 0) < 0) {
        log_error(log_step("wipe"), "could not remove \"%s\" in \"%s\": %s", name, w->top,
                  strerror(errno));
        return FS_WALK_REPORTED;
    }
    return 0;
}

/* What initdb, postgres and pg_basebackup put in a WAL directory: segments,
 * .partial, .backup and .history files (all named from a hex timeline), and
 * their temporary and status files. */
static bool wal_shaped(const char *name)
{
    static const char *const exact[] = {"archive_status", "lost+found", "RECOVERYHISTORY",
                                        "RECOVERYXLOG"};

    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcmp(name, exact[i]) == 0)
            return true;
    if (strncmp(name, "xlogtemp.", 9) == 0)
        return true;
    for (int i = 0; i < 8; i++)
        if (!isxdigit((unsigned char)name[i]))
            return false;
    return true;
}

static int check_wal_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    (void)dirfd;
    (void)st;
    if (wal_shaped(name))
        return 0;
    snprintf(arg, NAME_MAX + 1, "%s", name);
    return FS_WALK_STOP;
}

struct wipe_top {
    struct wipe w;
    const char *const *keep;
};

static int wipe_top_entry(int dirfd, const char *name, const struct stat *st, void *arg);

/* A pg_wal symlink points at the cluster's WAL directory (initdb --waldir):
 * its contents go with the cluster, the directory itself stays. Only when
 * it holds nothing but WAL: a link to anything else (`..`, `/`, a directory
 * shared with other data) must not empty it. */
static int wipe_wal_target(int dirfd, const struct wipe *top)
{
    static const char *const keep[] = {"lost+found", NULL};
    char target[PATH_MAX], foreign[NAME_MAX + 1];
    ssize_t n = readlinkat(dirfd, "pg_wal", target, sizeof(target) - 1);
    struct stat st;

    if (n <= 0)
        return 0;
    target[n] = '\0';
    int fd = openat(dirfd, target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return 0; /* a dangling link: nothing to empty */
    }
    int rc = fs_walk_dir(fd, check_wal_entry, foreign);
    if (rc < 0) {
        log_warn(log_step("wipe"),
                 "not emptying \"%s\", the target of the pg_wal link in \"%s\": it cannot be read "
                 "(%s); only the link is removed",
                 target, top->top, strerror(errno));
        rc = 0;
    } else if (rc == FS_WALK_STOP) {
        rc = 0;
        log_warn(log_step("wipe"),
                 "not emptying \"%s\", the target of the pg_wal link in \"%s\": it holds \"%s\", "
                 "which is not WAL; only the link is removed; hint: empty it by hand if it was "
                 "this cluster's WAL directory",
                 target, top->top, foreign);
    } else {
        struct wipe_top t = {
            .w = {.dev = st.st_dev, .top = target, .should_stop = top->should_stop}, .keep = keep};
        log_info(log_step("wipe"), "emptying \"%s\", the WAL directory of \"%s\"", target,
                 top->top);
        rc = walk_result(fs_walk_dir(fd, wipe_top_entry, &t), "wipe", NULL, target);
    }
    close(fd);
    return rc;
}

static int wipe_top_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    struct wipe_top *t = arg;

    for (const char *const *k = t->keep; k && *k; k++)
        if (strcmp(name, *k) == 0)
            return 0;
    if (S_ISLNK(st->st_mode) && strcmp(name, "pg_wal") == 0 && wipe_wal_target(dirfd, &t->w) < 0)
        return FS_WALK_REPORTED;
    return wipe_entry(dirfd, name, st, &t->w);
}

int fs_wipe_contents(const char *dir, const char *const keep[], bool (*should_stop)(void))
{
    struct stat st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        log_error(log_step("wipe"), "could not open directory \"%s\": %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct wipe_top t = {.w = {.dev = st.st_dev, .top = dir, .should_stop = should_stop},
                         .keep = keep};
    int rc = walk_result(fs_walk_dir(fd, wipe_top_entry, &t), "wipe", NULL, dir);
    if (rc == 0 && fsync(fd) < 0) {
        log_error(log_step("wipe"), "could not fsync directory \"%s\": %s", dir, strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc < 0 ? -1 : 0;
}

struct move_aside {
    int into_fd;
    dev_t dev;
    const char *into;
    const char *const *keep;
};

static int move_aside_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    struct move_aside *m = arg;

    if (strcmp(name, m->into) == 0 || st->st_dev != m->dev ||
        (S_ISLNK(st->st_mode) && strcmp(name, "pg_wal") == 0))
        return 0;
    for (const char *const *k = m->keep; k && *k; k++)
        if (strcmp(name, *k) == 0)
            return 0;
    /* A name the trash already holds (from an earlier, interrupted run) may
     * refuse the rename (a directory over another): the entry then stays
     * where it is, to be wiped in place. */
    if (renameat(dirfd, name, m->into_fd, name) < 0 && errno != EEXIST && errno != ENOTEMPTY &&
        errno != EISDIR && errno != ENOTDIR)
        log_info(log_step("wipe"), "\"%s\" stays in place to be deleted there: %s", name,
                 strerror(errno));
    return 0;
}

int fs_move_aside(const char *dir, const char *into, const char *const keep[])
{
    struct stat st, into_st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), into_fd = -1, rc = -1;
    const char *why = NULL;

    if (fd < 0 || fstat(fd, &st) < 0 || (mkdirat(fd, into, 0700) < 0 && errno != EEXIST))
        goto out;
    into_fd = openat(fd, into, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (into_fd < 0 || fstat(into_fd, &into_st) < 0)
        goto out;
    if (into_st.st_dev != st.st_dev) {
        why = "it is another mount";
        goto out;
    }
    struct move_aside m = {.into_fd = into_fd, .dev = st.st_dev, .into = into, .keep = keep};
    rc = fs_walk_dir(fd, move_aside_entry, &m);
out:
    if (rc < 0)
        log_info(log_step("wipe"), "could not move the old contents of \"%s\" into \"%s\": %s", dir,
                 into, why ? why : strerror(errno));
    if (into_fd >= 0)
        close(into_fd);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_mountinfo(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* Looks for a mount point of this process's mount table for which match
 * returns true: 1 when one does, 0 when none, -1 when the table cannot be
 * read (/proc not mounted). */
static int find_mount(bool (*match)(const char *point, const char *path), const char *path)
{
    char line[3 * PATH_MAX];
    FILE *f = fopen("/proc/self/mountinfo", "re");
    int found = 0;

    if (!f)
        return -1;
    while (!found && fgets(line, sizeof(line), f)) {
        /* ID PARENT MAJ:MIN ROOT MOUNT-POINT ... */
        char *save = NULL, *point = strtok_r(line, " ", &save);
        for (int i = 0; point && i < 4; i++)
            point = strtok_r(NULL, " ", &save);
        if (!point)
            continue;
        unescape_mountinfo(point);
        found = match(point, path);
    }
    fclose(f);
    return found;
}

static bool is_point(const char *point, const char *path)
{
    return strcmp(point, path) == 0;
}

static bool is_below(const char *point, const char *dir)
{
    size_t len = strlen(dir);
    return strncmp(point, dir, len) == 0 && (point[len] == '/' || len == 1) &&
           point[len + (len > 1)] != '\0';
}

bool fs_is_mount_point(const char *path)
{
    return find_mount(is_point, path) == 1;
}

int fs_mounts_below(const char *dir)
{
    char real[PATH_MAX];
    return realpath(dir, real) ? find_mount(is_below, real) : -1;
}

struct move {
    int dst_fd;
    const char *src, *dst;
};

static int move_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    const struct move *m = arg;

    (void)st;
    if (renameat(dirfd, name, m->dst_fd, name) < 0) {
        log_error(log_step("files"), "could not move \"%s/%s\" to \"%s/%s\": %s", m->src, name,
                  m->dst, name, strerror(errno));
        return FS_WALK_REPORTED;
    }
    return 0;
}

int fs_move_contents(const char *src, const char *dst)
{
    struct move m = {.src = src, .dst = dst};
    int src_fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = -1;

    m.dst_fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src_fd < 0 || m.dst_fd < 0)
        log_error(log_step("files"), "could not open directory \"%s\": %s", src_fd < 0 ? src : dst,
                  strerror(errno));
    else
        rc = walk_result(fs_walk_dir(src_fd, move_entry, &m), "files", NULL, src);
    if (src_fd >= 0)
        close(src_fd);
    if (m.dst_fd >= 0)
        close(m.dst_fd);
    if (rc < 0)
        return -1;
    if (rmdir(src) < 0) {
        log_error(log_step("files"), "could not remove directory \"%s\": %s", src, strerror(errno));
        return -1;
    }
    return fs_fsync_path(dst);
}

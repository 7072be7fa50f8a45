/* fsutil.c and the directory walks built on it, under failing system calls
 * (ld --wrap, see CMakeLists.txt): a readdir that fails part way is an
 * error, never the end of the directory (a full PGDATA read as empty would
 * be cloned over), and each failure is one log line, naming the path. */
#include "capture.h"
#include "check.h"
#include "datadir.h"
#include "discard.h"
#include "fsutil.h"
#include "initdb_d.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* How many more calls succeed before the next one fails; -1: all do. */
static int readdir_ok = -1, fsync_ok = -1, fchownat_ok = -1;

static bool spend(int *ok)
{
    if (*ok == 0)
        return false;
    if (*ok > 0)
        (*ok)--;
    return true;
}

struct dirent *__real_readdir(DIR *d);
struct dirent *__wrap_readdir(DIR *d);
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid, int flags);
int __wrap_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid, int flags);

struct dirent *__wrap_readdir(DIR *d)
{
    if (spend(&readdir_ok))
        return __real_readdir(d);
    errno = EIO;
    return NULL;
}

int __wrap_fsync(int fd)
{
    if (spend(&fsync_ok))
        return __real_fsync(fd);
    errno = EIO;
    return -1;
}

int __wrap_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid, int flags)
{
    if (spend(&fchownat_ok))
        return __real_fchownat(dirfd, name, uid, gid, flags);
    errno = EPERM;
    return -1;
}

static char root[] = "/tmp/pgep-faults-XXXXXX";
static char log_path[600];

static void path_of(char *out, size_t len, const char *rel)
{
    snprintf(out, len, "%s/%s", root, rel);
}

static void put(const char *rel)
{
    char path[512];
    path_of(path, sizeof(path), rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
}

static void dir_(const char *rel)
{
    char path[512];
    path_of(path, sizeof(path), rel);
    CHECK(mkdir(path, 0700) == 0);
}

static void capture(void)
{
    capture_begin(log_path);
}

/* Every system call works again once the log is read. */
static char *captured(int *lines)
{
    readdir_ok = fsync_ok = fchownat_ok = -1;
    return capture_end(log_path, lines);
}

/* However early readdir fails, a full data directory is never "empty":
 * the inspection fails, with one line naming the directory. */
static void test_inspect_readdir_fails(void)
{
    char d[512];
    struct datadir_facts f;

    dir_("pgdata");
    dir_("pgdata/base");
    put("pgdata/PG_VERSION");
    put("pgdata/.dotfile");
    path_of(d, sizeof(d), "pgdata");
    for (int ok = 0; ok < 6; ok++) {
        int lines;
        capture();
        readdir_ok = ok;
        int rc = datadir_inspect(d, &f);
        char *log = captured(&lines);
        CHECK(rc < 0 || datadir_classify(&f) != DATADIR_EMPTY);
        if (rc < 0) {
            CHECK(lines == 1);
            CHECK_CONTAINS(log, d);
        }
        if (ok == 0)
            CHECK(rc == -1);
        free(log);
    }
}

static void test_initdb_d_readdir_fails(void)
{
    char d[512];
    int lines;

    dir_("initdb.d");
    put("initdb.d/01-roles.sql");
    path_of(d, sizeof(d), "initdb.d");
    CHECK(initdb_d_pending(d) == 1);
    capture();
    readdir_ok = 0;
    int rc = initdb_d_pending(d);
    int err = errno;
    free(captured(&lines));
    CHECK(rc == -1 && err == EIO);
    path_of(d, sizeof(d), "no-such-dir");
    CHECK(initdb_d_pending(d) == 0);
}

/* The other walks: an error, said once. */
static void test_walks_readdir_fails(void)
{
    char d[512], to[512];
    int lines;

    dir_("walk");
    dir_("walk/sub");
    put("walk/sub/file");
    path_of(d, sizeof(d), "walk");

    for (int ok = 0; ok < 4; ok++) {
        capture();
        readdir_ok = ok;
        int rc = fs_chown_tree(d, getuid(), getgid());
        char *log = captured(&lines);
        CHECK(rc == -1 && lines == 1);
        CHECK_CONTAINS(log, "could not read directory");
        free(log);
    }

    capture();
    readdir_ok = 0;
    int rc = fs_wipe_contents(d, NULL, NULL);
    char *log = captured(&lines);
    CHECK(rc == -1 && lines == 1);
    CHECK_CONTAINS(log, d);
    free(log);

    dir_("walk-to");
    path_of(to, sizeof(to), "walk-to");
    capture();
    readdir_ok = 0;
    rc = fs_move_contents(d, to);
    log = captured(&lines);
    CHECK(rc == -1 && lines == 1);
    CHECK_CONTAINS(log, d);
    free(log);
}

/* A refused chown was logged twice (the entry, then the whole tree). */
static void test_chown_fails_once(void)
{
    char d[512];
    int lines;

    path_of(d, sizeof(d), "walk");
    capture();
    fchownat_ok = 0;
    int rc = fs_chown_tree(d, getuid() + 1, getgid() + 1);
    char *log = captured(&lines);
    CHECK(rc == -1 && lines == 1);
    CHECK_CONTAINS(log, "could not change owner");
    free(log);
}

/* The directory's fsync after the rename failed without a word. */
static void test_dir_fsync_fails_once(void)
{
    char path[512];
    int lines;

    path_of(path, sizeof(path), "walk/settings.conf");
    capture();
    fsync_ok = 1; /* the file's own fsync works, its directory's does not */
    int rc = fs_write_atomic(path, "x = 1\n", 6, 0600);
    char *log = captured(&lines);
    CHECK(rc == -1 && lines == 1);
    CHECK_CONTAINS(log, root);
    free(log);
}

/* Library code logs under its caller's step: a write that fails during a
 * clone is step "clone", not "files"; outside any step, "files". A wipe
 * that goes on in a thread takes its step "wipe" along. */
static void test_logs_under_callers_step(void)
{
    char path[512], old[512];
    int lines;
    struct step s;
    struct discard d;

    path_of(path, sizeof(path), "no-such-dir/standby.signal");
    dir_("old");
    dir_("old/base");
    put("old/base/1");
    path_of(old, sizeof(old), "old");
    capture();
    step_begin(&s, "clone", "copying");
    int in_step = fs_write_atomic(path, "", 0, 0600);
    step_end(&s, in_step);
    int outside = fs_write_atomic(path, "", 0, 0600);
    int began = discard_begin(&d, old, NULL, NULL);
    int beside_wipe = fs_write_atomic(path, "", 0, 0600);
    int ended = discard_end(&d);
    char *log = captured(&lines);
    CHECK(in_step == -1 && outside == -1 && beside_wipe == -1 && began == 0 && ended == 0);
    CHECK_CONTAINS(log, "ERROR   clone: could not create file");
    CHECK_CONTAINS(log, "ERROR   files: could not create file");
    CHECK(log && !strstr(log, "ERROR   wipe: could not create file"));
    CHECK_CONTAINS(log, "INFO    wipe: done in");
    free(log);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    snprintf(log_path, sizeof(log_path), "%s.log", root);
    test_inspect_readdir_fails();
    test_initdb_d_readdir_fails();
    test_walks_readdir_fails();
    test_chown_fails_once();
    test_dir_fsync_fails_once();
    test_logs_under_callers_step();
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "test_fsutil_faults: could not remove %s\n", root);
    return check_done("test_fsutil_faults");
}

/* fsutil.c: the wipe keeps what it must (lost+found, the marker, anything a
 * symlink points to outside), empties a pg_wal link's target, never crosses
 * a mount, and does not empty a pg_wal link's target that holds more than
 * WAL; setting aside moves what it may and leaves the rest; discard.c gives
 * the same end state as the wipe, and refuses a mount below PGDATA before
 * moving anything; atomic writes land with their mode. */
#include "check.h"
#include "datadir.h"
#include "discard.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/pgep-fsutil-XXXXXX";

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void dir_(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    CHECK(mkdir(path, 0700) == 0);
}

static void link_(const char *target_rel, const char *rel)
{
    char path[512], target[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(target, sizeof(target), "%s/%s", root, target_rel);
    CHECK(symlink(target, path) == 0);
}

static bool there(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return fs_exists(path);
}

static void test_wipe(void)
{
    dir_("data");
    dir_("data/lost+found");
    put("data/lost+found/kept", "x");
    put("data/.hidden", "x");
    put("data/" DATADIR_CLONE_MARKER, "x");
    dir_("data/base");
    dir_("data/base/1");
    put("data/base/1/1259", "x");
    dir_("outside");
    put("outside/precious", "keep me");
    link_("outside", "data/link-to-outside");
    link_("outside/precious", "data/base/file-link");
    dir_("wal");
    put("wal/000000010000000000000001", "x");
    dir_("wal/archive_status");
    link_("wal", "data/pg_wal");

    char data[512];
    snprintf(data, sizeof(data), "%s/data", root);
    const char *keep[] = {DATADIR_CLONE_MARKER, "lost+found", NULL};
    CHECK(fs_wipe_contents(data, keep, NULL) == 0);

    CHECK(there("data"));
    CHECK(there("data/lost+found/kept"));
    CHECK(there("data/" DATADIR_CLONE_MARKER));
    CHECK(!there("data/.hidden"));
    CHECK(!there("data/base"));
    CHECK(!there("data/link-to-outside"));
    CHECK(!there("data/pg_wal"));
    CHECK(there("outside/precious")); /* never followed */
    CHECK(there("wal"));              /* the WAL directory stays, emptied */
    CHECK(!there("wal/000000010000000000000001"));
    CHECK(!there("wal/archive_status"));
}

/* Needs root and tmpfs; skipped (and counted so) where mounting is not allowed. */
static void test_wipe_stops_at_mounts(void)
{
    char mnt[512], data[512];
    dir_("mdata");
    dir_("mdata/sub");
    snprintf(mnt, sizeof(mnt), "%s/mdata/sub", root);
    snprintf(data, sizeof(data), "%s/mdata", root);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0)
        CHECK_SKIP("cannot mount a tmpfs at \"%s\" (%s); mount crossing not tested", mnt,
                   strerror(errno));
    put("mdata/sub/on-other-mount", "x");
    CHECK(fs_wipe_contents(data, NULL, NULL) == -1);
    CHECK(there("mdata/sub/on-other-mount"));
    umount(mnt);
}

/* A pg_wal link to something that is not a WAL directory (its parent, a
 * directory with other data) loses the link only. */
static void test_wipe_keeps_foreign_wal_target(void)
{
    char data[512];

    dir_("fdata");
    dir_("fdata/base");
    dir_("shared");
    put("shared/000000010000000000000003", "x");
    put("shared/notes.txt", "not WAL");
    link_("shared", "fdata/pg_wal");
    snprintf(data, sizeof(data), "%s/fdata", root);
    CHECK(fs_wipe_contents(data, NULL, NULL) == 0);
    CHECK(!there("fdata/pg_wal"));
    CHECK(there("shared/notes.txt"));
    CHECK(there("shared/000000010000000000000003"));

    /* relative, to the parent of PGDATA: PGDATA's siblings survive */
    dir_("pdata");
    char link[512];
    snprintf(link, sizeof(link), "%s/pdata/pg_wal", root);
    CHECK(symlink("..", link) == 0);
    put("sibling", "next to PGDATA");
    snprintf(data, sizeof(data), "%s/pdata", root);
    CHECK(fs_wipe_contents(data, NULL, NULL) == 0);
    CHECK(there("sibling"));
    CHECK(there("pdata"));
    CHECK(!there("pdata/pg_wal"));
}

/* Needs root and tmpfs, like test_wipe_stops_at_mounts. */
static void test_discard_with_a_mount_below(void)
{
    char mnt[512], data[512];
    const char *keep[] = {DATADIR_CLONE_MARKER, NULL};
    struct discard d;

    dir_("mbdata");
    dir_("mbdata/base");
    dir_("mbdata/base/sub");
    snprintf(data, sizeof(data), "%s/mbdata", root);
    CHECK(fs_mounts_below(data) == 0);
    snprintf(mnt, sizeof(mnt), "%s/mbdata/base/sub", root);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0)
        CHECK_SKIP("cannot mount a tmpfs at \"%s\" (%s); mounts below not tested", mnt,
                   strerror(errno));
    put("mbdata/base/sub/on-other-mount", "x");
    CHECK(fs_mounts_below(data) == 1);
    CHECK(fs_mounts_below(mnt) == 0); /* a mount on the directory itself is not below it */
    /* refused before anything is set aside, by the plain wipe */
    int rc = discard_begin(&d, data, keep, NULL);
    CHECK(rc == -1 || discard_end(&d) == -1);
    CHECK(!there("mbdata/" DISCARD_TRASH));
    CHECK(there("mbdata/base/sub/on-other-mount"));
    umount(mnt);
}

static bool always(void)
{
    return true;
}

static void test_wipe_stops_when_asked(void)
{
    char data[512];

    dir_("sdata");
    put("sdata/a", "x");
    snprintf(data, sizeof(data), "%s/sdata", root);
    CHECK(fs_wipe_contents(data, NULL, always) == -1);
    CHECK(there("sdata/a"));
}

/* The tree test_wipe starts from, under top. */
static void old_cluster(const char *top)
{
    char rel[256];
#define AT(x) (snprintf(rel, sizeof(rel), "%s/%s", top, x), rel)
    dir_(top);
    dir_(AT("lost+found"));
    put(AT("lost+found/kept"), "x");
    put(AT(".hidden"), "x");
    put(AT(DATADIR_CLONE_MARKER), "x");
    dir_(AT("base"));
    dir_(AT("base/1"));
    put(AT("base/1/1259"), "x");
    link_("outside", AT("link-to-outside"));
    link_("outside/precious", AT("base/file-link"));
    link_("wal", AT("pg_wal"));
#undef AT
}

static void test_move_aside(void)
{
    char data[512];
    const char *keep[] = {DATADIR_CLONE_MARKER, "lost+found", NULL};

    old_cluster("adata");
    /* an earlier run's trash, holding a name that is about to move again */
    dir_("adata/" DISCARD_TRASH);
    dir_("adata/" DISCARD_TRASH "/base");
    put("adata/" DISCARD_TRASH "/base/old", "x");
    snprintf(data, sizeof(data), "%s/adata", root);
    CHECK(fs_move_aside(data, DISCARD_TRASH, keep) == 0);

    CHECK(there("adata/" DATADIR_CLONE_MARKER));
    CHECK(there("adata/lost+found/kept"));
    CHECK(there("adata/pg_wal"));                    /* stays: its target is emptied in place */
    CHECK(there("adata/base/1/1259"));               /* stays: the trash has a "base" already */
    CHECK(there("adata/" DISCARD_TRASH "/.hidden")); /* moved */
    CHECK(there("adata/" DISCARD_TRASH "/link-to-outside"));
    CHECK(!there("adata/.hidden"));
    CHECK(there("outside/precious"));
}

static void test_discard(void)
{
    char data[512];
    const char *keep[] = {DATADIR_CLONE_MARKER, "lost+found", NULL};
    struct discard d;

    put("wal/000000010000000000000002", "x");
    old_cluster("ddata");
    dir_("ddata/" DISCARD_TRASH);
    put("ddata/" DISCARD_TRASH "/left-by-an-earlier-run", "x");
    snprintf(data, sizeof(data), "%s/ddata", root);
    CHECK(discard_begin(&d, data, keep, NULL) == 0);
    CHECK(discard_end(&d) == 0);

    CHECK(there("ddata/lost+found/kept"));
    CHECK(there("ddata/" DATADIR_CLONE_MARKER));
    CHECK(!there("ddata/" DISCARD_TRASH));
    CHECK(!there("ddata/.hidden"));
    CHECK(!there("ddata/base"));
    CHECK(!there("ddata/pg_wal"));
    CHECK(there("outside/precious"));
    CHECK(there("wal"));
    CHECK(!there("wal/000000010000000000000002"));

    /* asked to stop: it fails, and the marker (which makes the next start
     * wipe again) is still there */
    old_cluster("sddata");
    snprintf(data, sizeof(data), "%s/sddata", root);
    int rc = discard_begin(&d, data, keep, always);
    CHECK(rc == -1 || discard_end(&d) == -1);
    CHECK(there("sddata/" DATADIR_CLONE_MARKER));
    /* The marker is kept whether or not the stop was honoured, so the line
     * above alone cannot tell a stopped discard from a finished one. Stopped,
     * the old contents are still there (set aside or in place), and the next
     * start reads the directory as an interrupted clone: it wipes again. */
    CHECK(there("sddata/" DISCARD_TRASH "/base/1/1259") || there("sddata/base/1/1259"));
    CHECK(there("sddata/" DISCARD_TRASH "/.hidden") || there("sddata/.hidden"));
    struct datadir_facts f;
    CHECK(datadir_inspect(data, &f) == 0 && datadir_classify(&f) == DATADIR_CLONE_INTERRUPTED);
}

static void test_atomic_write_and_move(void)
{
    char path[512], src[512], dst[512];
    struct stat st;
    char *data;
    size_t len;

    snprintf(path, sizeof(path), "%s/secret", root);
    CHECK(fs_write_atomic(path, "pw\n", 3, 0600) == 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(fs_read(path, 100, &data, &len) == 0 && len == 3);
    free(data);
    CHECK(fs_write_atomic(path, "new", 3, 0600) == 0);
    CHECK(fs_read(path, 100, &data, &len) == 0);
    CHECK_STR(data, "new");
    free(data);
    /* the same content again is no write at all (the inode stays); new content is */
    struct stat before, after;
    CHECK(stat(path, &before) == 0);
    CHECK(fs_write_atomic(path, "new", 3, 0600) == 0);
    CHECK(stat(path, &after) == 0 && after.st_ino == before.st_ino);
    CHECK(fs_write_atomic(path, "new", 3, 0640) == 0);
    CHECK(stat(path, &after) == 0 && after.st_ino != before.st_ino &&
          (after.st_mode & 0777) == 0640);
    CHECK(fs_write_atomic(path, "new", 3, 0600) == 0);
    CHECK(fs_append(path, "+more", 0600) == 0);
    CHECK(fs_read(path, 100, &data, &len) == 0);
    CHECK_STR(data, "new+more");
    free(data);

    dir_("src");
    dir_("src/global");
    put("src/PG_VERSION", "15\n");
    dir_("dst");
    snprintf(src, sizeof(src), "%s/src", root);
    snprintf(dst, sizeof(dst), "%s/dst", root);
    CHECK(fs_move_contents(src, dst) == 0);
    CHECK(there("dst/PG_VERSION") && there("dst/global") && !there("src"));
}

static void test_inspect(void)
{
    struct datadir_facts f;
    char d[512];

    dir_("pgdata");
    snprintf(d, sizeof(d), "%s/pgdata", root);
    CHECK(datadir_inspect(d, &f) == 0 && datadir_classify(&f) == DATADIR_EMPTY);
    dir_("pgdata/lost+found");
    put("pgdata/.dotfile", "");
    CHECK(datadir_inspect(d, &f) == 0 && datadir_classify(&f) == DATADIR_EMPTY);
    put("pgdata/notes.txt", "x");
    CHECK(datadir_inspect(d, &f) == 0 && datadir_classify(&f) == DATADIR_NOT_A_CLUSTER);
    put("pgdata/PG_VERSION", "15\n");
    CHECK(datadir_inspect(d, &f) == 0 && datadir_classify(&f) == DATADIR_CONTROL_BROKEN);
    put("pgdata/" DATADIR_CLONE_MARKER, "");
    CHECK(datadir_inspect(d, &f) == 0 && datadir_classify(&f) == DATADIR_CLONE_INTERRUPTED);
    snprintf(d, sizeof(d), "%s/pgdata/notes.txt", root);
    CHECK(datadir_inspect(d, &f) == 0 && datadir_classify(&f) == DATADIR_NOT_A_DIRECTORY);
    snprintf(d, sizeof(d), "%s/missing", root);
    CHECK(datadir_inspect(d, &f) == 0 && !f.exists && datadir_classify(&f) == DATADIR_EMPTY);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    CHECK_RUN(test_wipe);
    CHECK_RUN(test_wipe_stops_at_mounts);
    CHECK_RUN(test_wipe_stops_when_asked);
    CHECK_RUN(test_wipe_keeps_foreign_wal_target);
    CHECK_RUN(test_discard_with_a_mount_below);
    CHECK_RUN(test_move_aside);
    CHECK_RUN(test_discard);
    CHECK_RUN(test_atomic_write_and_move);
    CHECK_RUN(test_inspect);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "test_fsutil: could not remove %s\n", root);
    return check_done("test_fsutil");
}

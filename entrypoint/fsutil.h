/* File-system primitives with the care a data directory needs: atomic,
 * durable writes; a wipe that never follows a symlink nor crosses a mount;
 * owner and mode fixes. */
#ifndef PGEP_FSUTIL_H
#define PGEP_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* mkdir -p path (new directories get mode), then make the last component
 * owned by uid:gid with exactly mode. */
int fs_ensure_dir(const char *path, mode_t mode, uid_t uid, gid_t gid);

/* Changes owner of path and everything below it (not following symlinks,
 * not crossing mounts) to uid:gid. */
int fs_chown_tree(const char *path, uid_t uid, gid_t gid);

/* Writes data to path atomically: a temporary file, fsync, rename, fsync of
 * the directory. The file gets mode. Does nothing when path already holds
 * exactly that, with that mode. */
int fs_write_atomic(const char *path, const char *data, size_t len, mode_t mode);

/* Appends data to path (created with mode when missing), then fsyncs it. */
int fs_append(const char *path, const char *data, mode_t mode);

/* Reads a whole file of at most max bytes into a NUL-terminated buffer. */
int fs_read(const char *path, size_t max, char **data, size_t *len);

int fs_fsync_path(const char *path);

bool fs_exists(const char *path);

/* Removes everything inside dir except the top-level names in keep
 * (NULL-terminated, may be NULL). Symlinks are removed, never followed,
 * except a top-level pg_wal symlink: the WAL directory it points to belongs
 * to the cluster and is emptied too. Refuses to enter another mount. Stops
 * early (returning -1) once should_stop (may be NULL) returns true: a large
 * wipe must not hold up `docker stop`. */
int fs_wipe_contents(const char *dir, const char *const keep[], bool (*should_stop)(void));

/* Renames the top-level entries of dir, except those named in keep, into
 * its subdirectory into (created 0700 when missing), so that deleting them
 * can wait: a rename each, whatever they hold. Entries that cannot move
 * stay where they are, to be wiped in place: another mount, a pg_wal
 * symlink (whose target fs_wipe_contents empties), a name the subdirectory
 * already holds. A mount deeper down would move with its parent: callers
 * check fs_mounts_below first. -1 when dir or into cannot be used at all. */
int fs_move_aside(const char *dir, const char *into, const char *const keep[]);

/* Whether path (as given, not resolved) is a mount point of this process's
 * mount table; false when the table cannot be read. */
bool fs_is_mount_point(const char *path);

/* 1 when something is mounted below dir (not on dir itself), 0 when not,
 * -1 when it cannot tell (/proc not mounted). */
int fs_mounts_below(const char *dir);

/* Moves every entry of src into dst (same file system) and removes src. */
int fs_move_contents(const char *src, const char *dst);

#endif

/* File-system primitives with the care a data directory needs: atomic,
 * durable writes; a wipe that never follows a symlink nor crosses a mount;
 * owner and mode fixes. */
#ifndef PGEP_FSUTIL_H
#define PGEP_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Unless said otherwise, each function here logs its own failure, once,
 * under the caller's step (log_step), and its callers do not log it again. */

/* What a directory walk's callback returns: 0 to go on, FS_WALK_STOP to
 * end the walk there (it then returns FS_WALK_STOP), FS_WALK_REPORTED when
 * it failed and has logged why (the walk then returns that). */
#define FS_WALK_STOP 1
#define FS_WALK_REPORTED (-2)
typedef int (*fs_entry_fn)(int dirfd, const char *name, const struct stat *st, void *arg);

/* The one directory walker: calls fn for each entry of the directory open
 * as dirfd, "." and ".." aside, with its lstat (an entry that vanishes
 * meanwhile is skipped). Returns 0 at the end, what fn returned when it
 * stopped the walk, or -1 with errno set when the directory could not be
 * read; that failure it does not log, as only the caller can name the
 * directory. A readdir that fails is that error, never the end of the
 * directory: a full directory taken for an empty one gets cloned over. */
int fs_walk_dir(int dirfd, fs_entry_fn fn, void *arg);

/* fs_walk_dir on the directory at path; -1 with errno set when it cannot be
 * opened either. */
int fs_walk_path(const char *path, fs_entry_fn fn, void *arg);

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

/* Reads a whole file of at most max bytes into a NUL-terminated buffer.
 * Logs nothing: to most callers a file that is not there is an answer. */
int fs_read(const char *path, size_t max, char **data, size_t *len);

int fs_fsync_path(const char *path);

/* Logs nothing. */
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
 * mount table; false when the table cannot be read. Logs nothing. */
bool fs_is_mount_point(const char *path);

/* 1 when something is mounted below dir (not on dir itself), 0 when not,
 * -1 when it cannot tell (/proc not mounted). Logs nothing. */
int fs_mounts_below(const char *dir);

/* Moves every entry of src into dst (same file system) and removes src. */
int fs_move_contents(const char *src, const char *dst);

#endif

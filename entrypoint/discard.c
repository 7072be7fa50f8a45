#include "discard.h"

#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The old copy is at most what the volume holds in use, and the new one is
 * about as large: overlapping is safe when that much is free. A volume
 * shared with other data only makes this more cautious. */
static bool room_for_both(const char *dir)
{
    struct statvfs v;

    if (statvfs(dir, &v) < 0)
        return false;
    unsigned long long used = (unsigned long long)(v.f_blocks - v.f_bfree) * v.f_frsize;
    unsigned long long avail = (unsigned long long)v.f_bavail * v.f_frsize;
    if (avail >= used)
        return true;
    log_info("wipe",
             "\"%s\" has %llu MB free and %llu MB in use: the old copy goes before the clone "
             "starts, not while it runs",
             dir, avail >> 20, used >> 20);
    return false;
}

/* A mount below dir would be renamed along with its parent and refused only
 * by the deletion, after the whole copy: the plain wipe refuses it first. */
static bool can_set_aside(const char *dir)
{
    int below = fs_mounts_below(dir);
    if (below == 1)
        log_info("wipe", "something is mounted below \"%s\": not setting its contents aside", dir);
    return below == 0;
}

static int wipe_now(const char *dir, const char *const keep[], bool (*should_stop)(void))
{
    struct step s;
    step_begin(&s, "wipe", "removing the old contents of \"%s\"", dir);
    return step_end(&s, fs_wipe_contents(dir, keep, should_stop));
}

static void *delete_trash(void *arg)
{
    struct discard *d = arg;

    step_attach(&d->step);
    int rc = fs_wipe_contents(d->trash, NULL, d->should_stop);
    if (rc == 0 && rmdir(d->trash) < 0) {
        log_error("wipe", "could not remove \"%s\": %s", d->trash, strerror(errno));
        rc = -1;
    }
    d->rc = step_end(&d->step, rc);
    return NULL;
}

int discard_begin(struct discard *d, const char *dir, const char *const keep[],
                  bool (*should_stop)(void))
{
    const char *keep_all[DISCARD_KEEP_MAX + 2];
    size_t n = 0;

    memset(d, 0, sizeof(*d));
    d->dir = dir;
    d->should_stop = should_stop;
    for (; keep && keep[n]; n++) {
        if (n == DISCARD_KEEP_MAX) {
            log_error("wipe", "more than %d names to keep in \"%s\"", DISCARD_KEEP_MAX, dir);
            return -1;
        }
        keep_all[n] = keep[n];
    }
    keep_all[n++] = DISCARD_TRASH;
    keep_all[n] = NULL;

    if (snprintf(d->trash, sizeof(d->trash), "%s/%s", dir, DISCARD_TRASH) >=
            (int)sizeof(d->trash) ||
        !can_set_aside(dir) || !room_for_both(dir) || fs_move_aside(dir, DISCARD_TRASH, keep) < 0) {
        /* the trash of an earlier run, if any, goes too */
        keep_all[n - 1] = NULL;
        return wipe_now(dir, keep_all, should_stop);
    }
    step_begin(&d->step, "wipe",
               "removing the old contents of \"%s\" (set aside in %s, while the clone runs)", dir,
               DISCARD_TRASH);
    /* What could not be set aside (normally nothing) is deleted in place,
     * under the wipe's own rules, before the clone starts. */
    if (fs_wipe_contents(dir, keep_all, should_stop) < 0)
        return step_end(&d->step, -1);

    /* The step goes on in the thread; this one returns to its caller's. */
    step_detach(&d->step);
    /* Every handled signal stays with the main thread, which forwards it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    d->running = pthread_create(&d->thread, NULL, delete_trash, d) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!d->running)
        delete_trash(d);
    return d->running ? 0 : d->rc;
}

int discard_end(struct discard *d)
{
    if (d->running) {
        pthread_join(d->thread, NULL);
        d->running = false;
    }
    return d->rc;
}

#include "promoted.h"

#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int record_path(const char *pgdata, char *path, size_t len)
{
    return snprintf(path, len, "%s/%s", pgdata, PROMOTED_RECORD) < (int)len ? 0 : -1;
}

int promoted_write(const char *pgdata, uint64_t sysid, uint32_t from_tli)
{
    char path[PATH_MAX], text[256], when[32];
    time_t now = time(NULL);
    struct tm tm;

    if (record_path(pgdata, path, sizeof(path)) < 0) {
        log_error(log_step("promote"), "PGDATA \"%s\" is too long", pgdata);
        return -1;
    }
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    int n = snprintf(text, sizeof(text),
                     "# pg-entrypoint: this node was promoted by `pg-entrypoint promote`;\n"
                     "# it starts as a primary whatever its environment says.\n"
                     "system_identifier = %" PRIu64 "\npromoted_from_timeline = %" PRIu32
                     "\npromoted_at = %s\n",
                     sysid, from_tli, when);
    return fs_write_atomic(path, text, (size_t)n, 0600);
}

bool promoted_read(const char *pgdata, uint64_t sysid, char *when, size_t len)
{
    char path[PATH_MAX], *text = NULL;
    bool match = false;

    if (when && len)
        when[0] = '\0';
    if (record_path(pgdata, path, sizeof(path)) < 0 || !fs_exists(path) ||
        fs_read(path, 4096, &text, NULL) < 0)
        return false;
    const char *s = strstr(text, "system_identifier = ");
    const char *t = strstr(text, "promoted_at = ");
    match = s && strtoull(s + 20, NULL, 10) == sysid;
    if (match && t && when && len)
        snprintf(when, len, "%.*s", (int)strcspn(t + 14, "\n"), t + 14);
    free(text);
    return match;
}

int promoted_remove(const char *pgdata)
{
    char path[PATH_MAX];

    if (record_path(pgdata, path, sizeof(path)) < 0)
        return -1;
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return 0;
        log_error(log_step("data"), "could not remove \"%s\": %s", path, strerror(errno));
        return -1;
    }
    return fs_fsync_path(pgdata);
}

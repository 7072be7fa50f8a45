/* The environment as given: lookup, the secret variables, and the error
 * buffer of configuration checks. Includes no other module of ours. */
#include "env.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *env_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static const char *const secret_names[] = {
    "POSTGRES_PASSWORD",
    "POSTGRES_REPLICATION_PASSWORD",
    "POSTGRESQL_PASSWORD",
    "POSTGRESQL_REPLICATION_PASSWORD",
    "POSTGRESQL_POSTGRES_PASSWORD",
    "PGPASSWORD",
};

bool env_is_secret(const char *entry)
{
    for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++) {
        size_t n = strlen(secret_names[i]);
        if (strncmp(entry, secret_names[i], n) == 0 && entry[n] == '=')
            return true;
    }
    return false;
}

/* Messages echo the value they refuse, which can be long (a whole file's
 * worth): shorten the message before its hint, never the hint. */
int env_fail(char *err, size_t errlen, const char *fmt, ...)
{
    char *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&full, fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* The last one: the value itself may hold "; hint: ". */
    const char *hint = NULL;
    for (const char *h = strstr(full, "; hint: "); h; h = strstr(h + 1, "; hint: "))
        hint = h;
    size_t tail = hint ? strlen(hint) : 0;
    if ((size_t)n >= errlen && hint && tail + 4 < errlen)
        snprintf(err, errlen, "%.*s...%s", (int)(errlen - tail - 4), full, hint);
    else
        snprintf(err, errlen, "%s", full);
    free(full);
    return -1;
}

/* Splits a string into words the way a POSIX shell would for a simple
 * command line (quotes and backslashes, no expansions), so that
 * POSTGRES_INITDB_ARGS works without ever running a shell. */
#ifndef PGEP_WORDS_H
#define PGEP_WORDS_H

#include <stddef.h>

struct words {
    char **v; /* NULL-terminated */
    size_t n;
};

/* Returns 0, or -1 with a reason in err (unbalanced quote, trailing backslash). */
int words_split(const char *s, struct words *out, char *err, size_t errlen);
void words_free(struct words *w);

#endif

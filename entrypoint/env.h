/* The environment as given: lookup, which variables are secrets, and the
 * message buffer that configuration errors are written into. A leaf: it
 * includes no other module, so config, proc and the rest can all use it. */
#ifndef PGEP_ENV_H
#define PGEP_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* Value of NAME in envp, or NULL. */
const char *env_lookup(char *const *envp, const char *name);

/* True for the variables that hold secrets: they are removed from the
 * environment of every child and of postgres. */
bool env_is_secret(const char *entry);

/* Formats the message into err (shortening an echoed value, never the
 * hint) and returns -1. */
int env_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

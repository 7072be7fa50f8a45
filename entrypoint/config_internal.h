/* Shared by config.c (loading) and config_check.c (validation) only. */
#ifndef PGEP_CONFIG_INTERNAL_H
#define PGEP_CONFIG_INTERNAL_H

#include "config.h"

#include <stddef.h>

/* Formats the message into err (shortening an echoed value, never the
 * hint) and returns -1. */
int config_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks every value of a loaded cfg; fills in the derived slot name. */
int config_validate(struct config *cfg, char *const *envp, const char *hostname, char *err,
                    size_t errlen);

#endif

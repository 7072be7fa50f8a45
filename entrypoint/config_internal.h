/* Shared by config.c (loading) and config_check.c (validation) only. */
#ifndef PGEP_CONFIG_INTERNAL_H
#define PGEP_CONFIG_INTERNAL_H

#include "config.h"

#include <stddef.h>

/* Checks every value of a loaded cfg; fills in the derived slot name. */
int config_validate(struct config *cfg, char *const *envp, const char *hostname, char *err,
                    size_t errlen);

/* POSTGRES_PEERS into cfg->peers (config_peers.c); config_free_peers frees them. */
int config_load_peers(struct config *cfg, char *const *envp, const char *hostname, char *err,
                      size_t errlen);
void config_free_peers(struct config *cfg);

#endif

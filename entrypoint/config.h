/* The environment, read once into one immutable struct config: defaults,
 * `_FILE` secrets, Bitnami aliases, and validation whose messages name the
 * variable and say how to fix it. Nothing here touches the data directory. */
#ifndef PGEP_CONFIG_H
#define PGEP_CONFIG_H

#include "env.h" /* env_lookup: the users of config read the environment too */

#include <stdbool.h>
#include <stddef.h>

enum role { ROLE_PRIMARY, ROLE_REPLICA };

/* initdb gets at most this many words from POSTGRES_INITDB_ARGS. */
#define CONFIG_INITDB_ARGS_MAX 64
enum reseed { RESEED_AUTO, RESEED_NEVER, RESEED_FORCE };

/* POSTGRES_PEERS lists at most this many members. */
#define CONFIG_PEERS_MAX 16

/* A member of the cluster named in POSTGRES_PEERS. */
struct peer_addr {
    char *host;
    int port;  /* 5432 when the entry gives none */
    bool self; /* the entry names this node (its host name) */
};

struct config {
    enum role role;
    int server_major;         /* the major of the postgres on PATH (server.h); 0: unknown */
    char *pgdata;             /* default /var/lib/postgresql/data; from 18, <major>/docker */
    bool pgdata_explicit;     /* PGDATA was set (a Bitnami volume sets it too) */
    char *status_file;        /* where a start says what it is doing (status.h) */
    char *superuser;          /* POSTGRES_USER */
    char *superuser_password; /* POSTGRES_PASSWORD, NULL when unset */
    char *database;           /* POSTGRES_DB */
    char *host_auth_method;   /* POSTGRES_HOST_AUTH_METHOD's first line, NULL: scram-sha-256 */
    char *hba_extra;          /* its later lines (pg_hba records), NULL when none */
    char *initdb_args;        /* POSTGRES_INITDB_ARGS, NULL when unset */
    char *initdb_waldir;      /* POSTGRES_INITDB_WALDIR, NULL when unset */

    /* The role and the primary below may be changed once by failover.c
     * (failover_resolve), after the data directory is classified and
     * before the checks: a promotion record makes a primary, a writable
     * peer on a newer timeline a replica of that peer. */
    char *primary_host;
    int primary_port;
    char *repl_user;
    bool repl_user_explicit; /* set in the environment, not the default */
    char *repl_password;     /* NULL when unset (allowed on a primary) */
    char *slot;              /* NULL when POSTGRES_REPLICATION_SLOT=none */
    bool slot_explicit;      /* set by POSTGRES_REPLICATION_SLOT, not derived */
    char *repl_allow;        /* comma-separated pg_hba address fields */
    int sync_replicas;
    char *sync_commit; /* synchronous_commit when sync_replicas > 0 */
    char *wal_keep_size;
    char *max_slot_wal_keep_size;
    struct peer_addr *peers; /* POSTGRES_PEERS, in its order; NULL when unset */
    size_t npeers;
    int max_wal_senders;
    unsigned wait_timeout_s; /* 0: wait for ever */
    enum reseed reseed;
    int hba_extra_records; /* how many lines of hba_extra are records (not blank or comments) */
    char role_source[160]; /* the setting that decided the role, for the log and plan */
};

/* Reads the variables from envp (NULL-terminated "NAME=value" strings).
 * hostname is the container's host name, used for POSTGRES_ROLE=auto and the
 * default slot name; NULL: HOSTNAME from envp, else gethostname(). On error returns -1 with a
 * message naming the variable and a hint in err. */
int config_load(struct config *cfg, char *const *envp, const char *hostname, char *err,
                size_t errlen);
void config_free(struct config *cfg);

/* The authentication method for the `host` pg_hba lines. */
const char *config_auth_method(const struct config *cfg);

/* Slot name derived from a host name: lower case, [a-z0-9_] only, at most
 * 63 characters. Returns -1 when nothing usable is left. */
int config_slot_from_hostname(const char *hostname, char *out, size_t outlen);

/* Validators shared with other modules' inputs. */
bool config_valid_slot_name(const char *s);
bool config_valid_size(const char *s, bool allow_minus_one);

#endif

/* `pg-entrypoint promote [--wait SECONDS] [--force]`, run in a standby's
 * container: refuses on a primary and, asking the other members
 * (POSTGRES_PRIMARY_HOST and POSTGRES_PEERS), while one of them still
 * accepts writes or (unless --force) has received more WAL; records the
 * promotion in PGDATA (promoted.h) before promoting, waits until the node
 * accepts writes, prints its new timeline, and creates the slots the other
 * standbys stream through. */
#ifndef PGEP_PROMOTE_H
#define PGEP_PROMOTE_H

int promote_main(int argc, char **argv, char **envp);

#endif

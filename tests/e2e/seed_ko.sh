#!/usr/bin/env bash
# Recipe 000 (Korean, tests/e2e/seeds/ko/) with our image for both services:
# the primary runs init.sql and set_pg_hba.sh from /docker-entrypoint-initdb.d;
# the replica initdb's a throwaway cluster, and its init.sh (run against the
# temporary server) waits for the primary, stops that server, empties
# PGDATA, pg_basebackup -R's from the primary and starts it again; then
# the entrypoint stops it and runs postgres, which comes up as a standby.
#
# Asserted, with the recipe's credentials (keti_root/madcoder, keti_3pdx):
# a row written on the primary is read on the replica, which streams. Then
# restarts: the replica alone, the primary alone, both (`compose restart`),
# both again (`compose stop` + `compose start`). After each: both containers
# run, the replica streams again, a new row arrives on it, and a file put
# into its PGDATA before the first restart is still there (it was not
# re-cloned). Every stop exits 0, and pg-entrypoint's log lines hold no
# error and no refusal. Prints the seconds from `up` to the replayed row.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init seed-ko
e2e_require_images
use_seed_compose "$E2E_DIR/seeds/ko" primary replica
E2E_DB_USER=keti_root
E2E_DB_NAME=keti_3pdx
PRIMARY_PASSWORD=madcoder
SURVIVOR=/var/lib/postgresql/data/e2e-survivor

t0=$(now)
start_stack
primary=$(cid primary)
replica=$(cid replica)
insert_row "$primary" first 180
wait_row "$replica" first 240
log "seed_ko: up -> row on replica: $(elapsed "$t0") s"
# The row may have been read on the server init.sh started (pg_ctl start);
# the entrypoint then stops it and execs postgres: wait for that one.
wait_for 120 "$(cname "$replica"): initialisation over, PID 1 is postgres" pid1_is_postgres "$replica" ||
    fail "the replica's PID 1 is not postgres within 120 s (initialisation never ended)"
wait_streaming "$replica" 60
in_recovery "$replica" || fail "the replica is not in recovery"
logs_clean "$primary" "$replica"
exits_clean "$t0" "$primary" "$replica"

docker exec -u postgres "$replica" touch "$SURVIVOR" ||
    fail "could not create $SURVIVOR in the replica"

# after_restart NAME SINCE: pair_restarted (lib.sh), and the replica kept
# its data directory.
after_restart() {
    pair_restarted "$1" "$2" primary replica
    docker exec "$replica" test -f "$SURVIVOR" ||
        fail "$1: $SURVIVOR is gone: the replica's data directory was wiped (re-cloned)"
    log "$1: both run, the replica streams, kept its data directory and got the new row"
}

since=$(date +%s.%N)
compose restart replica || fail "compose restart replica failed"
after_restart replica-restarted "$since"

since=$(date +%s.%N)
compose restart primary || fail "compose restart primary failed"
after_restart primary-restarted "$since"

since=$(date +%s.%N)
compose restart || fail "compose restart failed"
after_restart both-restarted "$since"

since=$(date +%s.%N)
compose stop || fail "compose stop failed"
for c in "$primary" "$replica"; do
    state=$(docker inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$c")
    [ "$state" = "false 0" ] || fail "after compose stop, $(cname "$c") is (running, exit code) = ($state), not (false, 0)"
done
compose start || fail "compose start failed"
after_restart both-stopped-started "$since"
show_entrypoint_lines "$primary" "$replica"

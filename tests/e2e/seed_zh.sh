#!/usr/bin/env bash
# Recipe 001 (Chinese, tests/e2e/seeds/zh/) with our image for both services,
# its compose file otherwise verbatim: `user: postgres`, `version: '3.8'`,
# POSTGRES_HOST_AUTH_METHOD "scram-sha-256\nhost replication all 0.0.0.0/0 md5"
# (a real line break: the second line becomes a pg_hba.conf line), the
# primary's multi-line `command:` (postgres -c ...), 00_init.sql creating the
# replicator role and a physical slot, and the replica's own `bash -c "until
# pg_basebackup ...; postgres"`.
#
# Asserted, with the recipe's credentials (postgres/postgres, mydatabase):
# a row written on the primary is read on the replica, which streams. Then
# the primary alone is restarted (`compose restart`, then `compose stop` +
# `compose start`; the replica's shell loop clones on every start, so the
# recipe cannot restart the replica, not even on the official image). After
# each: both run, the replica streams again and gets a new row; every stop
# exits 0; pg-entrypoint's log lines hold no error and no refusal. Prints
# the seconds from `up` to the replayed row.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init seed-zh
e2e_require_images
use_seed_compose "$E2E_DIR/seeds/zh" postgres_master postgres_slave
E2E_DB_USER=postgres
E2E_DB_NAME=mydatabase
PRIMARY_PASSWORD=postgres

t0=$(now)
start_stack
primary=$(cid postgres_master)
replica=$(cid postgres_slave)
insert_row "$primary" first 180
wait_row "$replica" first 240
log "seed_zh: up -> row on replica: $(elapsed "$t0") s"
wait_streaming "$replica" 60
in_recovery "$replica" || fail "the replica is not in recovery"
# the recipe's settings are in effect: its -c flags and its pg_hba.conf line
[ "$(psql_tcp "$primary" "SHOW max_replication_slots")" = 10 ] ||
    fail "the primary's max_replication_slots is not the command's 10"
[ "$(psql_tcp "$primary" "SELECT active FROM pg_replication_slots WHERE slot_name = 'replication_slot'")" = t ] ||
    fail "the slot replication_slot from 00_init.sql is not active on the primary"
hba=$(psql_tcp "$primary" "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND 'replication' = ANY (database) AND address = '0.0.0.0' AND auth_method = 'md5'")
[ "$hba" = 1 ] || fail "the primary's pg_hba.conf has no 'host replication all 0.0.0.0/0 md5' line (from POSTGRES_HOST_AUTH_METHOD)"
logs_clean "$primary" "$replica"
exits_clean "$t0" "$primary" "$replica"

# after_restart NAME SINCE: pair_restarted (lib.sh).
after_restart() {
    pair_restarted "$1" "$2" postgres_master postgres_slave
    log "$1: both run, the replica streams again and got the new row"
}

since=$(date +%s.%N)
compose restart postgres_master || fail "compose restart postgres_master failed"
after_restart primary-restarted "$since"

since=$(date +%s.%N)
compose stop postgres_master || fail "compose stop postgres_master failed"
state=$(docker inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$primary")
[ "$state" = "false 0" ] || fail "after compose stop, the primary is (running, exit code) = ($state), not (false, 0)"
compose start postgres_master || fail "compose start postgres_master failed"
after_restart primary-stopped-started "$since"
show_entrypoint_lines "$primary" "$replica"

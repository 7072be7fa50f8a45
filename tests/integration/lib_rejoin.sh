# Helpers for the rejoin tests (rejoin*.sh, faults.sh's rejoin points):
# sourced after lib.sh, never run.
#
# Nodes start with lib.sh's launch_primary whatever their role: the role
# comes from the variables (POSTGRES_PRIMARY_HOST: a replica).
#
# Until the "prereq" change lands (wal_log_hints=on in pg-entrypoint.conf
# from initdb on, the pg_rewind grants to the replication role), the tests
# set these up themselves, in a way that keeps working after it:
#  - wal_log_hints=on by ALTER SYSTEM, then a restart of the first primary,
#    before it has a standby (postgresql.auto.conf goes with every copy);
#  - the grants, as the superuser, on the first primary (they replicate);
#  - no extra pg_hba line: `host all all all scram-sha-256` already lets
#    the replication user reach the database postgres with its password.

# rewind_prereqs ID: what "prereq" adds at initdb, done by hand on a
# primary; restart it afterwards (wal_log_hints needs a restart).
rewind_prereqs()
{
    q "$1" "alter system set wal_log_hints = on"
    q "$1" "grant execute on function pg_catalog.pg_ls_dir(text, boolean, boolean),
        pg_catalog.pg_stat_file(text, boolean), pg_catalog.pg_read_binary_file(text),
        pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) to replicator"
}

# promote_node ID DATA: what `pg-entrypoint promote` does, by hand: the
# record (promoted.c's format), durable, before pg_promote; then wait for
# writes. PROMOTE_CHECKPOINT=1: then CHECKPOINT, so that pg_control has the
# new timeline (pg_rewind reads it there); without it, the rejoin waits for
# the first checkpoint after the promotion (as after a bare pg_ctl promote).
PROMOTE_CHECKPOINT=
promote_node()
{
    local id=$1 data=$2 sysid tli
    sysid=$(q "$id" "select system_identifier from pg_control_system()")
    tli=$(q "$id" "select timeline_id from pg_control_checkpoint()")
    printf '# pg-entrypoint: this node was promoted by `pg-entrypoint promote`;\n# it starts as a primary whatever its environment says.\nsystem_identifier = %s\npromoted_from_timeline = %s\npromoted_at = %s\n' \
        "$sysid" "$tli" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$data/pg-entrypoint-promoted"
    chown postgres: "$data/pg-entrypoint-promoted"
    chmod 0600 "$data/pg-entrypoint-promoted"
    sync "$data/pg-entrypoint-promoted"
    [ "$(q "$id" "select pg_promote(true, 60)")" = t ] || fail "pg_promote on $id failed"
    poll 60 "$id accepts writes after the promotion" q_is "$id" "select pg_is_in_recovery()" f
    [ -z "$PROMOTE_CHECKPOINT" ] || q "$id" checkpoint
}

# writable ID: the server answers and is not in recovery.
writable() { q_is "$1" "select pg_is_in_recovery()" f; }

# tli ID: the server's current timeline.
tli_of() { q "$1" "select timeline_id from pg_control_checkpoint()"; }

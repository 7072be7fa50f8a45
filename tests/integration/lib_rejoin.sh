# Helpers for the rejoin tests (rejoin*.sh, faults.sh's rejoin points):
# sourced after lib.sh, never run.
#
# Until the "prereq" change lands (wal_log_hints=on in pg-entrypoint.conf
# from initdb on, the pg_rewind grants to the replication role), the tests
# set these up themselves, in a way that keeps working after it:
#  - wal_log_hints=on on the command line and by ALTER SYSTEM (pg_rewind's
#    single-user crash recovery of a killed target reads only the files);
#  - the grants, as the superuser, on the first primary (they replicate);
#  - no extra pg_hba line: `host all all all scram-sha-256` already lets
#    the replication user reach the database postgres with its password.

# node_launch ID NETNS ADDR PORT PGDATA [VAR=VALUE...]: a node with the
# replication password and wal_log_hints; its role comes from the variables
# (POSTGRES_PRIMARY_HOST: a replica). NODE_ARGS: more server arguments
# (they come last, so they win).
NODE_ARGS=()
node_launch()
{
    local id=$1 ns=$2 addr=$3 port=$4 data=$5
    shift 5
    IADDR[$id]=$addr
    IPORT[$id]=$port
    mkdir -p "$WORK/sock-$id" && chmod 1777 "$WORK/sock-$id"
    launch "$id" "$ns" PGDATA="$data" POSTGRES_PASSWORD="$SUPERPW" \
        POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME="$id" "$@" -- \
        postgres -p "$port" -k "$WORK/sock-$id" -c listen_addresses="$addr" -c wal_log_hints=on \
        "${NODE_ARGS[@]}"
}

# rewind_prereqs ID: what "prereq" adds at initdb, done by hand on a primary.
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

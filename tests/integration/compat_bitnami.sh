#!/bin/bash
# compat_bitnami: Bitnami's variables as aliases of ours, and a Bitnami volume
# (one CHECK line per behaviour). `pg-entrypoint plan` shows what a variable
# became (role, host, port, users, database, steps); real starts show the rest.
#  - alias_replication_mode: master -> primary, slave -> replica, another
#    value -> exit 78 naming the variable;
#  - alias_master_host / alias_master_port: POSTGRESQL_MASTER_HOST and
#    POSTGRESQL_MASTER_PORT_NUMBER are where a replica waits for its primary
#    (a slave without a host: exit 78);
#  - alias_replication_user: the role a replica logs in as and a primary
#    creates;
#  - alias_replication_password (+ _file): a primary creates the role only
#    with it; a slave without it: exit 78; a slave with the _FILE form
#    streams (real start);
#  - alias_username / alias_password (+ _file) / alias_database: the
#    superuser, its password and the database of a real master (login over
#    TCP from another host); an empty data directory without a password:
#    exit 78;
#  - alias_num_synchronous_replicas / alias_synchronous_commit_mode:
#    synchronous_standby_names = 'ANY 1 (*)' and synchronous_commit =
#    remote_apply on the real master; a bad commit mode: exit 78;
#  - alias_conflicts: a POSTGRES_* name and its alias set to different values
#    -> exit 78 naming both (every pair; also X vs alias_FILE); the same value
#    is fine;
#  - bitnami_slave_streams: a slave (MASTER_HOST, MASTER_PORT_NUMBER,
#    REPLICATION_USER, REPLICATION_PASSWORD_FILE) clones the master and
#    streams; with remote_apply a committed row is on the slave at once;
#  - bitnami_volume_picked_up / bitnami_volume_taken_over: Bitnami variables,
#    no PGDATA and a mount at /bitnami/postgresql (private to the instance):
#    the existing cluster in /bitnami/postgresql/data, owned by uid 1001, is
#    started (its data, no initdb), after it was made postgres's, mode 0700;
#  - bitnami_volume_plan: `plan` in the same situation shows
#    /bitnami/postgresql/data; with PGDATA set, PGDATA wins.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 330
net_pair
CLIENT_NS=$NS_R
P_PORT=55870
R_PORT=55871
B_PORT=55872
RUN_TIMEOUT=15
OLDPW="bitnami pw $RANDOM"

mkdir -m 0700 "$WORK/secrets"
printf '%s\n' "$SUPERPW" >"$WORK/secrets/password"
printf '%s\n' "$REPLPW" >"$WORK/secrets/repl_password"

# --- the real pair starts first; the plan checks run while it initialises --------
cl_launch m "$NS_P" "$P_ADDR" "$P_PORT" POSTGRESQL_REPLICATION_MODE=master \
    POSTGRESQL_USERNAME=bob POSTGRESQL_PASSWORD_FILE="$WORK/secrets/password" POSTGRESQL_DATABASE=bobdb \
    POSTGRESQL_REPLICATION_USER=ru POSTGRESQL_REPLICATION_PASSWORD="$REPLPW" \
    POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS=1 POSTGRESQL_SYNCHRONOUS_COMMIT_MODE=remote_apply \
    PGDATA="$WORK/m" --

# plan_env WANT_RC [VAR=VALUE...]: `plan` on a PGDATA that does not exist.
plan_env()
{
    local want=$1
    shift
    run_bin "$NS_P" PGDATA="$WORK/nothing" "$@" -- plan
    [ "$RUN_RC" = "$want" ] || { no "plan with $* exited $RUN_RC, want $want: $RUN_ERR"; return 1; }
}
has_out() { grep -Eq -- "$1" <<<"$RUN_OUT" || { no "plan says: $(tr '\n' ' ' <<<"$RUN_OUT"); want /$1/"; return 1; }; }
has_err() { grep -Eq -- "$1" <<<"$RUN_ERR" || { no "stderr: $RUN_ERR; want /$1/"; return 1; }; }
SLAVE=(POSTGRESQL_REPLICATION_MODE=slave POSTGRESQL_MASTER_HOST=pg-master.example POSTGRESQL_REPLICATION_PASSWORD=x)

check_mode()
{
    plan_env 0 POSTGRESQL_REPLICATION_MODE=master POSTGRESQL_PASSWORD=x && has_out '^role: primary$' || return 1
    plan_env 0 "${SLAVE[@]}" && has_out '^role: replica$' || return 1
    plan_env 78 POSTGRESQL_REPLICATION_MODE=standby POSTGRESQL_PASSWORD=x && has_err POSTGRESQL_REPLICATION_MODE
}
check alias_replication_mode check_mode

check_master_host()
{
    plan_env 0 "${SLAVE[@]}" && has_out 'wait for the primary at pg-master\.example:5432' || return 1
    plan_env 78 POSTGRESQL_REPLICATION_MODE=slave POSTGRESQL_REPLICATION_PASSWORD=x && has_err 'POSTGRES_PRIMARY_HOST'
}
check alias_master_host check_master_host

check_master_port()
{
    plan_env 0 "${SLAVE[@]}" POSTGRESQL_MASTER_PORT_NUMBER=6543 && has_out 'wait for the primary at pg-master\.example:6543'
}
check alias_master_port check_master_port

check_replication_user()
{
    plan_env 0 "${SLAVE[@]}" POSTGRESQL_REPLICATION_USER=ru && has_out 'credentials of "ru"' || return 1
    plan_env 0 POSTGRESQL_REPLICATION_MODE=master POSTGRESQL_PASSWORD=x POSTGRESQL_REPLICATION_USER=ru \
        POSTGRESQL_REPLICATION_PASSWORD=x && has_out 'create replication role "ru"'
}
check alias_replication_user check_replication_user

check_replication_password()
{
    plan_env 0 POSTGRESQL_REPLICATION_MODE=master POSTGRESQL_PASSWORD=x && has_out 'create no replication role' || return 1
    plan_env 0 POSTGRESQL_REPLICATION_MODE=master POSTGRESQL_PASSWORD=x POSTGRESQL_REPLICATION_PASSWORD=x &&
        has_out 'create replication role "replicator"' || return 1
    plan_env 78 POSTGRESQL_REPLICATION_MODE=slave POSTGRESQL_MASTER_HOST=h && has_err 'POSTGRES_REPLICATION_PASSWORD'
}
check alias_replication_password check_replication_password

check_replication_password_file_plan()
{
    plan_env 0 POSTGRESQL_REPLICATION_MODE=master POSTGRESQL_PASSWORD=x \
        POSTGRESQL_REPLICATION_PASSWORD_FILE="$WORK/secrets/repl_password" && has_out 'create replication role'
}

check_username()
{
    plan_env 0 POSTGRESQL_PASSWORD=x POSTGRESQL_USERNAME=bob && has_out 'initdb as superuser "bob"'
}

check_password_plan()
{
    plan_env 78 POSTGRESQL_REPLICATION_MODE=master && has_err 'POSTGRES_PASSWORD' || return 1
    plan_env 0 POSTGRESQL_REPLICATION_MODE=master POSTGRESQL_PASSWORD=x || return 1
    plan_env 0 POSTGRESQL_REPLICATION_MODE=master POSTGRESQL_PASSWORD_FILE="$WORK/secrets/password" || return 1
    plan_env 78 POSTGRESQL_PASSWORD=x POSTGRESQL_PASSWORD_FILE="$WORK/secrets/password" &&
        has_err 'POSTGRESQL_PASSWORD_FILE'
}

check_database_plan()
{
    plan_env 0 POSTGRESQL_PASSWORD=x POSTGRESQL_DATABASE=bobdb && has_out 'create database "bobdb"'
}

check_sync_plan()
{
    plan_env 0 POSTGRESQL_PASSWORD=x POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS=1 && has_out 'synchronous standbys' || return 1
    plan_env 78 POSTGRESQL_PASSWORD=x POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS=one && has_err 'POSTGRES_SYNCHRONOUS_REPLICAS|POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS' || return 1
    plan_env 78 POSTGRESQL_PASSWORD=x POSTGRESQL_SYNCHRONOUS_COMMIT_MODE=sometimes && has_err 'POSTGRESQL_SYNCHRONOUS_COMMIT_MODE'
}

check_conflicts()
{
    local pair ours alias v1 v2 base
    # OURS ALIAS VALUE1 VALUE2 (VALUE2 also goes to ALIAS for the "same" case)
    for pair in "POSTGRES_ROLE POSTGRESQL_REPLICATION_MODE primary slave" \
        "POSTGRES_USER POSTGRESQL_USERNAME alice bob" \
        "POSTGRES_PASSWORD POSTGRESQL_PASSWORD pw1 pw2" \
        "POSTGRES_DB POSTGRESQL_DATABASE db1 db2" \
        "POSTGRES_PRIMARY_HOST POSTGRESQL_MASTER_HOST h1 h2" \
        "POSTGRES_PRIMARY_PORT POSTGRESQL_MASTER_PORT_NUMBER 5432 5433" \
        "POSTGRES_REPLICATION_USER POSTGRESQL_REPLICATION_USER r1 r2" \
        "POSTGRES_REPLICATION_PASSWORD POSTGRESQL_REPLICATION_PASSWORD p1 p2" \
        "POSTGRES_SYNCHRONOUS_REPLICAS POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS 1 2"; do
        read -r ours alias v1 v2 <<<"$pair"
        base=(POSTGRES_PASSWORD=x POSTGRES_REPLICATION_PASSWORD=x)
        plan_env 78 "${base[@]}" "$ours=$v1" "$alias=$v2" || return 1
        grep -Eq -- "(^|[^A-Z_])$ours([^A-Z_]|$)" <<<"$RUN_ERR" && grep -Eq -- "(^|[^A-Z_])$alias([^A-Z_]|$)" <<<"$RUN_ERR" ||
            { no "$ours=$v1 with $alias=$v2: the message does not name both: $RUN_ERR"; return 1; }
        # the same value in both is no conflict
        if [ "$ours" = POSTGRES_ROLE ]; then
            plan_env 0 "${base[@]}" POSTGRES_ROLE=replica POSTGRESQL_REPLICATION_MODE=slave POSTGRESQL_MASTER_HOST=h || return 1
        else
            plan_env 0 "${base[@]}" "$ours=$v2" "$alias=$v2" || return 1
        fi
    done
    # a value and the alias's _FILE, different
    plan_env 78 POSTGRES_PASSWORD=other POSTGRESQL_PASSWORD_FILE="$WORK/secrets/password" || return 1
    grep -q POSTGRES_PASSWORD <<<"$RUN_ERR" && grep -q POSTGRESQL_PASSWORD <<<"$RUN_ERR" ||
        { no "POSTGRES_PASSWORD vs POSTGRESQL_PASSWORD_FILE: the message does not name both: $RUN_ERR"; return 1; }
}
check alias_conflicts check_conflicts

# --- the real master and slave ------------------------------------------------------------
wait_ready m
cl_launch s "$NS_R" "$R_ADDR" "$R_PORT" POSTGRESQL_REPLICATION_MODE=slave \
    POSTGRESQL_MASTER_HOST="$P_ADDR" POSTGRESQL_MASTER_PORT_NUMBER="$P_PORT" \
    POSTGRESQL_REPLICATION_USER=ru POSTGRESQL_REPLICATION_PASSWORD_FILE="$WORK/secrets/repl_password" \
    POSTGRESQL_PASSWORD="$SUPERPW" PGDATA="$WORK/s" --

mq() { sqlc m bob "$SUPERPW" bobdb "$1"; }
check_username_real()
{
    check_username || return 1
    [ "$(mq "select current_user || ' ' || (select rolsuper from pg_roles where rolname = current_user)")" = "bob true" ] ||
        { no "cannot log in as superuser bob"; return 1; }
}
check alias_username check_username_real

check_password_real()
{
    check_password_plan || return 1
    [ "$(mq 'select 1')" = 1 ] || { no "POSTGRESQL_PASSWORD_FILE's password does not log in"; return 1; }
    if sqlc m bob "not-$SUPERPW" bobdb 'select 1' >/dev/null 2>&1; then no "a wrong password was accepted"; return 1; fi
}
check alias_password check_password_real

check_database_real()
{
    check_database_plan || return 1
    [ "$(mq 'select current_database()')" = bobdb ] || { no "cannot connect to database bobdb"; return 1; }
}
check alias_database check_database_real

check_sync_real()
{
    check_sync_plan || return 1
    [ "$(mq 'show synchronous_standby_names')" = 'ANY 1 (*)' ] ||
        { no "synchronous_standby_names is '$(mq 'show synchronous_standby_names')'"; return 1; }
}
check alias_num_synchronous_replicas check_sync_real

check_commit_mode()
{
    [ "$(mq 'show synchronous_commit')" = remote_apply ] ||
        { no "synchronous_commit is '$(mq 'show synchronous_commit')', want remote_apply"; return 1; }
}
check alias_synchronous_commit_mode check_commit_mode

check_slave_streams()
{
    ready_within s 300 || { no "the slave did not come up: $(grep -m1 ERROR "${ILOG[s]}")"; return 1; }
    log_has s "role replica" || { no "the slave's log does not say role replica"; return 1; }
    streaming() { [ "$(sqlc s bob "$SUPERPW" bobdb 'select status from pg_stat_wal_receiver')" = streaming ]; }
    until_true 20 streaming || { no "the slave is not streaming"; return 1; }
    # the walsender's state settles a moment after the receiver says streaming
    quorum() { [ "$(mq "select usename || ' ' || sync_state from pg_stat_replication")" = "ru quorum" ]; }
    until_true 10 quorum ||
        { no "pg_stat_replication on the master: $(mq "select usename, sync_state from pg_stat_replication")"; return 1; }
    # remote_apply: once the commit returns, the slave has applied it
    timeout 15 env PGPASSWORD="$SUPERPW" PGPASSFILE=/dev/null ip netns exec "$NS_R" psql -X -q -w -v ON_ERROR_STOP=1 \
        -h "$P_ADDR" -p "$P_PORT" -U bob -d bobdb -c "CREATE TABLE t (x text); INSERT INTO t VALUES ('bitnami')" ||
        { no "the commit on the master did not return within 15 s"; return 1; }
    [ "$(sqlc s bob "$SUPERPW" bobdb "select x from t")" = bitnami ] || { no "the row is not on the slave right after the commit"; return 1; }
}
check bitnami_slave_streams check_slave_streams

check_replication_password_file()
{
    check_replication_password_file_plan || return 1
    # the slave above logged in with POSTGRESQL_REPLICATION_PASSWORD_FILE
    log_has s 'accepts "ru"' || { no "the slave's log does not show ru's credentials accepted"; return 1; }
}
check alias_replication_password_file check_replication_password_file
stop_quiet s
stop_quiet m

# --- a Bitnami volume -------------------------------------------------------------------------
printf '%s\n' "$OLDPW" >"$WORK/oldpw"
chown postgres "$WORK/oldpw"
install -d -m 0755 "$WORK/bvol"
foreign_cluster "$WORK/bvol/data" "$B_PORT" "$WORK/oldpw" from_bitnami kept "Bitnami-like cluster"
chown -R 1001:1001 "$WORK/bvol"
chmod 0700 "$WORK/bvol/data"
BITNAMI_ENV=(POSTGRESQL_PASSWORD="$SUPERPW" POSTGRESQL_REPLICATION_MODE=master)

check_volume_plan()
{
    local out
    CL_BITNAMI=$WORK/bvol
    cl_launch bplan "$NS_P" "$P_ADDR" "$B_PORT" "${BITNAMI_ENV[@]}" -- plan
    wait_exit bplan 15 || { stop_quiet bplan; no "plan still runs after 15 s"; return 1; }
    out=$(cat "${ILOG[bplan]%.log}.out")
    [ "$EXIT_RC" = 0 ] || { no "plan exited $EXIT_RC: $(tail -n2 "${ILOG[bplan]}")"; return 1; }
    grep -q '^PGDATA: /bitnami/postgresql/data ' <<<"$out" ||
        { no "plan with a volume at /bitnami/postgresql says: $(grep '^PGDATA' <<<"$out"), want /bitnami/postgresql/data"; return 1; }
}
check_pgdata_wins()
{
    local out
    CL_BITNAMI=$WORK/bvol
    cl_launch bplan2 "$NS_P" "$P_ADDR" "$B_PORT" "${BITNAMI_ENV[@]}" PGDATA="$WORK/elsewhere" -- plan
    wait_exit bplan2 15 || { stop_quiet bplan2; no "plan still runs after 15 s"; return 1; }
    out=$(cat "${ILOG[bplan2]%.log}.out")
    grep -q "^PGDATA: $WORK/elsewhere " <<<"$out" || { no "with PGDATA set, plan says: $(grep '^PGDATA' <<<"$out")"; return 1; }
}
check_plans() { check_volume_plan && check_pgdata_wins; }
check bitnami_volume_plan check_plans

CL_BITNAMI=$WORK/bvol
cl_launch bv "$NS_P" "$P_ADDR" "$B_PORT" "${BITNAMI_ENV[@]}" --
check_volume_picked_up()
{
    ready_within bv 300 || { no "the instance with the Bitnami volume did not come up: $(grep -m1 ERROR "${ILOG[bv]}")"; return 1; }
    log_has bv 'the data directory is /bitnami/postgresql/data' || { no "the log does not say it uses /bitnami/postgresql/data"; return 1; }
    log_has bv "$(step_re initdb)" && { no "initdb ran: a new cluster instead of the volume's"; return 1; }
    [ "$(sqlc bv postgres "$OLDPW" postgres 'select x from from_bitnami')" = kept ] ||
        { no "the volume's data is not there (a new empty cluster?)"; return 1; }
    [ "$(sqlc bv postgres "$OLDPW" postgres 'show data_directory')" = /bitnami/postgresql/data ] ||
        { no "data_directory is $(sqlc bv postgres "$OLDPW" postgres 'show data_directory')"; return 1; }
}
check bitnami_volume_picked_up check_volume_picked_up

check_volume_taken_over()
{
    local left
    left=$(find "$WORK/bvol/data" ! -user postgres | sed -n 1,3p)
    [ -z "$left" ] || { no "still not postgres's: $left"; return 1; }
    [ "$(stat -c %a "$WORK/bvol/data")" = 700 ] || { no "the data directory has mode $(stat -c %a "$WORK/bvol/data")"; return 1; }
    [ "$(pm_ids bv)" = "$(id -u postgres) $(id -g postgres)" ] || { no "the postmaster runs as $(pm_ids bv)"; return 1; }
    log_has bv 'was owned by uid 1001' || { no "the log does not say the owner was uid 1001"; return 1; }
}
check bitnami_volume_taken_over check_volume_taken_over

checks_done

#!/bin/bash
# compat_official_adopt: a cluster made by plain initdb, as the official
# image leaves it on a volume (superuser password set by initdb, `host all
# all all scram-sha-256` appended), started with pg-entrypoint (one CHECK
# line per behaviour):
#  - adopt_not_reinitialised: it is reused as it is: its data and its own
#    superuser password stay (POSTGRES_PASSWORD does not apply to an
#    existing cluster, as in the official image);
#  - adopt_settings: the replication settings are added once (the include
#    line in postgresql.conf, wal_keep_size 64MB and max_slot_wal_keep_size
#    1GB in effect);
#  - adopt_hba: one `host replication "replicator" all scram-sha-256` line,
#    loaded by the server;
#  - adopt_role: the missing replication role is created, with REPLICATION
#    and POSTGRES_REPLICATION_PASSWORD (a replication connection from
#    another host works);
#  - adopt_replica_clones: a replica clones it and streams a row written
#    after the clone;
#  - adopt_once: a second start adopts nothing again: no new include line,
#    no new pg_hba lines, no adopt step in the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 300
net_pair
CLIENT_NS=$NS_R
P_PORT=55860
R_PORT=55861
OLDPW="old pw 'from initdb' $RANDOM"

# The official image's first start, reduced to what stays on the volume.
printf '%s\n' "$OLDPW" >"$WORK/oldpw"
chown postgres "$WORK/oldpw"
foreign_cluster "$WORK/a" "$P_PORT" "$WORK/oldpw" made_before "official image" "plain cluster"
rm -f "$WORK/oldpw"
grep -q '^include_if_exists' "$WORK/a/postgresql.conf" && fail "the plain cluster already has an include line"

include_count() { grep -c "^include_if_exists = 'pg-entrypoint.conf'" "$WORK/a/postgresql.conf" || true; }
repl_line_count() { grep -Ec '^host[[:space:]]+replication[[:space:]]+"replicator"[[:space:]]+all[[:space:]]+scram-sha-256' "$WORK/a/pg_hba.conf" || true; }
hba_lines() { grep -Ec '^[^#[:space:]]' "$WORK/a/pg_hba.conf" || true; }

cl_launch p "$NS_P" "$P_ADDR" "$P_PORT" PGDATA="$WORK/a" POSTGRES_PASSWORD="$SUPERPW" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" --
wait_ready p

check_not_reinitialised()
{
    log_has p "$(step_re initdb)" && { no "initdb ran on the existing cluster"; return 1; }
    [ "$(sqlc p postgres "$OLDPW" postgres 'SELECT x FROM made_before')" = "official image" ] ||
        { no "the data or the superuser password of the existing cluster are gone"; return 1; }
    if sqlc p postgres "$SUPERPW" postgres 'select 1' >/dev/null 2>&1; then
        no "POSTGRES_PASSWORD replaced the existing superuser's password"; return 1
    fi
}
check adopt_not_reinitialised check_not_reinitialised

check_settings()
{
    log_has p "$(step_re adopt)" || { no "no adopt step in the log"; return 1; }
    [ "$(include_count)" = 1 ] || { no "postgresql.conf has $(include_count) include lines, want 1"; return 1; }
    local got
    got=$(sqlc p postgres "$OLDPW" postgres "select current_setting('wal_keep_size') || ' ' || current_setting('max_slot_wal_keep_size')")
    [ "$got" = "64MB 1GB" ] || { no "wal_keep_size, max_slot_wal_keep_size = $got, want 64MB 1GB"; return 1; }
}
check adopt_settings check_settings

check_hba()
{
    [ "$(repl_line_count)" = 1 ] || { no "pg_hba.conf has $(repl_line_count) replication lines for replicator, want 1"; return 1; }
    [ "$(sqlc p postgres "$OLDPW" postgres "select count(*) from pg_hba_file_rules where type = 'host'
          and database = '{replication}' and user_name = '{replicator}' and auth_method = 'scram-sha-256' and error is null")" = 1 ] ||
        { no "the server did not load the replication line"; return 1; }
}
check adopt_hba check_hba

check_role()
{
    [ "$(sqlc p postgres "$OLDPW" postgres "select rolreplication and rolcanlogin from pg_roles where rolname = 'replicator'")" = t ] ||
        { no "role replicator is missing or lacks REPLICATION/LOGIN"; return 1; }
    local sysid
    sysid=$(env PGPASSWORD="$REPLPW" PGPASSFILE=/dev/null ip netns exec "$NS_R" psql -X -At -w \
        "host=$P_ADDR port=$P_PORT user=replicator dbname=replication replication=true" -c IDENTIFY_SYSTEM | cut -d'|' -f1)
    [ -n "$sysid" ] && [ "$sysid" = "$(sqlc p postgres "$OLDPW" postgres 'select system_identifier from pg_control_system()')" ] ||
        { no "replicator cannot open a replication connection with POSTGRES_REPLICATION_PASSWORD"; return 1; }
}
check adopt_role check_role

cl_launch r "$NS_R" "$R_ADDR" "$R_PORT" PGDATA="$WORK/r" POSTGRES_PRIMARY_HOST="$P_ADDR" \
    POSTGRES_PRIMARY_PORT="$P_PORT" POSTGRES_REPLICATION_PASSWORD="$REPLPW" --
check_replica_clones()
{
    ready_within r 300 || { no "the replica did not come up: $(grep -m1 ERROR "${ILOG[r]}")"; return 1; }
    sqlc p postgres "$OLDPW" postgres "INSERT INTO made_before VALUES ('after clone')" >/dev/null || { no "cannot write on the primary"; return 1; }
    arrived() { [ "$(sqlc r postgres "$OLDPW" postgres "SELECT count(*) FROM made_before")" = 2 ]; }
    until_true 20 arrived || { no "the row written after the clone did not arrive on the replica"; return 1; }
    [ "$(sqlc r postgres "$OLDPW" postgres "SELECT status FROM pg_stat_wal_receiver")" = streaming ] ||
        { no "the replica is not streaming"; return 1; }
}
check adopt_replica_clones check_replica_clones

hba_before=$(hba_lines)
conf_before=$(sha256sum <"$WORK/a/postgresql.conf")
stop_quiet p
cl_launch p "$NS_P" "$P_ADDR" "$P_PORT" PGDATA="$WORK/a" POSTGRES_PASSWORD="$SUPERPW" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" --
wait_ready p
check_once()
{
    log_has p "$(step_re adopt)" && { no "the second start adopted again: $(log_line p "$(step_re adopt)")"; return 1; }
    [ "$(include_count)" = 1 ] || { no "postgresql.conf has $(include_count) include lines after the second start"; return 1; }
    [ "$(sha256sum <"$WORK/a/postgresql.conf")" = "$conf_before" ] || { no "postgresql.conf changed on the second start"; return 1; }
    [ "$(hba_lines)" = "$hba_before" ] || { no "pg_hba.conf has $(hba_lines) lines, $hba_before before the second start"; return 1; }
    [ "$(repl_line_count)" = 1 ] || { no "pg_hba.conf has $(repl_line_count) replication lines after the second start"; return 1; }
}
check adopt_once check_once

checks_done

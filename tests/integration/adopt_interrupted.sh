#!/bin/bash
# adopt_interrupted: adopting a cluster made by another entrypoint is
# crash-safe (one CHECK line per behaviour):
#  - adopt_killed: a start killed while it adopts a foreign cluster (during
#    single-user mode) is finished by the next start: one include line, one
#    replication line, the role exists and logs in for replication;
#  - adopt_failed: an adoption that fails after the role and the pg_hba
#    lines (its settings file cannot be written) is finished by the next
#    start without adding the pg_hba lines twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 250
net_pair
CLIENT_NS=$NS_R
A_PORT=55954 # a, b: adopted foreign clusters
B_PORT=55955

# --- adoption that is stopped or fails half way ------------------------------
include_count() { grep -c "^include_if_exists = 'pg-entrypoint.conf'" "$1/postgresql.conf" || true; }
repl_line_count() { grep -Ec '^host[[:space:]]+replication[[:space:]]+"replicator"[[:space:]]+all[[:space:]]+scram-sha-256' "$1/pg_hba.conf" || true; }
repl_login() { # ID PORT
    PGPASSWORD=$REPLPW PGCONNECT_TIMEOUT=5 ip netns exec "$NS_R" psql -X -At \
        "host=$P_ADDR port=$2 user=replicator dbname=postgres replication=true" -c IDENTIFY_SYSTEM
}
printf '%s\n' "$SUPERPW" >"$WORK/pw" && chown postgres "$WORK/pw"
A_ENV=(POSTGRES_PASSWORD="$SUPERPW" POSTGRES_REPLICATION_PASSWORD="$REPLPW")

# kill_in_single_user ID: SIGKILLs the instance's PID 1 (and so its whole
# PID namespace) while its child runs postgres --single. The loop reads
# /proc with shell builtins only, so it sees a run of a few ms.
kill_in_single_user()
{
    local id=$1 pid1=${CPID[$1]} kids kid cmd end=$((SECONDS + 30))
    while [ $SECONDS -lt $end ]; do
        kids=
        # (the file has no final newline: read fails at its end, kids is set)
        read -r kids <"/proc/$pid1/task/$pid1/children" 2>/dev/null || true
        for kid in $kids; do
            cmd=
            IFS= read -r -d '' cmd <"/proc/$kid/cmdline" 2>/dev/null || true
            [ "$cmd" = postgres ] || continue
            grep -qa -- '--single' "/proc/$kid/cmdline" 2>/dev/null || continue
            kill -STOP "$kid" 2>/dev/null
            kill -KILL "$pid1"
            wait_exit "$id" 15 || true
            return 0
        done
        running "$id" || return 1
    done
    return 1
}

check_adopt_killed()
{
    foreign_cluster "$WORK/a" "$A_PORT" "$WORK/pw" made_before "official image" "plain cluster"
    cl_launch a "$NS_P" "$P_ADDR" "$A_PORT" PGDATA="$WORK/a" "${A_ENV[@]}" --
    kill_in_single_user a || { no "could not catch the start in single-user mode"; return 1; }
    log "killed a during single-user mode; include lines now: $(include_count "$WORK/a")"
    cl_launch a "$NS_P" "$P_ADDR" "$A_PORT" PGDATA="$WORK/a" "${A_ENV[@]}" --
    ready_within a 300 || { no "the next start did not come up: $(grep ERROR "${ILOG[a]}" | head -2)"; return 1; }
    log_has a 'adopt: PGDATA .* was not made by pg-entrypoint' || { no "the next start did not adopt"; return 1; }
    [ "$(include_count "$WORK/a")" = 1 ] || { no "$(include_count "$WORK/a") include lines"; return 1; }
    [ "$(repl_line_count "$WORK/a")" = 1 ] || { no "$(repl_line_count "$WORK/a") replication lines"; return 1; }
    repl_login a "$A_PORT" >"$WORK/a.identify" 2>&1 || { no "replicator cannot log in: $(cat "$WORK/a.identify")"; return 1; }
    stop_quiet a
}
check adopt_killed check_adopt_killed

check_adopt_failed()
{
    foreign_cluster "$WORK/b" "$B_PORT" "$WORK/pw" made_before "official image" "plain cluster"
    install -d -o postgres -m 0700 "$WORK/b/pg-entrypoint.conf" # the settings file cannot be written
    cl_launch b "$NS_P" "$P_ADDR" "$B_PORT" PGDATA="$WORK/b" "${A_ENV[@]}" --
    wait_exit b 30 || { no "the failing adoption did not end"; return 1; }
    [ "$EXIT_RC" = 1 ] || { no "exit $EXIT_RC, want 1"; return 1; }
    [ "$(repl_line_count "$WORK/b")" = 1 ] && [ "$(include_count "$WORK/b")" = 0 ] ||
        { no "the failure did not happen between the pg_hba lines and the include line"; return 1; }
    rmdir "$WORK/b/pg-entrypoint.conf"
    cl_launch b "$NS_P" "$P_ADDR" "$B_PORT" PGDATA="$WORK/b" "${A_ENV[@]}" --
    ready_within b 300 || { no "the next start did not come up: $(grep ERROR "${ILOG[b]}" | head -2)"; return 1; }
    [ "$(include_count "$WORK/b")" = 1 ] || { no "$(include_count "$WORK/b") include lines"; return 1; }
    [ "$(repl_line_count "$WORK/b")" = 1 ] || { no "the pg_hba lines were added $(repl_line_count "$WORK/b") times"; return 1; }
    repl_login b "$B_PORT" >"$WORK/b.identify" 2>&1 || { no "replicator cannot log in: $(cat "$WORK/b.identify")"; return 1; }
    stop_quiet b
}
check adopt_failed check_adopt_failed

checks_done

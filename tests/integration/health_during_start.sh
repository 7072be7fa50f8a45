#!/bin/bash
# health_during_start: `health` tells the truth before postgres runs (one
# CHECK line per behaviour):
#  - health_during_init: while an init script runs, `health` exits 1 with
#    "initialising: running /docker-entrypoint-initdb.d/01-schema.sh",
#    although the temporary server answers (`health --live` exits 0); once
#    postgres runs, it is healthy;
#  - health_while_waiting: a replica waiting for its primary is unhealthy
#    with "waiting for the primary at ..."; after SIGINT it exits 130 and
#    leaves no status file;
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 140
net_pair
CLIENT_NS=$NS_R
H_PORT=55952 # h: a primary whose init script waits
W_PORT=55953 # w: a replica waiting for a primary that is not there

# --- health while a start is under way ---------------------------------------
mkdir -p "$WORK/initdb-h"
cat >"$WORK/initdb-h/01-schema.sh" <<EOF
#!/bin/bash
# waits for the test to release it (bounded), then makes the schema
for i in \$(seq 1 600); do [ -e "$WORK/release-h" ] && break; sleep 0.1; done
psql -v ON_ERROR_STOP=1 -U postgres -d postgres -c 'CREATE TABLE schema_ready (x int)'
EOF
chmod 755 "$WORK/initdb-h/01-schema.sh"
H_ENV=(PGDATA="$WORK/h" PGHOST="$WORK/run-h" PGPORT="$H_PORT" POSTGRES_PASSWORD="$SUPERPW")
health_h() { run_bin "$NS_P" "${H_ENV[@]}" -- health "$@"; }
initialising() { health_h; [ "$RUN_RC" = 1 ] && grep -q '^unhealthy: initialising: running /docker-entrypoint-initdb.d/01-schema.sh$' <<<"$RUN_OUT"; }
healthy_primary() { health_h; [ "$RUN_RC" = 0 ] && grep -q '^healthy: primary accepting connections$' <<<"$RUN_OUT"; }

check_health_during_init()
{
    CL_INITDB_D=$WORK/initdb-h
    cl_launch h "$NS_P" "$P_ADDR" "$H_PORT" PGDATA="$WORK/h" POSTGRES_PASSWORD="$SUPERPW" --
    until_true 60 initialising || { no "health during the init script: $(run_desc)"; return 1; }
    health_h --live
    [ "$RUN_RC" = 0 ] || { no "the temporary server did not answer, so the check proved nothing: $(run_desc)"; return 1; }
    initialising || { no "health turned healthy while the script still ran: $(run_desc)"; return 1; }
    touch "$WORK/release-h"
    ready_within h 300 || { no "h did not start after the script"; return 1; }
    until_true 30 healthy_primary || { no "health once postgres runs: $(run_desc)"; return 1; }
    [ ! -e "$WORK/run-h/pg-entrypoint.status" ] || { no "the status file is left after exec"; return 1; }
}
check health_during_init check_health_during_init

check_health_while_waiting()
{
    local env=(PGDATA="$WORK/w" PGHOST="$WORK/run-w" PGPORT="$W_PORT" POSTGRES_PRIMARY_HOST="$P_ADDR"
        POSTGRES_PRIMARY_PORT=55958 POSTGRES_REPLICATION_PASSWORD="$REPLPW")
    waiting() { run_bin "$NS_R" "${env[@]}" -- health; [ "$RUN_RC" = 1 ] && grep -q "^unhealthy: waiting for the primary at $P_ADDR:55958\$" <<<"$RUN_OUT"; }
    cl_launch w "$NS_R" "$R_ADDR" "$W_PORT" PGDATA="$WORK/w" POSTGRES_PRIMARY_HOST="$P_ADDR" \
        POSTGRES_PRIMARY_PORT=55958 POSTGRES_REPLICATION_PASSWORD="$REPLPW" --
    until_true 30 waiting || { no "health while waiting: $(run_desc)"; return 1; }
    kill -INT "${CPID[w]}"
    wait_exit w 15 || { no "w did not stop within 15 s of SIGINT"; return 1; }
    [ "$EXIT_RC" = 130 ] || { no "exit $EXIT_RC after SIGINT, want 130"; return 1; }
    [ ! -e "$WORK/run-w/pg-entrypoint.status" ] || { no "the status file is left after the stop"; return 1; }
}
check health_while_waiting check_health_while_waiting

checks_done

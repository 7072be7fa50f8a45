#!/bin/bash
# compat_args: the official image's argument handling and users (one CHECK
# line per behaviour):
#  - args_version_direct / args_bash_direct / args_psql_direct:
#    `postgres --version`, `bash -c 'echo hi'`, `psql --version` run as they
#    are: their output, exit 0, no initialisation (PGDATA stays missing, no
#    line of the entrypoint's own log);
#  - args_leading_dash: `pg-entrypoint -c max_connections=50 ...` runs
#    postgres (argv[0] of PID 1) with max_connections 50;
#  - root_runs_as_postgres: started as root, the postmaster runs as postgres
#    (all uids and gids);
#  - pgdata_1777_to_0700: a PGDATA that exists as root's with mode 1777 (as
#    in the image) ends postgres's with mode 0700;
#  - foreign_owner_taken_over: a cluster owned by uid 1001 (a bind mount from
#    another image) is made postgres's, every file, when started as root, and
#    starts;
#  - nonroot_postgres: started as postgres (not root), it initialises and
#    runs as postgres;
#  - nonroot_nss_wrapper: started as uid 4242 with no passwd entry, initdb
#    goes through nss_wrapper (libnss-wrapper), the server runs as 4242, the
#    password works, and the temporary passwd files are gone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 260
net_pair
CLIENT_NS=$NS_R
ROOT_PORT=55840
U_PORT=55841
N_PORT=55842
X_PORT=55843
NSS_UID=4242

if getent passwd "$NSS_UID" >/dev/null; then fail "uid $NSS_UID has a passwd entry on this host; the test needs one without"; fi
dpkg -s libnss-wrapper >/dev/null 2>&1 ||
    fail "libnss-wrapper is not installed (apt-get install libnss-wrapper); nonroot_nss_wrapper needs it"

# --- three first starts at once: root (1777 PGDATA, leading -c), postgres, uid 4242 ---
install -d -o root -g root -m 1777 "$WORK/root1"
cl_launch root1 "$NS_P" "$P_ADDR" "$ROOT_PORT" PGDATA="$WORK/root1" POSTGRES_PASSWORD="$SUPERPW" -- \
    -c max_connections=50 -c listen_addresses="$P_ADDR"
install -d -o postgres -g postgres -m 0755 "$WORK/u"
CL_AS=postgres
cl_launch u "$NS_P" "$P_ADDR" "$U_PORT" PGDATA="$WORK/u/data" POSTGRES_PASSWORD="$SUPERPW" --
install -d -o "$NSS_UID" -g "$NSS_UID" -m 0755 "$WORK/n"
nss_before=$(find /tmp -maxdepth 1 -name 'pg-entrypoint-nss.*' -uid "$NSS_UID" | sort)
CL_AS=$NSS_UID:$NSS_UID
cl_launch n "$NS_P" "$P_ADDR" "$N_PORT" PGDATA="$WORK/n/data" POSTGRES_PASSWORD="$SUPERPW" --

# --- commands that are run as they are (while the three initialise) ------------------
# direct ID WANT_REGEX ARGS...: exit 0, stdout matches, no initialisation.
direct()
{
    local id=$1 want=$2 out
    shift 2
    cl_launch "$id" "$NS_P" "$P_ADDR" "$X_PORT" PGDATA="$WORK/$id" POSTGRES_PASSWORD="$SUPERPW" -- "$@"
    wait_exit "$id" 20 || { stop_quiet "$id"; no "'$*' still runs after 20 s"; return 1; }
    out=$(cat "${ILOG[$id]%.log}.out")
    [ "$EXIT_RC" = 0 ] || { no "'$*' exited $EXIT_RC: $(tail -n2 "${ILOG[$id]}")"; return 1; }
    grep -Eq -- "$want" <<<"$out" || { no "'$*' printed '$out', want /$want/"; return 1; }
    [ ! -e "$WORK/$id" ] || { no "'$*' created PGDATA"; return 1; }
    log_has "$id" '\[pg-entrypoint\]' && { no "'$*' went through the entrypoint: $(log_line "$id" '\[pg-entrypoint\]')"; return 1; }
    return 0
}
check args_version_direct direct ver '^postgres \(PostgreSQL\) 15\.' postgres --version
check args_bash_direct direct bash '^hi$' bash -c 'echo hi'
check args_psql_direct direct psql '^psql \(PostgreSQL\) 15\.' psql --version

# --- root ----------------------------------------------------------------------------------
wait_ready root1
check_leading_dash()
{
    local argv0
    argv0=$(tr '\0' '\n' <"/proc/${CPID[root1]}/cmdline" | sed -n 1p)
    [ "$argv0" = postgres ] || [ "$argv0" = "$PG_BINDIR/postgres" ] || { no "PID 1 runs '$argv0', not postgres"; return 1; }
    [ "$(sqlc root1 postgres "$SUPERPW" postgres 'SHOW max_connections')" = 50 ] ||
        { no "max_connections is $(sqlc root1 postgres "$SUPERPW" postgres 'SHOW max_connections'), want 50"; return 1; }
}
check args_leading_dash check_leading_dash

check_root_runs_as_postgres()
{
    local st=/proc/${CPID[root1]}/status u g
    u=$(id -u postgres)
    g=$(id -g postgres)
    [ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")" = "$u $u $u $u" ] || { no "postmaster $(grep ^Uid: "$st")"; return 1; }
    [ "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")" = "$g $g $g $g" ] || { no "postmaster $(grep ^Gid: "$st")"; return 1; }
    [ "$(stat -c %U "$WORK/root1/PG_VERSION")" = postgres ] || { no "PG_VERSION is $(stat -c %U "$WORK/root1/PG_VERSION")'s"; return 1; }
}
check root_runs_as_postgres check_root_runs_as_postgres

check_1777()
{
    [ "$(stat -c '%a %U' "$WORK/root1")" = "700 postgres" ] ||
        { no "PGDATA (1777 root before) is now $(stat -c '%a %U' "$WORK/root1")"; return 1; }
}
check pgdata_1777_to_0700 check_1777

# --- non-root ---------------------------------------------------------------------------
wait_ready u
check_nonroot_postgres()
{
    [ "$(pm_ids u)" = "$(id -u postgres) $(id -g postgres)" ] || { no "the postmaster runs as $(pm_ids u)"; return 1; }
    [ "$(sqlc u postgres "$SUPERPW" postgres 'select 1')" = 1 ] || { no "cannot log in with POSTGRES_PASSWORD"; return 1; }
    [ "$(stat -c '%a %U' "$WORK/u/data")" = "700 postgres" ] || { no "PGDATA is $(stat -c '%a %U' "$WORK/u/data")"; return 1; }
}
check nonroot_postgres check_nonroot_postgres

wait_ready n
check_nonroot_nss_wrapper()
{
    log_has n 'nss_wrapper' || { no "the log does not mention nss_wrapper"; return 1; }
    [ "$(pm_ids n)" = "$NSS_UID $NSS_UID" ] || { no "the postmaster runs as $(pm_ids n)"; return 1; }
    [ "$(stat -c '%u %a' "$WORK/n/data")" = "$NSS_UID 700" ] || { no "PGDATA is $(stat -c '%u %a' "$WORK/n/data")"; return 1; }
    [ "$(sqlc n postgres "$SUPERPW" postgres 'select current_user')" = postgres ] ||
        { no "cannot log in as postgres with POSTGRES_PASSWORD"; return 1; }
    local after
    after=$(find /tmp -maxdepth 1 -name 'pg-entrypoint-nss.*' -uid "$NSS_UID" | sort)
    [ "$after" = "$nss_before" ] || { no "nss_wrapper files are left: $after"; return 1; }
}
check nonroot_nss_wrapper check_nonroot_nss_wrapper

# --- a cluster owned by another uid -----------------------------------------------------
stop_quiet root1
[ "$EXIT_RC" = 0 ] || fail "root1 exited $EXIT_RC on SIGINT"
chown -R 1001:1001 "$WORK/root1"
chmod 0750 "$WORK/root1"
cl_launch root1 "$NS_P" "$P_ADDR" "$ROOT_PORT" PGDATA="$WORK/root1" POSTGRES_PASSWORD="$SUPERPW" -- \
    -c max_connections=50 -c listen_addresses="$P_ADDR"
check_foreign_owner()
{
    ready_within root1 300 || { no "the cluster owned by uid 1001 did not start: $(grep -m1 ERROR "${ILOG[root1]}")"; return 1; }
    local left
    left=$(find "$WORK/root1" ! -user postgres | sed -n 1,3p)
    [ -z "$left" ] || { no "not postgres's: $left"; return 1; }
    [ "$(stat -c '%a' "$WORK/root1")" = 700 ] || { no "PGDATA has mode $(stat -c '%a' "$WORK/root1")"; return 1; }
    log_has root1 'was owned by uid 1001' || { no "the log does not say the owner was uid 1001"; return 1; }
    [ "$(sqlc root1 postgres "$SUPERPW" postgres 'select 1')" = 1 ] || { no "cannot log in"; return 1; }
}
check foreign_owner_taken_over check_foreign_owner

checks_done

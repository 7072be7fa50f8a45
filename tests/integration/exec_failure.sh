#!/bin/bash
# exec_failure: a program that cannot be executed is one failure, reported in
# one line, in the log's format (POSTGRES_LOG_FORMAT=json here), and the exit
# status says which, as shells and tini do:
#  - the container's command not found: exit 127; found but not executable:
#    exit 126; one ERROR line each, valid JSON, nothing else on stderr;
#  - a PATH without postgres (initdb still finds its own): the final exec of
#    postgres fails with 127 and one ERROR line; with a replication password,
#    the single-user bootstrap (a helper) fails to start first: exit 1, one
#    line names it, as JSON, nothing but JSON on stderr (no raw text from
#    the child), and the only other ERROR line is the step's "failed in N s".
source "$(dirname "$0")/lib.sh"
it_setup 85
net_single
PY=/usr/bin/python3
[ -x "$PY" ] || fail "$PY not found (Debian package python3)"

# json_only LOG: every line of LOG is a JSON object from pg-entrypoint;
# prints the number of ERROR lines that are not a step's end.
json_only()
{
    "$PY" - "$1" <<'PYEOF'
import json, re, sys
def bad(why):
    print(why)
    sys.exit(1)
errors = 0
for n, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    try:
        o = json.loads(line)
    except ValueError:
        bad(f"line {n} is not JSON: {line.rstrip()}")
    if o.get("source") != "pg-entrypoint":
        bad(f"line {n} is not from pg-entrypoint: {line.rstrip()}")
    if o["level"] == "ERROR" and not re.fullmatch(r"failed in [0-9.]+ s", o["message"]):
        errors += 1
print(errors)
PYEOF
}

# exec_case ID WANT REGEX CMD...: runs CMD as the container's command.
exec_case()
{
    local id=$1 want=$2 re=$3 errors
    shift 3
    launch "$id" "$NS_1" POSTGRES_LOG_FORMAT=json -- "$@"
    wait_exit "$id" 15 || fail "$id: still running after 15 s"
    log "$id: exit status $EXIT_RC; log: $(cat "${ILOG[$id]}")"
    errors=$(json_only "${ILOG[$id]}") || fail "$id: $errors"
    [ "$errors" = 1 ] || fail "$id: $errors ERROR lines, want exactly 1"
    assert_log_has "${ILOG[$id]}" "$re" "$id: the line names the command and the reason"
    [ "$EXIT_RC" = "$want" ] || fail "$id: exit status $EXIT_RC, want $want"
}

exec_case missing 127 '"level":"ERROR".*could not execute \\"/nonexistent/cmd\\": No such file or directory' /nonexistent/cmd
printf '#!/bin/sh\necho never\n' >"$WORK/notexec"
chmod 644 "$WORK/notexec"
exec_case notexec 126 '"level":"ERROR".*could not execute \\"[^"]*/notexec\\": Permission denied' "$WORK/notexec"

# A PATH where every PostgreSQL program but postgres is found: initdb finds
# postgres next to its own real path and succeeds; the entrypoint's
# single-user bootstrap looks postgres up in PATH and does not find it.
mkdir "$WORK/bin"
for f in "$PG_BINDIR"/*; do
    [ "$(basename "$f")" = postgres ] || ln -s "$f" "$WORK/bin/"
done
# nopg ID WANT [VAR=VALUE...]: a primary's first start with that PATH.
nopg()
{
    local id=$1 want=$2 errors
    shift 2
    launch "$id" "$NS_1" PGDATA="$WORK/$id" POSTGRES_PASSWORD="$SUPERPW" POSTGRES_LOG_FORMAT=json \
        LAUNCH_PATH="$WORK/bin" "$@" -- \
        sh -c 'PATH="$LAUNCH_PATH:/usr/bin:/bin"; unset LAUNCH_PATH; exec "$0" postgres' "$BIN"
    wait_exit "$id" 60 || fail "$id: still running after 60 s"
    log "$id: exit status $EXIT_RC"
    errors=$(json_only "${ILOG[$id]}") || fail "$id: $errors"
    [ "$errors" = 1 ] || fail "$id: $errors ERROR lines besides the step's end, want exactly 1"
    assert_log_has "${ILOG[$id]}" '"level":"ERROR".*could not execute \\"postgres\\": No such file or directory' \
        "$id: the line names postgres and the reason"
    assert_log_has "${ILOG[$id]}" '"step":"initdb".*"message":"done in' "$id: initdb did not run to its end first"
    [ "$EXIT_RC" = "$want" ] || fail "$id: exit status $EXIT_RC, want $want"
}
# Without a replication password there is no bootstrap: the final exec of
# postgres is what fails (127). With one, the single-user bootstrap (a helper)
# fails first: a runtime failure (1).
nopg nopg-exec 127
nopg nopg-helper 1 POSTGRES_REPLICATION_PASSWORD="$REPLPW"
log "PASS"

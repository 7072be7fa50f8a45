#!/bin/bash
# json_logs: with POSTGRES_LOG_FORMAT=json, what the entrypoint writes is one
# JSON object a line, for a log collector:
#  - a primary's first start and a replica's clone: every line with
#    "source":"pg-entrypoint" parses, has the keys time (ISO 8601 UTC, ms),
#    level, step and message; step ends ("done in N s") and only they carry
#    duration_s, equal to N; initdb, configure, bootstrap and clone end so;
#  - the clone's progress lines give the percentage and the rate in MB/s;
#  - no text-format "[pg-entrypoint]" line appears anywhere, and no other
#    line that looks like JSON fails to parse;
#  - a configuration error is one JSON line too (level ERROR, step config,
#    naming the variable), exit 78; an invalid POSTGRES_LOG_FORMAT is itself
#    a configuration error that names it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 230
net_pair
P_PORT=55620
R_PORT=55621
PY=/usr/bin/python3
[ -x "$PY" ] || fail "$PY not found (Debian package python3)"

cat >"$WORK/check_json.py" <<'EOF'
# check_json.py LOG [--end STEP]... [--has STEP REGEX]... [--progress]:
# checks the entrypoint's JSON lines in LOG; prints a summary; exits 1 with
# the reason on a defect.
import json, re, sys

path = sys.argv[1]
ends, has, progress = [], [], False
args = sys.argv[2:]
while args:
    a = args.pop(0)
    if a == "--end":
        ends.append(args.pop(0))
    elif a == "--has":
        has.append((args.pop(0), args.pop(0)))
    elif a == "--progress":
        progress = True
    else:
        sys.exit("check_json.py: unknown option " + a)
errors, entries = [], []
for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
    line = line.rstrip("\n")
    if '"source":"pg-entrypoint"' not in line and not line.lstrip().startswith("{"):
        continue
    try:
        e = json.loads(line)
    except ValueError as x:
        errors.append("line %d does not parse (%s): %s" % (n, x, line))
        continue
    if not isinstance(e, dict) or e.get("source") != "pg-entrypoint":
        errors.append("line %d is JSON but not the entrypoint's: %s" % (n, line))
        continue
    for k in ("time", "level", "step", "message"):
        if not isinstance(e.get(k), str) or not e[k]:
            errors.append("line %d: no string %r: %s" % (n, k, line))
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e.get("time", "")):
        errors.append("line %d: time is not ISO 8601 UTC: %s" % (n, line))
    if e.get("level") not in ("INFO", "WARNING", "ERROR"):
        errors.append("line %d: level %r" % (n, e.get("level")))
    m = re.fullmatch(r"(done|failed) in ([0-9.]+) s", e.get("message", ""))
    if m:
        d = e.get("duration_s")
        if not isinstance(d, (int, float)) or isinstance(d, bool) or d < 0:
            errors.append("line %d: a step end without a numeric duration_s: %s" % (n, line))
        elif abs(d - float(m.group(2))) > 0.006:
            errors.append("line %d: duration_s %s disagrees with the message: %s" % (n, d, line))
    elif "duration_s" in e:
        errors.append("line %d: duration_s on a line that is not a step end: %s" % (n, line))
    entries.append(e)
for step in ends:
    if not any(e["step"] == step and e["message"].startswith("done in ") and "duration_s" in e
               for e in entries if "step" in e and "message" in e):
        errors.append("no \"done in\" line with duration_s for step %s" % step)
for step, rx in has:
    if not any(e.get("step") == step and re.search(rx, e.get("message", "")) for e in entries):
        errors.append("no line of step %s with a message matching /%s/" % (step, rx))
prog = [e for e in entries if e.get("step") == "clone" and
        re.fullmatch(r"\d{1,3}% copied \(\d+ of \d+ kB, [0-9.]+ MB/s\)", e.get("message", ""))]
if progress:
    if not prog:
        errors.append("no clone progress line with a percentage and MB/s")
    elif not any(e["message"].startswith("100% ") for e in prog):
        errors.append("no clone progress line says 100%")
if len(entries) < 5:
    errors.append("only %d entrypoint lines" % len(entries))
print("%s: %d JSON lines, steps %s, %d progress line(s)%s" % (
    path.rsplit("/", 1)[-1], len(entries), ",".join(dict.fromkeys(e.get("step", "?") for e in entries)),
    len(prog), (": " + prog[-1]["message"]) if prog else ""))
if errors:
    print("\n".join(errors[:20]))
    sys.exit(1)
EOF

check_json()
{
    local out
    out=$("$PY" "$WORK/check_json.py" "$@") || fail "JSON log check: $out"
    log "$out"
}

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p" POSTGRES_LOG_FORMAT=json
wait_ready p
# Some data for the clone to copy (its progress is reported at most once a second).
q p "create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 20000) g"
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r" POSTGRES_LOG_FORMAT=json
wait_ready r
poll 20 "the rows reach the replica" q_is r 'select count(*) from t' 20000
plog=${ILOG[p]}
rlog=${ILOG[r]}

# The entrypoint's messages from the first to the last came out as JSON
# (its start and exec lines; a message with double quotes, unescaped).
check_json "$plog" --end initdb --end configure --end bootstrap \
    --has start '^pg-entrypoint .*, role primary, PGDATA "'"$WORK"'/p"$' --has exec '^starting postgres \(pg-entrypoint used [0-9.]+ s of CPU, peak RSS [0-9]+ kB\)$'
check_json "$rlog" --end clone --progress \
    --has start '^pg-entrypoint .*, role replica, PGDATA "'"$WORK"'/r"$' --has exec '^starting postgres \(pg-entrypoint used [0-9.]+ s of CPU, peak RSS [0-9]+ kB\)$' \
    --has slot '^created physical replication slot "r" on the primary$'
for f in "$plog" "$rlog"; do
    assert_log_lacks "$f" '\[pg-entrypoint\]' "a text-format line in JSON mode"
done
# stdout holds initdb's own report, not the entrypoint's lines.
assert_log_lacks "$WORK/p.1.out" 'pg-entrypoint' "the primary's entrypoint wrote on stdout"
assert_log_lacks "$WORK/r.1.out" 'pg-entrypoint' "the replica's entrypoint wrote on stdout"
assert_no_secret "$plog" "$rlog"

# A configuration error, as JSON.
launch badrole "$NS_R" PGDATA="$WORK/bad" POSTGRES_LOG_FORMAT=json POSTGRES_ROLE=auto HOSTNAME=standalone \
    POSTGRES_PASSWORD="$SUPERPW" -- postgres -p 55622 -k "$WORK" -c listen_addresses=127.0.0.1
wait_exit badrole 15 || fail "a configuration error did not end the entrypoint within 15 s"
[ "$EXIT_RC" = 78 ] || fail "a configuration error exited $EXIT_RC, want 78: $(cat "${ILOG[badrole]}")"
[ "$(wc -l <"${ILOG[badrole]}")" = 1 ] || fail "want one line on stderr for a configuration error: $(cat "${ILOG[badrole]}")"
"$PY" -c '
import json, sys
e = json.loads(open(sys.argv[1]).read())
assert e["source"] == "pg-entrypoint" and e["level"] == "ERROR" and e["step"] == "config", e
assert "POSTGRES_ROLE" in e["message"] and "\"standalone\"" in e["message"], e
assert set(e) == {"time", "level", "source", "step", "message"}, e
' "${ILOG[badrole]}" 2>"$WORK/badrole.py.err" ||
    fail "the configuration error is not the expected JSON line: $(cat "${ILOG[badrole]}") ($(tail -1 "$WORK/badrole.py.err"))"
log "configuration error: $(cat "${ILOG[badrole]}")"
[ ! -e "$WORK/bad" ] || fail "PGDATA was created despite the configuration error"

# An invalid format is refused, naming the variable.
launch badfmt "$NS_R" PGDATA="$WORK/bad" POSTGRES_LOG_FORMAT=yaml POSTGRES_PASSWORD="$SUPERPW" -- \
    postgres -p 55622 -k "$WORK" -c listen_addresses=127.0.0.1
wait_exit badfmt 15 || fail "POSTGRES_LOG_FORMAT=yaml did not end the entrypoint within 15 s"
[ "$EXIT_RC" = 78 ] || fail "POSTGRES_LOG_FORMAT=yaml exited $EXIT_RC, want 78: $(cat "${ILOG[badfmt]}")"
assert_log_has "${ILOG[badfmt]}" 'ERROR +config: POSTGRES_LOG_FORMAT="yaml" is not valid' "POSTGRES_LOG_FORMAT=yaml is refused"
log "PASS"

# test/stubs/worker_env.sh: helpers shared by test/integration/worker_*.sh. Sourced.
# Expects the environment of test/run (PGHOST PGPORT EVS_BIN EVS_DATA EVS_SRC EVS_WORK).

. "$EVS_SRC/test/lib/cluster.sh"
. "$EVS_SRC/test/lib/rabbitmq.sh"

WFAIL=0
WSETTINGS=()

ok()   { echo "ok - $*"; }
bad()  { echo "not ok - $*"; WFAIL=1; }
check() { # description, command...
    local d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
q()  { psql -X -q -At -v ON_ERROR_STOP=1 -d "${WDB:-postgres}" "$@"; }
qv() { q -c "$1"; }

# worker_restart: restart the test cluster so PGC_POSTMASTER settings apply.
worker_restart() {
    evs_as_owner "$EVS_BIN/pg_ctl" -D "$EVS_DATA" -l "$EVS_DATA.log" -w -t 60 -m fast restart >/dev/null
}

# worker_set NAME VALUE...: ALTER SYSTEM (undone by worker_env_cleanup).
worker_set() {
    while [ $# -ge 2 ]; do
        psql -X -q -d postgres -c "ALTER SYSTEM SET $1 = '$2'" >/dev/null
        WSETTINGS+=("$1"); shift 2
    done
}

# wait_sql SQL EXPECTED SECONDS: poll until the query prints EXPECTED.
wait_sql() {
    local sql=$1 want=$2 secs=$3 got="" end
    end=$(( $(date +%s) + secs ))
    while [ "$(date +%s)" -le "$end" ]; do
        got=$(q -c "$sql" 2>/dev/null) && [ "$got" = "$want" ] && return 0
        sleep 0.2
    done
    echo "  (waited ${secs}s for [$sql] = [$want], last value [$got])" >&2
    return 1
}

# stub_start SECRET RECORD_FILE: the stub services (services.py) on a free port, recording
# to RECORD_FILE; sets STUB (its base URL) and STUB_PID (stopped by worker_env_cleanup).
stub_start() {
    local port
    port=$(evs_free_port)
    : >"$2"; chmod 666 "$2"
    python3 "$EVS_SRC/test/stubs/services.py" "$port" "$2" "$1" &
    STUB_PID=$!
    STUB="http://127.0.0.1:$port"
    for _ in $(seq 1 50); do curl -s "$STUB/_requests" >/dev/null && break; sleep 0.1; done
}
# ctl JSON: a rule for the stub (services.py "_control"); reqs EXPR: a Python expression
# over the stub's record r (a list of requests), printed.
ctl() { curl -s -X POST -d "$1" "$STUB/_control" >/dev/null; }
reqs() { python3 -c "import json; r=[json.loads(l) for l in open('$REC') if l.strip()]; print($1)"; }

worker_pid() { q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'eventsvc worker'"; }

worker_env_cleanup() {
    local s
    evs_rabbit_stop
    [ -n "${STUB_PID:-}" ] && kill "$STUB_PID" 2>/dev/null
    if [ ${#WSETTINGS[@]} -gt 0 ]; then
        for s in "${WSETTINGS[@]}"; do psql -X -q -d postgres -c "ALTER SYSTEM RESET $s" >/dev/null 2>&1; done
        worker_restart
    fi
}

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

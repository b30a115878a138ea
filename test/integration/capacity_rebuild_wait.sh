#!/usr/bin/env bash
# A section's seat counter rebuilt while a reservation is in flight: the rebuild
# waits for that transaction (it is woken when the transaction ends), never longer
# than 10 s of real time, and a cancel (statement_timeout) stops the wait at once.
#   1. A holds 2 seats in an open transaction; the counter is reset; C's reservation
#      waits, completes only after A commits, and the counter then equals the rows.
#   2. A stays open for 20 s: C is refused with PT409 after 10 s (not 20 s).
#   3. A stays open: C with statement_timeout = 1s is cancelled (57014) well before 10 s.
set -uo pipefail
fails=0
DB=capacity_rebuild
TENANT=e2222222-2222-4222-8222-222222222222
SECTION=e2222222-0000-4000-8000-0000000000c1
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
expect() { # description, got, want
    if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: got '$2', want '$3'"; fails=$((fails + 1)); fi
}
check() { # description, condition (SQL returning true)
    if [ "$(q -c "SELECT $2")" = t ]; then echo "ok - $1"; else echo "not ok - $1 ($2)"; fails=$((fails + 1)); fi
}

psql -X -q -d postgres -c "CREATE DATABASE $DB"
q -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null
q >/dev/null <<SQL
SELECT eventsvc.create_tenant('Rebuild', 'rebuild', '$TENANT');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('$TENANT', 'e2222222-0000-4000-8000-00000000000a', 'Rebuild Hall', 100);
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('$TENANT', 'e2222222-0000-4000-8000-0000000000e1', 'e2222222-0000-4000-8000-00000000000a',
        'Rebuild Night', 'rebuild-night', 'ON_SALE');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('$TENANT', '$SECTION', 'e2222222-0000-4000-8000-0000000000e1', 'Floor', 10, 10);
SQL

# A: holds 2 seats in a transaction that stays open for $1 seconds, prints the
# time just before its COMMIT, then commits.
in_flight_for() {
    psql -X -q -At -d "$DB" -v ON_ERROR_STOP=1 \
        -c "SET application_name = 'rebuild_holder'" \
        -c "SET app.current_tenant_id = '$TENANT'" \
        -c "BEGIN" \
        -c "SELECT api.reserve_capacity('$SECTION', 2) IS NOT NULL" \
        -c "SELECT pg_sleep($1)" \
        -c "SELECT to_char(clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS.US')" \
        -c "COMMIT" >"$EVS_WORK/holder.out" 2>&1 &
    holder=$!
    # until A's reservation is counted in flight on the counter
    for _ in $(seq 1 200); do
        [ "$(q -c "SELECT (eventsvc.escrow_state('$SECTION') ->> 'in_flight')::int > 0")" = t ] && break
        sleep 0.05
    done
    q -c "SELECT eventsvc.escrow_reset('$SECTION')" >/dev/null
}
stop_holder() {
    q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND application_name = 'rebuild_holder'" >/dev/null
    wait "$holder" 2>/dev/null
}
# C: one seat, with optional settings; prints sqlstate|seconds waited|end time
reserve_one() {
    psql -X -q -At -d "$DB" -c "SET app.current_tenant_id = '$TENANT'" ${1:+-c "$1"} -f - <<SQL 2>&1 | grep -o 'result|.*' | cut -d'|' -f2-
DO \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    st text := 'ok';
BEGIN
    BEGIN
        PERFORM api.reserve_capacity('$SECTION', 1);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        st := SQLSTATE;
    END;
    RAISE NOTICE 'result|%|%|%', st, round(extract(epoch FROM clock_timestamp() - t0), 1),
        to_char(clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS.US');
END
\$\$;
SQL
}

# 1. woken by the commit of the transaction in flight
in_flight_for 2
r=$(reserve_one)
wait "$holder"
committed=$(grep -E '^[0-9]{4}-' "$EVS_WORK/holder.out" | tail -1)
expect "the reservation made while the counter was rebuilt succeeds" "$(cut -d'|' -f1 <<<"$r")" ok
check "it finished only once the transaction in flight was committing" \
    "'$(cut -d'|' -f3 <<<"$r")'::timestamp >= '$committed'::timestamp"
expect "the rebuilt counter counts both holds (10 - 2 - 1)" \
    "$(q -c "SELECT eventsvc.escrow_state('$SECTION') ->> 'available'")" 7
expect "no drift between the counter and the hold rows" \
    "$(q -c "SET app.current_tenant_id = '$TENANT'" -c "SELECT eventsvc.check_capacity('$SECTION') ->> 'drift'")" 0

# 2. bounded: 10 s of real time, not until the other transaction ends
in_flight_for 20
r=$(reserve_one)
stop_holder
expect "a rebuild that waits too long is refused with PT409" "$(cut -d'|' -f1 <<<"$r")" PT409
waited=$(cut -d'|' -f2 <<<"$r")
check "it waited the 10 s bound in real time (waited ${waited} s)" "${waited:-0} >= 9.9 AND ${waited:-0} < 19"

# 3. interruptible: a statement timeout ends the wait
in_flight_for 20
r=$(reserve_one "SET statement_timeout = '1s'")
stop_holder
expect "a cancel stops the wait (statement_timeout)" "$(cut -d'|' -f1 <<<"$r")" 57014
waited=$(cut -d'|' -f2 <<<"$r")
check "it stopped well before the 10 s bound (waited ${waited} s)" "${waited:-99} < 8"

expect "after the aborted holders, no drift" \
    "$(q -c "SET app.current_tenant_id = '$TENANT'" -c "SELECT eventsvc.check_capacity('$SECTION') ->> 'drift'")" 0
[ "$fails" = 0 ]

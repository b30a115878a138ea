#!/usr/bin/env bash
# A section's seat counter reset while a reservation is in flight never stalls
# sales: the next reservation waits for the rebuild at most
# eventsvc.escrow_build_wait_ms of real time, then sells on the row-lock path
# (exact: the seats of the reservation in flight still count), and the counter
# is rebuilt by the first reservation after that transaction ends.
#   1. A holds 2 of 10 seats in an open transaction; the counter is reset. While A
#      stays open, C takes 1 and D the 7 left, E is refused (0 remaining): all of
#      them finish before A commits. After A commits, the next reservation rebuilds
#      the counter: no drift.
#   2. Same, but A rolls back: its 2 seats come back, and only those.
set -uo pipefail
fails=0
DB=capacity_rebuild
TENANT=e2222222-2222-4222-8222-222222222222
SECTION=e2222222-0000-4000-8000-0000000000c1
SECTION2=e2222222-0000-4000-8000-0000000000c2
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
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('$TENANT', 'e2222222-0000-4000-8000-0000000000e1', 'e2222222-0000-4000-8000-00000000000a',
        'Rebuild Night', 'rebuild-night', 'ON_SALE');
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('$TENANT', 'e2222222-0000-4000-8000-0000000000e2', 'e2222222-0000-4000-8000-00000000000a',
        'Rebuild Night Two', 'rebuild-night-two', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('$TENANT', '$SECTION', 'e2222222-0000-4000-8000-0000000000e1', 'Floor', 10, 10),
       ('$TENANT', '$SECTION2', 'e2222222-0000-4000-8000-0000000000e2', 'Floor', 10, 10);
SQL

# A: holds 2 seats in a transaction that stays open until $EVS_WORK/release_a exists,
# then commits ($1 = COMMIT) or rolls back ($1 = ROLLBACK).
open_a() {
    rm -f "$EVS_WORK/release_a"
    psql -X -q -At -d "$DB" -v ON_ERROR_STOP=1 \
        -c "SET application_name = 'rebuild_holder'" \
        -c "SET app.current_tenant_id = '$TENANT'" \
        -c "BEGIN" \
        -c "SELECT to_jsonb(api.reserve_capacity('$SECTION', 2, holder_id => 'a')) IS NOT NULL" \
        -c "DO \$\$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM pg_stat_file('$EVS_WORK/release_a', true) WHERE size IS NOT NULL)
                         LOOP PERFORM pg_sleep(0.05); END LOOP; END \$\$" \
        -c "$1" >"$EVS_WORK/holder.out" 2>&1 &
    holder=$!
    for _ in $(seq 1 200); do   # until A's reservation is counted in flight on the counter
        [ "$(q -c "SELECT (eventsvc.escrow_state('$SECTION') ->> 'in_flight')::int > 0")" = t ] && break
        sleep 0.05
    done
    q -c "SELECT eventsvc.escrow_reset('$SECTION')" >/dev/null
}
end_a() { touch "$EVS_WORK/release_a"; chmod 644 "$EVS_WORK/release_a"; wait "$holder"; }
a_open() { [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND application_name = 'rebuild_holder' AND xact_start IS NOT NULL")" = 1 ]; }
# one reservation by $1 of $2 seats: the SQLSTATE (or ok) and the seconds it took
reserve() {
    psql -X -q -At -d "$DB" -c "SET app.current_tenant_id = '$TENANT'" -f - <<SQL 2>&1 | grep -o 'result|.*' | cut -d'|' -f2-
DO \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    st text := 'ok';
BEGIN
    BEGIN
        PERFORM to_jsonb(api.reserve_capacity('$SECTION', $2, holder_id => '$1'));
    EXCEPTION WHEN OTHERS THEN
        st := SQLSTATE;
    END;
    RAISE NOTICE 'result|%|%', st, round(extract(epoch FROM clock_timestamp() - t0), 3);
END
\$\$;
SQL
}
drift() { q -c "SET app.current_tenant_id = '$TENANT'" -c "SELECT (r->>'busy') || '/' || (r->>'drift') || '/' || (r->'rows'->>'drift') FROM eventsvc.check_capacity('$SECTION') r"; }
state() { q -c "SELECT eventsvc.escrow_state('$SECTION') ->> 'state'"; }

# 1. committed
open_a COMMIT
expect "after the reset the counter is stale" "$(state)" stale
r=$(reserve c 1)
expect "C reserves while A's reservation is in flight" "$(cut -d'|' -f1 <<<"$r")" ok
echo "# C waited $(cut -d'|' -f2 <<<"$r") s (escrow_build_wait_ms = $(q -c "SHOW eventsvc.escrow_build_wait_ms"))"
expect "D takes the 7 left (A's 2 in flight still count)" "$(reserve d 7 | cut -d'|' -f1)" ok
expect "E is refused: nothing left" "$(reserve e 1 | cut -d'|' -f1)" PT409
a_open && echo "ok - all of them finished while A was still open" || { echo "not ok - A ended before the others finished"; fails=$((fails + 1)); }
end_a
expect "after A: still nothing left" "$(reserve f 1 | cut -d'|' -f1)" PT409
expect "that reservation rebuilt the counter" "$(state)" valid
expect "the rebuilt counter: 0 free" "$(q -c "SELECT eventsvc.escrow_state('$SECTION') ->> 'available'")" 0
expect "no drift (counter and counter rows against the holds)" "$(drift)" false/0/0

# 2. rolled back: A's seats come back, and only those (another event's section)
SECTION=$SECTION2
open_a ROLLBACK
expect "B reserves the 8 not in flight" "$(reserve b 8 | cut -d'|' -f1)" ok
expect "one more is refused while A is open" "$(reserve g 1 | cut -d'|' -f1)" PT409
end_a
expect "after A rolled back, its 2 seats are free" "$(reserve h 2 | cut -d'|' -f1)" ok
expect "and not one more" "$(reserve i 1 | cut -d'|' -f1)" PT409
expect "the counter is valid again" "$(state)" valid
expect "no drift" "$(drift)" false/0/0
[ "$fails" = 0 ]

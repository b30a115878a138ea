#!/usr/bin/env bash
# holds_waitlist_crash: the server crashes (kill -9 of a backend) in the middle of an
# offer: a release has handed its seat to the first waitlist entry and made its offer,
# not yet committed. After the restart nothing of it remains (the hold is still live,
# the entry still waits, no waitlist.offer), the section's counter is rebuilt from the
# rows and agrees with them and with the counter rows; the same release then makes
# the offer once, and the invariant holds again.
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1: expected '$3', got '$2'"; fi; }
DB=evs_waitlist_crash
T=5a5a5a5a-0000-4aaa-8aaa-5a5a5a5a5a5a
S=5a5a0000-0000-4000-8000-0000000000c1
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SET app.current_tenant_id = '$T'" -c "SET synchronous_commit = on" "$@"; }

evs_createdb "$DB" eventsvc
# (the test cluster commits asynchronously: these commits must be in the WAL before the crash)
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL || { nok "seed"; exit 1; }
SET synchronous_commit = on;
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
SELECT eventsvc.create_tenant('Crash Queue', 'crash-queue', '$T');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES ('$T', '5a5a0000-0000-4000-8000-00000000000a', 'Crash Hall', 10);
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('$T', '5a5a0000-0000-4000-8000-0000000000e1', '5a5a0000-0000-4000-8000-00000000000a', 'Crash Night', 'crash-night', 'ON_SALE');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('$T', '$S', '5a5a0000-0000-4000-8000-0000000000e1', 'Floor', 2, 2);
SET app.current_tenant_id = '$T';
SELECT to_jsonb(api.reserve_capacity('$S', 1, holder_id => 'holder-a')), to_jsonb(api.reserve_capacity('$S', 1, holder_id => 'holder-b'));
SET app.current_user_id = 'carl';
SELECT api.join_waitlist('$S', 1);
SET app.current_user_id = 'dora';
SELECT api.join_waitlist('$S', 1);
SQL
# the pid of the backend whose current statement contains $1 (waits up to 10 s for it)
backend_running() {
    local pid=
    for _ in $(seq 1 100); do
        pid=$(psql -X -At -d "$DB" -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%$1%' AND pid <> pg_backend_pid()" | head -1)
        [ -n "$pid" ] && break
        sleep 0.1
    done
    echo "$pid"
}
invariant() {
    q -c "SELECT (r->>'held') || ' held, ' || (r->>'sold') || ' sold, ' || (r->>'available') || ' free, drift '
                 || coalesce(r->>'drift', 'busy') || ', oversold ' || (r->>'oversold') || ', rows agree ' || (r #>> '{rows,agree}')
            FROM eventsvc.check_capacity('$S') r"
}
check "before: two seats held, the queue waiting" "$(invariant)" "2 held, 0 sold, 0 free, drift 0, oversold false, rows agree true"

# the release of holder-a's hold, which offers its seat to carl, dies before it commits
psql -X -q -d "$DB" -c "SET app.current_tenant_id = '$T'" -c "BEGIN" \
     -c "SELECT to_jsonb(api.release_hold(id)) FROM eventsvc.capacity_holds WHERE holder_id = 'holder-a'" \
     -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
victim=$(backend_running "pg_sleep(60)")
[ -n "$victim" ] && ok "a release is making carl's offer (backend $victim, not committed)" || { nok "no release in flight"; exit 1; }
check "in flight: carl's offer is not visible yet" \
    "$(q -c "SELECT state FROM eventsvc.waitlist_entries WHERE holder_id = 'carl'")" "WAITING"
evs_as_owner kill -9 "$victim"
for _ in $(seq 1 100); do psql -X -q -d "$DB" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
wait || true
ok "the server restarted after the crash"

check "after the crash: the hold is still live" \
    "$(q -c "SELECT state FROM eventsvc.capacity_holds WHERE holder_id = 'holder-a'")" "ACTIVE"
check "after the crash: carl still waits, nothing gathered" \
    "$(q -c "SELECT state || ' ' || gathered || ' ' || (hold_id IS NULL) FROM eventsvc.waitlist_entries WHERE holder_id = 'carl'")" \
    "WAITING 0 true"
check "after the crash: no waitlist.offer was sent" \
    "$(q -c "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'waitlist.offer'")" "0"
check "after the crash: the counter is rebuilt from the rows, which agree with the counter rows" \
    "$(invariant)" "2 held, 0 sold, 0 free, drift 0, oversold false, rows agree true"

# the same release again: the offer is made once
check "the release again: released" \
    "$(q -c "SELECT to_jsonb(api.release_hold(id)) ->> 'state' FROM eventsvc.capacity_holds WHERE holder_id = 'holder-a'")" "RELEASED"
check "carl has his offer" \
    "$(q -c "SELECT state || ' ' || gathered FROM api.waitlist_entries WHERE holder_id = 'carl'")" "OFFERED 1"
check "one waitlist.offer" "$(q -c "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'waitlist.offer'")" "1"
check "a newcomer cannot buy the seat" \
    "$(q -c "SET app.current_user_id = 'newcomer'" -c "DO \$\$ BEGIN PERFORM to_jsonb(api.reserve_capacity('$S', 1));
          RAISE NOTICE 'sold'; EXCEPTION WHEN SQLSTATE 'PT409' THEN NULL; END \$\$" -c "SELECT 'refused'" 2>&1)" "refused"
check "the invariant after the offer" "$(invariant)" "2 held, 0 sold, 0 free, drift 0, oversold false, rows agree true"

# carl's offer expires: the sweep passing it on to dora is terminated before it commits
# (pg_terminate_backend: the backend aborts, the server keeps running)
psql -X -q -d "$DB" -c "SET app.current_tenant_id = '$T'" -c "SET eventsvc.clock_offset_seconds = 4000" -c "BEGIN" \
     -c "SELECT api.expire_holds(100)" -c "SELECT pg_sleep(61)" >/dev/null 2>&1 &
sweeper=$(backend_running "pg_sleep(61)")
[ -n "$sweeper" ] && ok "a sweep is passing carl's offer on to dora (backend $sweeper, not committed)" || { nok "no sweep in flight"; exit 1; }
check "in flight: a newcomer still cannot buy the seat" \
    "$(q -c "SET app.current_user_id = 'newcomer'" -c "DO \$\$ BEGIN PERFORM to_jsonb(api.reserve_capacity('$S', 1));
          RAISE NOTICE 'sold'; EXCEPTION WHEN SQLSTATE 'PT409' THEN NULL; END \$\$" -c "SELECT 'refused'" 2>&1)" "refused"
check "terminated" "$(psql -X -At -d "$DB" -c "SELECT pg_terminate_backend($sweeper)")" "t"
wait || true
check "after the termination: carl's offer is still out" \
    "$(q -c "SELECT e.state || ' ' || h.state || ' ' || h.phase FROM eventsvc.waitlist_entries e
             JOIN eventsvc.capacity_holds h ON h.id = e.hold_id WHERE e.holder_id = 'carl'")" "OFFERED ACTIVE OFFERED"
check "after the termination: dora still waits, nothing gathered" \
    "$(q -c "SELECT state || ' ' || gathered FROM eventsvc.waitlist_entries WHERE holder_id = 'dora'")" "WAITING 0"
check "after the termination: still one waitlist.offer" \
    "$(q -c "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'waitlist.offer'")" "1"
check "after the termination: the invariant holds" "$(invariant)" "2 held, 0 sold, 0 free, drift 0, oversold false, rows agree true"
check "the sweep again: carl's offer lapses" \
    "$(q -c "SET eventsvc.clock_offset_seconds = 4000" -c "SELECT api.expire_holds(100) > 0" \
         -c "SELECT state FROM api.waitlist_entries WHERE holder_id = 'carl'" | tail -1)" "LAPSED"
check "and dora has the offer" "$(q -c "SELECT state || ' ' || gathered FROM api.waitlist_entries WHERE holder_id = 'dora'")" "OFFERED 1"
check "two waitlist.offer in all" "$(q -c "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'waitlist.offer'")" "2"
check "the invariant after the offer passed on (holder-b's hold expired too: its seat is free)" "$(invariant)" "1 held, 0 sold, 1 free, drift 0, oversold false, rows agree true"

[ "$fails" = 0 ]

#!/usr/bin/env bash
# The expiry sweep picks up where it left off after a clean restart: the postmaster
# keeps each database's read start across a clean shutdown, so the first sweep after
# the start reads the expiry index from there, not through the whole history.
#   1. 3,000 holds of one second expire and are swept; a last short hold is left
#      live. After a clean restart the read start is known again (no later than the
#      short hold's expiry), the first sweep expires that hold, and it reads only a
#      few hold rows.
#   2. After an immediate shutdown (no shutdown checkpoint) the read start is
#      unknown: the first sweep reads from the beginning, once, and finds everything.
#   3. The first sweep after a restart, in a new backend, returns the seats of 2,000
#      sections in one batch without keeping each section's rows until it ends: the
#      backend's peak memory grows by a few MB, not by 16 kB a section.
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
DB=capacity_sweep_restart
TENANT=e3333333-3333-4333-8333-333333333333
SECTION=e3333333-0000-4000-8000-0000000000c1
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
expect() { # description, got, want
    if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: got '$2', want '$3'"; fails=$((fails + 1)); fi
}
check() { # description, condition (SQL returning true)
    if [ "$(q -c "SELECT $2")" = t ]; then echo "ok - $1"; else echo "not ok - $1 ($2)"; fails=$((fails + 1)); fi
}
restart() { # fast | immediate
    if [ "$1" = fast ]; then
        evs_as_owner "$EVS_BIN/pg_ctl" -D "$EVS_DATA" -l "$EVS_DATA.log" -w -t 60 -m fast restart >/dev/null
    else
        evs_as_owner "$EVS_BIN/pg_ctl" -D "$EVS_DATA" -l "$EVS_DATA.log" -w -t 60 -m immediate stop >/dev/null
        evs_as_owner "$EVS_BIN/pg_ctl" -D "$EVS_DATA" -l "$EVS_DATA.log" -w -t 60 start >/dev/null
    fi
    for _ in $(seq 1 100); do q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
}
# one sweep in its own session: the holds it expired
sweep() { q -c "SELECT api.expire_holds(10000)"; }
# one sweep: "expired read", read = hold rows it read, by an index or a sequential scan
# (this session's statistics, flushed before each look)
READS="SELECT 'reads ' || (seq_tup_read + coalesce(idx_tup_fetch, 0)) FROM pg_stat_all_tables
        WHERE relid = 'eventsvc.capacity_holds'::regclass"
sweep_reads() {
    local out before after n
    out=$(q -c "SELECT pg_stat_force_next_flush()" -c "$READS" -c "SELECT 'expired ' || api.expire_holds(10000)" \
            -c "SELECT pg_stat_force_next_flush()" -c "$READS")
    before=$(grep '^reads ' <<<"$out" | head -1 | cut -d' ' -f2)
    after=$(grep '^reads ' <<<"$out" | tail -1 | cut -d' ' -f2)
    n=$(grep '^expired ' <<<"$out" | cut -d' ' -f2)
    echo "$n $((after - before))"
}

psql -X -q -d postgres -c "CREATE DATABASE $DB"
q -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null
q >/dev/null <<SQL
SELECT eventsvc.create_tenant('Sweep Restart', 'sweep-restart', '$TENANT');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('$TENANT', 'e3333333-0000-4000-8000-00000000000a', 'Restart Hall', 100000);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('$TENANT', 'e3333333-0000-4000-8000-0000000000e1', 'e3333333-0000-4000-8000-00000000000a',
        'Restart Night', 'restart-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('$TENANT', '$SECTION', 'e3333333-0000-4000-8000-0000000000e1', 'Floor', 100000, 100000);
SQL
reserve_many() { # n holds of one second, one statement
    q -c "SET app.current_tenant_id = '$TENANT'" \
      -c "SELECT count(api.reserve_capacity('$SECTION', 1, holder_id => 'h' || g, hold_seconds => 1)) FROM generate_series(1, $1) g" >/dev/null
}

# --- 1: a clean restart keeps the read start
reserve_many 3000
sleep 2
expect "1: the 3,000 one-second holds expire in one sweep" "$(sweep)" 3000
check "1: the sweep has a read start" "eventsvc.sweep_horizon() IS NOT NULL"
before=$(q -c "SELECT eventsvc.sweep_horizon()")
# a short hold left live across the restart: it lowers the read start below the horizon
short_expiry=$(q -c "SET app.current_tenant_id = '$TENANT'" \
    -c "SELECT (api.reserve_capacity('$SECTION', 1, holder_id => 'short', hold_seconds => 1)).expires_at" | tail -1)
restart fast
check "1: the read start survives a clean restart" "eventsvc.sweep_horizon() IS NOT NULL"
check "1: it is no later than the short hold's expiry" "eventsvc.sweep_horizon() <= '$short_expiry'::timestamptz"
check "1: and no earlier than the last sweep's start or the short hold" \
    "eventsvc.sweep_horizon() >= least('$before'::timestamptz, '$short_expiry'::timestamptz)"
check "1: the file is gone once read" "pg_stat_file('eventsvc_sweep_horizon', true) IS NULL"
sleep 1.5
read -r n reads <<<"$(sweep_reads)"
expect "1: the first sweep after the restart expires the short hold" "$n" 1
check "1: it reads a few hold rows, not the 3,000 finished holds (read $reads)" "$reads < 100"
expect "1: nothing is left overdue" "$(q -c "SELECT count(*) FROM eventsvc.capacity_holds WHERE state = 'ACTIVE'")" 0

# --- 2: an immediate shutdown forgets it
reserve_many 10
sleep 2
expect "2: ten more expire" "$(sweep)" 10
restart immediate
check "2: after an immediate shutdown the read start is unknown" "eventsvc.sweep_horizon() IS NULL"
q -c "SET app.current_tenant_id = '$TENANT'" \
  -c "SELECT api.reserve_capacity('$SECTION', 1, holder_id => 'late', hold_seconds => 1)" >/dev/null
sleep 1.5
read -r n reads <<<"$(sweep_reads)"
# (the suite's cluster commits asynchronously: the ten expiries may have been lost with
# the immediate shutdown, and then this sweep finds them again too)
check "2: the first sweep finds the overdue hold ($n expired)" "$n >= 1"
expect "2: the late hold is expired" \
    "$(q -c "SELECT state FROM eventsvc.capacity_holds WHERE holder_id = 'late'")" EXPIRED
expect "2: nothing is left overdue" "$(q -c "SELECT count(*) FROM eventsvc.capacity_holds WHERE state = 'ACTIVE'")" 0
check "2: reading from the beginning, through the finished holds (read $reads)" "$reads >= 3010"
check "2: then the read start is known again" "eventsvc.sweep_horizon() IS NOT NULL"
# a clean restart with an unknown start (after a reset) keeps nothing
q -c "SELECT eventsvc.escrow_reset('$SECTION')" >/dev/null
restart fast
check "2: a start forgotten before a clean shutdown stays unknown" "eventsvc.sweep_horizon() IS NULL"

# --- 3: one batch over many sections, memory bounded
# 2,000 sections of a second event, one one-second hold in each
q >/dev/null <<SQL
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('$TENANT', 'e3333333-0000-4000-8000-00000000000b', 'Many Rooms', 100000);
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status)
VALUES ('$TENANT', 'e3333333-0000-4000-8000-0000000000e2', 'e3333333-0000-4000-8000-00000000000b',
        'Many Rooms Night', 'many-rooms-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
SELECT '$TENANT', md5('room' || g)::uuid, 'e3333333-0000-4000-8000-0000000000e2', 'Room ' || g, 10, 10
  FROM generate_series(1, 2000) g;
SQL
q -c "SET app.current_tenant_id = '$TENANT'" \
  -c "SELECT count(api.reserve_capacity(md5('room' || g)::uuid, 1, holder_id => 'r' || g, hold_seconds => 1))
        FROM generate_series(1, 2000) g" >/dev/null
sleep 2
restart fast
# this backend's peak resident memory less the shared memory it has touched (kB),
# before and after its first sweep
PEAK="SELECT 'peak ' || (substring(s FROM 'VmHWM:\\s*(\\d+) kB')::int - substring(s FROM 'RssShmem:\\s*(\\d+) kB')::int)
        FROM pg_read_file('/proc/self/status') s"
out=$(q -c "$PEAK" -c "SELECT 'expired ' || api.expire_holds(10000)" -c "$PEAK")
before=$(grep '^peak ' <<<"$out" | head -1 | cut -d' ' -f2)
after=$(grep '^peak ' <<<"$out" | tail -1 | cut -d' ' -f2)
expect "3: the first sweep after the restart expires the 2,000 holds in one batch" \
    "$(grep '^expired ' <<<"$out" | cut -d' ' -f2)" 2000
expect "3: no seat of the 2,000 sections is held any more" \
    "$(q -c "SELECT coalesce(sum(k.held), 0) FROM eventsvc.section_counters k JOIN eventsvc.event_capacity c
              ON c.tenant_id = k.tenant_id AND c.id = k.capacity_id
             WHERE c.event_id = 'e3333333-0000-4000-8000-0000000000e2'")" 0
# kept rows would be 2 x 8 kB a section: 32 MB here
check "3: the backend's own peak memory grew by less than 16 MB ($(( (after - before) / 1024 )) MB)" \
    "$((after - before)) < 16384"

psql -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null
[ "$fails" -eq 0 ]

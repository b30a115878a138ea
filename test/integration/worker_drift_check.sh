#!/usr/bin/env bash
# worker_drift_check: the worker runs the capacity drift check every
# eventsvc.drift_check_interval_s. A section whose hold is changed around the hold
# functions is found drifting, reported once with capacity.drift_detected after two
# consecutive checks, and cleared by the first check after the repair; a section that
# agrees never gets a finding.
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
trap 'worker_env_cleanup; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS eventsvc_drift" >/dev/null 2>&1' EXIT

WDB=eventsvc_drift
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $WDB" >/dev/null
evs_createdb "$WDB" eventsvc
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$(evs_free_port)" eventsvc.drift_check_interval_s 1
worker_restart || exit 1

T=0d0d0d0d-0000-4000-8000-000000000000
S=0d0d0d0d-0000-4000-8000-0000000000c1
S2=0d0d0d0d-0000-4000-8000-0000000000c2
q -c "SELECT eventsvc.create_tenant('Drift', 'drift', '$T')" >/dev/null
q <<SQL >/dev/null
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES ('$T', '0d0d0d0d-0000-4000-8000-0000000000a1', 'Hall', 1000);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
  ('$T', '0d0d0d0d-0000-4000-8000-0000000000e1', '0d0d0d0d-0000-4000-8000-0000000000a1', 'Drift Night', 'drift-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
  ('$T', '$S', '0d0d0d0d-0000-4000-8000-0000000000e1', 'Floor', 100, 100),
  ('$T', '$S2', '0d0d0d0d-0000-4000-8000-0000000000e1', 'Balcony', 100, 100);
SQL
HOLD=$(q -c "SET app.current_tenant_id = '$T'" \
         -c "SELECT (api.reserve_capacity('$S', 3, holder_id => 'ann')).id" | tail -1)
q -c "SET app.current_tenant_id = '$T'" -c "SELECT api.reserve_capacity('$S2', 2, holder_id => 'bob')" >/dev/null
check "the worker runs" wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'eventsvc worker'" 1 10
sleep 3    # at least two checks
check "sections that agree get no finding" test "$(qv "SELECT count(*) FROM eventsvc.capacity_drift_findings")" = 0

# the hold changed around the hold functions: 4 seats held by the rows, 3 by the counters
q -c "SET session_replication_role = replica" -c "UPDATE eventsvc.capacity_holds SET quantity = 4 WHERE id = '$HOLD'" >/dev/null
check "the worker finds the drift and reports it after two checks" \
    wait_sql "SELECT checks >= 2 AND reported_at IS NOT NULL FROM eventsvc.capacity_drift_findings WHERE capacity_id = '$S'" t 15
check "one capacity.drift_detected message for the section" \
    test "$(qv "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'capacity.drift_detected'
                  AND payload -> 'data' ->> 'capacity_id' = '$S'")" = 1
check "the balcony, which agrees, has no finding" \
    test "$(qv "SELECT count(*) FROM eventsvc.capacity_drift_findings WHERE capacity_id = '$S2'")" = 0
sleep 2.5
check "later checks do not report it again" \
    test "$(qv "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'capacity.drift_detected'")" = 1
q -c "SELECT eventsvc.escrow_reset('$S')" >/dev/null
check "after the repair the next check clears the finding" \
    wait_sql "SELECT count(*) FROM eventsvc.capacity_drift_findings" 0 10

[ "$WFAIL" = 0 ]

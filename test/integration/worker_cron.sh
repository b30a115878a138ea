#!/usr/bin/env bash
# worker_cron: the worker's hold sweeper, then the pg_cron jobs that replace it
# (and do the periodic chores) in deployments without the worker. Real pg_cron,
# real expiry: holds are taken with hold_seconds = 1 and left to run out.
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
trap 'q -d eventsvc_cron -c "SELECT eventsvc.unschedule_cron_jobs()" >/dev/null 2>&1; worker_env_cleanup' EXIT

WDB=eventsvc_cron          # the test cluster's cron.database_name
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS eventsvc_cron" >/dev/null
evs_createdb "$WDB" eventsvc pg_cron
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$(evs_free_port)" eventsvc.sweep_interval_ms 200 \
    eventsvc.sweep_batch_size 150 cron.host "$PGHOST"
worker_restart || exit 1

T=0c0c0c0c-0000-4000-8000-000000000000
q -c "SELECT eventsvc.create_tenant('Cron', 'cron', '$T')" >/dev/null
q <<SQL >/dev/null
SET app.current_tenant_id = '$T';
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
  ('$T', '0c0c0c0c-0000-4000-8000-0000000000a1', 'Hall', 100000);
-- e1 starts in 2 h (reminder), e2 in 3 days (no reminder), e3 started 1 h ago
-- (-> IN_PROGRESS), e4 in progress and ended 1 h ago (-> COMPLETED), e5 is the sale;
-- fixtures in those states and dates: import mode (docs/tenancy.md "Write rules")
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
  ('$T', '0c0c0c0c-0000-4000-8000-0000000000e1', '0c0c0c0c-0000-4000-8000-0000000000a1', 'Soon', 'soon', 'ON_SALE', now() + interval '2 hours', now() + interval '3 hours'),
  ('$T', '0c0c0c0c-0000-4000-8000-0000000000e2', '0c0c0c0c-0000-4000-8000-0000000000a1', 'Later', 'later', 'ON_SALE', now() + interval '3 days', now() + interval '3 days 2 hours'),
  ('$T', '0c0c0c0c-0000-4000-8000-0000000000e3', '0c0c0c0c-0000-4000-8000-0000000000a1', 'Now', 'now', 'ON_SALE', now() - interval '1 hour', now() + interval '1 hour'),
  ('$T', '0c0c0c0c-0000-4000-8000-0000000000e4', '0c0c0c0c-0000-4000-8000-0000000000a1', 'Done', 'done', 'IN_PROGRESS', now() - interval '3 hours', now() - interval '1 hour'),
  ('$T', '0c0c0c0c-0000-4000-8000-0000000000e5', '0c0c0c0c-0000-4000-8000-0000000000a1', 'Sale', 'sale', 'ON_SALE', now() + interval '10 days', now() + interval '10 days 2 hours');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('$T', '0c0c0c0c-0000-4000-8000-0000000000c1', '0c0c0c0c-0000-4000-8000-0000000000e5', 'Floor', 10000, 10000);
SQL
hold() { # n holds of 2 seats that expire after 1 s
    q -c "SET app.current_tenant_id = '$T'" \
      -c "SELECT count(to_jsonb(api.reserve_capacity('0c0c0c0c-0000-4000-8000-0000000000c1', 2, NULL, 'buyer-' || g, 1))) FROM generate_series(1, $1) g" | tail -1
}
counters="SELECT available_capacity || '/' || reserved_capacity FROM eventsvc.event_capacity WHERE id = '0c0c0c0c-0000-4000-8000-0000000000c1'"

# --- the worker's sweeper (bounded batches of 150)
check "500 holds taken" test "$(hold 500)" = 500
check "the worker expires them all once they run out" \
    wait_sql "SELECT count(*) FROM eventsvc.capacity_holds WHERE state = 'EXPIRED'" 500 15
check "the section's seats are back" wait_sql "$counters" "10000/0" 2
check "api.worker_status shows the sweep" \
    wait_sql "SELECT swept_total >= 500 AND last_sweep_at IS NOT NULL FROM api.worker_status" t 3

# --- without the worker: sweeping off, pg_cron does the jobs
worker_set eventsvc.sweep_interval_ms 0
q -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q -c "INSERT INTO eventsvc.idempotency_keys (tenant_id, key, operation, request_hash, expires_at) VALUES
        ('$T', 'old', 'x', '\\x00', now() - interval '1 minute'), ('$T', 'fresh', 'x', '\\x00', now() + interval '1 hour')" >/dev/null
q -c "INSERT INTO eventsvc.confirmation_tokens (tenant_id, event_id, actor_id, change_hash, change, expires_at) VALUES
        ('$T', '0c0c0c0c-0000-4000-8000-0000000000e5', 'a', '\\x00', '{}', now() - interval '1 minute'),
        ('$T', '0c0c0c0c-0000-4000-8000-0000000000e5', 'a', '\\x00', '{}', now() + interval '1 hour')" >/dev/null
check "300 more holds taken" test "$(hold 300)" = 300
sleep 1.2
check "with sweeping off the expired holds stay" wait_sql "SELECT count(*) FROM eventsvc.capacity_holds WHERE state = 'ACTIVE'" 300 1
# pg_cron 1.4 schedules by the minute: every job is due at the next minute boundary
check "schedule_cron_jobs() installs four jobs" test "$(qv "SELECT count(*) FROM eventsvc.schedule_cron_jobs(p_purge => '* * * * *')")" = 4
check "calling it again replaces them (still four)" \
    test "$(qv "SELECT count(*) FROM eventsvc.schedule_cron_jobs(p_purge => '* * * * *')"),$(qv "SELECT count(*) FROM cron.job")" = "4,4"
echo "  waiting for the next minute boundary ($(date +%S)s past)"
check "cron: expired holds released" wait_sql "SELECT count(*) FROM eventsvc.capacity_holds WHERE state = 'ACTIVE'" 0 75
check "cron: seats back" wait_sql "$counters" "10000/0" 2
check "cron: one event.reminder, for the event starting within 24 h" \
    wait_sql "SELECT string_agg(right(aggregate_id::text, 2), ',') FROM eventsvc.outbox WHERE routing_key = 'event.reminder'" e1 15
check "cron: events moved on (e3 IN_PROGRESS, e4 COMPLETED)" \
    wait_sql "SELECT string_agg(right(id::text, 2) || '=' || status, ',' ORDER BY id) FROM eventsvc.events WHERE id::text ~ 'e[34]$'" \
    "e3=IN_PROGRESS,e4=COMPLETED" 15
check "cron: expired idempotency keys and tokens purged, live ones kept" \
    wait_sql "SELECT (SELECT string_agg(key, ',') FROM eventsvc.idempotency_keys) || ' ' || (SELECT count(*) FROM eventsvc.confirmation_tokens)" "fresh 1" 15
check "reminders are sent once per event (a second run sends none)" \
    test "$(qv "SELECT eventsvc.cron_send_reminders()"),$(qv "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'event.reminder'")" = "0,1"
check "the status changes were announced (event.updated by the scheduler)" \
    wait_sql "SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'event.updated' AND payload->'data'->>'changed_by' = 'scheduler'" 2 1
check "every job ran and succeeded" \
    wait_sql "SELECT count(*) FILTER (WHERE status <> 'succeeded') || ' ' || count(DISTINCT jobid) FROM cron.job_run_details" "0 4" 10
q -c "SELECT jobid, status, left(return_message, 80) FROM cron.job_run_details WHERE status <> 'succeeded' LIMIT 5" >&2
psql -X -q -d postgres -c "CREATE DATABASE evs_nocron" >/dev/null && psql -X -q -d evs_nocron -c "CREATE EXTENSION eventsvc CASCADE" >/dev/null 2>&1
ERRTXT=$(psql -X -At -d evs_nocron -v VERBOSITY=verbose -c "SELECT * FROM eventsvc.schedule_cron_jobs()" 2>&1)
check "schedule_cron_jobs() where pg_cron is missing: PT409 with a hint" \
    bash -c "echo '$ERRTXT' | grep -q 'PT409' && echo '$ERRTXT' | grep -q 'CREATE EXTENSION pg_cron'"
psql -X -q -d postgres -c "DROP DATABASE evs_nocron" >/dev/null
check "unschedule_cron_jobs() removes them" wait_sql "SELECT eventsvc.unschedule_cron_jobs()" 4 1

exit $WFAIL

#!/usr/bin/env bash
# worker_saga: the cancellation saga against stub ticket, payment, marketplace and
# notification services (test/stubs/services.py) over real HTTP (libcurl).
# Shows: every call is signed (HMAC) and carries an Idempotency-Key that is the same
# on every retry; a service failing the first tries still ends completed; a service
# failing for good ends partial with the reason; a restart mid-saga resumes at the
# step where it stopped and repeats nothing that completed; the report's summary
# goes out as a second event.cancelled outbox message (phase "settled").
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
trap worker_env_cleanup EXIT

WDB=evs_worker_saga
SECRET="s2s-secret-$RANDOM"
REC="$EVS_WORK/stub_requests.jsonl"
stub_start "$SECRET" "$REC"

evs_createdb "$WDB" eventsvc
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$(evs_free_port)" eventsvc.worker_naptime_ms 200 \
    eventsvc.service_secret "$SECRET" eventsvc.ticket_service_url "$STUB" eventsvc.payment_service_url "$STUB" \
    eventsvc.marketplace_service_url "$STUB/" eventsvc.notification_service_url "$STUB" \
    eventsvc.http_timeout_ms 1500 eventsvc.saga_max_attempts 4 eventsvc.saga_backoff_base_ms 100 \
    eventsvc.saga_backoff_max_ms 300 eventsvc.saga_ticket_batch 4 \
    eventsvc.venue_service_url "$STUB" eventsvc.venue_refresh_seconds 60
worker_restart || exit 1

TEN=$(qv "SELECT eventsvc.create_tenant('Saga Tenant', 'saga-tenant')")
VEN=$(qv "INSERT INTO eventsvc.venues (tenant_id, name, capacity) VALUES ('$TEN', 'Hall', 1000) RETURNING id")
mkevent() {
    q -c "SET app.current_tenant_id = '$TEN'" -c "SET eventsvc.import_mode = on" -c "INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug)
           VALUES ('$TEN', '$VEN', 'Show $1', 'show-$1') RETURNING id" | tail -1
}
# the shape api.cancel_event writes: a pending report and five pending steps
mksaga() {
    q -c "WITH rep AS (INSERT INTO eventsvc.event_cancellation_reports (tenant_id, event_id, reason, cancelled_by)
                       VALUES ('$TEN', '$1', 'storm warning', 'ops') RETURNING id),
               s AS (INSERT INTO eventsvc.cancellation_steps (tenant_id, report_id, step_no, step)
                     SELECT '$TEN', rep.id, n, st FROM rep, (VALUES (1, 'fetch_tickets'), (2, 'cancel_tickets'),
                         (3, 'refund_payments'), (4, 'cancel_listings'), (5, 'notify_holders')) v(n, st))
          SELECT id, eventsvc.wake_worker() FROM rep" | cut -d'|' -f1
}

# --- A: payment-service fails twice (503), then answers: completed
EA=$(mkevent a)
ctl '{"tickets": 10}'
ctl '{"prefix": "/internal/refunds", "fail": 2, "status": 503}'
RA=$(mksaga "$EA")
check "A: a service failing the first tries still ends completed" \
    wait_sql "SELECT status FROM eventsvc.event_cancellation_reports WHERE id = '$RA'" completed 20
check "A: refund step took 3 attempts, all other steps 1" \
    wait_sql "SELECT string_agg(step_no || ':' || state || ':' || attempts, ' ' ORDER BY step_no) FROM eventsvc.cancellation_steps WHERE report_id = '$RA'" \
    "1:done:1 2:done:1 3:done:3 4:done:1 5:done:1" 1
check "A: counts in the report" \
    wait_sql "SELECT concat_ws(',', tickets_found, tickets_cancelled, refunds_requested, listings_cancelled, notifications_sent, failed_steps::text) FROM eventsvc.event_cancellation_reports WHERE id = '$RA'" \
    "10,10,10,3,5,[]" 1
check "A: refund retries reused one Idempotency-Key" \
    test "$(reqs "len({x['idempotency_key'] for x in r if x['path']=='/internal/refunds/bulk'})") $(reqs "len([x for x in r if x['path']=='/internal/refunds/bulk'])")" = "1 3"
check "A: tickets cancelled in 3 batches of at most 4, keys distinct" \
    test "$(reqs "sorted(len(x['body']['ticketIds']) for x in r if x['path']=='/internal/tickets/cancel-batch')"),$(reqs "len({x['idempotency_key'] for x in r if x['path']=='/internal/tickets/cancel-batch'})")" = "[2, 4, 4],3"
check "A: every call is signed and names the service" \
    test "$(reqs "all(x['sig_ok'] and x['service']=='event-service' and x['idempotency_key'] for x in r)")" = True
check "A: the settled event.cancelled message is in the outbox" \
    wait_sql "SELECT payload->'data'->>'status' || ' ' || (payload->'data'->>'tickets_cancelled') FROM eventsvc.outbox
              WHERE aggregate_id = '$EA' AND routing_key = 'event.cancelled' AND payload->'data'->>'phase' = 'settled'" "completed 10" 2

# --- B: marketplace-service fails for good (503 every time): partial, with the reason
EB=$(mkevent b)
ctl "{\"prefix\": \"/internal/events/$EB/cancel-listings\", \"fail_always\": true, \"status\": 503}"
RB=$(mksaga "$EB")
check "B: a service failing for good ends partial" \
    wait_sql "SELECT status FROM eventsvc.event_cancellation_reports WHERE id = '$RB'" partial 20
check "B: failed_steps names the step, its attempts and the reason" \
    wait_sql "SELECT f->>'step' || ' ' || (f->>'attempts') || ' ' || (f->>'reason' LIKE '%marketplace-service answered 503%')
              FROM eventsvc.event_cancellation_reports r, jsonb_array_elements(r.failed_steps) f WHERE r.id = '$RB'" \
    "cancel_listings 4 true" 1
check "B: the later step still ran (holders notified)" \
    wait_sql "SELECT state FROM eventsvc.cancellation_steps WHERE report_id = '$RB' AND step = 'notify_holders'" done 1
check "B: settled message says partial" \
    wait_sql "SELECT payload->'data'->>'status' || ' ' || jsonb_array_length(payload->'data'->'failed_steps') FROM eventsvc.outbox
              WHERE aggregate_id = '$EB' AND payload->'data'->>'phase' = 'settled'" "partial 1" 2
ctl "{\"prefix\": \"/internal/events/$EB/cancel-listings\", \"fail_always\": false}"

# --- C: payment-service hangs during the saga; the cluster restarts; the saga resumes
curl -s -X POST "$STUB/_reset" >/dev/null
ctl '{"prefix": "/internal/refunds", "hang": true}'
EC=$(mkevent c)
RC=$(mksaga "$EC")
check "C: steps 1-2 done, stuck in refund_payments" \
    wait_sql "SELECT string_agg(step_no || ':' || state, ' ' ORDER BY step_no) FROM eventsvc.cancellation_steps
              WHERE report_id = '$RC' AND step_no <= 2" "1:done 2:done" 15
evs_as_owner "$EVS_BIN/pg_ctl" -D "$EVS_DATA" -l "$EVS_DATA.log" -w -t 60 -m immediate stop >/dev/null
python3 - "$STUB" <<'PY'
import json, sys, urllib.request
# the old hang must not answer the new attempt: clear rules (releases hung calls)
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_reset", data=b"{}", method="POST")).read()
PY
evs_as_owner "$EVS_BIN/pg_ctl" -D "$EVS_DATA" -l "$EVS_DATA.log" -w -t 60 start >/dev/null
check "C: after the restart the saga completes" \
    wait_sql "SELECT status FROM eventsvc.event_cancellation_reports WHERE id = '$RC'" completed 20
check "C: nothing that completed was repeated (1 ticket fetch, 3 cancel batches)" \
    test "$(reqs "len([x for x in r if x['path'].startswith('/internal/events/$EC/tickets')])"),$(reqs "len([x for x in r if x['path']=='/internal/tickets/cancel-batch' and x['body']['eventId']=='$EC'])")" = "1,3"
check "C: the refund call was sent again with the same Idempotency-Key" \
    test "$(reqs "len({x['idempotency_key'] for x in r if x['path']=='/internal/refunds/bulk' and x['body']['eventId']=='$EC'})")" = 1
# --- venues read model: a stale venue that a live event uses is refreshed; an unused one is not
V2=$(qv "INSERT INTO eventsvc.venues (tenant_id, name, capacity, refreshed_at) VALUES ('$TEN', 'Old Name', 10, now() - interval '2 hours') RETURNING id")
V3=$(qv "INSERT INTO eventsvc.venues (tenant_id, name, capacity, refreshed_at) VALUES ('$TEN', 'Unused', 10, now() - interval '2 hours') RETURNING id")
q -c "SET app.current_tenant_id = '$TEN'" -c "SET eventsvc.import_mode = on" -c "INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug) VALUES ('$TEN', '$V2', 'At V2', 'at-v2')" >/dev/null
check "a stale venue of a live event is refreshed from venue-service" \
    wait_sql "SELECT name || ' ' || capacity FROM eventsvc.venues WHERE id = '$V2'" "Stub Arena 5000" 15
check "a venue no live event uses is left alone" \
    wait_sql "SELECT name FROM eventsvc.venues WHERE id = '$V3'" "Unused" 1
check "the venue call was signed" \
    test "$(reqs "[x['sig_ok'] for x in r if x['path'].startswith('/internal/venues/$V2')][:1]")" = "[True]"

check "api.worker_status counts no saga in flight" wait_sql "SELECT sagas_in_flight FROM api.worker_status" 0 2

exit $WFAIL

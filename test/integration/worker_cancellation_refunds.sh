#!/usr/bin/env bash
# worker_cancellation_refunds: an event with 100 purchases is cancelled through its preview;
# the saga's refund_payments step pays every refund the cancellation made, one call per
# refund with the refund's own key (refund:<purchase>:<n>), while the payment service
# fails now and then and the worker is killed (kill -9) in the middle. Shows: no
# payment.refund_requested message and no bulk refund by ticket ids for the event (one
# carrier per refund); the payment service paid each purchase exactly once (the stub pays
# a key once and records every replay) with the amount of its purchase's policy, in all
# the preview's total; a second event whose payment service refuses one refund for good
# pays all the others, ends partial and names the refused key; the sections' counters
# agree with the holds.
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
trap worker_env_cleanup EXIT

WDB=evs_worker_cancel_refunds
SECRET="s2s-secret-$RANDOM"
REC="$EVS_WORK/stub_cancel_refunds.jsonl"
stub_start "$SECRET" "$REC"

evs_createdb "$WDB" eventsvc
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$(evs_free_port)" eventsvc.worker_naptime_ms 200 \
    eventsvc.service_secret "$SECRET" eventsvc.ticket_service_url "$STUB" eventsvc.payment_service_url "$STUB" \
    eventsvc.marketplace_service_url "$STUB" eventsvc.notification_service_url "$STUB" \
    eventsvc.http_timeout_ms 2000 eventsvc.saga_max_attempts 6 eventsvc.saga_backoff_base_ms 50 \
    eventsvc.saga_backoff_max_ms 200
worker_restart || exit 1

T=$(qv "SELECT eventsvc.create_tenant('Cancel Tenant', 'cancel-tenant')")
V=$(qv "INSERT INTO eventsvc.venues (tenant_id, name, capacity) VALUES ('$T', 'Hall', 1000) RETURNING id")
as_tenant() { q -c "SET app.current_tenant_id = '$T'" -c "SET app.current_user_id = 'olga'" "$@"; }
as_tenant -c "SELECT api.set_refund_policy('{\"full_refund_days\": 14, \"late_refund_percent\": 50, \"fees_refundable\": false}')" >/dev/null

# mkevent NAME PURCHASES: an event on sale with PURCHASES purchases of 1 or 2 seats (holders NAME000 ..);
# prints "event section"
mkevent() {
    local e s p
    e=$(q -c "SET eventsvc.import_mode = on" -c "INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, status, starts_at, ends_at)
          VALUES ('$T', '$V', 'Show $1', 'show-$1', 'ON_SALE', now() + interval '30 days',
                  now() + interval '30 days 3 hours') RETURNING id" | head -1)
    s=$(qv "INSERT INTO eventsvc.event_capacity (tenant_id, event_id, section_name, total_capacity, available_capacity)
            VALUES ('$T', '$e', 'Floor', 400, 400) RETURNING id")
    p=$(qv "INSERT INTO eventsvc.event_pricing (tenant_id, event_id, name, base_price, service_fee, facility_fee, tax_rate)
            VALUES ('$T', '$e', 'GA', 1001, 100, 50, 0.10) RETURNING id")
    as_tenant -c "DO \$\$ BEGIN FOR i IN 0..$(($2 - 1)) LOOP
        PERFORM set_config('app.current_user_id', '$1' || lpad(i::text, 3, '0'), true);
        PERFORM api.confirm_hold((api.reserve_capacity('$s', 1 + i % 2, '$p')).id);
      END LOOP; END \$\$" >/dev/null
    echo "$e $s"
}
# cancel EVENT: preview as a tenant admin, then confirm with its code; prints the preview's total
cancel() {
    local pv code
    pv=$(as_tenant -c "SET ROLE eventsvc_admin" -c "SELECT api.preview_cancellation('$1')" | tail -1)
    code=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['confirmation_code'])" "$pv")
    as_tenant -c "SET ROLE eventsvc_admin" -c "SELECT api.confirm_cancellation('$1', '$code', 'Storm warning')" >/dev/null \
        || { bad "cancel $1"; return; }
    python3 -c "import json,sys; print(sum(t['amount'] for t in json.loads(sys.argv[1])['refund_totals']))" "$pv"
}
report_of() { qv "SELECT id FROM eventsvc.event_cancellation_reports WHERE event_id = '$1'"; }
# paid EVENT: the keys the payment service paid (2xx, not a replay), sorted, one per line
paid() { reqs "'\n'.join(sorted(x['idempotency_key'] for x in r if x['path']=='/internal/refunds/bulk' and x['status']==200 and not x.get('replayed') and x['body']['eventId']=='$1'))"; }
keys_of() { qv "SELECT idempotency_key FROM eventsvc.hold_refunds WHERE event_id = '$1' ${2:-} ORDER BY idempotency_key COLLATE \"C\""; }

# --- A: 100 purchases; the payment service slow and failing now and then; the worker killed mid-way
read -r EA SA < <(mkevent a 100)
check "A: 100 purchases, 150 seats sold" \
    test "$(qv "SELECT count(*) || ' ' || sum(quantity) FROM eventsvc.capacity_holds WHERE event_id = '$EA' AND state = 'CONFIRMED'")" = "100 150"
ctl '{"prefix": "/internal/refunds", "delay_ms": 50}'
ctl '{"prefix": "/internal/refunds", "fail": 3, "status": 503}'
TOTAL_A=$(cancel "$EA")
RA=$(report_of "$EA")
check "A: the cancellation refunded every purchase (100 refunds, 100 keys)" \
    test "$(qv "SELECT count(*) || ' ' || count(DISTINCT idempotency_key) FROM eventsvc.hold_refunds WHERE event_id = '$EA'")" = "100 100"
check "A: no payment.refund_requested message: the saga's call is the one carrier" \
    test "$(qv "SELECT count(*) FROM eventsvc.outbox WHERE aggregate_id = '$EA' AND routing_key = 'payment.refund_requested'")" = 0

check "A: the worker is paying the refunds" \
    wait_sql "SELECT coalesce((result ->> 'calls_done')::int, 0) >= 20 FROM eventsvc.cancellation_steps WHERE report_id = '$RA' AND step = 'refund_payments'" t 90
OLD=$(worker_pid)
DONE_AT_KILL=$(qv "SELECT coalesce((result ->> 'calls_done')::int, 0) FROM eventsvc.cancellation_steps WHERE report_id = '$RA' AND step = 'refund_payments'")
kill -9 "$OLD"
echo "# killed the worker ($OLD) after $DONE_AT_KILL of 100 refund calls"
check "A: the worker was killed with refunds still to pay" test "$DONE_AT_KILL" -lt 100
check "A: a new worker takes over (after the server's crash recovery)" \
    wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'eventsvc worker' AND pid <> ${OLD:-0}" 1 90
check "A: the saga completes" wait_sql "SELECT status FROM eventsvc.event_cancellation_reports WHERE id = '$RA'" completed 120
check "A: the payment service paid each purchase's refund exactly once" test "$(paid "$EA")" = "$(keys_of "$EA")"
check "A: the amounts paid add up to the preview's total" \
    test "$(reqs "sum(x['body']['refunds'][0]['amount'] for x in r if x['path']=='/internal/refunds/bulk' and x['status']==200 and not x.get('replayed') and x['body']['eventId']=='$EA')")" = "$TOTAL_A"
check "A: each purchase was paid its own refund's amount" \
    test "$(reqs "'\\n'.join(sorted('%s|%s' % (x['body']['refunds'][0]['purchaseId'], x['body']['refunds'][0]['amount']) for x in r if x['path']=='/internal/refunds/bulk' and x['status']==200 and not x.get('replayed') and x['body']['eventId']=='$EA'))")" \
         = "$(qv "SELECT hold_id || '|' || amount FROM eventsvc.hold_refunds WHERE event_id = '$EA' ORDER BY (hold_id || '|' || amount) COLLATE \"C\"")"
check "A: the amount of the policy sold with each purchase: 11.16 a seat, the fees kept" \
    test "$(qv "SELECT count(*) FROM eventsvc.hold_refunds WHERE event_id = '$EA' AND amount <> 1116 * quantity")" = 0
check "A: no bulk refund by ticket ids" \
    test "$(reqs "len([x for x in r if x['path']=='/internal/refunds/bulk' and x['body']['eventId']=='$EA' and x['body']['ticketIds']])")" = 0
check "A: every refund call carried its refund's key, in header and body, signed" \
    test "$(reqs "all(x['sig_ok'] and x['idempotency_key']==x['body']['refunds'][0]['idempotencyKey'] for x in r if x['path']=='/internal/refunds/bulk' and x['body']['eventId']=='$EA')")" = True
check "A: the report counts 100 refunds requested" \
    test "$(qv "SELECT refunds_requested FROM eventsvc.event_cancellation_reports WHERE id = '$RA'")" = 100
check "A: the settled event.cancelled message says completed" \
    wait_sql "SELECT payload->'data'->>'status' || ' ' || (payload->'data'->>'refunds_requested') FROM eventsvc.outbox
              WHERE aggregate_id = '$EA' AND routing_key = 'event.cancelled' AND payload->'data'->>'phase' = 'settled'" "completed 100" 5
check "A: every seat back, the counters agree with the holds" \
    test "$(as_tenant -c "SELECT (r ->> 'sold') || ' ' || (r ->> 'drift') FROM eventsvc.check_capacity('$SA') r" | tail -1)" = "0 0"
echo "# A: refund calls $(reqs "len([x for x in r if x['path']=='/internal/refunds/bulk' and x['body']['eventId']=='$EA'])"), replays $(reqs "len([x for x in r if x.get('replayed') and x['body']['eventId']=='$EA'])"), failures $(reqs "len([x for x in r if x['path']=='/internal/refunds/bulk' and x['body']['eventId']=='$EA' and x['status']!=200])")"

# --- B: the payment service refuses one refund for good: the others are paid, the report names it
curl -s -X POST "$STUB/_reset" >/dev/null
read -r EB SB < <(mkevent b 10)
REFUSED=$(qv "SELECT 'refund:' || id || ':1' FROM eventsvc.capacity_holds WHERE event_id = '$EB' AND holder_id = 'b004'")
ctl "{\"prefix\": \"/internal/refunds\", \"key\": \"$REFUSED\", \"fail_always\": true, \"status\": 422}"
TOTAL_B=$(cancel "$EB")
RB=$(report_of "$EB")
check "B: one refused refund ends the saga partial" \
    wait_sql "SELECT status FROM eventsvc.event_cancellation_reports WHERE id = '$RB'" partial 60
check "B: the other 9 refunds were paid, each once" test "$(paid "$EB")" = "$(keys_of "$EB" "AND idempotency_key <> '$REFUSED'")"
check "B: the refused one was asked once (a refusal is not retried)" \
    test "$(reqs "len([x for x in r if x['idempotency_key']=='$REFUSED'])")" = 1
check "B: paid = the preview's total less the refused refund" \
    test "$(reqs "sum(x['body']['refunds'][0]['amount'] for x in r if x['path']=='/internal/refunds/bulk' and x['status']==200 and x['body']['eventId']=='$EB')")" \
         = "$((TOTAL_B - $(qv "SELECT amount FROM eventsvc.hold_refunds WHERE idempotency_key = '$REFUSED'")))"
check "B: failed_steps names the refund step and the refused key with the answer" \
    test "$(qv "SELECT f->>'step' || ' ' || (f->>'reason' LIKE '%$REFUSED (payment-service answered 422%')
                FROM eventsvc.event_cancellation_reports r, jsonb_array_elements(r.failed_steps) f WHERE r.id = '$RB'")" \
         = "refund_payments true"
check "B: the later steps still ran" \
    test "$(qv "SELECT string_agg(state, ',' ORDER BY step_no) FROM eventsvc.cancellation_steps WHERE report_id = '$RB'")" \
         = "done,done,failed,done,done"


# --- B, then: the payment service accepts again; an admin sends the refused refund again
curl -s -X POST "$STUB/_reset" >/dev/null
refused_for_user() { ! as_tenant -c "SET ROLE eventsvc_user" -c "SELECT api.retry_cancellation_refunds('$EB')" >/dev/null 2>&1; }
check "B: a user who is not an admin cannot retry the refunds" refused_for_user
check "B: an admin's retry sends the one refused refund again" \
    test "$(as_tenant -c "SET ROLE eventsvc_admin" -c "SELECT api.retry_cancellation_refunds('$EB')" | tail -1)" = 1
check "B: the report ends completed after the retry" \
    wait_sql "SELECT status FROM eventsvc.event_cancellation_reports WHERE id = '$RB'" completed 60
check "B: every refund of the event paid, each once" test "$(paid "$EB")" = "$(keys_of "$EB")"
check "B: the nine paid before were not asked again" \
    test "$(reqs "len([x for x in r if x['path']=='/internal/refunds/bulk' and x['body']['eventId']=='$EB' and x['idempotency_key']!='$REFUSED'])")" = 9
check "B: paid in all = the preview's total" \
    test "$(reqs "sum(x['body']['refunds'][0]['amount'] for x in r if x['path']=='/internal/refunds/bulk' and x['status']==200 and not x.get('replayed') and x['body']['eventId']=='$EB')")" = "$TOTAL_B"
check "B: all steps done, no failed step in the report" \
    test "$(qv "SELECT string_agg(state, ',' ORDER BY step_no) || ' ' || jsonb_array_length(r.failed_steps)
                FROM eventsvc.cancellation_steps c JOIN eventsvc.event_cancellation_reports r ON r.id = c.report_id
                WHERE c.report_id = '$RB' GROUP BY r.failed_steps")" = "done,done,done,done,done 0"
check "B: a second retry finds nothing to send" \
    test "$(as_tenant -c "SET ROLE eventsvc_admin" -c "SELECT api.retry_cancellation_refunds('$EB')" | tail -1)" = 0

exit $WFAIL

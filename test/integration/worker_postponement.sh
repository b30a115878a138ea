#!/usr/bin/env bash
# worker_postponement: an event with 200 purchases is postponed; a third keep, a third
# ask for a refund, a third say nothing; the decision window closes by the testable
# clock and the undecided follow the default (refund); the worker pays every refund
# through the stub payment service with the refund's stable Idempotency-Key, while the
# payment service fails now and then, refuses two refunds for good, and the worker is
# killed in the middle. Shows: one decision per purchase and one message per holder;
# every refund paid exactly once (the stub pays a key once and records every replay);
# the refused ones reported failed with the reason, then paid once an admin retries
# them; every seat accounted for (kept seats still sold, refunded seats back in the
# section); the report exact, amounts by currency included.
set -uo pipefail
. "$EVS_SRC/test/stubs/worker_env.sh"
trap worker_env_cleanup EXIT

WDB=evs_worker_postponement
SECRET="s2s-secret-$RANDOM"
REC="$EVS_WORK/stub_postponement.jsonl"
stub_start "$SECRET" "$REC"

evs_createdb "$WDB" eventsvc
worker_set eventsvc.database "$WDB" eventsvc.amqp_port "$(evs_free_port)" eventsvc.worker_naptime_ms 200 \
    eventsvc.service_secret "$SECRET" eventsvc.payment_service_url "$STUB" eventsvc.http_timeout_ms 2000 \
    eventsvc.saga_max_attempts 4 eventsvc.saga_backoff_base_ms 50 eventsvc.saga_backoff_max_ms 200
worker_restart || exit 1

T=$(qv "SELECT eventsvc.create_tenant('Postpone Tenant', 'postpone-tenant')")
V=$(qv "INSERT INTO eventsvc.venues (tenant_id, name, capacity) VALUES ('$T', 'Hall', 1000) RETURNING id")
E=$(q -c "SET eventsvc.import_mode = on" -c "INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, status, starts_at, ends_at)
          VALUES ('$T', '$V', 'Big Night', 'big-night', 'ON_SALE', now() + interval '30 days',
                  now() + interval '30 days 3 hours') RETURNING id" | head -1)
S=$(qv "INSERT INTO eventsvc.event_capacity (tenant_id, event_id, section_name, total_capacity, available_capacity)
        VALUES ('$T', '$E', 'Floor', 400, 400) RETURNING id")
P=$(qv "INSERT INTO eventsvc.event_pricing (tenant_id, event_id, name, base_price, service_fee, facility_fee, tax_rate)
        VALUES ('$T', '$E', 'GA', 1001, 100, 50, 0.10) RETURNING id")
as_tenant() { q -c "SET app.current_tenant_id = '$T'" "$@"; }
as_tenant -c "SELECT api.set_refund_policy('{\"full_refund_days\": 14, \"late_refund_percent\": 50, \"fees_refundable\": false}')" \
    -c "SELECT api.set_postponement_settings('{\"window_seconds\": 3600, \"default_choice\": \"refund\"}')" >/dev/null

# 200 purchases of 1 or 2 seats, holder h000 .. h199
as_tenant -c "DO \$\$ BEGIN FOR i IN 0..199 LOOP
    PERFORM set_config('app.current_user_id', 'h' || lpad(i::text, 3, '0'), true);
    PERFORM to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity('$S', 1 + i % 2, '$P'))) ->> 'id')::uuid));
  END LOOP; END \$\$" >/dev/null
SEATS=$(qv "SELECT sum(quantity) FROM eventsvc.capacity_holds WHERE event_id = '$E' AND state = 'CONFIRMED'")
check "200 purchases, 300 seats sold" test "$(qv "SELECT count(*) FROM eventsvc.capacity_holds WHERE event_id = '$E' AND state = 'CONFIRMED'") $SEATS" = "200 300"
hold_of() { qv "SELECT id FROM eventsvc.capacity_holds WHERE event_id = '$E' AND holder_id = '$1'"; }

# the payment service: a little slow, failing now and then, refusing two undecided ones for good
REFUSED1=$(hold_of h002); REFUSED2=$(hold_of h005)
ctl '{"prefix": "/internal/refunds", "delay_ms": 40}'
ctl '{"prefix": "/internal/refunds", "fail": 6, "status": 503}'
ctl "{\"prefix\": \"/internal/refunds\", \"key\": \"refund:$REFUSED1:1\", \"fail_always\": true, \"status\": 422}"
ctl "{\"prefix\": \"/internal/refunds\", \"key\": \"refund:$REFUSED2:1\", \"fail_always\": true, \"status\": 422}"

as_tenant -c "SELECT api.postpone_event('$E', 'Storm warning')" >/dev/null
check "one decision per purchase" test "$(qv "SELECT count(*) FROM eventsvc.postponement_decisions WHERE event_id = '$E'")" = 200
check "one event.postponement_choice message per holder" \
    test "$(qv "SELECT count(*) || ' ' || count(DISTINCT payload #>> '{data,holder_id}') FROM eventsvc.outbox
               WHERE aggregate_id = '$E' AND routing_key = 'event.postponement_choice'")" = "200 200"

# holders i % 3 = 0 keep, i % 3 = 1 ask for a refund (as themselves), i % 3 = 2 say nothing
DECS=$(qv "SELECT string_agg(format('(%L, %L::uuid, %L)', holder_id, id,
                  CASE WHEN substr(holder_id, 2)::int % 3 = 0 THEN 'keep' ELSE 'refund' END), ',')
             FROM eventsvc.capacity_holds WHERE event_id = '$E' AND substr(holder_id, 2)::int % 3 <> 2")
as_tenant -c "SET ROLE eventsvc_user" -c "DO \$\$ DECLARE d record; BEGIN
    FOR d IN SELECT * FROM (VALUES $DECS) v(holder, hold, choice) LOOP
      PERFORM set_config('app.current_user_id', d.holder, true);
      PERFORM api.decide_postponement(d.hold, d.choice);
    END LOOP; END \$\$" >/dev/null 2>"$EVS_WORK/decide.err" || { cat "$EVS_WORK/decide.err"; bad "holders decided"; }
check "67 keep, 67 refund, 66 undecided" \
    test "$(qv "SELECT count(*) FILTER (WHERE choice = 'keep') || ' ' || count(*) FILTER (WHERE choice = 'refund') || ' '
                       || count(*) FILTER (WHERE choice IS NULL) FROM eventsvc.postponement_decisions WHERE event_id = '$E'")" = "67 67 66"

# the window closes (the testable clock moves 2 hours for every session and the worker)
psql -X -q -d postgres -c "ALTER SYSTEM SET eventsvc.clock_offset_seconds = 7200" -c "SELECT pg_reload_conf()" >/dev/null
WSETTINGS+=(eventsvc.clock_offset_seconds)
check "the worker closes the window: the undecided follow the default" \
    wait_sql "SELECT count(*) FILTER (WHERE choice = 'refund' AND source = 'default') FROM eventsvc.postponement_decisions WHERE event_id = '$E'" 66 30

# kill the worker in the middle of paying
check "the worker is paying" wait_sql "SELECT count(*) >= 40 FROM eventsvc.postponement_decisions WHERE event_id = '$E' AND refund_state = 'done'" t 60
OLD=$(worker_pid)
PENDING=$(qv "SELECT count(*) FROM eventsvc.postponement_decisions WHERE event_id = '$E' AND refund_state = 'pending'")
kill -9 "$OLD"
echo "# killed the worker ($OLD) with $PENDING refunds pending"
check "the worker was killed with refunds still to pay" test "$PENDING" -gt 0
check "a new worker takes over (after the server's crash recovery)" \
    wait_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'eventsvc worker' AND pid <> ${OLD:-0}" 1 90
check "every refund settles: 131 done, 2 refused for good" \
    wait_sql "SELECT api.postponement_report('$E') -> 'refunds' = '{\"done\": 131, \"failed\": 2, \"pending\": 0}'
              FROM (SELECT set_config('app.current_tenant_id', '$T', false)) x" t 120
check "the report says why they failed" \
    test "$(as_tenant -c "SELECT string_agg((f ->> 'purchase_id') || ' ' || (f ->> 'error' LIKE 'payment-service answered 422%'), ',' ORDER BY f ->> 'purchase_id')
                          FROM jsonb_array_elements(api.postponement_report('$E') -> 'failed') f" | tail -1)" \
         = "$(printf '%s\n' "$REFUSED1 true" "$REFUSED2 true" | sort | paste -sd,)"

# an admin retries the refused ones once the payment service accepts them
curl -s -X POST "$STUB/_reset" >/dev/null
check "an admin retries the failed refunds" test "$(as_tenant -c "SELECT api.retry_postponement_refunds('$E')" | tail -1)" = 2
check "and they are paid" \
    wait_sql "SELECT api.postponement_report('$E') -> 'refunds' = '{\"done\": 133, \"failed\": 0, \"pending\": 0}'
              FROM (SELECT set_config('app.current_tenant_id', '$T', false)) x" t 60

# exactly once at the payment service
KEYS=$(qv "SELECT string_agg(idempotency_key, ',' ORDER BY idempotency_key) FROM eventsvc.hold_refunds WHERE event_id = '$E'")
check "133 refunds, one per refunded purchase, each with its own key" \
    test "$(qv "SELECT count(*) || ' ' || count(DISTINCT hold_id) || ' ' || count(DISTINCT idempotency_key) FROM eventsvc.hold_refunds WHERE event_id = '$E'")" = "133 133 133"
check "the payment service paid each key exactly once (every other answer a replay)" \
    test "$(reqs "','.join(sorted(x['idempotency_key'] for x in r if x['path']=='/internal/refunds/bulk' and x['status']==200 and not x.get('replayed')))")" = "$KEYS"
check "the calls carried the refund itself: amounts paid = amounts refunded" \
    test "$(reqs "sum(x['body']['refunds'][0]['amount'] for x in r if x['path']=='/internal/refunds/bulk' and x['status']==200 and not x.get('replayed'))")" \
         = "$(qv "SELECT sum(amount) FROM eventsvc.hold_refunds WHERE event_id = '$E'")"
check "every call was signed" test "$(reqs "all(x['sig_ok'] for x in r if x['path']=='/internal/refunds/bulk')")" = True
echo "# payment calls: $(reqs "len([x for x in r if x['path']=='/internal/refunds/bulk'])"), replays: $(reqs "len([x for x in r if x.get('replayed')])"), failures: $(reqs "len([x for x in r if x['path']=='/internal/refunds/bulk' and x['status']!=200])")"

# every seat accounted for
check "kept seats still sold, refunded seats back: 300 = kept + refunded" \
    test "$(qv "SELECT (SELECT sum(quantity) FROM eventsvc.capacity_holds WHERE event_id = '$E' AND state = 'CONFIRMED') || ' '
                    || (SELECT sum(quantity) FROM eventsvc.hold_refunds WHERE event_id = '$E')")" \
         = "$(qv "SELECT sum(quantity) FILTER (WHERE choice = 'keep') || ' ' || sum(quantity) FILTER (WHERE choice = 'refund')
                  FROM eventsvc.postponement_decisions WHERE event_id = '$E'")"
check "the section's counters agree with its holds" \
    test "$(as_tenant -c "SELECT (r ->> 'sold') || ' ' || (r ->> 'drift') FROM eventsvc.check_capacity('$S') r" | tail -1)" \
         = "$(qv "SELECT sum(quantity) FROM eventsvc.capacity_holds WHERE event_id = '$E' AND state = 'CONFIRMED'") 0"

# the report, exact
check "the report: 67 kept, 133 refunded, none pending, amounts by currency" \
    test "$(as_tenant -c "SELECT api.postponement_report('$E') - 'postponement_id' - 'opened_at' - 'closes_at' - 'closed_at' - 'event_id' - 'failed'
        = jsonb_build_object('kind', 'POSTPONED', 'default_choice', 'refund', 'purchases', 200, 'kept', 67, 'refunded', 133,
            'occurrence_id', NULL, 'pending', 0,
            'by_source', '{\"holder\": 134, \"service\": 0, \"default\": 66, \"cancellation\": 0}'::jsonb,
            'refunds', '{\"done\": 133, \"failed\": 0, \"pending\": 0}'::jsonb,
            'by_currency', jsonb_build_array(jsonb_build_object('currency', 'USD',
                'kept_seats', (SELECT sum(quantity) FROM eventsvc.postponement_decisions WHERE event_id = '$E' AND choice = 'keep'),
                'refunded_seats', (SELECT sum(quantity) FROM eventsvc.postponement_decisions WHERE event_id = '$E' AND choice = 'refund'),
                'refunds_done', (SELECT sum(amount) FROM eventsvc.hold_refunds WHERE event_id = '$E'),
                'refunds_pending', 0, 'refunds_failed', 0)))" | tail -1)" = t
# organiser's refunds: 1 seat 12.66 - 1.50 fees = 11.16, 2 seats 25.32 - 3.00 = 22.32 (never the late 50 %)
check "each refund is the organiser's: the share less the fees kept" \
    test "$(qv "SELECT count(*) FROM eventsvc.hold_refunds WHERE event_id = '$E' AND amount <> CASE quantity WHEN 1 THEN 1116 ELSE 2232 END")" = 0

exit $WFAIL

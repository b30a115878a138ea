-- pgTAP: postponement with a choice for each holder. Postponing an event with sold seats
-- opens a decision window with one row per purchase and one message per holder; the
-- holder (or the tenant's service) keeps or refunds while it is open; a decision is
-- final; when the window closes by the testable clock the undecided follow the default;
-- refunds are the organiser's (fees per the policy, never the late percentage), their
-- seats come back, and they wait for the worker's payment call; the report counts kept,
-- refunded, pending, the refunds' states and the amounts by currency; an admin retries
-- failed refunds with the same keys. Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(33);

SELECT eventsvc.create_tenant('Tap Postpone', 'tap-postpone', '49494949-4949-4949-8949-494949494949') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('49494949-4949-4949-8949-494949494949', '49490000-0000-4000-8000-00000000000a', 'Postpone Hall', 500);
SET eventsvc.import_mode = on;   -- fixtures on sale, dates moved (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('49494949-4949-4949-8949-494949494949', '49490000-0000-4000-8000-0000000000e1',
     '49490000-0000-4000-8000-00000000000a', 'Postpone Night', 'postpone-night', 'ON_SALE',
     eventsvc.now() + interval '3 days', eventsvc.now() + interval '3 days 3 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('49494949-4949-4949-8949-494949494949', '49490000-0000-4000-8000-0000000000c1',
     '49490000-0000-4000-8000-0000000000e1', 'Stalls', 10, 10);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, facility_fee, tax_rate)
VALUES ('49494949-4949-4949-8949-494949494949', '49490000-0000-4000-8000-0000000000fa',
        '49490000-0000-4000-8000-0000000000e1', 'A', 1001, 100, 50, 0.10);
SET app.current_tenant_id = '49494949-4949-4949-8949-494949494949';
SELECT api.set_refund_policy('{"full_refund_days": 14, "late_refund_percent": 50, "fees_refundable": false}') IS NOT NULL;
SELECT api.set_postponement_settings('{"window_seconds": 3600, "default_choice": "refund"}') IS NOT NULL;

CREATE FUNCTION pg_temp.buy(who text, n integer) RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.current_user_id', who, false);
    RETURN ((to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity('49490000-0000-4000-8000-0000000000c1', n,
             '49490000-0000-4000-8000-0000000000fa'))) ->> 'id')::uuid))) ->> 'id')::uuid;
END $$;
SELECT pg_temp.buy('kim', 1) AS k1, pg_temp.buy('kim', 1) AS k2, pg_temp.buy('ray', 2) AS r1,
       pg_temp.buy('una', 1) AS u1, pg_temp.buy('sam', 1) AS s1 \gset
SET app.current_user_id = 'pat';
SELECT throws_ok($$SELECT api.decide_postponement('49490000-0000-4000-8000-0000000000ff', 'keep')$$, 'PT404', NULL,
                 'no decision before a postponement');

-- ---------------------------------------------------------------- the window opens
SELECT is((api.postpone_event('49490000-0000-4000-8000-0000000000e1', 'Storm warning')) ->> 'status', 'POSTPONED', 'postponed');
SELECT is((SELECT count(*)::int FROM eventsvc.postponement_decisions WHERE event_id = '49490000-0000-4000-8000-0000000000e1'),
          5, 'one decision row per purchase');
SELECT is((SELECT string_agg(payload #>> '{data,holder_id}' || ':' || jsonb_array_length(payload #> '{data,purchases}'), ','
                             ORDER BY payload #>> '{data,holder_id}')
             FROM eventsvc.outbox WHERE routing_key = 'event.postponement_choice'
              AND tenant_id = '49494949-4949-4949-8949-494949494949'),
          'kim:2,ray:1,sam:1,una:1', 'one message per holder, with the holder''s purchases');
SELECT is((SELECT (closes_at - opened_at)::text || ' ' || default_choice FROM eventsvc.postponements
            WHERE event_id = '49490000-0000-4000-8000-0000000000e1'), '01:00:00 refund',
          'the tenant''s window (1 hour) and default (refund)');

-- ---------------------------------------------------------------- decisions
SET app.current_user_id = 'kim';
SET ROLE eventsvc_user;
SELECT throws_ok(format('SELECT api.decide_postponement(%L, %L)', :'k1', 'maybe'), '22023', 'choice: must be keep or refund',
                 'keep or refund only');
SELECT is((api.decide_postponement(:'k1', 'keep')) ->> 'choice', 'keep', 'kim keeps one purchase');
SELECT is((api.decide_postponement(:'k1', 'keep')) ->> 'choice', 'keep', 'the same choice again is the same answer');
SELECT throws_ok(format('SELECT api.decide_postponement(%L, %L)', :'k1', 'refund'), 'PT409',
                 'the purchase''s decision is already keep', 'a decision is final');
SELECT throws_ok(format('SELECT api.decide_postponement(%L, %L)', :'r1', 'refund'), '42501', NULL,
                 'kim cannot decide ray''s purchase');
SELECT api.decide_postponement(:'k2', 'refund') AS kr \gset
RESET ROLE;
SELECT is(:'kr'::jsonb ->> 'refund_state', 'pending', 'kim''s refund waits for the worker''s payment call');
SELECT is((:'kr'::jsonb ->> 'amount')::bigint, 1116::bigint,
          'the organiser''s refund 3 days before: fees kept (12.66 - 1.50), never the late 50 %');
SELECT is(:'kr'::jsonb ->> 'idempotency_key', 'refund:' || :'k2' || ':1', 'a stable key for the payment service');
SELECT is((SELECT state::text FROM eventsvc.capacity_holds WHERE id = :'k2'), 'REFUNDED', 'the purchase is refunded');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE routing_key = 'payment.refund_requested'
            AND payload #>> '{data,hold_id}' = :'k2'), 0, 'no message: the worker''s call pays it');
SET ROLE eventsvc_service;
SET app.current_user_id = 'payments';
SELECT is((api.decide_postponement(:'r1', 'keep')) ->> 'source', 'service', 'the tenant''s service decides for ray');
RESET ROLE;

-- ---------------------------------------------------------------- the window closes by the testable clock
SET app.current_user_id = 'una';
SET eventsvc.clock_offset_seconds = 3600;
SET ROLE eventsvc_user;
SELECT throws_ok(format('SELECT api.decide_postponement(%L, %L)', :'u1', 'keep'), 'PT410', NULL,
                 'una is too late: the window closed');
RESET ROLE;
SELECT is(api.close_postponement_windows(), 2::bigint, 'the sweep decides the two undecided (una, sam)');
RESET eventsvc.clock_offset_seconds;
SELECT is((SELECT string_agg(hold_id::text || choice || source, ',' ORDER BY hold_id) FROM eventsvc.postponement_decisions
            WHERE hold_id IN (:'u1', :'s1')),
          (SELECT string_agg(x || 'refunddefault', ',' ORDER BY x) FROM unnest(ARRAY[:'u1', :'s1']) x),
          'both follow the default: refund');
SELECT ok((SELECT closed_at IS NOT NULL FROM eventsvc.postponements WHERE event_id = '49490000-0000-4000-8000-0000000000e1'),
          'the window is closed');
SELECT is(api.close_postponement_windows(), 0::bigint, 'a second sweep finds nothing');
SELECT is((SELECT count(*)::int FROM eventsvc.capacity_holds WHERE event_id = '49490000-0000-4000-8000-0000000000e1'
            AND state = 'CONFIRMED'), 2, 'two purchases kept (kim''s first, ray''s)');
SELECT is((SELECT sum(quantity)::int FROM eventsvc.capacity_holds WHERE event_id = '49490000-0000-4000-8000-0000000000e1'
            AND state = 'CONFIRMED'), 3, 'three seats still sold; three came back');

-- ---------------------------------------------------------------- the report, and a failed refund retried
SELECT api.postponement_report('49490000-0000-4000-8000-0000000000e1') AS rep \gset
SELECT is(:'rep'::jsonb - 'postponement_id' - 'opened_at' - 'closes_at' - 'closed_at' - 'event_id' - 'failed',
          '{"kind": "POSTPONED", "kept": 2, "pending": 0, "refunded": 3, "purchases": 5, "default_choice": "refund",
            "occurrence_id": null, "by_source": {"holder": 2, "service": 1, "default": 2, "cancellation": 0},
            "refunds": {"done": 0, "failed": 0, "pending": 3},
            "by_currency": [{"currency": "USD", "kept_seats": 3, "refunded_seats": 3, "refunds_done": 0,
                             "refunds_failed": 0, "refunds_pending": 3348}]}'::jsonb,
          'the report: 2 kept, 3 refunded (3 x 11.16 pending), nothing undecided');
-- the worker's bookkeeping: one paid, one refused for good
SELECT eventsvc.postponement_refund_done('49494949-4949-4949-8949-494949494949', id, :'k2'),
       eventsvc.postponement_refund_failed('49494949-4949-4949-8949-494949494949', id, :'u1',
                                           'payment-service answered 422: card closed', true, 5, 500, 60000)
  FROM eventsvc.postponements WHERE event_id = '49490000-0000-4000-8000-0000000000e1';
SELECT is(api.postponement_report('49490000-0000-4000-8000-0000000000e1') -> 'refunds',
          '{"done": 1, "failed": 1, "pending": 1}'::jsonb, 'done, failed, pending');
SELECT is(api.postponement_report('49490000-0000-4000-8000-0000000000e1') #>> '{failed,0,error}',
          'payment-service answered 422: card closed', 'the report says why');
SET app.current_user_id = 'pat';
SET ROLE eventsvc_user;
SELECT throws_ok($$SELECT api.retry_postponement_refunds('49490000-0000-4000-8000-0000000000e1')$$, '42501', NULL,
                 'only an admin retries');
RESET ROLE;
SELECT is(api.retry_postponement_refunds('49490000-0000-4000-8000-0000000000e1'), 1::bigint, 'an admin retries the failed one');
SELECT is((SELECT refund_state || ' ' || attempts || ' ' || idempotency_key FROM eventsvc.postponement_decisions
            WHERE hold_id = :'u1'), 'pending 0 refund:' || :'u1' || ':1', 'pending again, with the same key');

-- ---------------------------------------------------------------- a reschedule keeps the window open
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('49494949-4949-4949-8949-494949494949', '49490000-0000-4000-8000-0000000000e2',
     '49490000-0000-4000-8000-00000000000a', 'Moved Night', 'moved-night', 'ON_SALE',
     eventsvc.now() + interval '20 days', eventsvc.now() + interval '20 days 3 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('49494949-4949-4949-8949-494949494949', '49490000-0000-4000-8000-0000000000c2',
     '49490000-0000-4000-8000-0000000000e2', 'Stalls', 10, 10);
SELECT ((to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity('49490000-0000-4000-8000-0000000000c2', 2))) ->> 'id')::uuid))) ->> 'id')
       AS m1 \gset
SELECT api.postpone_event('49490000-0000-4000-8000-0000000000e2') IS NOT NULL;
SELECT closes_at AS first_close FROM eventsvc.postponements WHERE event_id = '49490000-0000-4000-8000-0000000000e2' \gset
SET eventsvc.clock_offset_seconds = 1800;
SELECT date_trunc('hour', eventsvc.now()) + interval '40 days' AS new_start \gset
SELECT api.reschedule_event('49490000-0000-4000-8000-0000000000e2', :'new_start',
       :'new_start'::timestamptz + interval '3 hours', status => 'ON_SALE') ->> 'token' AS token \gset
SELECT is((api.reschedule_event('49490000-0000-4000-8000-0000000000e2', :'new_start',
           :'new_start'::timestamptz + interval '3 hours', status => 'ON_SALE', confirmation_token => :'token'::uuid))
          ->> 'status', 'ON_SALE', 'rescheduled (an admin''s confirmed change) and on sale again');
SELECT is((SELECT kind || ' ' || (closes_at >= :'first_close'::timestamptz + interval '1800 seconds')
                  || ' ' || (closes_at <= eventsvc.now() + interval '1 hour')
             FROM eventsvc.postponements WHERE event_id = '49490000-0000-4000-8000-0000000000e2'),
          'RESCHEDULED true true', 'the same window, now a full window from the reschedule');
RESET eventsvc.clock_offset_seconds;
SELECT is((SELECT string_agg(payload #>> '{data,kind}', ',' ORDER BY id) FROM eventsvc.outbox
            WHERE aggregate_id = '49490000-0000-4000-8000-0000000000e2' AND routing_key = 'event.postponement_choice'),
          'POSTPONED,RESCHEDULED', 'the holder hears of the postponement, then of the new date');
SELECT is((SELECT count(*)::int FROM eventsvc.postponement_decisions WHERE event_id = '49490000-0000-4000-8000-0000000000e2'),
          1, 'one decision row still');

SELECT * FROM finish();

-- pgTAP: the lifecycle of one date of a series (docs/series.md "Cancelling and moving a
-- date"). Cancelling a date stops its sales, releases its holds, refunds every purchase of
-- the date in full (payment.refund_requested each) and tells the other services
-- (event.occurrence.cancelled); the other dates and the event sell on. Moving a date
-- keeps its seats, holds and purchases and announces event.occurrence.moved.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(28);

CREATE TEMP TABLE d AS
SELECT day0 AS d1, day0 + interval '7 days' AS d2
  FROM (SELECT date_trunc('day', now()) + interval '40 days 19 hours' AS day0) z;
SELECT d1, d2 FROM d \gset
CREATE FUNCTION pg_temp.travel(t timestamptz) RETURNS boolean LANGUAGE sql AS $$
    SELECT set_config('eventsvc.clock_offset_seconds', ceil(extract(epoch FROM t - now()))::int::text, false) IS NOT NULL
$$;

SELECT eventsvc.create_tenant('Tap Series Life', 'tap-series-life', '5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b', '5b5b0000-0000-4000-8000-00000000000a', 'Life Hall', 100);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b', '5b5b0000-0000-4000-8000-0000000000e1',
     '5b5b0000-0000-4000-8000-00000000000a', 'Weekly Play', 'weekly-play', 'ON_SALE', :'d1', :'d1'::timestamptz + interval '2 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_schedules (tenant_id, id, event_id, starts_at, ends_at, timezone, recurrence_rule) VALUES
    ('5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b', '5b5b0000-0000-4000-8000-0000000000d1',
     '5b5b0000-0000-4000-8000-0000000000e1', :'d1', :'d1'::timestamptz + interval '2 hours', 'UTC', 'FREQ=WEEKLY;COUNT=3');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, schedule_id, section_name, total_capacity, available_capacity) VALUES
    ('5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b', '5b5b0000-0000-4000-8000-0000000000a1',
     '5b5b0000-0000-4000-8000-0000000000e1', '5b5b0000-0000-4000-8000-0000000000d1', 'Stalls', 4, 4);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, capacity_id, name, base_price) VALUES
    ('5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b', '5b5b0000-0000-4000-8000-0000000000f1',
     '5b5b0000-0000-4000-8000-0000000000e1', '5b5b0000-0000-4000-8000-0000000000a1', 'Stalls', 2000);
SET app.current_tenant_id = '5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b';
SET app.current_user_id = 'box-office';
\set sched '5b5b0000-0000-4000-8000-0000000000d1'
\set tier '5b5b0000-0000-4000-8000-0000000000f1'

SELECT api.open_occurrence(:'sched', :'d1') #>> '{sections,0,id}' AS s1 \gset
SELECT api.open_occurrence(:'sched', :'d2') #>> '{sections,0,id}' AS s2 \gset
SELECT occurrence_id AS o1 FROM api.event_sections WHERE id = :'s1' \gset
SELECT occurrence_id AS o2 FROM api.event_sections WHERE id = :'s2' \gset
-- d1: ann bought 2, bob holds 1; d2: cy bought 1
SELECT to_jsonb(api.confirm_hold((to_jsonb(api.reserve_capacity(:'s1', 2, :'tier', 'ann')) ->> 'id')::uuid)) ->> 'id' AS ann \gset
SELECT to_jsonb(api.reserve_capacity(:'s1', 1, :'tier', 'bob')) ->> 'id' AS bob \gset
SELECT to_jsonb(api.confirm_hold((to_jsonb(api.reserve_capacity(:'s2', 1, :'tier', 'cy')) ->> 'id')::uuid)) ->> 'id' AS cy \gset

-- ---------------------------------------------------------------- cancelling one date
SET ROLE eventsvc_user;
SELECT throws_ok(format('SELECT api.cancel_occurrence(%L, %L)', :'o1', 'flooded'), '42501', NULL,
                 'a tenant user may not cancel a date');
RESET ROLE;
SELECT throws_ok(format('SELECT api.cancel_occurrence(%L, %L)', :'o1', '  '), '22023', 'a reason is required to cancel a date',
                 'a cancellation needs a reason');
SELECT api.cancel_occurrence(:'o1', 'the hall is flooded') AS c \gset
SELECT is((:'c'::jsonb) ->> 'status', 'CANCELLED', 'the date is cancelled');
SELECT is(((:'c'::jsonb) ->> 'holds_released')::int, 1, 'its live hold is released');
SELECT is(((:'c'::jsonb) ->> 'purchases_refunded')::int, 1, 'its purchase is refunded');
SELECT is(((:'c'::jsonb) #>> '{refunds,0,amount}')::bigint, 4000::bigint, 'in full: 2 x 2000');
SELECT is((SELECT state::text FROM api.holds WHERE id = :'ann'), 'REFUNDED', 'ann''s purchase is refunded');
SELECT is((SELECT state::text FROM api.holds WHERE id = :'bob'), 'RELEASED', 'bob''s hold is released');
SELECT is((SELECT state::text FROM api.holds WHERE id = :'cy'), 'CONFIRMED', 'the other date''s purchase stays');
SELECT is((SELECT status FROM api.occurrences WHERE id = :'o1'), 'CANCELLED', 'd1 is CANCELLED');
SELECT is((SELECT status FROM api.occurrences WHERE id = :'o2'), 'ON_SALE', 'd2 sells on');
SELECT is((SELECT status::text FROM api.events WHERE id = '5b5b0000-0000-4000-8000-0000000000e1'), 'ON_SALE', 'the event sells on');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b'
            AND routing_key = 'event.occurrence.cancelled' AND payload -> 'data' ->> 'occurrence_id' = :'o1'
            AND payload -> 'data' ->> 'reason' = 'the hall is flooded'), 1, 'one event.occurrence.cancelled');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b'
            AND routing_key = 'payment.refund_requested' AND payload -> 'data' ->> 'hold_id' = :'ann'
            AND (payload -> 'data' ->> 'amount')::bigint = 4000), 1, 'the payment service is asked to pay back the purchase');
SELECT throws_ok(format('SELECT to_jsonb(api.reserve_capacity(%L, 1))', :'s1'), 'PT409', 'sales for this date are closed (status CANCELLED)',
                 'a cancelled date refuses');
SELECT throws_ok(format('SELECT api.cancel_occurrence(%L, %L)', :'o1', 'again'), 'PT409', NULL, 'a date is cancelled once');
SELECT throws_ok(format('SELECT api.reopen_occurrence(%L)', :'o1'), 'PT409', NULL, 'a cancelled date does not reopen');
SELECT is((SELECT (r ->> 'held')::int + (r ->> 'sold')::int FROM eventsvc.check_capacity(:'s1') r), 0,
          'the cancelled date holds and sells nothing');
SELECT is((SELECT (r ->> 'drift')::int FROM eventsvc.check_capacity(:'s1') r), 0, 'its counter agrees with its holds');

-- ---------------------------------------------------------------- moving one date
SELECT api.move_occurrence(:'o2', :'d2'::timestamptz + interval '1 day', :'d2'::timestamptz + interval '1 day 2 hours',
                           'the cast asked for a Friday') AS m \gset
SELECT is((SELECT starts_at FROM api.occurrences WHERE id = :'o2'), :'d2'::timestamptz + interval '1 day', 'd2 moved a day');
SELECT is((SELECT original_starts_at FROM api.occurrences WHERE id = :'o2'), :'d2'::timestamptz, 'it keeps the rule''s date');
SELECT is((SELECT (payload -> 'data' ->> 'purchases')::int FROM eventsvc.outbox
            WHERE tenant_id = '5b5b5b5b-5b5b-4b5b-8b5b-5b5b5b5b5b5b' AND routing_key = 'event.occurrence.moved'
              AND payload -> 'data' ->> 'previous_starts_at' IS NOT NULL), 1,
          'one event.occurrence.moved, naming the purchases of the date');
SELECT is((SELECT state::text FROM api.holds WHERE id = :'cy'), 'CONFIRMED', 'the purchase of the moved date stays');
SELECT throws_ok(format('SELECT api.move_occurrence(%L, %L, %L)', :'o2', now() - interval '1 day', now()), '22023',
                 'a date can only move to the future', 'not into the past');
SELECT throws_ok(format('SELECT api.move_occurrence(%L, %L, %L)', :'o1', :'d2', :'d2'::timestamptz + interval '1 hour'), 'PT409', NULL,
                 'a cancelled date does not move');
-- sales of the moved date stop at its new start, not the old one
SELECT pg_temp.travel(:'d2'::timestamptz + interval '1 hour') AS past_old_start;
SELECT is(to_jsonb(api.reserve_capacity(:'s2', 1, :'tier', 'dee')) ->> 'state', 'ACTIVE', 'after its old start the moved date still sells');
SELECT pg_temp.travel(now()) AS back;

-- ---------------------------------------------------------------- the event cancelled: its dates too
SELECT api.preview_cancellation('5b5b0000-0000-4000-8000-0000000000e1') ->> 'confirmation_code' AS code \gset
SELECT api.confirm_cancellation('5b5b0000-0000-4000-8000-0000000000e1', :'code', 'the run is over') IS NOT NULL AS cancelled;
SELECT is((SELECT status::text FROM api.events WHERE id = '5b5b0000-0000-4000-8000-0000000000e1'), 'CANCELLED', 'the event is cancelled');
SELECT is((SELECT string_agg(status || ':' || coalesce(status_reason, ''), ',' ORDER BY starts_at) FROM api.occurrences
            WHERE event_id = '5b5b0000-0000-4000-8000-0000000000e1'),
          'CANCELLED:the hall is flooded,CANCELLED:the run is over', 'every date of the event ends with it');

SELECT * FROM finish();

-- pgTAP: a moved date of a series gives its holders a keep-or-refund window, the one of a
-- postponed event (docs/series.md "Moving a date: each holder keeps or refunds"). Moving a
-- date with purchases opens a window over that date's purchases only (the event's
-- settings), one event.postponement_choice per holder; holders decide through
-- api.decide_postponement; the report is scoped to the date; a second move while the
-- window is open lasts it a full window from now, lets purchases made since join and asks
-- again who kept; the sweep settles the undecided of a date by its default, with the
-- refund paid by the worker; cancelling the date while its window is open refunds every
-- purchase not yet refunded, once, and closes the window. Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(31);

CREATE TEMP TABLE d AS
SELECT day0 AS d1, day0 + interval '7 days' AS d2 FROM (SELECT date_trunc('day', now()) + interval '50 days 19 hours' AS day0) z;
SELECT d1, d2 FROM d \gset
SELECT eventsvc.create_tenant('Tap Moved Dates', 'tap-moved-dates', '6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d', '6d6d0000-0000-4000-8000-00000000000a', 'Moved Hall', 100);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d', '6d6d0000-0000-4000-8000-0000000000e1',
     '6d6d0000-0000-4000-8000-00000000000a', 'Moved Weekly', 'moved-weekly', 'ON_SALE', :'d1', :'d1'::timestamptz + interval '2 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_schedules (tenant_id, id, event_id, starts_at, ends_at, timezone, recurrence_rule) VALUES
    ('6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d', '6d6d0000-0000-4000-8000-0000000000d1',
     '6d6d0000-0000-4000-8000-0000000000e1', :'d1', :'d1'::timestamptz + interval '2 hours', 'UTC', 'FREQ=WEEKLY;COUNT=2');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, schedule_id, section_name, total_capacity, available_capacity) VALUES
    ('6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d', '6d6d0000-0000-4000-8000-0000000000a1',
     '6d6d0000-0000-4000-8000-0000000000e1', '6d6d0000-0000-4000-8000-0000000000d1', 'Stalls', 10, 10);
SET app.current_tenant_id = '6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d';
SET app.current_user_id = 'box-office';
\set ev '6d6d0000-0000-4000-8000-0000000000e1'
SELECT api.open_occurrence('6d6d0000-0000-4000-8000-0000000000d1', :'d1') ->> 'id' AS o1 \gset
SELECT api.open_occurrence('6d6d0000-0000-4000-8000-0000000000d1', :'d2') ->> 'id' AS o2 \gset
SELECT id AS s1 FROM api.event_sections WHERE occurrence_id = :'o1' \gset
SELECT id AS s2 FROM api.event_sections WHERE occurrence_id = :'o2' \gset
SELECT api.create_pricing(:'ev', 'Standard', 2000) ->> 'id' AS tier \gset
-- the event's own settings serve its dates' windows: two hours, refund by default
SELECT api.set_postponement_settings('{"window_seconds": 7200, "default_choice": "refund"}', :'ev') IS NOT NULL AS set;

CREATE FUNCTION pg_temp.buy(who text, section uuid, n integer) RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.current_user_id', who, false);
    RETURN ((to_jsonb(api.confirm_hold(((to_jsonb(api.reserve_capacity(section, n,
             (SELECT id FROM eventsvc.event_pricing WHERE event_id = '6d6d0000-0000-4000-8000-0000000000e1')))) ->> 'id')::uuid)))
            ->> 'id')::uuid;
END $$;
CREATE FUNCTION pg_temp.decide(who text, purchase uuid, choice text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.current_user_id', who, false);
    SET LOCAL ROLE eventsvc_user;
    RETURN api.decide_postponement(purchase, choice);
END $$;
SELECT pg_temp.buy('ann', :'s1', 1) AS ann, pg_temp.buy('bob', :'s1', 2) AS bob, pg_temp.buy('cy', :'s1', 1) AS cy,
       pg_temp.buy('dan', :'s2', 1) AS dan \gset
SET app.current_user_id = 'box-office';

-- ---------------------------------------------------------------- moving a date opens its window
SELECT api.move_occurrence(:'o1', :'d1'::timestamptz + interval '1 day', :'d1'::timestamptz + interval '1 day 2 hours',
                           'hall booked') AS moved \gset
SELECT is((:'moved'::jsonb -> 'decision_window') - 'postponement_id' - 'closes_at',
          '{"default_choice": "refund", "purchases": 3, "holders": 3}'::jsonb,
          'the move answers the date''s window: its purchases and holders, the event''s default');
SELECT (:'moved'::jsonb -> 'decision_window' ->> 'postponement_id') AS w1 \gset
SELECT is((SELECT kind || ' ' || occurrence_id || ' ' || (closes_at - opened_at)::text FROM eventsvc.postponements WHERE id = :'w1'),
          'MOVED ' || :'o1' || ' 02:00:00', 'a window of kind MOVED for the date, as long as the event''s setting');
SELECT is((SELECT string_agg(holder_id || ':' || quantity, ',' ORDER BY holder_id) FROM api.postponement_decisions
            WHERE postponement_id = :'w1' AND occurrence_id = :'o1'), 'ann:1,bob:2,cy:1',
          'one decision per purchase of the date, and only of the date');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d'
            AND routing_key = 'event.postponement_choice' AND payload -> 'data' ->> 'occurrence_id' = :'o1'
            AND (payload -> 'data' ->> 'starts_at')::timestamptz = :'d1'::timestamptz + interval '1 day'
            AND payload -> 'data' ->> 'kind' = 'MOVED'), 3,
          'one event.postponement_choice per holder, with the date and its new start');
SELECT is((SELECT payload -> 'data' -> 'decision_window' ->> 'postponement_id' FROM eventsvc.outbox
            WHERE tenant_id = '6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d' AND routing_key = 'event.occurrence.moved'), :'w1',
          'event.occurrence.moved names the window');
SELECT is(api.postponement_report(:'ev'), NULL, 'the event itself has no window');

-- ---------------------------------------------------------------- holders decide
SELECT pg_temp.decide('ann', :'ann', 'refund') AS ann_refund \gset
SELECT is((:'ann_refund'::jsonb ->> 'refund_state') || ' ' || (:'ann_refund'::jsonb ->> 'amount') || ' '
          || (:'ann_refund'::jsonb ->> 'idempotency_key'), 'pending 2000 refund:' || :'ann' || ':1',
          'a refund: the whole price, pending for the worker, with its stable key');
SELECT is((SELECT reason FROM api.hold_refunds WHERE hold_id = :'ann'), 'the date was moved and the holder chose a refund',
          'the refund says why');
SELECT is(pg_temp.decide('bob', :'bob', 'keep') ->> 'choice', 'keep', 'bob keeps his seats for the new start');
SELECT throws_ok(format('SELECT pg_temp.decide(%L, %L, %L)', 'dan', :'dan', 'refund'), 'PT404', NULL,
                 'a purchase of another date has no decision');
SELECT throws_ok(format('SELECT pg_temp.decide(%L, %L, %L)', 'cy', :'bob', 'refund'), '42501', NULL,
                 'only the holder decides');
SELECT is(api.postponement_report(:'ev', :'o1') - 'opened_at' - 'closes_at' - 'closed_at' - 'postponement_id' - 'failed'
          - 'by_currency',
          jsonb_build_object('event_id', :'ev', 'occurrence_id', :'o1', 'kind', 'MOVED', 'default_choice', 'refund',
                             'purchases', 3, 'kept', 1, 'refunded', 1, 'pending', 1,
                             'by_source', '{"holder": 2, "service": 0, "default": 0, "cancellation": 0}'::jsonb,
                             'refunds', '{"done": 0, "pending": 1, "failed": 0}'::jsonb),
          'the date''s report: kept, refunded, pending');

-- ---------------------------------------------------------------- a second move while the window is open
SELECT pg_temp.buy('eve', :'s1', 1) AS eve \gset
SET app.current_user_id = 'box-office';
SET eventsvc.clock_offset_seconds = 3600;   -- an hour later: one hour of the window left
SELECT api.move_occurrence(:'o1', :'d1'::timestamptz + interval '2 days', :'d1'::timestamptz + interval '2 days 2 hours') AS moved2 \gset
SELECT is(:'moved2'::jsonb -> 'decision_window' ->> 'postponement_id', :'w1', 'the open window goes on');
SELECT ok((SELECT closes_at > eventsvc.now() + interval '1 hour 59 minutes' FROM eventsvc.postponements WHERE id = :'w1'),
          'it lasts a full window from the second move');
RESET eventsvc.clock_offset_seconds;
SELECT is((SELECT string_agg(holder_id || ':' || coalesce(choice, '-'), ',' ORDER BY holder_id) FROM api.postponement_decisions
            WHERE postponement_id = :'w1'), 'ann:refund,bob:-,cy:-,eve:-',
          'a purchase made since joins; who kept chooses again; a refund stays');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d'
            AND routing_key = 'event.postponement_choice' AND payload -> 'data' ->> 'occurrence_id' = :'o1'
            AND (payload -> 'data' ->> 'starts_at')::timestamptz = :'d1'::timestamptz + interval '2 days'), 4,
          'every holder of the window is told the new start');
SELECT is(pg_temp.decide('bob', :'bob', 'keep') ->> 'choice', 'keep', 'bob keeps again, for the second start');

-- ---------------------------------------------------------------- cancelling the date while its window is open
SET app.current_user_id = 'box-office';
SELECT api.cancel_occurrence(:'o1', 'the run is over') AS cancelled \gset
SELECT is((:'cancelled'::jsonb ->> 'purchases_refunded')::int, 3, 'the cancellation refunds bob, cy and eve');
SELECT is((SELECT string_agg(holder_id || ':' || n, ',' ORDER BY holder_id) FROM (
             SELECT h.holder_id, count(*) AS n FROM api.hold_refunds r JOIN api.holds h ON h.id = r.hold_id
              WHERE h.capacity_id = :'s1' GROUP BY h.holder_id) x), 'ann:1,bob:1,cy:1,eve:1',
          'every purchase of the date is refunded exactly once (ann by her choice)');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '6d6d6d6d-6d6d-4d6d-8d6d-6d6d6d6d6d6d'
            AND routing_key = 'payment.refund_requested' AND payload -> 'data' ->> 'hold_id' = :'ann'), 0,
          'ann''s refund is not requested again');
SELECT is((SELECT string_agg(holder_id || ':' || choice || ':' || source || ':' || (idempotency_key = 'refund:' || purchase_id || ':1'),
                             ',' ORDER BY holder_id)
             FROM api.postponement_decisions WHERE postponement_id = :'w1'),
          'ann:refund:holder:true,bob:refund:cancellation:true,cy:refund:cancellation:true,eve:refund:cancellation:true',
          'the window records the cancellation''s refunds with their keys');
SELECT ok((SELECT closed_at IS NOT NULL AND closes_at <= eventsvc.now() FROM eventsvc.postponements WHERE id = :'w1'),
          'the window is closed');
SELECT is((SELECT count(*)::int FROM api.postponement_decisions WHERE postponement_id = :'w1' AND refund_state = 'pending'), 1,
          'only ann''s refund waits for the worker; the others go with payment.refund_requested');
SELECT throws_ok(format('SELECT pg_temp.decide(%L, %L, %L)', 'cy', :'cy', 'keep'), 'PT409', NULL,
                 'after the cancellation nobody keeps');

-- ---------------------------------------------------------------- the sweep settles a date's window
SET app.current_user_id = 'box-office';
SELECT api.move_occurrence(:'o2', :'d2'::timestamptz + interval '1 day', :'d2'::timestamptz + interval '1 day 2 hours')
       -> 'decision_window' ->> 'postponement_id' AS w2 \gset
SELECT throws_ok(format('SELECT api.move_occurrence(%L, %L, %L)', :'o1', :'d2', :'d2'::timestamptz + interval '1 hour'),
                 'PT409', NULL, 'a cancelled date does not move');
SET eventsvc.clock_offset_seconds = 7300;
SELECT throws_ok(format('SELECT pg_temp.decide(%L, %L, %L)', 'dan', :'dan', 'keep'), 'PT410', NULL,
                 'after closes_at the holder no longer decides');
SELECT ok(api.close_postponement_windows() >= 1, 'the sweep decides the undecided');
RESET eventsvc.clock_offset_seconds;
SELECT is((SELECT choice || ':' || source || ':' || refund_state FROM api.postponement_decisions WHERE postponement_id = :'w2'),
          'refund:default:pending', 'dan follows the default: a refund, pending for the worker');
SELECT is((SELECT reason FROM api.hold_refunds WHERE hold_id = :'dan'),
          'the date was moved; the decision window closed and the default is a refund', 'the refund says why');
SELECT ok((SELECT closed_at IS NOT NULL FROM eventsvc.postponements WHERE id = :'w2'), 'the date''s window is closed');
SELECT is((SELECT count(*)::int FROM api.event_sections s CROSS JOIN LATERAL eventsvc.check_capacity(s.id) c
            WHERE s.event_id = :'ev' AND s.occurrence_id IS NOT NULL
              AND ((c ->> 'drift')::int <> 0 OR (c ->> 'oversold')::boolean OR NOT (c -> 'rows' ->> 'agree')::boolean)),
          0, 'check_capacity: every date section agrees with its holds');

SELECT * FROM finish();

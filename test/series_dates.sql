-- pgTAP: dates of a series sold separately (docs/series.md). Each date of a recurring
-- schedule that is opened gets its own sections, copied from the schedule's sections
-- (the templates) with their seats or seats of its own; reservations, availability,
-- thresholds and sold out are per date; a template is not sold itself; a date can be
-- closed and reopened; seats that come back put a sold-out date on sale again.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(46);

-- d1 .. d4: the four weekly dates of the schedule, d1 in 30 days
CREATE TEMP TABLE d AS
SELECT day0 AS d1, day0 + interval '7 days' AS d2, day0 + interval '14 days' AS d3, day0 + interval '21 days' AS d4
  FROM (SELECT date_trunc('day', now()) + interval '30 days 20 hours' AS day0) z;
SELECT d1, d2, d3, d4 FROM d \gset
CREATE FUNCTION pg_temp.travel(t timestamptz) RETURNS boolean LANGUAGE sql AS $$
    SELECT set_config('eventsvc.clock_offset_seconds', ceil(extract(epoch FROM t - now()))::int::text, false) IS NOT NULL
$$;
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN others THEN
    RETURN SQLSTATE;
END $$;

SELECT eventsvc.create_tenant('Tap Series', 'tap-series', '5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d', '5d5d0000-0000-4000-8000-00000000000a', 'Series Hall', 100);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d', '5d5d0000-0000-4000-8000-0000000000e1',
     '5d5d0000-0000-4000-8000-00000000000a', 'Weekly Show', 'weekly-show', 'ON_SALE', :'d1', :'d1'::timestamptz + interval '3 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_schedules (tenant_id, id, event_id, starts_at, ends_at, timezone, recurrence_rule) VALUES
    ('5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d', '5d5d0000-0000-4000-8000-0000000000d1',
     '5d5d0000-0000-4000-8000-0000000000e1', :'d1', :'d1'::timestamptz + interval '3 hours', 'UTC', 'FREQ=WEEKLY;COUNT=4'),
    ('5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d', '5d5d0000-0000-4000-8000-0000000000d2',
     '5d5d0000-0000-4000-8000-0000000000e1', :'d1', :'d1'::timestamptz + interval '3 hours', 'UTC', NULL);
-- the templates: two sections of the recurring schedule
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, schedule_id, section_name, total_capacity, available_capacity) VALUES
    ('5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d', '5d5d0000-0000-4000-8000-0000000000a1',
     '5d5d0000-0000-4000-8000-0000000000e1', '5d5d0000-0000-4000-8000-0000000000d1', 'Stalls', 3, 3),
    ('5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d', '5d5d0000-0000-4000-8000-0000000000a2',
     '5d5d0000-0000-4000-8000-0000000000e1', '5d5d0000-0000-4000-8000-0000000000d1', 'Circle', 2, 2);
SET app.current_tenant_id = '5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d';
SET app.current_user_id = 'tap';
\set sched '5d5d0000-0000-4000-8000-0000000000d1'
\set ev '5d5d0000-0000-4000-8000-0000000000e1'

-- ---------------------------------------------------------------- opening dates
SELECT api.open_occurrence(:'sched', :'d1') AS o1_doc \gset
SELECT (:'o1_doc'::jsonb) ->> 'id' AS o1 \gset
SELECT is((:'o1_doc'::jsonb) ->> 'status', 'ON_SALE', 'an opened date is on sale');
SELECT is((SELECT string_agg(x ->> 'section_name' || '=' || (x ->> 'total_capacity'), ',' ORDER BY x ->> 'section_name')
             FROM jsonb_array_elements((:'o1_doc'::jsonb) -> 'sections') x),
          'Circle=2,Stalls=3', 'the date gets a section per template, with the template''s seats');
SELECT api.open_occurrence(:'sched', :'d2', '{"Stalls": 2}') ->> 'id' AS o2 \gset
SELECT is((SELECT total_capacity FROM api.event_sections WHERE occurrence_id = :'o2' AND section_name = 'Stalls'), 2,
          'seats named for the date override the template''s');
SELECT is((SELECT total_capacity FROM api.event_sections WHERE occurrence_id = :'o2' AND section_name = 'Circle'), 2,
          'a section not named keeps the template''s seats');
SELECT id AS a1 FROM api.event_sections WHERE occurrence_id = :'o1' AND section_name = 'Stalls' \gset
SELECT id AS b1 FROM api.event_sections WHERE occurrence_id = :'o1' AND section_name = 'Circle' \gset
SELECT id AS a2 FROM api.event_sections WHERE occurrence_id = :'o2' AND section_name = 'Stalls' \gset
SELECT id AS b2 FROM api.event_sections WHERE occurrence_id = :'o2' AND section_name = 'Circle' \gset
SELECT is((SELECT template_id FROM api.event_sections WHERE id = :'a2'), '5d5d0000-0000-4000-8000-0000000000a1'::uuid,
          'a date section names its template');

SELECT throws_ok(format('SELECT api.open_occurrence(%L, %L)', :'sched', :'d1'), 'PT409', NULL,
                 'a date is opened once');
SELECT throws_ok(format('SELECT api.open_occurrence(%L, %L)', :'sched', :'d1'::timestamptz + interval '1 day'), '22023', NULL,
                 'a time the rule does not give is not a date of the schedule');
SELECT throws_ok(format('SELECT api.open_occurrence(%L, %L, %L)', :'sched', :'d3', '{"Balcony": 5}'), '22023',
                 'capacities names sections the schedule does not have: Balcony', 'seats for an unknown section are refused');
SELECT throws_ok(format('SELECT api.open_occurrence(%L, %L, %L)', :'sched', :'d3', '{"Stalls": 1.5}'), '22023', NULL,
                 'seats are whole numbers');
SELECT throws_ok(format('SELECT api.open_occurrence(%L, %L)', '5d5d0000-0000-4000-8000-0000000000d2', :'d1'), 'PT409', NULL,
                 'a one-off schedule has no dates to open');
SELECT is((SELECT count(*)::int FROM api.occurrences WHERE event_id = :'ev'), 2, 'the refused openings left nothing');

-- each date fills the venue on its own: 98 seats on d3 fit, though all dates together exceed 100
SELECT is(api.open_occurrence(:'sched', :'d3', '{"Stalls": 98}') ->> 'status', 'ON_SALE',
          'a date''s sections are checked against the venue with that date''s sections only');
SELECT throws_ok(format('SELECT api.open_occurrence(%L, %L, %L)', :'sched', :'d4', '{"Stalls": 99}'), '22023',
                 'invalid section: the event''s sections would exceed the venue''s capacity',
                 'a date whose sections exceed the venue is refused');

-- ---------------------------------------------------------------- reservations per date
SELECT throws_ok(format('SELECT to_jsonb(api.reserve_capacity(%L, 1))', '5d5d0000-0000-4000-8000-0000000000a1'), 'PT409',
                 'this section is sold per date', 'a template of a recurring schedule is not sold itself');
SELECT to_jsonb(api.reserve_capacity(:'a1', 3, holder_id => 'ann')) ->> 'id' AS h1 \gset
SELECT throws_ok(format('SELECT to_jsonb(api.reserve_capacity(%L, 1))', :'a1'), 'PT409', 'not enough seats: 1 requested, 0 remaining',
                 'd1''s stalls are gone');
SELECT is(to_jsonb(api.reserve_capacity(:'a2', 2, holder_id => 'bob')) ->> 'state', 'ACTIVE', 'd2''s stalls sell on their own');
SELECT is((SELECT h.state::text || ' ' || s.occurrence_id FROM api.holds h JOIN api.event_sections s ON s.id = h.capacity_id
            WHERE h.id = :'h1'), 'ACTIVE ' || :'o1', 'a hold carries its date through its section');
SELECT results_eq(format('SELECT occurrence_id, total_capacity, reserved, sold, available FROM api.occurrence_availability'
                         ' WHERE occurrence_id IN (%L, %L) ORDER BY starts_at', :'o1', :'o2'),
                  format('VALUES (%L::uuid, 5::bigint, 3::bigint, 0::bigint, 2::bigint), (%L::uuid, 4::bigint, 2::bigint, 0::bigint, 2::bigint)',
                         :'o1', :'o2'),
                  'availability per date');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d'
            AND routing_key = 'event.capacity.critical' AND payload -> 'data' ->> 'capacity_id' = :'a1'), 1,
          'a date section crosses its own lines');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d'
            AND routing_key LIKE 'event.capacity.%' AND payload -> 'data' ->> 'scope' = 'event'), 0,
          'date sections do not count in the event-wide lines');

-- ---------------------------------------------------------------- sold out per date
SELECT to_jsonb(api.reserve_capacity(:'b1', 2, holder_id => 'cy')) ->> 'id' AS h2 \gset
SELECT is(to_jsonb(api.confirm_hold(:'h1')) ->> 'state', 'CONFIRMED', 'd1 stalls sold');
SELECT is((SELECT status FROM api.occurrences WHERE id = :'o1'), 'ON_SALE', 'a date with seats left is on sale');
SELECT is(to_jsonb(api.confirm_hold(:'h2')) ->> 'state', 'CONFIRMED', 'd1 circle sold');
SELECT is((SELECT status FROM api.occurrences WHERE id = :'o1'), 'SOLD_OUT', 'every seat of d1 sold: d1 is sold out');
SELECT is((SELECT status FROM api.occurrences WHERE id = :'o2'), 'ON_SALE', 'd2 stays on sale');
SELECT is((SELECT status::text FROM api.events WHERE id = :'ev'), 'ON_SALE', 'the event stays on sale');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d'
            AND routing_key = 'event.occurrence.soldout' AND payload -> 'data' ->> 'occurrence_id' = :'o1'), 1,
          'one event.occurrence.soldout for d1');
SELECT is(pg_temp.sqlstate_of(format('SELECT to_jsonb(api.reserve_capacity(%L, 1))', :'a1')), 'PT409', 'a sold-out date refuses');

-- a seat of d1 comes back: d1 is on sale again, once
SELECT api.refund_purchase(:'h2', 'customer cannot come', 1) IS NOT NULL AS refunded;
SELECT is((SELECT refunded_quantity FROM api.holds WHERE id = :'h2'), 1, 'one seat of d1 refunded');
SELECT is((SELECT status FROM api.occurrences WHERE id = :'o1'), 'ON_SALE', 'seats came back: d1 is on sale again');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '5d5d5d5d-5d5d-4d5d-8d5d-5d5d5d5d5d5d'
            AND routing_key = 'event.occurrence.updated' AND payload -> 'data' ->> 'action' = 'back_on_sale'), 1,
          'one event.occurrence.updated (back_on_sale)');
SELECT is(to_jsonb(api.reserve_capacity(:'b1', 1, holder_id => 'dan')) ->> 'state', 'ACTIVE', 'the returned seat sells again');

-- ---------------------------------------------------------------- closing a date, tiers, starts
SELECT is(api.close_occurrence(:'o2', 'band ill') ->> 'status', 'CLOSED', 'd2 closed');
SELECT throws_ok(format('SELECT to_jsonb(api.reserve_capacity(%L, 1))', :'b2'), 'PT409', 'sales for this date are closed (status CLOSED)',
                 'a closed date refuses');
SELECT is((SELECT available FROM api.occurrence_availability WHERE occurrence_id = :'o2'), 0::bigint, 'a closed date has nothing available');
SELECT is(api.reopen_occurrence(:'o2') ->> 'status', 'ON_SALE', 'd2 reopened');
SELECT api.create_pricing(:'ev', 'Standard', 2500, capacity_id => '5d5d0000-0000-4000-8000-0000000000a1') ->> 'id' AS tier \gset
SELECT throws_ok(format('SELECT to_jsonb(api.reserve_capacity(%L, 1, %L))', :'a2', :'tier'), 'PT409', NULL,
                 'd2 stalls are all held');
SELECT is(to_jsonb(api.reserve_capacity(
             (SELECT id FROM api.event_sections WHERE occurrence_id = (SELECT id FROM api.occurrences WHERE starts_at = :'d3')
                AND section_name = 'Stalls'), 2, :'tier')) ->> 'unit_price', '2500',
          'a tier of the template sells every date section of it');
SELECT is((api.update_section(:'b2', 1, '{"total_capacity": 5}') ->> 'total_capacity')::int, 5,
          'one date''s section is resized on its own');
SELECT is((SELECT total_capacity FROM api.event_sections WHERE id = '5d5d0000-0000-4000-8000-0000000000a2'), 2,
          'the template keeps its seats');

-- d1 starts: d1 stops selling at its own start, d2 still sells
SELECT pg_temp.travel(:'d1'::timestamptz + interval '1 minute') AS at_d1;
SELECT throws_ok(format('SELECT to_jsonb(api.reserve_capacity(%L, 1))', :'b1'), 'PT409', NULL, 'd1 has started: its seats no longer sell');
SELECT is(to_jsonb(api.reserve_capacity(:'b2', 1, holder_id => 'eve')) ->> 'state', 'ACTIVE', 'd2 sells after the event''s first date began');
SELECT pg_temp.travel(now()) AS back;

-- ---------------------------------------------------------------- waitlists of a date
SELECT is(api.join_waitlist(:'a1', 1, :'tier') ->> 'state', 'WAITING',
          'a sold-out date section takes a waitlist entry with the template''s tier');
SELECT api.close_occurrence(:'o2') IS NOT NULL AS closed_again;
SELECT throws_ok(format('SELECT api.join_waitlist(%L, 1)', :'a2'), 'PT409', 'the section does not sell now (date CLOSED)',
                 'a closed date takes no waitlist entry');

SELECT is((SELECT (total_capacity, sold, reserved)::text FROM api.event_availability WHERE event_id = :'ev'),
          (SELECT (sum(total_capacity), sum(sold), sum(reserved))::text FROM api.occurrence_availability WHERE event_id = :'ev'),
          'the event''s availability is its dates'', the templates left out');

-- ---------------------------------------------------------------- the invariant per date
SELECT is((SELECT count(*)::int FROM api.event_sections s CROSS JOIN LATERAL eventsvc.check_capacity(s.id) c
            WHERE s.event_id = :'ev' AND s.occurrence_id IS NOT NULL
              AND ((c ->> 'drift')::int <> 0 OR (c ->> 'oversold')::boolean OR NOT (c -> 'rows' ->> 'agree')::boolean)),
          0, 'check_capacity: every date section agrees with its holds, none oversold');

SELECT * FROM finish();

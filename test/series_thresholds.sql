-- pgTAP: the 80 / 95 % lines of one date of a series, its sections together
-- (docs/series.md "Thresholds of a date"). A date of two sections crosses its lines
-- once each (scope occurrence, with the date and its figures) while its sections cross
-- their own; another date and the event-wide lines are left alone; seats that come
-- back re-arm the date's lines silently and the next crossing reports again; a
-- resized section moves the date's lines.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(15);

CREATE TEMP TABLE d AS
SELECT day0 AS d1, day0 + interval '7 days' AS d2 FROM (SELECT date_trunc('day', now()) + interval '40 days 19 hours' AS day0) z;
SELECT d1, d2 FROM d \gset

SELECT eventsvc.create_tenant('Tap Date Lines', 'tap-date-lines', '7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d', '7d7d0000-0000-4000-8000-00000000000a', 'Lines Hall', 100);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d', '7d7d0000-0000-4000-8000-0000000000e1',
     '7d7d0000-0000-4000-8000-00000000000a', 'Weekly Lines', 'weekly-lines', 'ON_SALE', :'d1', :'d1'::timestamptz + interval '2 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_schedules (tenant_id, id, event_id, starts_at, ends_at, timezone, recurrence_rule) VALUES
    ('7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d', '7d7d0000-0000-4000-8000-0000000000d1',
     '7d7d0000-0000-4000-8000-0000000000e1', :'d1', :'d1'::timestamptz + interval '2 hours', 'UTC', 'FREQ=WEEKLY;COUNT=2');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, schedule_id, section_name, total_capacity, available_capacity) VALUES
    ('7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d', '7d7d0000-0000-4000-8000-0000000000a1',
     '7d7d0000-0000-4000-8000-0000000000e1', '7d7d0000-0000-4000-8000-0000000000d1', 'Stalls', 10, 10),
    ('7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d', '7d7d0000-0000-4000-8000-0000000000a2',
     '7d7d0000-0000-4000-8000-0000000000e1', '7d7d0000-0000-4000-8000-0000000000d1', 'Circle', 10, 10);
SET app.current_tenant_id = '7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d';
SET app.current_user_id = 'tap';
\set sched '7d7d0000-0000-4000-8000-0000000000d1'
SELECT api.open_occurrence(:'sched', :'d1') ->> 'id' AS o1 \gset
SELECT api.open_occurrence(:'sched', :'d2') ->> 'id' AS o2 \gset
SELECT id AS s1 FROM api.event_sections WHERE occurrence_id = :'o1' AND section_name = 'Stalls' \gset
SELECT id AS c1 FROM api.event_sections WHERE occurrence_id = :'o1' AND section_name = 'Circle' \gset
SELECT id AS s2 FROM api.event_sections WHERE occurrence_id = :'o2' AND section_name = 'Stalls' \gset

CREATE FUNCTION pg_temp.lines(p_scope text, p_id text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg((payload -> 'data' ->> 'threshold_percent') || '@' || (payload -> 'data' ->> 'held_or_sold'),
                               ',' ORDER BY id), '')
      FROM eventsvc.outbox
     WHERE tenant_id = '7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d' AND routing_key LIKE 'event.capacity.%'
       AND payload -> 'data' ->> 'scope' = p_scope
       AND payload -> 'data' ->> CASE p_scope WHEN 'section' THEN 'capacity_id' ELSE 'occurrence_id' END = p_id
$$;

-- 20 seats on the date: 80 % is 16, 95 % is 19
SELECT to_jsonb(api.reserve_capacity(:'s1', 8, holder_id => 'ann')) ->> 'id' AS h1 \gset
SELECT to_jsonb(api.reserve_capacity(:'c1', 7, holder_id => 'bob')) ->> 'id' AS h2 \gset
SELECT is(pg_temp.lines('section', :'s1'), '80@8', 'the stalls cross their own 80 % line');
SELECT is(pg_temp.lines('occurrence', :'o1'), '', '15 of the date''s 20 seats: no line of the date yet');
SELECT to_jsonb(api.reserve_capacity(:'c1', 1, holder_id => 'cy')) ->> 'id' AS h3 \gset
SELECT is(pg_temp.lines('occurrence', :'o1'), '80@16', 'a reservation of the circle takes the date across 80 %: one warning');
SELECT is((SELECT (payload -> 'data') - 'held_or_sold' FROM eventsvc.outbox
            WHERE tenant_id = '7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d' AND payload -> 'data' ->> 'scope' = 'occurrence'),
          jsonb_build_object('scope', 'occurrence', 'event_id', '7d7d0000-0000-4000-8000-0000000000e1', 'occurrence_id', :'o1',
                             'starts_at', to_jsonb(:'d1'::timestamptz), 'sections', 2, 'total_capacity', 20,
                             'threshold_percent', 80),
          'the warning names the date, its start, its sections and seats');
SELECT is((SELECT routing_key || ' ' || aggregate_id FROM eventsvc.outbox
            WHERE tenant_id = '7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d' AND payload -> 'data' ->> 'scope' = 'occurrence'),
          'event.capacity.warning 7d7d0000-0000-4000-8000-0000000000e1', 'event.capacity.warning, the event as its aggregate');
SELECT to_jsonb(api.reserve_capacity(:'c1', 1, holder_id => 'dan')) IS NOT NULL AS more;
SELECT is(pg_temp.lines('occurrence', :'o1'), '80@16', 'above the line already: no second warning');
SELECT to_jsonb(api.reserve_capacity(:'s1', 2, holder_id => 'eve')) ->> 'id' AS h5 \gset
SELECT is(pg_temp.lines('occurrence', :'o1'), '80@16,95@19', '19 of 20: one critical');
SELECT is(pg_temp.lines('occurrence', :'o2'), '', 'the other date crossed nothing');
SELECT is((SELECT count(*)::int FROM eventsvc.outbox WHERE tenant_id = '7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d'
            AND payload -> 'data' ->> 'scope' = 'event'), 0, 'the event-wide lines still leave date sections out');

-- seats come back: the next reservation below the lines re-arms them silently, the next crossing reports
SELECT api.release_hold(:'h1') IS NOT NULL AS released;   -- 19 - 8 = 11
SELECT to_jsonb(api.reserve_capacity(:'s1', 1, holder_id => 'fay')) IS NOT NULL AS rearm;   -- 12
SELECT is((SELECT level FROM eventsvc.occurrence_capacity_thresholds WHERE occurrence_id = :'o1'), 0::smallint,
          'below both lines: the date''s state is re-armed');
SELECT is(pg_temp.lines('occurrence', :'o1'), '80@16,95@19', 're-arming sends nothing');
SELECT to_jsonb(api.reserve_capacity(:'s1', 4, holder_id => 'gus')) IS NOT NULL AS again;   -- 16
SELECT is(pg_temp.lines('occurrence', :'o1'), '80@16,95@19,80@16', 'a new crossing is reported again, once');

-- a resized section moves the date's lines: 30 seats, 80 % is 24
SELECT is((api.update_section(:'s1', (SELECT version FROM api.event_sections WHERE id = :'s1'),
                              '{"total_capacity": 20}') ->> 'total_capacity')::int, 20, 'the stalls of d1 grow to 20');
SELECT to_jsonb(api.reserve_capacity(:'s1', 7, holder_id => 'hal')) IS NOT NULL AS below;   -- 23 of 30
SELECT is(pg_temp.lines('occurrence', :'o1'), '80@16,95@19,80@16', '23 of the new 30: below the moved line');
SELECT to_jsonb(api.reserve_capacity(:'s1', 1, holder_id => 'ida')) IS NOT NULL AS cross;   -- 24 of 30
SELECT is((SELECT payload -> 'data' ->> 'total_capacity' FROM eventsvc.outbox
            WHERE tenant_id = '7d7d7d7d-7d7d-4d7d-8d7d-7d7d7d7d7d7d' AND payload -> 'data' ->> 'scope' = 'occurrence'
            ORDER BY id DESC LIMIT 1) || ' ' || pg_temp.lines('occurrence', :'o1'),
          '30 80@16,95@19,80@16,80@24', '24 of 30 crosses the moved line');

SELECT * FROM finish();

-- pgTAP: event-wide capacity thresholds. An event of two sections of 10 seats
-- (80 % = 16 seats, 95 % = 19): one event-scope event.capacity.warning /
-- .critical per crossing, next to the per-section messages; nothing for a
-- reservation that crosses nothing; after holds are released below a line,
-- the next crossing reports again; a rolled-back crossing leaves no message
-- and the next crossing reports. Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(28);

SELECT eventsvc.create_tenant('Tap Thresholds', 'tap-thresholds', 'a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-00000000000a', 'Threshold Hall', 300);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-0000000000e1',
     'a5a5a5a5-0000-4000-8000-00000000000a', 'Threshold Night', 'threshold-night', 'ON_SALE'),
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-0000000000e2',
     'a5a5a5a5-0000-4000-8000-00000000000a', 'Jump Night', 'jump-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-0000000000c1',
     'a5a5a5a5-0000-4000-8000-0000000000e1', 'A', 10, 10),
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-0000000000c2',
     'a5a5a5a5-0000-4000-8000-0000000000e1', 'B', 10, 10),
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-0000000000c3',
     'a5a5a5a5-0000-4000-8000-0000000000e2', 'J1', 50, 50),
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-0000000000c4',
     'a5a5a5a5-0000-4000-8000-0000000000e2', 'J2', 50, 50);
SET app.current_tenant_id = 'a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5';

-- Reserve n seats of section A or B of the first event for a named holder.
CREATE FUNCTION pg_temp.take(section text, n int, who text) RETURNS boolean LANGUAGE sql AS $$
    SELECT to_jsonb(api.reserve_capacity(CASE section WHEN 'A' THEN 'a5a5a5a5-0000-4000-8000-0000000000c1'::uuid
                                             ELSE 'a5a5a5a5-0000-4000-8000-0000000000c2'::uuid END,
                                n, holder_id => who)) IS NOT NULL
$$;
CREATE FUNCTION pg_temp.give(who text) RETURNS boolean LANGUAGE sql AS $$
    SELECT bool_and(to_jsonb(api.release_hold(id)) IS NOT NULL) FROM eventsvc.capacity_holds
     WHERE holder_id = who AND state = 'ACTIVE' AND tenant_id = 'a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5'
$$;
-- The threshold messages of an event so far, oldest first: key:percent@seats, per scope.
CREATE FUNCTION pg_temp.msgs(scope text, event uuid DEFAULT 'a5a5a5a5-0000-4000-8000-0000000000e1') RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(replace(routing_key, 'event.capacity.', '') || ':'
                               || (payload->'data'->>'threshold_percent') || '@' || (payload->'data'->>'held_or_sold')
                               || CASE WHEN scope = 'section' THEN '/' || (SELECT section_name FROM eventsvc.event_capacity
                                                                         WHERE id = (payload->'data'->>'capacity_id')::uuid)
                                       ELSE '' END, ' ' ORDER BY id), '')
      FROM eventsvc.outbox
     WHERE aggregate_id = event AND routing_key LIKE 'event.capacity.%' AND payload->'data'->>'scope' = scope
$$;

SELECT ok(pg_temp.take('A', 7, 'a7') AND pg_temp.take('B', 7, 'b7'), '14 of 20 seats held');
SELECT is(pg_temp.msgs('event') || '|' || pg_temp.msgs('section'), '|', '70 %: no message');
SELECT ok(pg_temp.take('A', 1, 'a1'), 'A reaches 8 of 10');
SELECT is(pg_temp.msgs('event'), '', 'the event at 75 % crossed nothing: no event message');
SELECT is(pg_temp.msgs('section'), 'warning:80@8/A', 'section A crossed its own 80 %');
SELECT ok(pg_temp.take('B', 1, 'b1'), 'B reaches 8 of 10, the event 16 of 20');
SELECT is(pg_temp.msgs('event'), 'warning:80@16', 'the event crossed 80 %: exactly one event warning');
SELECT is(pg_temp.msgs('section'), 'warning:80@8/A warning:80@8/B', 'and section B its own');
SELECT is((SELECT (payload->'data') - 'event_id' FROM eventsvc.outbox
            WHERE aggregate_id = 'a5a5a5a5-0000-4000-8000-0000000000e1' AND payload->'data'->>'scope' = 'event'),
          '{"scope": "event", "sections": 2, "held_or_sold": 16, "total_capacity": 20, "threshold_percent": 80}'::jsonb,
          'event-scope payload: no capacity_id, the event''s totals');
SELECT ok(pg_temp.take('B', 2, 'b2'), 'B full, the event at 18 of 20');
SELECT is(pg_temp.msgs('event'), 'warning:80@16', 'above 80 %, below 95 %: no second event warning');
SELECT ok(pg_temp.take('A', 1, 'a1b'), 'the event at 19 of 20');
SELECT is(pg_temp.msgs('event'), 'warning:80@16 critical:95@19', 'the event crossed 95 %: exactly one event critical');
SELECT is(pg_temp.msgs('section'), 'warning:80@8/A warning:80@8/B critical:95@10/B',
          'per-section messages still come, once each');

-- Holds released below 80 %: nothing is emitted; the next crossing reports again.
SELECT ok(pg_temp.give('a1b') AND pg_temp.give('b2') AND pg_temp.give('b1'), 'released back to 15 of 20');
SELECT ok(pg_temp.take('A', 1, 'again'), 'a reservation takes the event across 80 % again');
SELECT is(pg_temp.msgs('event'), 'warning:80@16 critical:95@19 warning:80@16', 'a second crossing, a second warning');

-- Below the line with a reported state: a reservation that stays below re-arms silently.
-- (released seats come back when the release commits: one statement each)
SELECT pg_temp.give('again') AND pg_temp.give('a1') AND pg_temp.give('b7') AS released_to_7;
SELECT ok(pg_temp.take('A', 3, 'quiet'), 'then 10 of 20');
SELECT is(pg_temp.msgs('event'), 'warning:80@16 critical:95@19 warning:80@16', 'staying below the line emits nothing');

-- A crossing that rolls back leaves no message; the next crossing reports once.
BEGIN;
SELECT pg_temp.take('B', 6, 'rolled-back');
ROLLBACK;
SELECT ok(pg_temp.take('B', 9, 'jump'), 'one reservation from 10 to 19 of 20');
SELECT is(pg_temp.msgs('event'), 'warning:80@16 critical:95@19 warning:80@16 warning:80@19 critical:95@19',
          'the rolled-back crossing left nothing; the jump across both lines reports both, once');

-- The event crosses 80 % through a reservation whose own section stays at 70 %.
SELECT ok(to_jsonb(api.reserve_capacity('a5a5a5a5-0000-4000-8000-0000000000c3', 45, holder_id => 'j1')) IS NOT NULL
          AND to_jsonb(api.reserve_capacity('a5a5a5a5-0000-4000-8000-0000000000c4', 35, holder_id => 'j2')) IS NOT NULL,
          '45 of 50 and 35 of 50: 80 of 100 seats');
SELECT is(pg_temp.msgs('event', 'a5a5a5a5-0000-4000-8000-0000000000e2'), 'warning:80@80',
          'the event warning comes from the reservation in the quieter section');
SELECT is(pg_temp.msgs('section', 'a5a5a5a5-0000-4000-8000-0000000000e2'), 'warning:80@45/J1',
          'only J1 crossed a section line');

-- A new section moves the event's lines (the session's section list follows it):
-- 80 of 200 seats is 40 %, so the next reservation re-arms silently, and 160 reports.
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('a5a5a5a5-a5a5-4a5a-8a5a-a5a5a5a5a5a5', 'a5a5a5a5-0000-4000-8000-0000000000c5',
     'a5a5a5a5-0000-4000-8000-0000000000e2', 'J3', 100, 100);
SELECT ok(to_jsonb(api.reserve_capacity('a5a5a5a5-0000-4000-8000-0000000000c5', 1, holder_id => 'j3a')) IS NOT NULL
          AND to_jsonb(api.reserve_capacity('a5a5a5a5-0000-4000-8000-0000000000c5', 78, holder_id => 'j3b')) IS NOT NULL,
          '159 of 200 seats');
SELECT is(pg_temp.msgs('event', 'a5a5a5a5-0000-4000-8000-0000000000e2'), 'warning:80@80', 'below the new line: nothing new');
SELECT ok(to_jsonb(api.reserve_capacity('a5a5a5a5-0000-4000-8000-0000000000c5', 1, holder_id => 'j3c')) IS NOT NULL, '160 of 200');
SELECT is((SELECT string_agg((payload->'data'->>'held_or_sold') || '/' || (payload->'data'->>'total_capacity') || ' in '
                             || (payload->'data'->>'sections'), ' ' ORDER BY id)
             FROM eventsvc.outbox WHERE aggregate_id = 'a5a5a5a5-0000-4000-8000-0000000000e2'
              AND payload->'data'->>'scope' = 'event'),
          '80/100 in 2 160/200 in 3', 'the crossing of the moved line is reported against the new total');

SELECT * FROM finish();

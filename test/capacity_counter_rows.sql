-- pgTAP: the counter rows follow every hold change in its own transaction: a
-- reservation with and without a price, a confirmation, a release, the sweep, a
-- reservation that reclaims overdue holds, an event's cancellation, a rollback and a
-- rolled-back savepoint. After each step check_capacity finds the rows agreeing with
-- the holds; customers are counted once per event; every counter change is a HOT
-- update. Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(21);

SELECT eventsvc.create_tenant('Tap Rows', 'tap-rows', 'c0c0c0c0-0000-4000-8000-000000000001') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('c0c0c0c0-0000-4000-8000-000000000001', 'c0c0c0c0-0000-4000-8000-0000000000a1', 'Row Hall', 100);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('c0c0c0c0-0000-4000-8000-000000000001', 'c0c0c0c0-0000-4000-8000-0000000000e1',
     'c0c0c0c0-0000-4000-8000-0000000000a1', 'Row Night', 'row-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('c0c0c0c0-0000-4000-8000-000000000001', 'c0c0c0c0-0000-4000-8000-0000000000c1',
        'c0c0c0c0-0000-4000-8000-0000000000e1', 'Stalls', 20, 20),
       ('c0c0c0c0-0000-4000-8000-000000000001', 'c0c0c0c0-0000-4000-8000-0000000000c2',
        'c0c0c0c0-0000-4000-8000-0000000000e1', 'Circle', 10, 10);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, currency) VALUES
    ('c0c0c0c0-0000-4000-8000-000000000001', 'c0c0c0c0-0000-4000-8000-0000000000f1',
     'c0c0c0c0-0000-4000-8000-0000000000e1', 'Euro', 2500, 'EUR'),
    ('c0c0c0c0-0000-4000-8000-000000000001', 'c0c0c0c0-0000-4000-8000-0000000000f2',
     'c0c0c0c0-0000-4000-8000-0000000000e1', 'Pound', 1999, 'GBP');
SET app.current_tenant_id = 'c0c0c0c0-0000-4000-8000-000000000001';

-- "held/sold rows agree drift": the counter rows against the holds, from check_capacity
CREATE FUNCTION pg_temp.rows(section uuid) RETURNS text LANGUAGE sql AS $$
    SELECT (r->'rows'->>'held') || '/' || (r->'rows'->>'sold') || ' ' || (r->'rows'->>'agree') || ' ' || (r->'rows'->>'drift')
      FROM eventsvc.check_capacity(section) r
$$;
CREATE FUNCTION pg_temp.sums(section uuid) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s:%s/%s rev %s holds %s/%s/%s/%s', nullif(currency, ''), held, sold, revenue, holds,
                             holds_confirmed, holds_expired, holds_released), ', ' ORDER BY currency)
      FROM (SELECT currency, sum(held) held, sum(sold) sold, sum(revenue) revenue, sum(holds) holds,
                   sum(holds_confirmed) holds_confirmed, sum(holds_expired) holds_expired, sum(holds_released) holds_released
              FROM eventsvc.section_counters WHERE capacity_id = section GROUP BY currency) x
$$;
CREATE TEMP TABLE hot0 AS SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_all_tables WHERE relid = 'eventsvc.section_counters'::regclass;

SELECT (to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c1', 3, 'c0c0c0c0-0000-4000-8000-0000000000f1', 'ann'))) ->> 'id' AS a1 \gset
SELECT (to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c1', 2, 'c0c0c0c0-0000-4000-8000-0000000000f2', 'ann'))) ->> 'id' AS a2 \gset
SELECT (to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c1', 1, holder_id => 'bob'))) ->> 'id' AS b1 \gset
SELECT is(pg_temp.sums('c0c0c0c0-0000-4000-8000-0000000000c1'),
          ':1/0 rev 0 holds 1/0/0/0, EUR:3/0 rev 0 holds 1/0/0/0, GBP:2/0 rev 0 holds 1/0/0/0',
          'three reservations: held seats per currency ('''' = no price)');
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c1'), '6/0 true 0', 'the rows agree with the holds');

SELECT is((to_jsonb(api.confirm_hold(:'a1'))) ->> 'state', 'CONFIRMED', 'confirm the euro hold');
SELECT is((to_jsonb(api.release_hold(:'a2'))) ->> 'state', 'RELEASED', 'release the pound hold');
SELECT is(pg_temp.sums('c0c0c0c0-0000-4000-8000-0000000000c1'),
          ':1/0 rev 0 holds 1/0/0/0, EUR:0/3 rev 7500 holds 1/1/0/0, GBP:0/0 rev 0 holds 1/0/0/1',
          'confirmed: held to sold, revenue = quantity x locked unit price; released: held gone');
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c1'), '1/3 true 0', 'the rows still agree');

-- rolled back: nothing stays, also not from a savepoint
BEGIN;
SELECT to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c1', 4, holder_id => 'carl')) IS NOT NULL AS held;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT to_jsonb(api.confirm_hold(:'b1')) IS NOT NULL AS confirmed;
ROLLBACK TO s;
SELECT to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c2', 2, holder_id => 'dora')) IS NOT NULL AS kept;
COMMIT;
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c1'), '1/3 true 0', 'a rolled-back reservation and confirmation left nothing');
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c2'), '2/0 true 0', 'what the transaction kept is counted');

-- the sweep: overdue holds expire, their seats leave the counter rows in the same statement
SELECT to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c2', 3, holder_id => 'eve', hold_seconds => 1)) IS NOT NULL AS short;
BEGIN;
SET LOCAL eventsvc.clock_offset_seconds = 5;
SELECT is(api.expire_holds(100), 1::bigint, 'the sweep expires the one-second hold');
COMMIT;
SELECT is(pg_temp.sums('c0c0c0c0-0000-4000-8000-0000000000c2'), ':2/0 rev 0 holds 2/0/1/0', 'its seats left held, one hold counted expired');
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c2'), '2/0 true 0', 'the rows agree after the sweep');

-- a reservation short of seats reclaims overdue holds in its own statement
SELECT to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c2', 8, holder_id => 'finn', hold_seconds => 1)) IS NOT NULL AS short;
BEGIN;
SET LOCAL eventsvc.clock_offset_seconds = 5;
SELECT is((to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c2', 8, holder_id => 'gus'))) ->> 'quantity', '8',
          'eight seats reclaimed from the overdue hold and taken');
COMMIT;
SELECT is(pg_temp.sums('c0c0c0c0-0000-4000-8000-0000000000c2'), ':10/0 rev 0 holds 4/0/2/0', 'the reclaimed hold counted expired');
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c2'), '10/0 true 0', 'the rows agree after the reclaim');

-- customers: once per event whatever the sections and currencies; buyers once
SELECT is((SELECT sum(customers)::int || '/' || sum(buying_customers)::int FROM eventsvc.section_counters
            WHERE tenant_id = 'c0c0c0c0-0000-4000-8000-000000000001'), '6/1',
          'ann, bob, dora, eve, finn and gus held seats (carl rolled back): 6 customers; ann bought');
SELECT to_jsonb(api.reserve_capacity('c0c0c0c0-0000-4000-8000-0000000000c1', 1, holder_id => 'ann')) ->> 'id' AS a3 \gset
SELECT to_jsonb(api.confirm_hold(:'a3')) IS NOT NULL AS bought_again;
SELECT to_jsonb(api.confirm_hold(:'b1')) IS NOT NULL AS bob_bought;
SELECT is((SELECT sum(customers)::int || '/' || sum(buying_customers)::int FROM eventsvc.section_counters
            WHERE tenant_id = 'c0c0c0c0-0000-4000-8000-000000000001'), '6/2',
          'ann again is no new customer nor buyer; bob''s first purchase counts');
SELECT is((SELECT count(*)::int FROM eventsvc.event_customers WHERE tenant_id = 'c0c0c0c0-0000-4000-8000-000000000001'), 6,
          'six holders in event_customers');

-- the event's cancellation releases every active hold: the rows lose them
SELECT eventsvc.release_event_holds('c0c0c0c0-0000-4000-8000-0000000000e1') AS released;
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c1'), '0/5 true 0', 'after the cancellation release: stalls');
SELECT is(pg_temp.rows('c0c0c0c0-0000-4000-8000-0000000000c2'), '0/0 true 0', 'and circle');

-- each counter change after the first of a stripe was a HOT update (no index entry)
SELECT pg_stat_force_next_flush();
SELECT pg_sleep(0.1);
SELECT ok((SELECT s.n_tup_upd - h.n_tup_upd > 5 AND s.n_tup_upd - h.n_tup_upd = s.n_tup_hot_upd - h.n_tup_hot_upd
             FROM pg_stat_all_tables s, hot0 h WHERE s.relid = 'eventsvc.section_counters'::regclass),
          'every update of a counter row was HOT');
SELECT is((SELECT count(*)::int FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
            WHERE i.indrelid = 'eventsvc.section_counters'::regclass
              AND a.attname NOT IN ('tenant_id', 'capacity_id', 'currency', 'stripe')), 0,
          'no index covers a counted column');

SELECT * FROM finish();

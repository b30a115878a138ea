-- pgTAP: section changes decided on live counts (never on the row's refreshed
-- copy of the counters), with PT409 and the numbers when seats are taken; a hold
-- made earlier in the same statement can be confirmed, released or extended;
-- check_capacity counts this transaction's own pending seats. Commits as it goes.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(20);

SELECT eventsvc.create_tenant('Tap Changes', 'tap-changes', '5ec70000-0000-4000-8000-000000000001') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('5ec70000-0000-4000-8000-000000000001', '5ec70000-0000-4000-8000-0000000000a1', 'Change Hall', 100);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('5ec70000-0000-4000-8000-000000000001', '5ec70000-0000-4000-8000-0000000000e1',
     '5ec70000-0000-4000-8000-0000000000a1', 'Change Night', 'change-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('5ec70000-0000-4000-8000-000000000001', '5ec70000-0000-4000-8000-0000000000c1',
        '5ec70000-0000-4000-8000-0000000000e1', 'Ten', 10, 10);
SET app.current_tenant_id = '5ec70000-0000-4000-8000-000000000001';
SET app.current_user_id = 'ann';
SET ROLE eventsvc_user;

-- Reserve 8 of 10, refresh the row's copy (8 reserved), release: 10 are free again.
SELECT (to_jsonb(api.reserve_capacity('5ec70000-0000-4000-8000-0000000000c1', 8))) ->> 'id' AS h8 \gset
RESET ROLE;
SELECT is((eventsvc.check_capacity('5ec70000-0000-4000-8000-0000000000c1')) ->> 'held', '8', 'the copy says 8 reserved');
SET ROLE eventsvc_user;
SELECT is((to_jsonb(api.release_hold(:'h8'))) ->> 'state', 'RELEASED', 'then the hold is released');
SELECT is((SELECT reserved_capacity FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), 8,
          'the row''s copy still says 8 reserved');
SELECT is((SELECT available FROM api.section_availability WHERE capacity_id = '5ec70000-0000-4000-8000-0000000000c1'), 10::bigint,
          'the availability view says 10 free');
SELECT is((api.update_section('5ec70000-0000-4000-8000-0000000000c1', (SELECT version FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '{"total_capacity": 5}')) ->> 'total_capacity', '5',
          'so shrinking to 5 is allowed (decided on the live count, not the copy)');
SELECT is((SELECT row(available_capacity, reserved_capacity, sold_count)::text FROM eventsvc.event_capacity
            WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '(5,0,0)', 'and the copy is rewritten from the rows');

-- Seats really taken: PT409 with the numbers, not 22023.
SELECT is((to_jsonb(api.reserve_capacity('5ec70000-0000-4000-8000-0000000000c1', 3))) ->> 'quantity', '3', 'three held');
SELECT (to_jsonb(api.reserve_capacity('5ec70000-0000-4000-8000-0000000000c1', 1))) ->> 'id' AS h1 \gset
SELECT ok((to_jsonb(api.confirm_hold(:'h1'))) ->> 'state' = 'CONFIRMED', 'one sold');
SELECT throws_ok($$SELECT api.update_section('5ec70000-0000-4000-8000-0000000000c1', (SELECT version FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '{"total_capacity": 3}')$$,
                 'PT409', 'cannot cut total_capacity from 5 to 3: only 1 seats are free',
                 'a cut below the held and sold seats is PT409 and says what is free');
CREATE FUNCTION pg_temp.refusal(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; h text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || d || ' ' || h;
END $$;
SELECT is(pg_temp.refusal($$SELECT api.update_section('5ec70000-0000-4000-8000-0000000000c1', (SELECT version FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '{"total_capacity": 3}')$$),
          'PT409: 3 held, 1 sold, 0 being reserved or released right now. Seats that are held or sold cannot be removed; the smallest total now is 4.',
          'the refusal gives held, sold and the smallest possible total');
SELECT is((api.update_section('5ec70000-0000-4000-8000-0000000000c1', (SELECT version FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '{"total_capacity": 4}')) ->> 'total_capacity', '4',
          'cutting to exactly the taken seats is allowed');
SELECT is((api.update_section('5ec70000-0000-4000-8000-0000000000c1', (SELECT version FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '{"is_active": false}')) ->> 'is_active', 'false',
          'a section with holds can be deactivated');
SELECT is((SELECT row(available_capacity, reserved_capacity, sold_count)::text FROM eventsvc.event_capacity
            WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '(0,3,1)', 'deactivation rewrote the copy from the rows');
SELECT is((api.update_section('5ec70000-0000-4000-8000-0000000000c1', (SELECT version FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '{"is_active": true, "total_capacity": 6}')) ->> 'total_capacity', '6',
          'reactivated and grown');
SELECT throws_ok($$SELECT api.update_section('5ec70000-0000-4000-8000-0000000000c1', (SELECT version FROM eventsvc.event_capacity WHERE id = '5ec70000-0000-4000-8000-0000000000c1'), '{"total_capacity": -1}')$$,
                 '22023', NULL, 'a negative total is malformed input: 22023');

-- A hold made earlier in the same statement: confirm, release and extend see it.
SELECT is((to_jsonb(api.confirm_hold((to_jsonb(api.reserve_capacity('5ec70000-0000-4000-8000-0000000000c1', 1)) ->> 'id')::uuid))) ->> 'state',
          'CONFIRMED', 'confirm_hold of a hold reserved in the same statement');
SELECT is((to_jsonb(api.release_hold((to_jsonb(api.reserve_capacity('5ec70000-0000-4000-8000-0000000000c1', 1)) ->> 'id')::uuid))) ->> 'state',
          'RELEASED', 'release_hold of a hold reserved in the same statement');
SELECT is((to_jsonb(api.extend_hold((to_jsonb(api.reserve_capacity('5ec70000-0000-4000-8000-0000000000c1', 1, hold_seconds => 60)) ->> 'id')::uuid, 60))
            ->> 'quantity'), '1', 'extend_hold of a hold reserved in the same statement');

-- check_capacity in a transaction with its own release in flight: no drift, nothing busy.
RESET ROLE;
BEGIN;
SELECT to_jsonb(api.release_hold(id)) IS NOT NULL AS released FROM eventsvc.capacity_holds
 WHERE tenant_id = '5ec70000-0000-4000-8000-000000000001' AND state = 'ACTIVE' AND quantity = 3;
SELECT is((SELECT (r->>'held') || '/' || (r->>'drift') || '/' || (r->>'busy') || '/' || (r->>'in_flight')
             FROM eventsvc.check_capacity('5ec70000-0000-4000-8000-0000000000c1') r), '1/0/false/0',
          'own pending release: counted on the counter''s side, no false drift');
COMMIT;
SELECT is((SELECT (r->>'held') || '/' || (r->>'sold') || '/' || (r->>'drift') || '/' || (r->>'counter')
             FROM eventsvc.check_capacity('5ec70000-0000-4000-8000-0000000000c1') r), '1/2/0/3',
          'after commit: 1 held, 2 sold, 3 free on the counter, no drift');

-- Leave nothing active for the tests that move the clock after this one.
SELECT count(to_jsonb(api.release_hold(id))) AS released FROM eventsvc.capacity_holds
 WHERE tenant_id = '5ec70000-0000-4000-8000-000000000001' AND state = 'ACTIVE';

SELECT * FROM finish();

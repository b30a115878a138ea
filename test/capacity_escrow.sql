-- pgTAP: the shared seat counter against the rows: PL/pgSQL exception blocks
-- (subtransactions), committed and rolled-back work, reset and rebuild,
-- REPEATABLE READ. Commits as it goes (counters settle at commit), own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(14);

SELECT eventsvc.create_tenant('Tap Escrow', 'tap-escrow', '99999999-9999-4999-8999-999999999999') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('99999999-9999-4999-8999-999999999999', '99999999-0000-4000-8000-00000000000a', 'Escrow Hall', 50);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('99999999-9999-4999-8999-999999999999', '99999999-0000-4000-8000-0000000000e1',
     '99999999-0000-4000-8000-00000000000a', 'Escrow Night', 'escrow-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('99999999-9999-4999-8999-999999999999', '99999999-0000-4000-8000-0000000000c1',
        '99999999-0000-4000-8000-0000000000e1', 'E', 10, 10);
SET app.current_tenant_id = '99999999-9999-4999-8999-999999999999';

CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
    SELECT (r->>'held') || ' held, ' || (r->>'available') || ' free, counter ' || (r->>'counter')
           || ', in flight ' || (r->>'in_flight')
      FROM eventsvc.check_capacity('99999999-0000-4000-8000-0000000000c1') r
$$;

SELECT is(pg_temp.state(), '0 held, 10 free, counter 10, in flight 0', 'a fresh section: counter built from rows');

-- A PL/pgSQL exception block is a subtransaction: its seats come back when it fails.
DO $$
BEGIN
    PERFORM to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 2, holder_id => 'keep'));
    BEGIN
        PERFORM to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 3, holder_id => 'lose'));
        RAISE EXCEPTION 'payment declined';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    BEGIN
        PERFORM to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 20, holder_id => 'greedy'));
    EXCEPTION WHEN SQLSTATE 'PT409' THEN
        NULL;
    END;
END
$$;
SELECT is(pg_temp.state(), '2 held, 8 free, counter 8, in flight 0', 'only the committed block''s seats are taken');

-- Nested savepoints: an inner commit is kept by the outer one; an outer rollback drops both.
BEGIN;
SAVEPOINT outer_sp;
SELECT to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 1, holder_id => 'n1')) IS NOT NULL AS n1;
SAVEPOINT inner_sp;
SELECT to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 1, holder_id => 'n2')) IS NOT NULL AS n2;
RELEASE inner_sp;
ROLLBACK TO outer_sp;
SELECT to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 1, holder_id => 'n3')) IS NOT NULL AS n3;
COMMIT;
SELECT is(pg_temp.state(), '3 held, 7 free, counter 7, in flight 0', 'savepoints: only n3 stayed');

-- Releases give seats back only when they commit.
BEGIN;
SELECT to_jsonb(api.release_hold(id)) IS NOT NULL FROM eventsvc.capacity_holds WHERE holder_id = 'n3';
SELECT is((eventsvc.escrow_state('99999999-0000-4000-8000-0000000000c1')) ->> 'available', '7',
          'a release in flight does not free seats yet');
ROLLBACK;
SELECT is(pg_temp.state(), '3 held, 7 free, counter 7, in flight 0', 'a rolled-back release frees nothing');
SELECT to_jsonb(api.release_hold(id)) IS NOT NULL FROM eventsvc.capacity_holds WHERE holder_id = 'n3';
SELECT is(pg_temp.state(), '2 held, 8 free, counter 8, in flight 0', 'a committed release frees its seat');

-- Reset: the counter is forgotten and rebuilt from the rows on next use.
SELECT ok(eventsvc.escrow_reset('99999999-0000-4000-8000-0000000000c1'), 'reset');
SELECT is(eventsvc.escrow_state('99999999-0000-4000-8000-0000000000c1'), NULL, 'nothing in flight: the counter is forgotten');
SELECT is((to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 8, holder_id => 'rebuild'))) ->> 'quantity', '8',
          'the rebuilt counter has exactly the 8 free seats');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 1, holder_id => 'late'))$$,
                 'PT409', 'not enough seats: 1 requested, 0 remaining', 'and not one more');

-- REPEATABLE READ: a release committed after this transaction's snapshot still counts.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) >= 0 AS snapshot_taken FROM eventsvc.capacity_holds;
\! psql -X -q -d eventsvc_tap -c "SET app.current_tenant_id = '99999999-9999-4999-8999-999999999999'" -c "SELECT to_jsonb(api.release_hold(id)) FROM eventsvc.capacity_holds WHERE holder_id = 'rebuild'" >/dev/null
SELECT is((to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 8, holder_id => 'rr'))) ->> 'quantity', '8',
          'REPEATABLE READ sees the seats freed after its snapshot');
COMMIT;
SELECT is(pg_temp.state(), '10 held, 0 free, counter 0, in flight 0', 'counter and rows agree at the end');

-- Sold out only when truly out: holds past their time that no sweep has reached
-- yet are reclaimed by the request that needs their seats.
SET eventsvc.clock_offset_seconds = 3600;
SELECT is((to_jsonb(api.reserve_capacity('99999999-0000-4000-8000-0000000000c1', 9, holder_id => 'late-buyer'))) ->> 'quantity', '9',
          'overdue holds were reclaimed for a request on a full section');
RESET eventsvc.clock_offset_seconds;
SELECT is(pg_temp.state() || ' / ' || (SELECT string_agg(state::text || ':' || quantity, ',' ORDER BY holder_id)
                                          FROM eventsvc.capacity_holds WHERE tenant_id = '99999999-9999-4999-8999-999999999999'
                                           AND state IN ('ACTIVE', 'EXPIRED')),
          '9 held, 1 free, counter 1, in flight 0 / EXPIRED:2,ACTIVE:9,EXPIRED:8',
          'the overdue holds are EXPIRED, the spare seat went back to the counter');

SELECT * FROM finish();

-- pgTAP: PREPARE TRANSACTION is refused (PT409) after any hold change, on the
-- shared-counter path and on the row-lock path alike (docs/capacity.md): a
-- prepared transaction has no backend to settle its counter records or to publish
-- its start to the expiry sweep. The refused transaction rolls back: its seats are
-- free again and nothing is left prepared.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(12);

SELECT eventsvc.create_tenant('Tap Prepare', 'tap-prepare', '9e9a0000-0000-4000-8000-000000000001') IS NOT NULL AS tenant;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('9e9a0000-0000-4000-8000-000000000001', '9e9a0000-0000-4000-8000-0000000000a1', 'Prepare Hall', 100);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('9e9a0000-0000-4000-8000-000000000001', '9e9a0000-0000-4000-8000-0000000000e1',
     '9e9a0000-0000-4000-8000-0000000000a1', 'Prepare Night', 'prepare-night', 'ON_SALE'),
    -- another event: a first reservation gives the other sections of its event a counter too
    ('9e9a0000-0000-4000-8000-000000000001', '9e9a0000-0000-4000-8000-0000000000e2',
     '9e9a0000-0000-4000-8000-0000000000a1', 'Prepare Matinee', 'prepare-matinee', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('9e9a0000-0000-4000-8000-000000000001', '9e9a0000-0000-4000-8000-0000000000c1',
        '9e9a0000-0000-4000-8000-0000000000e1', 'Counter', 10, 10),
       ('9e9a0000-0000-4000-8000-000000000001', '9e9a0000-0000-4000-8000-0000000000c2',
        '9e9a0000-0000-4000-8000-0000000000e2', 'Rows', 10, 10);
SET app.current_tenant_id = '9e9a0000-0000-4000-8000-000000000001';
SET app.current_user_id = 'pia';

-- The shared-counter path.
BEGIN;
SELECT (api.reserve_capacity('9e9a0000-0000-4000-8000-0000000000c1', 4)).quantity AS counter_taken \gset
\set ON_ERROR_STOP 0
PREPARE TRANSACTION 'evs_prepare_counter';
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, 'PT409', 'counter path: PREPARE after a reservation is refused with PT409');
SELECT is(:'LAST_ERROR_MESSAGE'::text, 'cannot PREPARE a transaction that changed holds', 'counter path: and says why');
SELECT ok((eventsvc.escrow_state('9e9a0000-0000-4000-8000-0000000000c1') ->> 'valid')::boolean,
          'counter path: the section had a shared counter');
SELECT is((SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'evs_prepare_counter'), 0::bigint, 'counter path: nothing prepared');
SELECT is((SELECT available FROM api.section_availability WHERE capacity_id = '9e9a0000-0000-4000-8000-0000000000c1'),
          10::bigint, 'counter path: the seats are free again');
SELECT is((api.reserve_capacity('9e9a0000-0000-4000-8000-0000000000c1', 10)).quantity, '10',
          'counter path: all ten can be taken (the counter gave the four back)');

-- The row-lock path: this session may not give a section a counter.
SET eventsvc.escrow_sections_per_tenant = 0;
BEGIN;
SELECT (api.reserve_capacity('9e9a0000-0000-4000-8000-0000000000c2', 4)).quantity AS rows_taken \gset
\set ON_ERROR_STOP 0
PREPARE TRANSACTION 'evs_prepare_rows';
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, 'PT409', 'row-lock path: PREPARE after a reservation is refused with PT409');
SELECT is(:'LAST_ERROR_MESSAGE'::text, 'cannot PREPARE a transaction that changed holds', 'row-lock path: and says why');
SELECT is(eventsvc.escrow_state('9e9a0000-0000-4000-8000-0000000000c2'), NULL,
          'row-lock path: the section has no shared counter');
SELECT is((SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'evs_prepare_rows'), 0::bigint, 'row-lock path: nothing prepared');
SELECT is((SELECT available FROM api.section_availability WHERE capacity_id = '9e9a0000-0000-4000-8000-0000000000c2'),
          10::bigint, 'row-lock path: the seats are free again');
SELECT is((api.reserve_capacity('9e9a0000-0000-4000-8000-0000000000c2', 10)).quantity, '10',
          'row-lock path: all ten can be taken (the counter rows rolled back with the hold)');
RESET eventsvc.escrow_sections_per_tenant;

SELECT * FROM finish();

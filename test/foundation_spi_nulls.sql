-- pgTAP: a value the C code counts on that a statement returns as NULL is an
-- internal error (XX000, HTTP 500) naming the missing value, never a crash of
-- the backend (which would restart the whole server). The schema is bent for
-- one transaction (a NOT NULL dropped, the value set to NULL) and rolled back;
-- the same calls then work as before. Commits its fixture, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(7);

SELECT eventsvc.create_tenant('Tap Nulls', 'tap-nulls', '5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a', '5a5a0000-0000-4000-8000-00000000000a', 'Null Hall', 500);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a', '5a5a0000-0000-4000-8000-0000000000e1',
     '5a5a0000-0000-4000-8000-00000000000a', 'Null Night', 'null-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a', '5a5a0000-0000-4000-8000-0000000000c1',
     '5a5a0000-0000-4000-8000-0000000000e1', 'Stalls', 100, 100);
SET app.current_tenant_id = '5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a';
SET app.current_user_id = 'nina';
SELECT (to_jsonb(r) ->> 'id') AS hold_id FROM api.reserve_capacity('5a5a0000-0000-4000-8000-0000000000c1', 2) r \gset

-- in the caller's transaction: the hold's column `col` loses its NOT NULL and reads NULL
CREATE FUNCTION pg_temp.null_out(col text, hold uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE eventsvc.capacity_holds ALTER COLUMN %I DROP NOT NULL', col);
    PERFORM set_config('session_replication_role', 'replica', true);   -- past the guard on direct writes
    EXECUTE format('UPDATE eventsvc.capacity_holds SET %I = NULL WHERE id = $1', col) USING hold;
    PERFORM set_config('session_replication_role', 'origin', true);
END $$;

-- a hold without its holder: the buyer's release reads the holder as text (strcmp)
BEGIN;
SELECT pg_temp.null_out('holder_id', :'hold_id');
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok(format('SELECT api.release_hold(%L)', :'hold_id'), 'XX000',
                 'internal error: the hold''s holder is missing',
                 'a hold whose holder reads NULL: the buyer''s release is an internal error naming the holder');
SELECT throws_ok(format('SELECT api.hold_history(%L)', :'hold_id'), 'XX000',
                 'internal error: the hold''s holder is missing',
                 'and so is its history');
ROLLBACK;

-- a hold without its event: the payment start copies the event's uuid
BEGIN;
SELECT pg_temp.null_out('event_id', :'hold_id');
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok(format('SELECT api.start_payment(%L, %L)', :'hold_id', 'null-pay-1'), 'XX000',
                 'internal error: the hold''s event is missing',
                 'a hold whose event reads NULL: starting its payment is an internal error naming the event');
ROLLBACK;

-- the server kept running, and with the schema as it is the same calls work
SELECT is((SELECT count(*)::integer FROM eventsvc.capacity_holds WHERE id = :'hold_id' AND holder_id = 'nina'
                                                                    AND event_id IS NOT NULL), 1,
          'the hold is as it was');
SET ROLE eventsvc_user;
SELECT is((api.hold_history(:'hold_id') -> 'hold' ->> 'holder_id'), 'nina', 'its history reads');
SELECT is((to_jsonb(api.start_payment(:'hold_id', 'null-pay-1')) ->> 'phase'), 'PAYMENT', 'its payment starts');
SELECT is((to_jsonb(api.release_hold(:'hold_id')) ->> 'state'), 'RELEASED', 'and the buyer releases it');
RESET ROLE;

SELECT * FROM finish();

-- pgTAP: api.reserve_capacity is declared without SECURITY DEFINER and its SET
-- clause; its C body takes the schema owner's rights and pg_catalog as its only
-- search path itself (evs_enter_as_definer, src/core/tenancy.c). A caller whose
-- search path puts its own "=" for uuid and its own sum(integer) first never gets
-- them run by the reservation, with the owner's rights or any; the caller's user
-- and search path are the same after a reservation, and after a refused one.
BEGIN;
SELECT plan(11);
SET LOCAL client_min_messages = warning;

SELECT eventsvc.create_tenant('Tap Path', 'tap-path', '5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a', '5a5a5a5a-0000-4000-8000-00000000000a', 'Path Hall', 50);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a', '5a5a5a5a-0000-4000-8000-0000000000e1',
     '5a5a5a5a-0000-4000-8000-00000000000a', 'Path Night', 'path-night', 'ON_SALE');
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a', '5a5a5a5a-0000-4000-8000-0000000000c1',
        '5a5a5a5a-0000-4000-8000-0000000000e1', 'A', 5, 5);
-- a per-buyer limit, so the reservation also counts the buyer's holds (a sum over
-- rows); 4 of 5 seats cross the 80 % line, so it also writes outbox messages and
-- the threshold state, which the caller's role may not write itself
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, max_per_customer)
VALUES ('5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a', '5a5a5a5a-0000-4000-8000-0000000000f1',
        '5a5a5a5a-0000-4000-8000-0000000000e1', 'General', 1200, 4);

SELECT ok((SELECT NOT prosecdef AND proconfig IS NULL FROM pg_proc
            WHERE oid = 'api.reserve_capacity(uuid,integer,uuid,text,integer)'::regprocedure),
          'api.reserve_capacity has no SECURITY DEFINER and no SET clause (its C body does both)');

-- the trap: a schema of the caller's with an "=" for uuid and a sum(integer)
-- that record who ran them
CREATE SCHEMA trap;
CREATE TABLE trap.calls (what text, by_role text);
CREATE FUNCTION trap.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trap.calls VALUES ('=', current_user);
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR trap.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = trap.uuid_eq);
CREATE FUNCTION trap.sum(integer) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trap.calls VALUES ('sum', current_user);
    RETURN $1;
END $$;
GRANT USAGE ON SCHEMA trap TO eventsvc_user;
GRANT INSERT, SELECT, DELETE ON trap.calls TO eventsvc_user;
CREATE TEMP TABLE seen (step text, who text, path text, state text);
GRANT ALL ON seen TO eventsvc_user;

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a';
SET LOCAL app.current_user_id = 'buyer';
SET LOCAL search_path = trap, pg_catalog, public;

-- the trap is armed: a plain comparison of two uuids in this session runs it
SELECT '5a5a5a5a-0000-4000-8000-0000000000c1'::uuid = '5a5a5a5a-0000-4000-8000-0000000000c1'::uuid;
INSERT INTO pg_temp.seen SELECT 'armed', NULL, NULL, (SELECT count(*) FROM trap.calls)::text;
DELETE FROM trap.calls;

INSERT INTO pg_temp.seen SELECT 'before', current_user, current_setting('search_path'), NULL;
INSERT INTO pg_temp.seen
SELECT 'hold', NULL, NULL,
       to_jsonb(api.reserve_capacity('5a5a5a5a-0000-4000-8000-0000000000c1', 4, '5a5a5a5a-0000-4000-8000-0000000000f1'))->>'quantity';
INSERT INTO pg_temp.seen SELECT 'after', current_user, current_setting('search_path'), NULL;
-- a refused reservation (4 held, 1 more asked, 4 per buyer), its error caught in a subtransaction
DO $$
BEGIN
    PERFORM to_jsonb(api.reserve_capacity('5a5a5a5a-0000-4000-8000-0000000000c1', 1, '5a5a5a5a-0000-4000-8000-0000000000f1'));
    INSERT INTO pg_temp.seen VALUES ('refused', NULL, NULL, 'not refused');
EXCEPTION WHEN OTHERS THEN
    INSERT INTO pg_temp.seen VALUES ('refused', NULL, NULL, SQLSTATE);
END $$;
INSERT INTO pg_temp.seen SELECT 'after refusal', current_user, current_setting('search_path'), NULL;
INSERT INTO pg_temp.seen SELECT 'calls', NULL, NULL, (SELECT count(*) FROM trap.calls)::text;
RESET search_path;
RESET ROLE;

SELECT is((SELECT state FROM pg_temp.seen WHERE step = 'armed'), '1',
          'the caller''s "=" for uuid runs for the caller''s own comparison');
SELECT is((SELECT state FROM pg_temp.seen WHERE step = 'hold'), '4', 'the reservation went through');
SELECT is((SELECT count(*) FROM eventsvc.outbox WHERE aggregate_id = '5a5a5a5a-0000-4000-8000-0000000000e1'
              AND routing_key = 'event.capacity.warning'), 2::bigint,
          'it crossed 80 % of the section and of the event: two messages written with the owner''s rights');
SELECT is((SELECT state FROM pg_temp.seen WHERE step = 'calls'), '0',
          'no operator or function of the caller''s schema ran inside a reservation');
SELECT is((SELECT who FROM pg_temp.seen WHERE step = 'after'), 'eventsvc_user',
          'after a reservation the caller is the current user again');
SELECT is((SELECT path FROM pg_temp.seen WHERE step = 'after'), (SELECT path FROM pg_temp.seen WHERE step = 'before'),
          'and the caller''s search path is back');
SELECT is((SELECT state FROM pg_temp.seen WHERE step = 'refused'), 'PT409', 'the refused reservation is PT409');
SELECT is((SELECT who FROM pg_temp.seen WHERE step = 'after refusal'), 'eventsvc_user',
          'after a refusal caught in a subtransaction the caller is the current user again');
SELECT is((SELECT path FROM pg_temp.seen WHERE step = 'after refusal'), (SELECT path FROM pg_temp.seen WHERE step = 'before'),
          'and the caller''s search path is back');
SELECT is((SELECT (r->>'held')::int || ' held, drift ' || (r->>'drift')
             FROM eventsvc.check_capacity('5a5a5a5a-0000-4000-8000-0000000000c1') r),
          '4 held, drift 0', 'the section holds the four seats, no more');

SELECT * FROM finish();
ROLLBACK;

-- pgTAP: the expiry sweep's storage contract and its horizon. Expiring,
-- confirming and releasing a hold are HOT updates (no index covers what they
-- change); a batch smaller than the backlog leaves the horizon at the first
-- hold it left; no ACTIVE hold ever expires before the horizon. Commits as it
-- goes (the horizon moves at commit), own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(21);

SELECT eventsvc.create_tenant('Tap Sweep', 'tap-sweep', '55555555-5555-4555-8555-555555555555') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-00000000000a', 'Sweep Hall', 100);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e1',
     '55555555-0000-4000-8000-00000000000a', 'Sweep Night', 'sweep-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000c1',
        '55555555-0000-4000-8000-0000000000e1', 'S', 50, 50);
SET app.current_tenant_id = '55555555-5555-4555-8555-555555555555';

CREATE FUNCTION pg_temp.active_below_horizon() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM eventsvc.capacity_holds
     WHERE state = 'ACTIVE' AND expires_at < coalesce(eventsvc.sweep_horizon(), '-infinity')
$$;
CREATE FUNCTION pg_temp.seats() RETURNS text LANGUAGE sql AS $$
    SELECT (r->>'held') || ' held, ' || (r->>'sold') || ' sold, ' || (r->>'available') || ' free, drift ' || (r->>'drift')
      FROM eventsvc.check_capacity('55555555-0000-4000-8000-0000000000c1') r
$$;

-- storage: nothing the state changes touches an index
SELECT is((SELECT count(*) FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0
            WHERE i.indrelid = 'eventsvc.capacity_holds'::regclass
              AND a.attname IN ('state', 'confirmed_at', 'released_at')
              AND (a.attnum = ANY (i.indkey::int2[])
                   OR coalesce(pg_get_expr(i.indpred, i.indrelid), '') ~ ('\m' || a.attname || '\M')
                   OR coalesce(pg_get_expr(i.indexprs, i.indrelid), '') ~ ('\m' || a.attname || '\M'))),
          0::bigint, 'no index of capacity_holds covers state, confirmed_at or released_at');
SELECT ok((SELECT 'fillfactor=50' = ANY (reloptions) FROM pg_class WHERE oid = 'eventsvc.capacity_holds'::regclass),
          'hold pages keep room for a second version of each row');

SELECT is((SELECT count(*) FROM (SELECT to_jsonb(api.reserve_capacity('55555555-0000-4000-8000-0000000000c1', 1,
                                   holder_id => 'h' || g, hold_seconds => 60)) FROM generate_series(1, 6) g) x),
          6::bigint, 'six holds of one minute');
SELECT is(pg_temp.seats(), '6 held, 0 sold, 44 free, drift 0', 'six seats held');

-- the session's table counters until they are flushed: compare differences
CREATE TEMP TABLE counts AS
SELECT pg_stat_get_xact_tuples_hot_updated('eventsvc.capacity_holds'::regclass) AS hot,
       pg_stat_get_xact_tuples_updated('eventsvc.capacity_holds'::regclass) AS upd;
CREATE FUNCTION pg_temp.updates_since() RETURNS text LANGUAGE sql AS $$
    SELECT (pg_stat_get_xact_tuples_updated('eventsvc.capacity_holds'::regclass) - upd) || ' updated, '
           || (pg_stat_get_xact_tuples_hot_updated('eventsvc.capacity_holds'::regclass) - hot) || ' HOT'
      FROM counts
$$;

-- a batch smaller than the backlog: the horizon stays at the first hold left
BEGIN;
SET LOCAL eventsvc.clock_offset_seconds = 120;
UPDATE counts SET hot = pg_stat_get_xact_tuples_hot_updated('eventsvc.capacity_holds'::regclass),
                  upd = pg_stat_get_xact_tuples_updated('eventsvc.capacity_holds'::regclass);
SELECT is(api.expire_holds(2), 2::bigint, 'a batch of 2 expires 2 of the 6 overdue holds');
SELECT is(pg_temp.updates_since(), '2 updated, 2 HOT', 'every expiry was a HOT update');
COMMIT;
SELECT ok(eventsvc.sweep_horizon() <= (SELECT min(expires_at) FROM eventsvc.capacity_holds WHERE state = 'ACTIVE'),
          'the horizon is not past the first hold the batch left');
SELECT is(pg_temp.active_below_horizon(), 0::bigint, 'no active hold expires before the horizon');

BEGIN;
SET LOCAL eventsvc.clock_offset_seconds = 120;
SELECT is(api.expire_holds(100), 4::bigint, 'the next sweep expires the other 4');
COMMIT;
SELECT is(pg_temp.seats(), '0 held, 0 sold, 50 free, drift 0', 'every seat is back, counter and rows agree');
SELECT ok(eventsvc.sweep_horizon() <= now(), 'the horizon never runs ahead of the real clock, whatever the test clock says');

-- confirming and releasing are HOT updates too
SELECT to_jsonb(api.reserve_capacity('55555555-0000-4000-8000-0000000000c1', 2, holder_id => 'buyer-a')) IS NOT NULL AS held_a;
SELECT to_jsonb(api.reserve_capacity('55555555-0000-4000-8000-0000000000c1', 2, holder_id => 'buyer-b')) IS NOT NULL AS held_b;
BEGIN;
UPDATE counts SET hot = pg_stat_get_xact_tuples_hot_updated('eventsvc.capacity_holds'::regclass),
                  upd = pg_stat_get_xact_tuples_updated('eventsvc.capacity_holds'::regclass);
SELECT to_jsonb(api.confirm_hold(id)) IS NOT NULL AS confirmed FROM eventsvc.capacity_holds WHERE holder_id = 'buyer-a';
SELECT to_jsonb(api.release_hold(id)) IS NOT NULL AS released FROM eventsvc.capacity_holds WHERE holder_id = 'buyer-b';
SELECT is(pg_temp.updates_since(), '2 updated, 2 HOT', 'a confirmation and a release: two HOT updates');
COMMIT;
SELECT is(pg_temp.seats(), '0 held, 2 sold, 48 free, drift 0', 'two seats sold, two back');
SELECT is(pg_temp.active_below_horizon(), 0::bigint, 'still no active hold before the horizon');

SELECT throws_ok($$SET eventsvc.sweep_lock_wait_ms = -1$$, '22023', NULL, 'the sweep lock wait cannot be negative');

-- an error inside the sweep's own subtransaction reaches a caller's exception
-- block with the caller's subtransaction current: the session goes on
CREATE FUNCTION public.tap_sweep_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'boom';
END
$$;
SELECT to_jsonb(api.reserve_capacity('55555555-0000-4000-8000-0000000000c1', 1, holder_id => 'boom', hold_seconds => 60)) IS NOT NULL AS held;
CREATE TRIGGER tap_sweep_boom BEFORE UPDATE ON eventsvc.capacity_holds
    FOR EACH ROW WHEN (OLD.holder_id = 'boom') EXECUTE FUNCTION public.tap_sweep_boom();
CREATE FUNCTION pg_temp.sweep_caught() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM api.expire_holds(100);
    RETURN 'not caught';
EXCEPTION WHEN raise_exception THEN
    RETURN 'caught: ' || SQLERRM;
END
$$;
BEGIN;
SET LOCAL eventsvc.clock_offset_seconds = 120;
SELECT is(pg_temp.sweep_caught(), 'caught: boom', 'the caller catches the error raised inside the sweep');
SELECT is((SELECT state::text FROM eventsvc.capacity_holds WHERE holder_id = 'boom'), 'ACTIVE',
          'and the hold is as it was');
COMMIT;
DROP TRIGGER tap_sweep_boom ON eventsvc.capacity_holds;
DROP FUNCTION public.tap_sweep_boom();
BEGIN;
SET LOCAL eventsvc.clock_offset_seconds = 120;
SELECT is(api.expire_holds(100), 1::bigint, 'the session goes on: the next sweep expires the hold');
COMMIT;
SELECT is(pg_temp.seats(), '0 held, 2 sold, 48 free, drift 0', 'counter and rows agree');

-- a hold written around the hold functions (a repair, a restore) below the horizon:
-- escrow_reset makes the next sweep read from the beginning and find it
SET session_replication_role = replica;
INSERT INTO eventsvc.capacity_holds (tenant_id, event_id, capacity_id, holder_id, quantity, expires_at)
VALUES ('55555555-5555-4555-8555-555555555555', '55555555-0000-4000-8000-0000000000e1',
        '55555555-0000-4000-8000-0000000000c1', 'restored', 1, now() - interval '1 day');
RESET session_replication_role;
SELECT ok(eventsvc.escrow_reset('55555555-0000-4000-8000-0000000000c1'), 'the repaired section is reset');
SELECT is(api.expire_holds(100), 1::bigint, 'the restored hold, a day old, is swept');

SELECT * FROM finish();

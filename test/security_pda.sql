-- An on-chain address (event_pda) belongs to one event of the whole platform: no
-- tenant can give its event another tenant's address (API, direct write or DBA), the
-- blockchain callback cannot hand an address to a second event (PT409), and a PDA
-- lookup answers exactly one event or an error (STRICT), never a guess.
--
-- Run against the code before this change (main at c0f1a26), tests 1-6, 8 and 9
-- failed and the run stopped with an error at test 10: tenant A could copy tenant B's
-- synced PDA onto its own event through api.update_event, api.create_event, a direct
-- UPDATE (tenant user or DBA) and the blockchain callback, all accepted; the lookup of
-- B's address then answered A's event; the callback for A's own address then failed
-- because A's event was already "synced" with B's. (Test 7 passed there: within one
-- session the plan picks the same row each time.)
BEGIN;
SELECT plan(14);

CREATE TEMP TABLE tenants AS SELECT
    eventsvc.create_tenant('Chain A', 'chain-a', 'c1111111-1111-4111-8111-111111111111') AS a,
    eventsvc.create_tenant('Chain B', 'chain-b', 'c2222222-2222-4222-8222-222222222222') AS b;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('c1111111-1111-4111-8111-111111111111', 'c1111111-0000-4000-8000-000000000001', 'A Hall', 1000),
    ('c2222222-2222-4222-8222-222222222222', 'c2222222-0000-4000-8000-000000000001', 'B Hall', 1000);
-- B's address and A's own
CREATE TEMP TABLE k AS SELECT '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU'::text AS pda_b,
                              '9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM'::text AS pda_a;
GRANT SELECT ON k TO PUBLIC;

CREATE FUNCTION pg_temp.new_event(t uuid, v uuid, name text) RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.current_tenant_id', t::text, true);
    SET LOCAL ROLE eventsvc_admin;
    RETURN (api.create_event(venue_id => v, name => name, starts_at => eventsvc.now() + interval '20 days',
                             ends_at => eventsvc.now() + interval '20 days 2 hours') ->> 'id')::uuid;
END
$$;
CREATE TEMP TABLE e AS SELECT
    pg_temp.new_event('c1111111-1111-4111-8111-111111111111', 'c1111111-0000-4000-8000-000000000001', 'A Show') AS a,
    pg_temp.new_event('c2222222-2222-4222-8222-222222222222', 'c2222222-0000-4000-8000-000000000001', 'B Show') AS b;
RESET ROLE;
GRANT SELECT ON e TO PUBLIC;

-- The blockchain service syncs B's event with B's address (a platform-wide service
-- call: app.scope, as a trusted SQL client says it; docs/tenancy.md).
SET LOCAL app.scope = 'platform';
SET LOCAL ROLE eventsvc_service;
SELECT api.update_blockchain_status((SELECT b FROM e), 'synced', (SELECT pda_b FROM k)) IS NOT NULL AS synced \gset
RESET ROLE;

-- ---------------------------------------------------------------- tenant A tries to take B's address
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = 'c1111111-1111-4111-8111-111111111111';
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, jsonb_build_object('event_pda', %L))$$,
                        (SELECT a FROM e), (SELECT pda_b FROM k)),
                 'PT409', format('event_pda %s already belongs to another event', (SELECT pda_b FROM k)),
                 'update_event: another event''s address is a conflict');
SELECT throws_ok(format($$SELECT api.create_event(venue_id => 'c1111111-0000-4000-8000-000000000001', name => 'Squat',
                            starts_at => eventsvc.now() + interval '30 days', ends_at => eventsvc.now() + interval '30 days 1 hour',
                            event_pda => %L)$$, (SELECT pda_b FROM k)),
                 'PT409', NULL, 'create_event: another event''s address is a conflict');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, '{"event_pda": "0OIl-not-base58"}')$$, (SELECT a FROM e)),
                 '22023', NULL, 'update_event: a malformed address is refused');
-- a direct write of the column is refused too (whatever the role may write)
SELECT throws_like(format($$UPDATE eventsvc.events SET event_pda = %L WHERE id = %L$$, (SELECT pda_b FROM k), (SELECT a FROM e)),
                   '%', 'a tenant user''s direct UPDATE to another event''s address is refused');
RESET ROLE;

-- ---------------------------------------------------------------- a DBA too
SELECT throws_ok(format($$UPDATE eventsvc.events SET event_pda = %L WHERE id = %L$$, (SELECT pda_b FROM k), (SELECT a FROM e)),
                 'PT409', NULL, 'a superuser''s direct UPDATE to another event''s address is refused (trigger)');
SELECT is((SELECT event_pda FROM eventsvc.events WHERE id = (SELECT a FROM e)), NULL, 'A''s event has no address');

-- ---------------------------------------------------------------- the service
SET LOCAL app.current_tenant_id = '';
SET LOCAL ROLE eventsvc_service;
SELECT is((SELECT count(DISTINCT api.internal_event_by_pda((SELECT pda_b FROM k)) ->> 'id') FROM generate_series(1, 8)), 1::bigint,
          'the lookup of B''s address answers one event, every time');
SELECT is(api.internal_event_by_pda((SELECT pda_b FROM k)) ->> 'id', (SELECT b::text FROM e),
          'and that event is B''s');
SELECT throws_ok(format($$SELECT api.update_blockchain_status(%L, 'synced', %L)$$, (SELECT a FROM e), (SELECT pda_b FROM k)),
                 'PT409', format('event_pda %s already belongs to another event', (SELECT pda_b FROM k)),
                 'a callback giving A''s event B''s address is refused');
SELECT is(api.update_blockchain_status((SELECT a FROM e), 'synced', (SELECT pda_a FROM k)) ->> 'event_pda', (SELECT pda_a FROM k),
          'a callback with A''s own address is accepted');
RESET ROLE;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = 'c1111111-1111-4111-8111-111111111111';
SELECT throws_ok(format($$SELECT api.update_event(%L, %s, '{"event_pda": "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"}')$$,
                        (SELECT a FROM e), (SELECT version FROM api.events WHERE id = (SELECT a FROM e))),
                 'PT409', NULL, 'a synced event keeps its address: the tenant cannot change it');
RESET ROLE;

-- ---------------------------------------------------------------- one event per address, whatever happens
SELECT ok((SELECT i.indisunique FROM pg_index i WHERE i.indexrelid = 'eventsvc.events_event_pda_key'::regclass),
          'event_pda has a unique index');
-- If two rows ever claimed one address (here: forced past the trigger and without the
-- index), the lookup refuses instead of picking one.
DROP INDEX IF EXISTS eventsvc.events_event_pda_key;
SET LOCAL session_replication_role = replica;
UPDATE eventsvc.events SET event_pda = (SELECT pda_b FROM k), blockchain_status = 'synced' WHERE id = (SELECT a FROM e);
SET LOCAL session_replication_role = origin;
SET LOCAL app.current_tenant_id = '';
SET LOCAL ROLE eventsvc_service;
SELECT throws_ok(format($$SELECT api.internal_event_by_pda(%L)$$, (SELECT pda_b FROM k)),
                 'PT409', NULL, 'two events on one address: the lookup is a conflict, not a guess (STRICT)');
SELECT throws_ok($$SELECT api.internal_event_by_pda('4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T')$$,
                 'PT404', NULL, 'an unknown address is not found');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

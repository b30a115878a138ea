-- A service token that carries a tenant is scoped to it: the internal lookups and the
-- blockchain callback reach that tenant's events only (another tenant's event is "not
-- found", exactly like an unknown one). A platform-wide service call needs the explicit
-- platform scope (JWT claim "scope": "platform"; a trusted SQL client: app.scope =
-- 'platform'); a service call with neither a tenant nor that scope is refused (42501).
-- Revoking tokens is platform-wide. (Over real PostgREST: test/integration/http_token_rules.sh.)
--
-- Run against the code before this change (main at efcc9c2), tests 1-4, 7-10 and 14
-- failed: a service token naming tenant A read tenant B's event by id, by PDA and by
-- scan stats and changed B's blockchain status; a tenant-scoped service token revoked
-- tokens; a service token (or SQL session) with neither a tenant nor the platform scope
-- made platform-wide calls.
BEGIN;
SELECT plan(14);

CREATE TEMP TABLE tenants AS SELECT
    eventsvc.create_tenant('Scope A', 'scope-a', '5c111111-1111-4111-8111-111111111111') AS a,
    eventsvc.create_tenant('Scope B', 'scope-b', '5c222222-2222-4222-8222-222222222222') AS b;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('5c111111-1111-4111-8111-111111111111', '5c111111-0000-4000-8000-000000000001', 'A Hall', 1000),
    ('5c222222-2222-4222-8222-222222222222', '5c222222-0000-4000-8000-000000000001', 'B Hall', 1000);
CREATE FUNCTION pg_temp.new_event(t uuid, v uuid, name text, pda text) RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.current_tenant_id', t::text, true);
    SET LOCAL ROLE eventsvc_admin;
    RETURN (api.create_event(venue_id => v, name => name, event_pda => pda, starts_at => eventsvc.now() + interval '20 days',
                             ends_at => eventsvc.now() + interval '20 days 2 hours') ->> 'id')::uuid;
END
$$;
CREATE TEMP TABLE e AS SELECT
    pg_temp.new_event('5c111111-1111-4111-8111-111111111111', '5c111111-0000-4000-8000-000000000001', 'A Show',
                      'AAAAtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU') AS a,
    pg_temp.new_event('5c222222-2222-4222-8222-222222222222', '5c222222-0000-4000-8000-000000000001', 'B Show',
                      'BBBBtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU') AS b;
RESET ROLE;
GRANT SELECT ON e TO PUBLIC;

-- ---------------------------------------------------------------- a service token that names tenant A
SET LOCAL ROLE eventsvc_service;
SELECT set_config('request.jwt.claims', '{"role": "eventsvc_service", "tenant_id": "5c111111-1111-4111-8111-111111111111", "sub": "scanner"}', true);
SELECT throws_ok(format($$SELECT api.internal_event(%L)$$, (SELECT b FROM e)), 'PT404', NULL,
                 'tenant A''s service token: B''s event by id is not found');
SELECT throws_ok($$SELECT api.internal_event_by_pda('BBBBtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU')$$, 'PT404', NULL,
                 'nor by its PDA');
SELECT throws_ok(format($$SELECT api.internal_scan_stats(%L)$$, (SELECT b FROM e)), 'PT404', NULL, 'nor its scan stats');
SELECT throws_ok(format($$SELECT api.update_blockchain_status(%L, 'failed')$$, (SELECT b FROM e)), 'PT404', NULL,
                 'nor can it report B''s blockchain status');
SELECT is(api.internal_event((SELECT a FROM e)) ->> 'name', 'A Show', 'its own tenant''s event it reads');
SELECT is(api.update_blockchain_status((SELECT a FROM e), 'queued') ->> 'blockchain_status', 'queued',
          'and reports on');
SELECT throws_ok($$SELECT api.revoke_token('tok-1', '2099-01-01')$$, '42501', 'revoking tokens needs the platform scope',
                 'a tenant-scoped service token cannot revoke tokens (revocations hold for every tenant)');

-- ---------------------------------------------------------------- a service token that names nobody
SELECT set_config('request.jwt.claims', '{"role": "eventsvc_service", "sub": "scanner"}', true);
SELECT throws_ok(format($$SELECT api.internal_event(%L)$$, (SELECT a FROM e)), '42501',
                 'a service call that names no tenant needs the platform scope to look up events by id',
                 'a service token with neither a tenant nor the platform scope is refused');
SELECT throws_ok($$SELECT api.revoke_token('tok-1', '2099-01-01')$$, '42501', NULL, 'and cannot revoke tokens');
SELECT set_config('request.jwt.claims', '{"role": "eventsvc_service", "sub": "scanner", "scope": "events:read platforms"}', true);
SELECT throws_ok(format($$SELECT api.internal_event(%L)$$, (SELECT a FROM e)), '42501', NULL,
                 'the scope must hold the word platform itself');

-- ---------------------------------------------------------------- the explicit platform scope
SELECT set_config('request.jwt.claims', '{"role": "eventsvc_service", "sub": "scanner", "scope": "events:read platform"}', true);
SELECT is(api.internal_event((SELECT b FROM e)) ->> 'tenant_id', '5c222222-2222-4222-8222-222222222222',
          'with "scope": "platform" a service looks up any tenant''s event, and learns its tenant');
SELECT is(api.revoke_token('tok-1', '2099-01-01') ->> 'revoked', 'true', 'and revokes tokens');
-- a trusted SQL client without claims says the same with app.scope
SELECT set_config('request.jwt.claims', '', true);
SET LOCAL app.current_tenant_id = '';
SET LOCAL app.scope = 'platform';
SELECT is(api.internal_event_by_pda('BBBBtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU') ->> 'name', 'B Show',
          'a trusted SQL client: app.scope = ''platform''');
SET LOCAL app.scope = '';
SELECT throws_ok(format($$SELECT api.internal_event(%L)$$, (SELECT a FROM e)), '42501', NULL,
                 'and without it, no platform-wide call');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

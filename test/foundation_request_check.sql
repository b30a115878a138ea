-- Foundation, pgTAP: eventsvc.check_request(), PostgREST's pre-request check, as
-- PostgREST calls it (the role set, request.jwt.claims set for the transaction):
-- revoked tokens by jti (PT401, whatever the jti's JSON type, until the
-- revocation expires), claims that are not an object (PT401), the tenant of user
-- tokens and of any token naming one (42501); and the claims read once per claims
-- text: a new text in the same transaction is read anew.
BEGIN;
SELECT plan(19);

SELECT eventsvc.create_tenant('Check A', 'check-a', '7c111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Check B', 'check-b', '7c222222-2222-4222-8222-222222222222');
SELECT eventsvc.create_tenant('Check Off', 'check-off', '7c333333-3333-4333-8333-333333333333');
UPDATE eventsvc.tenants SET is_active = false WHERE slug = 'check-off';
INSERT INTO eventsvc.revoked_tokens (jti, expires_at) VALUES
    ('tok-revoked', now() + interval '1 hour'),
    ('123', now() + interval '1 hour'),
    ('tok-revocation-over', now() - interval '1 minute');
-- every token carries exp, an hour ahead (the pre-request check refuses tokens without)
CREATE FUNCTION pg_temp.exp() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('exp', floor(extract(epoch FROM now())) + 3600)
$$;

SET LOCAL ROLE eventsvc_user;
SELECT lives_ok($$SELECT eventsvc.check_request()$$, 'no claims: a trusted SQL client passes');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c111111-1111-4111-8111-111111111111", "sub": "ann", "jti": "tok-ok"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT lives_ok($$SELECT eventsvc.check_request()$$, 'a user token of an active tenant passes');
SELECT is(eventsvc.current_tenant_id(), '7c111111-1111-4111-8111-111111111111'::uuid, 'its tenant is the claim''s');
SELECT is(eventsvc.current_actor(), 'ann', 'its actor is the claim sub');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c222222-2222-4222-8222-222222222222", "sub": "bo"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT is(eventsvc.current_tenant_id(), '7c222222-2222-4222-8222-222222222222'::uuid,
    'new claims in the same transaction are read anew (tenant)');
SELECT is(eventsvc.current_actor(), 'bo', 'and the actor');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c111111-1111-4111-8111-111111111111", "jti": "tok-revoked"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, 'PT401', 'this token has been revoked', 'a revoked jti: PT401');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c111111-1111-4111-8111-111111111111", "jti": 123}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, 'PT401', 'this token has been revoked',
    'a numeric jti is compared as its text, as jti ->> gives it');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c111111-1111-4111-8111-111111111111", "jti": "tok-revocation-over"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT lives_ok($$SELECT eventsvc.check_request()$$, 'a revocation past its expiry no longer refuses');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c111111-1111-4111-8111-111111111111", "jti": null}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT lives_ok($$SELECT eventsvc.check_request()$$, 'a null jti is no jti');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "sub": "nobody"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, '42501', 'no tenant is set for this session',
    'a user token without a tenant: 42501');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": 42}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, '42501', 'no tenant is set for this session',
    'a tenant_id that is not a string is no tenant');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c333333-3333-4333-8333-333333333333"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, '42501', 'tenant 7c333333-3333-4333-8333-333333333333 is not active',
    'an inactive tenant: 42501');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_user", "tenant_id": "7c999999-9999-4999-8999-999999999999"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, '42501', 'tenant 7c999999-9999-4999-8999-999999999999 does not exist',
    'an unknown tenant: 42501');
SELECT set_config('request.jwt.claims', '["eventsvc_user"]', true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, 'PT401', 'the token claims are not a JSON object',
    'claims that are not an object: PT401');
SELECT set_config('request.jwt.claims', '{"role": ', true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, '22P02', NULL, 'claims that are not JSON: an error, not a pass');
RESET ROLE;

SET LOCAL ROLE eventsvc_service;
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_service", "sub": "auth"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT lives_ok($$SELECT eventsvc.check_request()$$, 'a service token without a tenant passes');
SELECT set_config('request.jwt.claims', ('{"role": "eventsvc_service", "tenant_id": "not-a-uuid"}'::jsonb || pg_temp.exp())::text, true) IS NOT NULL AS claims_set;
SELECT throws_ok($$SELECT eventsvc.check_request()$$, '42501', 'tenant id "not-a-uuid" is not a valid UUID',
    'a service token naming a tenant must name a valid one');
RESET ROLE;

SET LOCAL ROLE eventsvc_anon;
SELECT set_config('request.jwt.claims', '{"role": "eventsvc_anon", "jti": "tok-anon"}', true) IS NOT NULL AS claims_set;
SELECT lives_ok($$SELECT eventsvc.check_request()$$, 'an anonymous token without a tenant passes');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

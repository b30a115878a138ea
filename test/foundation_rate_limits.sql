-- Foundation, pgTAP: the rate limits of eventsvc.check_request as PostgREST calls it
-- (role, request.jwt.claims, request.path, request.headers set for the transaction).
-- A tenant over its request bucket is refused (SQLSTATE PGRST: PostgREST answers 429,
-- code PT429, Retry-After) while another tenant passes; reservations have their own
-- bucket; a refused request takes no token; anonymous callers are limited per client
-- address (the last X-Forwarded-For entry); the service role and trusted SQL clients
-- are not limited; a burst of 0 is no limit; api.rate_limit_usage shows a tenant its
-- own buckets and the platform operator every bucket.
BEGIN;
SELECT plan(31);

SELECT eventsvc.create_tenant('Rate A', 'rate-a', '7a1a0000-0000-4000-8000-00000000000a');
SELECT eventsvc.create_tenant('Rate B', 'rate-b', '7a1a0000-0000-4000-8000-00000000000b');
SELECT eventsvc.create_tenant('Rate C', 'rate-c', '7a1a0000-0000-4000-8000-00000000000c');
SELECT eventsvc.create_tenant('Rate D', 'rate-d', '7a1a0000-0000-4000-8000-00000000000d');
-- one token a minute: nothing comes back while the test runs
INSERT INTO eventsvc.tenant_rate_limits (tenant_id, requests_per_minute, request_burst) VALUES
    ('7a1a0000-0000-4000-8000-00000000000a', 1, 3);
INSERT INTO eventsvc.tenant_rate_limits (tenant_id, reservations_per_minute, reservation_burst) VALUES
    ('7a1a0000-0000-4000-8000-00000000000c', 1, 1);
INSERT INTO eventsvc.tenant_rate_limits (tenant_id, requests_per_minute, request_burst) VALUES
    ('7a1a0000-0000-4000-8000-00000000000d', 1, 0);

-- check_request's outcome: ok, or the SQLSTATE with the body and the response PostgREST makes of it
CREATE FUNCTION pg_temp.checked() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE st text; m text; d text;
BEGIN
    PERFORM eventsvc.check_request();
    RETURN '{"ok": true}';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    RETURN jsonb_build_object('state', st, 'body', CASE WHEN st = 'PGRST' THEN m::jsonb ELSE to_jsonb(m) END,
                              'response', CASE WHEN st = 'PGRST' THEN d::jsonb END);
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.checked() TO PUBLIC;
-- every token carries exp, an hour ahead (the pre-request check refuses tokens without)
CREATE FUNCTION pg_temp.as_request(claims text, path text, headers text) RETURNS boolean LANGUAGE sql AS $$
    SELECT set_config('request.jwt.claims',
                      CASE WHEN claims = '' THEN ''
                           ELSE (claims::jsonb || jsonb_build_object('exp', floor(extract(epoch FROM now())) + 3600))::text END,
                      true) IS NOT NULL
       AND set_config('request.path', path, true) IS NOT NULL
       AND set_config('request.headers', headers, true) IS NOT NULL
$$;
GRANT EXECUTE ON FUNCTION pg_temp.as_request(text, text, text) TO PUBLIC;

SET LOCAL ROLE eventsvc_user;
SELECT pg_temp.as_request('{"role": "eventsvc_user", "tenant_id": "7a1a0000-0000-4000-8000-00000000000a", "sub": "ann"}', '/events', '{}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'tenant A, request 1 of a burst of 3 passes');
SELECT is(pg_temp.checked(), '{"ok": true}', 'request 2 passes');
SELECT is(pg_temp.checked(), '{"ok": true}', 'request 3 passes');
CREATE TEMP TABLE refusal AS SELECT pg_temp.checked() AS r;
SELECT is((SELECT r ->> 'state' FROM refusal), 'PGRST', 'request 4: refused, raised for PostgREST to answer as told');
SELECT is((SELECT r -> 'body' ->> 'code' FROM refusal), 'PT429', 'the body''s code is PT429');
SELECT alike((SELECT r -> 'body' ->> 'message' FROM refusal), 'too many requests: try again in % seconds',
    'the message says when to try again');
SELECT is((SELECT r -> 'body' ->> 'details' FROM refusal), 'The limit for this tenant is 1 a minute, 3 at once.',
    'the detail names the limit');
SELECT is((SELECT (r -> 'response' ->> 'status')::int FROM refusal), 429, 'the status is 429');
SELECT ok((SELECT (r -> 'response' -> 'headers' ->> 'Retry-After')::int BETWEEN 40 AND 60 FROM refusal),
    'Retry-After: the seconds until a token is back (about a minute at 1 a minute)');
SELECT is(pg_temp.checked() ->> 'state', 'PGRST', 'and the next request is refused too');
SELECT is((SELECT count(*)::int FROM api.rate_limit_usage), 2, 'tenant A sees its own two buckets only');
SELECT is((SELECT row(per_minute, burst, source, tokens_left, allowed, refused)::text FROM api.rate_limit_usage
            WHERE limit_name = 'requests'), '(1,3,tenant,0,3,2)', 'its request bucket: its own limit, empty, 3 let through, 2 refused');
SELECT is((SELECT row(tenant_id, source)::text FROM api.rate_limit_usage WHERE limit_name = 'reservations'),
    '(7a1a0000-0000-4000-8000-00000000000a,default)', 'its reservation bucket with the default limit');

SELECT pg_temp.as_request('{"role": "eventsvc_user", "tenant_id": "7a1a0000-0000-4000-8000-00000000000b", "sub": "bo"}', '/events', '{}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'tenant B is not affected by A''s limit');
SELECT is((SELECT array_agg(DISTINCT tenant_id)::text FROM api.rate_limit_usage), '{7a1a0000-0000-4000-8000-00000000000b}',
    'and sees none of A''s buckets');

-- reservations: their own bucket, and a refused request takes no token from any bucket
SELECT pg_temp.as_request('{"role": "eventsvc_user", "tenant_id": "7a1a0000-0000-4000-8000-00000000000c", "sub": "cy"}', '/rpc/reserve_capacity', '{}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'tenant C: a reservation passes');
SELECT is(pg_temp.checked() -> 'body' ->> 'message', 'too many reservations: try again in 60 seconds',
    'the second reservation is refused: its bucket is empty');
SELECT pg_temp.as_request('{"role": "eventsvc_user", "tenant_id": "7a1a0000-0000-4000-8000-00000000000c", "sub": "cy"}', '/rpc/exchange_purchase', '{}');
SELECT is(pg_temp.checked() -> 'body' ->> 'code', 'PT429', 'an exchange is a reservation too');
SELECT pg_temp.as_request('{"role": "eventsvc_user", "tenant_id": "7a1a0000-0000-4000-8000-00000000000c", "sub": "cy"}', '/events', '{}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'other requests of tenant C still pass');
SELECT is((SELECT string_agg(limit_name || ':' || allowed || '/' || refused, ' ' ORDER BY limit_name) FROM api.rate_limit_usage),
    'requests:2/0 reservations:1/2', 'the refused reservations took no request token');

SELECT pg_temp.as_request('{"role": "eventsvc_user", "tenant_id": "7a1a0000-0000-4000-8000-00000000000d", "sub": "di"}', '/events', '{}');
SELECT is((SELECT count(*)::int FROM generate_series(1, 5) WHERE pg_temp.checked() = '{"ok": true}'), 5,
    'tenant D with a burst of 0: no limit');
SELECT pg_temp.as_request('', '', '');
SELECT is((SELECT count(*)::int FROM generate_series(1, 5) WHERE pg_temp.checked() = '{"ok": true}'), 5,
    'a trusted SQL client (no claims) is not limited');
RESET ROLE;

SET LOCAL ROLE eventsvc_service;
SELECT pg_temp.as_request('{"role": "eventsvc_service", "tenant_id": "7a1a0000-0000-4000-8000-00000000000a", "sub": "svc"}', '/events', '{}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'the service role is not limited, even naming tenant A');
RESET ROLE;

-- anonymous callers: per client address, the last X-Forwarded-For entry
SET LOCAL eventsvc.rate_limit_anonymous_per_minute = 1;
SET LOCAL eventsvc.rate_limit_anonymous_burst = 2;
SET LOCAL ROLE eventsvc_anon;
SELECT pg_temp.as_request('{"role": "eventsvc_anon"}', '/public_events', '{"x-forwarded-for": "192.0.2.1, 203.0.113.71"}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'an anonymous caller: request 1 of 2 passes');
SELECT pg_temp.as_request('{"role": "eventsvc_anon"}', '/public_events', '{"x-forwarded-for": "192.0.2.99, 203.0.113.71"}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'request 2 passes (another claimed address, the same proxy-seen one)');
SELECT is(pg_temp.checked() -> 'body' ->> 'details', 'The limit for client address "203.0.113.71" is 1 a minute, 2 at once.',
    'request 3 is refused: the address the proxy saw is the key, not what the client claims');
SELECT pg_temp.as_request('{"role": "eventsvc_anon"}', '/public_events', '{"x-forwarded-for": "203.0.113.72"}');
SELECT is(pg_temp.checked(), '{"ok": true}', 'another address passes');
SELECT pg_temp.as_request('', '/public_events', '{"x-forwarded-for": "203.0.113.71"}');
SELECT is(pg_temp.checked() ->> 'state', 'PGRST', 'without claims the anonymous role is limited as well');
RESET ROLE;

SET LOCAL ROLE eventsvc_service;
SELECT pg_temp.as_request('{"role": "eventsvc_service", "sub": "operator", "scope": "platform"}', '/rate_limit_usage', '{}');
SELECT is((SELECT row(per_minute, burst, tokens_left, allowed, refused)::text FROM api.rate_limit_usage
            WHERE limit_name = 'anonymous_requests' AND client_address = '203.0.113.71'),
    '(1,2,0,2,2)', 'the platform operator sees the anonymous address''s bucket');
SELECT ok((SELECT count(DISTINCT tenant_id) >= 3 FROM api.rate_limit_usage
            WHERE tenant_id::text LIKE '7a1a0000-%'), 'and the buckets of every tenant');
RESET ROLE;

SET LOCAL ROLE eventsvc_user;
SELECT pg_temp.as_request('{"role": "eventsvc_user", "tenant_id": "7a1a0000-0000-4000-8000-00000000000b", "sub": "bo"}', '/events', '{}');
SELECT throws_ok($$INSERT INTO eventsvc.tenant_rate_limits (tenant_id, request_burst) VALUES ('7a1a0000-0000-4000-8000-00000000000b', 1000)$$,
    '42501', NULL, 'a tenant cannot set its own limits');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

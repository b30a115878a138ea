-- Tokens must carry exp within a maximum lifetime: PostgREST's pre-request function
-- (eventsvc.check_request) refuses a token without exp, or whose exp lies further than
-- eventsvc.token_max_lifetime (default 1 day) after now or after its iat, with PT401
-- (HTTP 401). The setting is superuser-only. (Over real PostgREST:
-- test/integration/http_token_rules.sh.)
--
-- Run against the code before this change (main at efcc9c2), tests 1-4 and 6 failed and
-- the run stopped at test 8 (eventsvc.token_max_lifetime did not exist): a token without
-- exp, one valid for a year, one issued a year ago, one with exp as a string and one a
-- minute over a day all passed the pre-request check.
BEGIN;
SELECT plan(11);

CREATE FUNCTION pg_temp.check_as(claims jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', claims::text, true);
    SET LOCAL ROLE eventsvc_service;
    PERFORM eventsvc.check_request();
    RESET ROLE;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
CREATE FUNCTION pg_temp.now_s(plus_seconds numeric) RETURNS numeric LANGUAGE sql AS $$
    SELECT floor(extract(epoch FROM now()) + plus_seconds)
$$;

SELECT is(pg_temp.check_as('{"role": "eventsvc_service", "sub": "svc"}'),
          'PT401 the token has no expiry: the exp claim is required', 'a token without exp is refused (401)');
SELECT is(pg_temp.check_as(jsonb_build_object('role', 'eventsvc_service', 'exp', pg_temp.now_s(365 * 86400))),
          'PT401 the token lives longer than this service accepts', 'a token valid for a year is refused');
SELECT is(pg_temp.check_as(jsonb_build_object('role', 'eventsvc_service', 'exp', pg_temp.now_s(600),
                                              'iat', pg_temp.now_s(-365 * 86400))),
          'PT401 the token lives longer than this service accepts', 'a token issued a year ago is refused, even near its end');
SELECT is(pg_temp.check_as(jsonb_build_object('role', 'eventsvc_service', 'exp', pg_temp.now_s(3600)::text)),
          'PT401 the token has no expiry: the exp claim is required', 'exp must be a number (a NumericDate)');
SELECT is(pg_temp.check_as(jsonb_build_object('role', 'eventsvc_service', 'exp', pg_temp.now_s(3600),
                                              'iat', pg_temp.now_s(0))),
          'accepted', 'a token that lives an hour passes');
SELECT is(pg_temp.check_as(jsonb_build_object('role', 'eventsvc_service', 'exp', pg_temp.now_s(86400 + 60))),
          'PT401 the token lives longer than this service accepts', 'one minute over the default day is refused');
SELECT is(pg_temp.check_as(jsonb_build_object('role', 'eventsvc_service', 'exp', pg_temp.now_s(86400 - 60))),
          'accepted', 'one minute under the default day passes');

-- The limit is a setting: a superuser (ALTER DATABASE ... SET, postgresql.conf) sets it.
SET LOCAL eventsvc.token_max_lifetime = '15min';
SELECT is(pg_temp.check_as(jsonb_build_object('role', 'eventsvc_service', 'exp', pg_temp.now_s(3600))),
          'PT401 the token lives longer than this service accepts', 'with a 15 minute limit an hour is too long');
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok($$SET eventsvc.token_max_lifetime = '30d'$$, '42501', NULL, 'nobody but a superuser moves the limit');
RESET ROLE;
-- No claims: a trusted SQL client, not PostgREST; nothing to check.
SELECT is(pg_temp.check_as(NULL), 'accepted', 'a session without claims is not a token');
-- A request without a token runs as eventsvc_anon; PostgREST still passes {"role": ...}.
SELECT set_config('request.jwt.claims', '{"role": "eventsvc_anon"}', true);
SET LOCAL ROLE eventsvc_anon;
SELECT lives_ok($$SELECT eventsvc.check_request()$$, 'an anonymous request carries no token to check');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

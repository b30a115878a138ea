-- Critical changes after sales (map 4.7): refused for a tenant user, and for a tenant
-- admin only after a confirmation token that is single use, expires after 5 minutes
-- (by the testable clock) and is bound to the event, the admin and the exact change.
BEGIN;
SELECT plan(26);

SELECT eventsvc.create_tenant('Conf Tenant', 'conf-tenant', '71111111-1111-4111-8111-111111111111');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-000000000001', 'Conf Hall', 1000),
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-000000000002', 'Conf Annex', 1000);
GRANT eventsvc_admin TO CURRENT_USER;  -- rolled back at the end

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '71111111-1111-4111-8111-111111111111';
SET LOCAL app.current_user_id = 'ursula';
SELECT api.create_event('7aaaaaaa-0000-4000-8000-000000000001', 'Sold show',
    now() + interval '30 days', now() + interval '30 days 2 hours',
    sections => '[{"section_name": "Floor", "total_capacity": 100}]') ->> 'id' AS ev \gset
SELECT is(api.publish_event(:'ev') ->> 'status', 'PUBLISHED', 'published');

-- Before any sale, a critical change needs nothing.
SELECT is(api.update_event(:'ev', 2, jsonb_build_object('ends_at', now() + interval '30 days 3 hours')) ->> 'version',
          '3', 'no tickets sold: ends_at changes freely');

-- Ten tickets are sold (the capacity code would do this).
RESET ROLE;
UPDATE eventsvc.event_capacity SET sold_count = 10, available_capacity = 90 WHERE event_id = :'ev';
SET LOCAL ROLE eventsvc_user;

SELECT lives_ok(format($$SELECT api.update_event(%L, 3, '{"description": "now with confetti"}')$$, :'ev'),
                'after sales: a non-critical change still goes through');
SELECT throws_ok(format($$SELECT api.update_event(%L, 4, jsonb_build_object('starts_at', now() + interval '31 days', 'ends_at', now() + interval '31 days 2 hours'))$$, :'ev'),
                 '42501', 'changing ["ends_at", "starts_at"] after 10 tickets were sold needs a tenant admin',
                 'after sales: a tenant user cannot move the dates');
SELECT throws_ok(format($$SELECT api.update_event(%L, 4, '{"venue_id": "7aaaaaaa-0000-4000-8000-000000000002"}')$$, :'ev'),
                 '42501', NULL, 'after sales: nor the venue');

-- A tenant admin gets a token instead of the change.
SET LOCAL ROLE eventsvc_admin;
SET LOCAL app.current_user_id = 'ada';
CREATE TEMP TABLE change AS
SELECT jsonb_build_object('starts_at', now() + interval '31 days', 'ends_at', now() + interval '31 days 2 hours') AS c;
SELECT api.update_event(:'ev', 4, (SELECT c FROM change)) AS first \gset
SELECT is((:'first'::jsonb) ->> 'status', 'confirmation_required', 'admin: first attempt asks for confirmation');
SELECT is((:'first'::jsonb) -> 'fields', '["ends_at", "starts_at"]', 'and names the critical fields');
SELECT is((SELECT version FROM api.events WHERE id = :'ev'), 4, 'nothing changed yet');
SELECT (:'first'::jsonb) ->> 'token' AS token \gset
RESET ROLE;
SELECT is((SELECT expires_at - created_at FROM eventsvc.confirmation_tokens WHERE token = :'token'),
          interval '5 minutes', 'the token lives 5 minutes');
SET LOCAL ROLE eventsvc_admin;

-- The token confirms exactly that change: not another one, not for another event or user.
SELECT throws_ok(format($$SELECT api.update_event(%L, 4, jsonb_build_object('starts_at', now() + interval '32 days', 'ends_at', now() + interval '32 days 2 hours'), %L)$$, :'ev', :'token'),
                 'PT428', format('confirmation token %s was issued for a different change', :'token'),
                 'another change with the token: refused');
SET LOCAL app.current_user_id = 'mallory';
SELECT throws_ok(format($$SELECT api.update_event(%L, 4, (SELECT c FROM change), %L)$$, :'ev', :'token'),
                 'PT428', format('confirmation token %s was issued for a different user', :'token'),
                 'another admin with the token: refused');
SET LOCAL app.current_user_id = 'ada';
SELECT throws_ok(format($$SELECT api.update_event(%L, 4, (SELECT c FROM change), %L)$$, :'ev', gen_random_uuid()),
                 'PT428', NULL, 'an unknown token: refused');

-- The same change with the token goes through, once.
SELECT is(api.update_event(:'ev', 4, (SELECT c FROM change), :'token') ->> 'version', '5',
          'same change with the token: applied');
SELECT is((SELECT starts_at FROM api.events WHERE id = :'ev'), now() + interval '31 days', 'the new start is stored');
SELECT is((SELECT starts_at FROM api.event_schedules WHERE event_id = :'ev'), now() + interval '31 days',
          'the schedule follows');

-- Tokens expire after 5 minutes by eventsvc.now().
CREATE TEMP TABLE change2 AS
SELECT jsonb_build_object('starts_at', now() + interval '33 days', 'ends_at', now() + interval '33 days 2 hours') AS c;
SELECT api.update_event(:'ev', 5, (SELECT c FROM change2)) ->> 'token' AS token2 \gset
RESET ROLE;
SET LOCAL eventsvc.clock_offset_seconds = 300;
SET LOCAL ROLE eventsvc_admin;
SELECT throws_ok(format($$SELECT api.update_event(%L, 5, (SELECT c FROM change2), %L)$$, :'ev', :'token2'),
                 'PT428', NULL, 'at exactly 5 minutes the token has expired');
RESET ROLE;
SET LOCAL eventsvc.clock_offset_seconds = 299;
SET LOCAL ROLE eventsvc_admin;
SELECT is(api.update_event(:'ev', 5, (SELECT c FROM change2), :'token2') ->> 'version', '6',
          'one second earlier it is accepted');
RESET ROLE;
SET LOCAL eventsvc.clock_offset_seconds = 0;
SET LOCAL ROLE eventsvc_admin;
-- Moving back to the first dates is again exactly the first token's change: it was used.
SELECT throws_ok(format($$SELECT api.update_event(%L, 6, (SELECT c FROM change), %L)$$, :'ev', :'token'),
                 'PT428', format('confirmation token %s was already used', :'token'), 'the token cannot be reused');

-- The same gate guards reschedule: postpone, then new dates need a confirmed override.
SELECT is(api.postpone_event(:'ev', 'storm warning') ->> 'status', 'POSTPONED', 'postponed');
SELECT api.reschedule_event(:'ev', now() + interval '40 days', now() + interval '40 days 2 hours') AS r \gset
SELECT is((:'r'::jsonb) ->> 'status', 'confirmation_required', 'reschedule after sales asks for confirmation');
SELECT is(api.reschedule_event(:'ev', now() + interval '40 days', now() + interval '40 days 2 hours',
                               confirmation_token => ((:'r'::jsonb) ->> 'token')::uuid) ->> 'status',
          'PUBLISHED', 'reschedule with the token: back to PUBLISHED');

-- The confirmation answer is not stored under an idempotency key: the confirmed retry may reuse it.
SELECT version AS v FROM api.events WHERE id = :'ev' \gset
SELECT is(api.update_event(:'ev', :v, '{"timezone": "Asia/Tokyo"}', idempotency_key => 'tz-1') ->> 'status',
          'confirmation_required', 'with a key: still asks for confirmation');
SELECT api.update_event(:'ev', :v, '{"timezone": "Asia/Tokyo"}', idempotency_key => 'tz-1') ->> 'token' AS tz_token \gset
SELECT is(api.update_event(:'ev', :v, '{"timezone": "Asia/Tokyo"}', :'tz_token', 'tz-1') ->> 'timezone',
          'Asia/Tokyo', 'the confirmed retry with the same key is applied');

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'ursula';
SELECT is(api.postpone_event(:'ev') ->> 'status', 'POSTPONED', 'postponed again');
SELECT throws_ok(format($$SELECT api.reschedule_event(%L, now() + interval '50 days', now() + interval '50 days 2 hours')$$, :'ev'),
                 '42501', NULL, 'a tenant user cannot reschedule after sales');
-- Deleting needs DRAFT or CANCELLED (and an admin once sold).
SELECT throws_ok(format($$SELECT api.delete_event(%L)$$, :'ev'), 'PT409', 'an event in status POSTPONED cannot be deleted',
                 'a postponed event cannot be deleted');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

-- Idempotency of create, update, publish, cancel and delete: a repeat with the same
-- key returns the first result, a different request under the key is PT422, the
-- PostgREST Idempotency-Key header works like the parameter, a failed call does not
-- use up its key, and keys expire after 24 hours by eventsvc.now().
BEGIN;
SELECT plan(23);

SELECT eventsvc.create_tenant('Idem Tenant', 'idem-tenant', '81111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Idem Other', 'idem-other', '82222222-2222-4222-8222-222222222222');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-000000000001', 'Idem Hall', 1000),
    ('82222222-2222-4222-8222-222222222222', '8bbbbbbb-0000-4000-8000-000000000001', 'Other Hall', 1000);
CREATE TEMP TABLE t0 AS SELECT now() + interval '10 days' AS s;
GRANT SELECT ON t0 TO eventsvc_user;

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '81111111-1111-4111-8111-111111111111';

-- create
SELECT api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'Retry me', (SELECT s FROM t0),
                        (SELECT s + interval '1 hour' FROM t0), idempotency_key => 'create-1') AS first \gset
SELECT is(api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'Retry me', (SELECT s FROM t0),
                           (SELECT s + interval '1 hour' FROM t0), idempotency_key => 'create-1'),
          :'first'::jsonb, 'create: the repeat returns the first result');
SELECT is((SELECT count(*) FROM api.events WHERE name = 'Retry me'), 1::bigint, 'create: one event only');
SELECT is((SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'event.created'), 1::bigint, 'create: one message only');
SELECT throws_ok($$SELECT api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'Something else', (SELECT s FROM t0),
                   (SELECT s + interval '1 hour' FROM t0), idempotency_key => 'create-1')$$,
                 'PT422', 'idempotency key "create-1" was already used for a different request',
                 'create: same key, different request: PT422');
SET LOCAL app.current_user_id = 'someone-else';
SELECT throws_ok($$SELECT api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'Retry me', (SELECT s FROM t0),
                   (SELECT s + interval '1 hour' FROM t0), idempotency_key => 'create-1')$$,
                 'PT422', NULL, 'create: another user with the same key and request: PT422, no replay');
RESET app.current_user_id;
SELECT (:'first'::jsonb) ->> 'id' AS ev \gset

-- the Idempotency-Key header that PostgREST passes in request.headers
SELECT set_config('request.headers', '{"idempotency-key": "hdr-1", "accept": "application/json"}', true);
SELECT api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'By header', (SELECT s + interval '1 day' FROM t0),
                        (SELECT s + interval '1 day 1 hour' FROM t0)) ->> 'id' AS hdr \gset
SELECT is(api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'By header', (SELECT s + interval '1 day' FROM t0),
                           (SELECT s + interval '1 day 1 hour' FROM t0)) ->> 'id', :'hdr', 'header key: repeat returns the first event');
SELECT throws_ok($$SELECT api.publish_event((SELECT id FROM api.events WHERE name = 'By header'))$$, 'PT422', NULL,
                 'header key: the same key for another operation: PT422');
SELECT set_config('request.headers', '', true);

-- update
SELECT api.update_event(:'ev', 1, '{"description": "v2"}', idempotency_key => 'upd-1') AS u1 \gset
SELECT is(api.update_event(:'ev', 1, '{"description": "v2"}', idempotency_key => 'upd-1'), :'u1'::jsonb,
          'update: repeat with the stale version returns the first result, not a conflict');
SELECT is((SELECT version FROM api.events WHERE id = :'ev'), 2, 'update: applied once');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, '{"description": "v2"}')$$, :'ev'), 'PT409',
                 format('event %s was changed by someone else: expected version 1, current version 2', :'ev'),
                 'update: without the key, the stale version is a conflict');

-- publish
SELECT is(api.publish_event(:'ev', 'pub-1') ->> 'status', 'PUBLISHED', 'publish: first call');
SELECT is(api.publish_event(:'ev', 'pub-1') ->> 'status', 'PUBLISHED', 'publish: repeat returns the first result');
SELECT throws_ok(format($$SELECT api.publish_event(%L)$$, :'ev'), 'PT409',
                 format('event %s is already PUBLISHED', :'ev'), 'publish: a new request on a published event is a conflict');
SELECT is((SELECT count(*) FROM eventsvc.outbox WHERE routing_key = 'event.published'), 1::bigint, 'publish: one message');

-- cancel: the second cancellation is an error, its retry with the key is not
SELECT api.cancel_event(:'ev', 'venue flooded', 'cancel-1') AS c1 \gset
SELECT is(api.cancel_event(:'ev', 'venue flooded', 'cancel-1'), :'c1'::jsonb, 'cancel: repeat returns the first result');
SELECT throws_ok(format($$SELECT api.cancel_event(%L, 'venue flooded')$$, :'ev'), 'PT409',
                 format('event %s is already cancelled', :'ev'), 'cancel: cancelling again without the key is a conflict');
SELECT is((SELECT count(*) FROM eventsvc.event_cancellation_reports WHERE event_id = :'ev'), 1::bigint, 'cancel: one report');

-- delete
SELECT api.delete_event(:'ev', 'del-1') AS d1 \gset
SELECT is(api.delete_event(:'ev', 'del-1'), :'d1'::jsonb, 'delete: repeat returns the first result');
SELECT throws_ok(format($$SELECT api.delete_event(%L)$$, :'ev'), 'PT404', NULL, 'delete: without the key the event is gone');

-- a failed call does not use up its key
SELECT throws_ok($$SELECT api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'Fails', now(), now() + interval '1 hour',
                   idempotency_key => 'retry-after-fix')$$, '22023', NULL, 'a create that fails validation');
SELECT is(api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'Fixed', (SELECT s + interval '2 days' FROM t0),
                           (SELECT s + interval '2 days 1 hour' FROM t0), idempotency_key => 'retry-after-fix') ->> 'name',
          'Fixed', 'the corrected request may use the same key');

-- keys are per tenant
SET LOCAL app.current_tenant_id = '82222222-2222-4222-8222-222222222222';
SELECT is(api.create_event('8bbbbbbb-0000-4000-8000-000000000001', 'Other tenant', (SELECT s FROM t0),
                           (SELECT s + interval '1 hour' FROM t0), idempotency_key => 'create-1') ->> 'name',
          'Other tenant', 'another tenant''s key of the same name is independent');
SET LOCAL app.current_tenant_id = '81111111-1111-4111-8111-111111111111';

-- after 24 hours the key is forgotten
RESET ROLE;
SET LOCAL eventsvc.clock_offset_seconds = 86400;
SET LOCAL ROLE eventsvc_user;
SELECT is(api.create_event('8aaaaaaa-0000-4000-8000-000000000001', 'Next day', (SELECT s + interval '3 days' FROM t0),
                           (SELECT s + interval '3 days 1 hour' FROM t0), idempotency_key => 'create-1') ->> 'name',
          'Next day', 'after 24 hours the key serves a new request');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

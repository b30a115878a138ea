-- pgTAP: a reservation retried with the same Idempotency-Key header (PostgREST
-- passes headers in request.headers) returns the first hold and takes no more
-- seats; the same key with another request is refused; no header, no key.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(13);

SELECT eventsvc.create_tenant('Tap Idem', 'tap-idem', '44444444-4444-4444-8444-444444444444') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('44444444-4444-4444-8444-444444444444', '44444444-0000-4000-8000-00000000000a', 'Idem Hall', 100);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('44444444-4444-4444-8444-444444444444', '44444444-0000-4000-8000-0000000000e1',
     '44444444-0000-4000-8000-00000000000a', 'Idem Night', 'idem-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity)
VALUES ('44444444-4444-4444-8444-444444444444', '44444444-0000-4000-8000-0000000000c1',
        '44444444-0000-4000-8000-0000000000e1', 'I', 10, 10);
SET app.current_tenant_id = '44444444-4444-4444-8444-444444444444';
SET app.current_user_id = 'ivy';

SELECT set_config('request.headers', '{"idempotency-key": "ivy-hold-1", "content-type": "application/json"}', false);
SELECT to_jsonb(api.reserve_capacity('44444444-0000-4000-8000-0000000000c1', 3)) ->> 'id' AS first_hold \gset
SELECT is(to_jsonb(api.reserve_capacity('44444444-0000-4000-8000-0000000000c1', 3)) ->> 'id', :'first_hold',
          'the retry returns the first hold');
SELECT is((SELECT count(*) FROM eventsvc.capacity_holds WHERE tenant_id = '44444444-4444-4444-8444-444444444444'),
          1::bigint, 'one hold row for two calls');
SELECT is((SELECT r->>'available' FROM eventsvc.check_capacity('44444444-0000-4000-8000-0000000000c1') r),
          '7', 'three seats taken, once');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('44444444-0000-4000-8000-0000000000c1', 4))$$, 'PT422', NULL,
                 'the same key with another quantity is refused');

SELECT set_config('request.headers', '{"idempotency-key": "ivy-hold-2"}', false);
SELECT isnt(to_jsonb(api.reserve_capacity('44444444-0000-4000-8000-0000000000c1', 3)) ->> 'id', :'first_hold',
            'a new key makes a new hold');

SELECT set_config('request.headers', '{"content-type": "application/json"}', false);
SELECT ok(to_jsonb(api.reserve_capacity('44444444-0000-4000-8000-0000000000c1', 1)) IS NOT NULL, 'no key: a hold');
SELECT ok(to_jsonb(api.reserve_capacity('44444444-0000-4000-8000-0000000000c1', 1)) IS NOT NULL, 'no key: another hold');
SELECT is((SELECT r->>'available' FROM eventsvc.check_capacity('44444444-0000-4000-8000-0000000000c1') r),
          '2', '3 + 3 + 1 + 1 seats held, counter and rows agree');

-- a failed reservation leaves its key free: the retry after the failure can succeed
SELECT set_config('request.headers', '{"idempotency-key": "ivy-hold-3"}', false);
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity('44444444-0000-4000-8000-0000000000c1', 5))$$, 'PT409', NULL,
                 'sold out: 5 asked, 2 left');

-- confirm and release: the retry gets the first answer, not "already confirmed/released"
SELECT set_config('request.headers', '{"idempotency-key": "ivy-confirm-1"}', false);
SELECT to_jsonb(api.confirm_hold(:'first_hold')) ->> 'confirmed_at' AS confirmed_at \gset
SELECT is(to_jsonb(api.confirm_hold(:'first_hold')) ->> 'confirmed_at', :'confirmed_at', 'a retried confirm returns the first answer');
SELECT set_config('request.headers', '{"idempotency-key": "ivy-confirm-2"}', false);
SELECT throws_ok(format('SELECT to_jsonb(api.confirm_hold(%L))', :'first_hold'), 'PT409', NULL,
                 'a new key on a confirmed hold: already confirmed');
SELECT set_config('request.headers', '{"idempotency-key": "ivy-release-1"}', false);
SELECT to_jsonb(api.release_hold(id)) ->> 'state' AS released FROM eventsvc.capacity_holds
 WHERE tenant_id = '44444444-4444-4444-8444-444444444444' AND quantity = 1 ORDER BY created_at LIMIT 1 \gset
SELECT is((SELECT to_jsonb(api.release_hold(id)) ->> 'state' FROM eventsvc.capacity_holds
            WHERE tenant_id = '44444444-4444-4444-8444-444444444444' AND quantity = 1 ORDER BY created_at LIMIT 1),
          'RELEASED', 'a retried release returns the first answer');
SELECT is((SELECT r->>'available' FROM eventsvc.check_capacity('44444444-0000-4000-8000-0000000000c1') r),
          '3', 'the released seat came back once');
RESET request.headers;

SELECT * FROM finish();

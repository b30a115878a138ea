-- api.update_event beyond the basics: tenant isolation, venue moves (slug and
-- overlap at the new venue), validation of the merged row, capacity bounds,
-- blockchain sync requests, deletes with sold tickets, and transitions' messages.
BEGIN;
SELECT plan(21);

SELECT eventsvc.create_tenant('Upd Tenant', 'upd-tenant', 'd1111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Upd Other', 'upd-other', 'd2222222-2222-4222-8222-222222222222');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('d1111111-1111-4111-8111-111111111111', 'daaaaaaa-0000-4000-8000-000000000001', 'Upd Hall', 1000),
    ('d1111111-1111-4111-8111-111111111111', 'daaaaaaa-0000-4000-8000-000000000002', 'Upd Club', 200),
    ('d2222222-2222-4222-8222-222222222222', 'dbbbbbbb-0000-4000-8000-000000000001', 'Other Hall', 1000);
GRANT eventsvc_admin TO CURRENT_USER;

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = 'd1111111-1111-4111-8111-111111111111';
SELECT api.create_event('daaaaaaa-0000-4000-8000-000000000001', 'Move Me',
    date_trunc('hour', now()) + interval '20 days', date_trunc('hour', now()) + interval '20 days 2 hours',
    sections => '[{"section_name": "Floor", "total_capacity": 150}]') ->> 'id' AS ev \gset
SELECT api.create_event('daaaaaaa-0000-4000-8000-000000000002', 'Move Me',
    date_trunc('hour', now()) + interval '25 days', date_trunc('hour', now()) + interval '25 days 2 hours') ->> 'id' AS club \gset

-- Another tenant sees nothing and changes nothing.
SET LOCAL app.current_tenant_id = 'd2222222-2222-4222-8222-222222222222';
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, '{"name": "Hijack"}')$$, :'ev'), 'PT404', NULL,
                 'another tenant: update is not found');
SELECT throws_ok(format($$SELECT api.get_event(%L)$$, :'ev'), 'PT404', NULL, 'another tenant: get is not found');
SELECT throws_ok(format($$SELECT api.cancel_event(%L, 'x')$$, :'ev'), 'PT404', NULL, 'another tenant: cancel is not found');
SET LOCAL app.current_tenant_id = 'd1111111-1111-4111-8111-111111111111';

-- The merged row is validated; an untouched start is not re-checked against the clock.
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, jsonb_build_object('ends_at', date_trunc('hour', now()) + interval '19 days'))$$, :'ev'),
                 '22023', 'ends_at: must be after starts_at', 'update: ends before the stored start');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, jsonb_build_object('starts_at', now() + interval '1 hour'))$$, :'ev'),
                 '22023', 'starts_at: must be at least 2 hours from now', 'update: moving the start too close');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, '{"capacity": 100}')$$, :'ev'),
                 '22023', 'capacity: 100 is less than the sections'' total 150', 'update: capacity below the sections');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, '{"venue_id": "dbbbbbbb-0000-4000-8000-000000000001"}')$$, :'ev'),
                 'PT404', NULL, 'update: another tenant''s venue is not found');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, '{"colour": "red"}')$$, :'ev'),
                 '22023', 'changes.colour: cannot be changed by api.update_event', 'update: unknown field');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, '{}')$$, :'ev'),
                 '22023', 'changes: nothing to change', 'update: empty change');
SELECT is((SELECT version FROM api.events WHERE id = :'ev'), 1, 'refused updates changed nothing');

-- Moving to the club: the slug is taken there, so it gets -2; the club is big enough.
SELECT is(api.update_event(:'ev', 1, '{"venue_id": "daaaaaaa-0000-4000-8000-000000000002"}') ->> 'slug',
          'move-me-2', 'venue move: slug made unique at the new venue');
SELECT throws_ok(format($$SELECT api.update_event(%L, 2, jsonb_build_object('starts_at', date_trunc('hour', now()) + interval '25 days 1 hour', 'ends_at', date_trunc('hour', now()) + interval '25 days 3 hours'))$$, :'ev'),
                 'PT409', NULL, 'moving onto the club''s other event: overlap');
SELECT throws_ok(format($$SELECT api.update_event(%L, 2, '{"capacity": 201}')$$, :'ev'),
                 '22023', 'capacity: 201 exceeds the venue''s capacity of 200', 'capacity above the new venue');

-- Blockchain data asks for a sync.
SELECT is(api.update_event(:'ev', 2, '{"artist_wallet": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU", "artist_percentage": 10}') ->> 'blockchain_status',
          'pending', 'wallet added: blockchain_status pending');
SELECT is((SELECT array_agg(routing_key ORDER BY sequence) FROM eventsvc.outbox WHERE aggregate_id = :'ev'),
          ARRAY['event.created', 'event.updated', 'event.updated', 'event.blockchain_sync_requested'],
          'messages: created, two updates, the sync request');
SELECT is((SELECT payload->'data'->'changes'->>'artist_percentage' FROM eventsvc.outbox
            WHERE aggregate_id = :'ev' AND sequence = 3), '10.00', 'event.updated carries the new values');

-- SOLD_OUT has its own message; IN_PROGRESS etc. are event.updated.
SELECT api.publish_event(:'ev') IS NOT NULL AS published;
SELECT api.transition_event(:'ev', 'ON_SALE') IS NOT NULL AS on_sale;
SELECT is(api.transition_event(:'ev', 'SOLD_OUT') ->> 'status', 'SOLD_OUT', 'sold out');
SELECT is((SELECT routing_key FROM eventsvc.outbox WHERE aggregate_id = :'ev' ORDER BY sequence DESC LIMIT 1),
          'event.soldout', 'SOLD_OUT emits event.soldout');
SELECT throws_ok(format($$SELECT api.transition_event(%L, 'CANCELLED')$$, :'ev'), '22023',
                 'reason: is required, 1 to 2000 characters', 'cancelling through transition_event needs a reason');

-- A cancelled event with sold tickets is deleted only by a tenant admin.
SELECT api.cancel_event(:'ev', 'Fire at the club') IS NOT NULL AS cancelled;
RESET ROLE;
UPDATE eventsvc.event_capacity SET sold_count = 5 WHERE event_id = :'ev';
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok(format($$SELECT api.delete_event(%L)$$, :'ev'), '42501', NULL, 'user: delete with sold tickets refused');
SET LOCAL ROLE eventsvc_admin;
SELECT is(api.delete_event(:'ev') ->> 'status', 'CANCELLED', 'admin: delete with sold tickets allowed');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

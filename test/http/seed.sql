-- seed.sql: the fixed data of the HTTP tests (and of docs/api.md's examples).
-- Three tenants (Dormant is inactive), a venue each, events in several states.
-- Status changes go step by step through legal transitions, as the state machine wants.
SELECT eventsvc.create_tenant('Acme Venues', 'acme', '11111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Globex Live', 'globex', '22222222-2222-4222-8222-222222222222');
SELECT eventsvc.create_tenant('Dormant Co', 'dormant', '33333333-3333-4333-8333-333333333333');

-- Dates further ahead than the API allows (so docs/api.md does not change with the
-- day it is made): the events are imported (docs/tenancy.md "Write rules").
SET eventsvc.import_mode = on;
SET app.current_tenant_id = '11111111-1111-4111-8111-111111111111';
SET app.current_user_id = 'seed';
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone) VALUES
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Arena', 5000, 'America/New_York');
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, short_description, visibility,
                             starts_at, ends_at, artist_wallet, tags) VALUES
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-0000000000e1',
     'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Rock Night', 'acme-rock-night', 'Three bands, one night',
     'PUBLIC', '2030-01-01 20:00+00', '2030-01-01 23:00+00', 'wallet-secret', '{rock,live}'),
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-0000000000e2',
     'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Jazz Evening', 'acme-jazz-postponed', 'Postponed, new date soon',
     'PUBLIC', '2030-01-02 20:00+00', '2030-01-02 23:00+00', NULL, '{jazz}'),
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-0000000000e3',
     'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Private Gala', 'acme-private-gala', 'Invitation only',
     'PRIVATE', '2030-01-03 20:00+00', '2030-01-03 23:00+00', NULL, '{}'),
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-0000000000e4',
     'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Draft Show', 'acme-draft', 'Not announced',
     'PUBLIC', '2030-01-04 20:00+00', '2030-01-04 23:00+00', NULL, '{}'),
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-0000000000e5',
     'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Deleted Show', 'acme-deleted', 'Gone',
     'PUBLIC', '2030-01-05 20:00+00', '2030-01-05 23:00+00', NULL, '{}');
UPDATE eventsvc.events SET status = 'PUBLISHED'
 WHERE id IN ('aaaaaaaa-0000-4000-8000-0000000000e1', 'aaaaaaaa-0000-4000-8000-0000000000e2',
              'aaaaaaaa-0000-4000-8000-0000000000e3');
UPDATE eventsvc.events SET status = 'ON_SALE'
 WHERE id IN ('aaaaaaaa-0000-4000-8000-0000000000e1', 'aaaaaaaa-0000-4000-8000-0000000000e3');
UPDATE eventsvc.events SET status = 'POSTPONED' WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e2';
UPDATE eventsvc.events SET status = 'CANCELLED', deleted_at = now(), cancelled_at = now(),
                           cancellation_reason = 'seed: deleted draft'
 WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e5';

SET app.current_tenant_id = '22222222-2222-4222-8222-222222222222';
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone) VALUES
    ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-0000-4000-8000-000000000001', 'Globex Hall', 800, 'Europe/Berlin');
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, short_description, starts_at, ends_at) VALUES
    ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-0000-4000-8000-0000000000e1',
     'bbbbbbbb-0000-4000-8000-000000000001', 'Globex Opera', 'globex-opera', 'La Traviata',
     '2030-02-01 19:00+00', '2030-02-01 22:00+00');
UPDATE eventsvc.events SET status = 'PUBLISHED' WHERE id = 'bbbbbbbb-0000-4000-8000-0000000000e1';

-- Dormant published an event, then was deactivated: the event is public no more.
SET app.current_tenant_id = '33333333-3333-4333-8333-333333333333';
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('33333333-3333-4333-8333-333333333333', 'dddddddd-0000-4000-8000-000000000001', 'Dormant Barn', 100);
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, starts_at, ends_at) VALUES
    ('33333333-3333-4333-8333-333333333333', 'dddddddd-0000-4000-8000-0000000000e1',
     'dddddddd-0000-4000-8000-000000000001', 'Dormant Dance', 'dormant-dance',
     '2030-03-01 19:00+00', '2030-03-01 22:00+00');
UPDATE eventsvc.events SET status = 'PUBLISHED' WHERE id = 'dddddddd-0000-4000-8000-0000000000e1';

RESET app.current_tenant_id;
RESET eventsvc.import_mode;
UPDATE eventsvc.tenants SET is_active = false WHERE slug = 'dormant';

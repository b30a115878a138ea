-- Foundation: tenancy fails closed, RLS isolates tenants, versions conflict,
-- the audit trail records changed fields, the clock is superuser-only.
\set VERBOSITY default
SELECT eventsvc.create_tenant('Acme Venues', 'acme', '11111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Globex Live', 'globex', '22222222-2222-4222-8222-222222222222');
SELECT eventsvc.create_tenant('Dormant Co', 'dormant', '33333333-3333-4333-8333-333333333333');
UPDATE eventsvc.tenants SET is_active = false WHERE slug = 'dormant';
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone) VALUES
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Arena', 5000, 'America/New_York'),
    ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-0000-4000-8000-000000000001', 'Globex Hall', 800, 'Europe/Berlin');
-- Fixture events written directly by the superuser, in the state the test needs:
-- import mode (docs/tenancy.md "Write rules").
SET eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, starts_at, ends_at) VALUES
    ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-0000000000e1',
     'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Rock Night', 'acme-rock-night',
     '2030-01-01 20:00+00', '2030-01-01 23:00+00'),
    ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-0000-4000-8000-0000000000e1',
     'bbbbbbbb-0000-4000-8000-000000000001', 'Globex Jazz', 'globex-jazz',
     '2030-02-01 20:00+00', '2030-02-01 23:00+00');
RESET eventsvc.import_mode;

-- An API role with no tenant gets an error, never rows.
SET ROLE eventsvc_user;
SELECT count(*) FROM eventsvc.events;
-- A malformed, unknown or inactive tenant is refused too.
SET app.current_tenant_id = 'not-a-uuid';
SELECT count(*) FROM eventsvc.events;
SET app.current_tenant_id = '99999999-9999-4999-8999-999999999999';
SELECT count(*) FROM eventsvc.events;
SET app.current_tenant_id = '33333333-3333-4333-8333-333333333333';
SELECT count(*) FROM eventsvc.events;

-- Tenant A sees only its rows and cannot touch B's (it writes no table directly at all:
-- every write goes through the api functions).
SET app.current_tenant_id = '11111111-1111-4111-8111-111111111111';
SELECT name FROM eventsvc.events ORDER BY name;
UPDATE eventsvc.events SET name = 'hijacked' WHERE id = 'bbbbbbbb-0000-4000-8000-0000000000e1';
DELETE FROM eventsvc.events WHERE id = 'bbbbbbbb-0000-4000-8000-0000000000e1';
INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug)
VALUES ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-0000-4000-8000-000000000001', 'Planted', 'planted');

-- JWT claims win over the session setting (PostgREST requests).
SELECT set_config('request.jwt.claims', '{"sub":"user-42","tenant_id":"22222222-2222-4222-8222-222222222222","role":"eventsvc_user"}', false);
SELECT name FROM eventsvc.events ORDER BY name;
SELECT eventsvc.current_actor();
SELECT set_config('request.jwt.claims', '{"sub":"user-42","role":"eventsvc_user"}', false);
SELECT count(*) FROM eventsvc.events;
SELECT set_config('request.jwt.claims', '', false);

-- Optimistic locking: a stale stated version conflicts; an unstated one bumps (a DBA's
-- direct writes, acting for alice).
RESET ROLE;
SET app.current_user_id = 'alice';
UPDATE eventsvc.events SET name = 'Acme Rock Night II' WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e1' RETURNING version;
UPDATE eventsvc.events SET name = 'Acme Rock Night III', version = 1 WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e1';
UPDATE eventsvc.events SET name = 'Acme Rock Night III', version = 2 WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e1' RETURNING version;
UPDATE eventsvc.events SET tenant_id = '22222222-2222-4222-8222-222222222222' WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e1';

-- Soft delete, then the audit trail: who, what action, exactly which fields.
UPDATE eventsvc.events SET deleted_at = now(), status = 'CANCELLED' WHERE id = 'aaaaaaaa-0000-4000-8000-0000000000e1';
SELECT action, actor_id, actor_role, jsonb_pretty(changed_fields - 'deleted_at' - 'created_at') AS changes
  FROM eventsvc.event_audit_log WHERE event_id = 'aaaaaaaa-0000-4000-8000-0000000000e1' AND action <> 'INSERT' ORDER BY id;
SELECT changed_fields ? 'deleted_at' AS soft_delete_recorded
  FROM eventsvc.event_audit_log WHERE action = 'SOFT_DELETE';
-- Users cannot write the audit trail themselves.
SET ROLE eventsvc_user;
INSERT INTO eventsvc.event_audit_log (tenant_id, event_id, action, actor_role)
VALUES ('11111111-1111-4111-8111-111111111111', gen_random_uuid(), 'DELETE', 'x');

-- The clock is superuser-only.
SET eventsvc.clock_offset_seconds = 3600;
RESET ROLE;
SET eventsvc.clock_offset_seconds = 7200;
SELECT eventsvc.now() - now() AS offset;
RESET eventsvc.clock_offset_seconds;
SELECT eventsvc.now() = now() AS real_time;

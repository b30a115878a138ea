-- The eventsvc demo: one tenant, one venue, one event taken through its life.
\set ECHO queries
\pset footer off
-- A platform operator creates two tenants and the venue read model.
SELECT eventsvc.create_tenant('Acme Venues', 'acme', '11111111-1111-4111-8111-111111111111');
SELECT eventsvc.create_tenant('Globex Live', 'globex', '22222222-2222-4222-8222-222222222222');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone) VALUES
  ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001', 'Acme Arena', 5000, 'America/New_York'),
  ('22222222-2222-4222-8222-222222222222', 'bbbbbbbb-0000-4000-8000-000000000001', 'Globex Hall', 800, 'Europe/Berlin');

-- From here on we act as a tenant user of Acme, like a service behind the API would.
SET ROLE eventsvc_user;
SELECT eventsvc.current_tenant_id();   -- no tenant yet: refused, never "all rows"
SET app.current_tenant_id = '11111111-1111-4111-8111-111111111111';
SET app.current_user_id = 'demo-promoter';
\i demo/demo_lifecycle.sql

-- Row-level security: Acme sees only Acme; Globex sees only Globex.
SELECT tenant_id, name, status FROM eventsvc.events;
SET app.current_tenant_id = '22222222-2222-4222-8222-222222222222';
SELECT count(*) AS acme_events_visible_to_globex FROM eventsvc.events
 WHERE tenant_id = '11111111-1111-4111-8111-111111111111';
SET app.current_tenant_id = '11111111-1111-4111-8111-111111111111';

-- The audit trail: who changed what, field by field.
SELECT id, action, actor_id, actor_role, (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(changed_fields) k) AS changed_fields
  FROM eventsvc.event_audit_log ORDER BY id;

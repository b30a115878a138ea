-- pgTAP: edits while on sale (docs/lifecycle.md "Edits while on sale"). While an event
-- sells (ON_SALE, SALES_PAUSED, SOLD_OUT) its presentation (name, descriptions, image,
-- tags, category, featured flag and order, age restriction; metadata through
-- api.set_event_metadata) changes freely, versioned, audited and announced with
-- event.updated; its venue, dates, capacity and time zone only through the confirmation
-- flow; its other fields are settled. Sales go on meanwhile.
BEGIN;
SELECT plan(20);

SELECT eventsvc.create_tenant('Sale Tenant', 'sale-tenant', '5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e') IS NOT NULL AS t;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e', '5e5e5e5e-0000-4000-8000-000000000001', 'Sale Hall', 1000);
GRANT eventsvc_admin TO CURRENT_USER;  -- rolled back at the end
CREATE FUNCTION pg_temp.v(ev uuid) RETURNS int LANGUAGE sql AS $$ SELECT version FROM api.events WHERE id = ev $$;

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e';
SET LOCAL app.current_user_id = 'pat';
SELECT api.create_event('5e5e5e5e-0000-4000-8000-000000000001', 'Summer Gala',
    date_trunc('hour', now()) + interval '40 days', date_trunc('hour', now()) + interval '40 days 3 hours',
    sections => '[{"section_name": "Floor", "total_capacity": 10}]') ->> 'id' AS ev \gset
SELECT api.publish_event(:'ev') IS NOT NULL AS published;
SELECT api.transition_event(:'ev', 'ON_SALE') ->> 'status' AS status;
SELECT id AS section FROM api.event_sections WHERE event_id = :'ev' \gset
SELECT (api.confirm_hold((api.reserve_capacity(:'section', 2)).id)).state = 'CONFIRMED' AS sold;
SELECT version AS v0 FROM api.events WHERE id = :'ev' \gset

-- The presentation changes while on sale: versioned, audited, announced.
SELECT api.update_event(:'ev', :v0, '{"name": "Summer Gala 2.0", "description": "Now with fireworks",
    "short_description": "Fireworks!", "image_url": "https://img.example.com/gala.png", "tags": ["gala", "fireworks"],
    "is_featured": true, "featured_order": 3, "age_restriction": 16}') AS r \gset
SELECT is((:'r'::jsonb) ->> 'status', 'ON_SALE', 'the event stays ON_SALE');
SELECT is(((:'r'::jsonb) ->> 'version')::int, :v0 + 1, 'one new version');
SELECT is((:'r'::jsonb) - ARRAY['id', 'version', 'status'] -> 'name', '"Summer Gala 2.0"', 'the new name');
SELECT is((SELECT row(e.description, e.short_description, e.image_url, e.tags, e.is_featured, e.featured_order, e.age_restriction)::text
             FROM api.events e WHERE e.id = :'ev'),
          row('Now with fireworks', 'Fireworks!', 'https://img.example.com/gala.png', ARRAY['gala', 'fireworks'], true, 3, 16)::text,
          'every presentation field changed');
RESET ROLE;
SELECT is((SELECT payload -> 'data' -> 'changed_fields' FROM eventsvc.outbox
            WHERE aggregate_id = :'ev' AND routing_key = 'event.updated' ORDER BY id DESC LIMIT 1),
          '["age_restriction", "description", "featured_order", "image_url", "is_featured", "name", "short_description", "tags"]'::jsonb,
          'event.updated names the changed fields');
SELECT is((SELECT payload -> 'data' -> 'previous' ->> 'name' FROM eventsvc.outbox
            WHERE aggregate_id = :'ev' AND routing_key = 'event.updated' ORDER BY id DESC LIMIT 1),
          'Summer Gala', 'and their previous values');
SELECT is((SELECT changed_fields -> 'name' FROM eventsvc.event_audit_log
            WHERE event_id = :'ev' AND action = 'UPDATE' ORDER BY id DESC LIMIT 1),
          '{"old": "Summer Gala", "new": "Summer Gala 2.0"}'::jsonb, 'the audit log has the change');
SET LOCAL ROLE eventsvc_user;

-- Sales go on after the edit.
SELECT is((api.reserve_capacity(:'section', 1)).state, 'ACTIVE', 'a reservation after the edit');

-- Settled fields are refused while on sale, with the field named; nothing changes.
SELECT throws_ok(format($$SELECT api.update_event(%L, %s, '{"visibility": "PRIVATE", "name": "Sneaky"}')$$, :'ev', :v0 + 1),
                 'PT409', 'these fields cannot change while the event is ON_SALE: visibility',
                 'visibility cannot change while on sale');
SELECT throws_ok(format($$SELECT api.update_event(%L, %s, '{"artist_percentage": 50}')$$, :'ev', :v0 + 1),
                 'PT409', 'these fields cannot change while the event is ON_SALE: artist_percentage',
                 'nor the royalty split');
SELECT is((SELECT name FROM api.events WHERE id = :'ev'), 'Summer Gala 2.0', 'a refused change changes nothing');

-- Critical fields keep the confirmation flow: a user is refused, an admin confirms.
SELECT throws_ok(format($$SELECT api.update_event(%L, %s, jsonb_build_object('ends_at', date_trunc('hour', now()) + interval '40 days 4 hours'))$$,
                        :'ev', :v0 + 1),
                 '42501', 'changing ["ends_at"] after 2 tickets were sold needs a tenant admin',
                 'a tenant user cannot move the end of an event on sale');
SET LOCAL ROLE eventsvc_admin;
CREATE TEMP TABLE change AS SELECT jsonb_build_object('ends_at', date_trunc('hour', now()) + interval '40 days 4 hours') AS c;
SELECT api.update_event(:'ev', :v0 + 1, (SELECT c FROM change)) AS ask \gset
SELECT is((:'ask'::jsonb) ->> 'status', 'confirmation_required', 'an admin is asked to confirm');
SELECT is(api.update_event(:'ev', :v0 + 1, (SELECT c FROM change), ((:'ask'::jsonb) ->> 'token')::uuid) ->> 'ends_at',
          to_jsonb(date_trunc('hour', now()) + interval '40 days 4 hours') #>> '{}',
          'and with the token the end moves, still on sale');

-- Metadata changes while on sale too.
SELECT is(api.set_event_metadata(:'ev', headliner => 'The Rockets') ->> 'headliner', 'The Rockets',
          'metadata changes while on sale');

-- Paused and sold out: the same classes.
SELECT api.transition_event(:'ev', 'SALES_PAUSED') ->> 'status' AS paused;
SELECT is(api.update_event(:'ev', pg_temp.v(:'ev'), '{"name": "Summer Gala (paused)"}') ->> 'name', 'Summer Gala (paused)',
          'SALES_PAUSED: the name changes');
SELECT throws_ok(format($$SELECT api.update_event(%L, %s, '{"is_virtual": true}')$$, :'ev', pg_temp.v(:'ev')),
                 'PT409', 'these fields cannot change while the event is SALES_PAUSED: is_virtual',
                 'SALES_PAUSED: settled fields stay');

-- Back on sale.
RESET ROLE;
SELECT api.transition_event(:'ev', 'ON_SALE') ->> 'status' AS back;
SELECT is((SELECT status::text FROM eventsvc.events WHERE id = :'ev'), 'ON_SALE', 'back on sale');
SET LOCAL ROLE eventsvc_user;
SELECT is(api.update_event(:'ev', pg_temp.v(:'ev'), '{"tags": ["gala"]}') -> 'tags', '["gala"]', 'tags change on sale');
SELECT throws_ok(format($$SELECT api.update_event(%L, %s, '{"event_type": "recurring"}')$$, :'ev', pg_temp.v(:'ev')),
                 '22023', NULL, 'fields api.update_event never changes are still 22023');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

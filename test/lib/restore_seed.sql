-- test/lib/restore_seed.sql: a database with a bit of everything, made through the API
-- the way a platform uses it, for the dump/restore and upgrade tests. Works on every
-- released version (results are read through to_jsonb, whatever an API function returns).
--   tenants A (Acme) and B (Globex), a venue each; a custom currency and category
--   A "Seed Rock Night": sections Floor 100 and Balcony 50, two tiers (USD, the custom NOK),
--     metadata, content, FAQs, reviews (two approved, one pending), views, postponed and
--     moved back on sale with a confirmation token; holds on Floor: 4 confirmed, 2 active, 1 released (94 left);
--     on Balcony 41 active (over the 80 % line: threshold state and a warning)
--   A "Seed Weekly Class": recurring, with a weekly schedule and its section
--   A "Seed Cancelled Gala": published then cancelled (report, saga steps)
--   A "Seed Draft": created with an idempotency key
--   B "Seed Opera": a section with one active hold of 3 (of 20)
--   outbox and audit rows from all of it, a reminder, a revoked token
\set ON_ERROR_STOP on
\set QUIET on
SELECT eventsvc.create_tenant('Seed Acme', 'seed-acme', 'a5eed000-0000-4000-8000-000000000001') \gset
SELECT eventsvc.create_tenant('Seed Globex', 'seed-globex', 'b5eed000-0000-4000-8000-000000000001') \gset
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity, timezone) VALUES
    ('a5eed000-0000-4000-8000-000000000001', 'a5eed000-0000-4000-8000-0000000000a1', 'Seed Arena', 5000, 'Europe/Berlin'),
    ('b5eed000-0000-4000-8000-000000000001', 'b5eed000-0000-4000-8000-0000000000a1', 'Seed Hall', 800, 'America/New_York');
-- reference rows a platform adds after the install
INSERT INTO eventsvc.currencies (code, minor_unit, name) VALUES ('NOK', 2, 'Norwegian Krone');
INSERT INTO eventsvc.event_categories (id, parent_id, name, slug, description, display_order)
SELECT 'a5eed000-0000-4000-8000-0000000000c1', c.id, 'Indie', 'seed-indie', 'Independent labels', 9
  FROM eventsvc.event_categories c WHERE c.slug = 'music';

SET ROLE eventsvc_user;
SET app.current_tenant_id = 'a5eed000-0000-4000-8000-000000000001';
SET app.current_user_id = 'seed-promoter';
SELECT to_jsonb(api.create_event(venue_id => 'a5eed000-0000-4000-8000-0000000000a1', name => 'Seed Rock Night',
       starts_at => date_trunc('hour', now()) + interval '40 days',
       ends_at => date_trunc('hour', now()) + interval '40 days 3 hours',
       category_id => (SELECT id FROM eventsvc.event_categories WHERE slug = 'rock'),
       short_description => 'Three bands on one stage', tags => ARRAY['rock', 'live'],
       metadata => '{"headliner": "The Amplifiers", "performers": ["Zed Quartet", {"name": "Mira Vale"}]}',
       sections => '[{"section_name": "Floor", "total_capacity": 100},
                     {"section_name": "Balcony", "total_capacity": 50}]')) ->> 'id' AS rock \gset
SELECT id AS floor FROM api.event_sections WHERE event_id = :'rock' AND section_name = 'Floor' \gset
SELECT id AS balcony FROM api.event_sections WHERE event_id = :'rock' AND section_name = 'Balcony' \gset
SELECT to_jsonb(api.create_pricing(event_id => :'rock', name => 'Floor GA', base_price => 4950, currency => 'USD',
       capacity_id => :'floor', service_fee => 350, tax_rate => 0.0825)) ->> 'id' AS tier_floor \gset
SELECT to_jsonb(api.create_pricing(event_id => :'rock', name => 'Balcony', base_price => 39900, currency => 'NOK',
       capacity_id => :'balcony')) ->> 'id' AS tier_balcony \gset
SELECT to_jsonb(api.publish_event(:'rock')) ->> 'status' AS status \gset
SELECT to_jsonb(api.transition_event(:'rock', 'ON_SALE')) ->> 'status' AS status \gset

SET app.current_user_id = 'buyer-1';
SELECT to_jsonb(api.reserve_capacity(:'floor', 4, pricing_id => :'tier_floor')) ->> 'id' AS h1 \gset
SELECT to_jsonb(api.confirm_hold(:'h1')) ->> 'state' AS state \gset
SET app.current_user_id = 'buyer-2';
SELECT to_jsonb(api.reserve_capacity(:'floor', 2, pricing_id => :'tier_floor', hold_seconds => 1800)) ->> 'id' AS h2 \gset
SET app.current_user_id = 'buyer-3';
SELECT to_jsonb(api.reserve_capacity(:'floor', 1, pricing_id => :'tier_floor')) ->> 'id' AS h3 \gset
SELECT to_jsonb(api.release_hold(:'h3')) ->> 'state' AS state \gset
SET app.current_user_id = 'buyer-4';
SELECT to_jsonb(api.reserve_capacity(:'balcony', 41, pricing_id => :'tier_balcony', hold_seconds => 1800)) ->> 'id' AS h4 \gset

SET app.current_user_id = 'seed-promoter';
SELECT to_jsonb(api.set_event_content(:'rock', 'en', 'A long night of loud music.', '["three bands", "late bar"]')) IS NOT NULL AS ok \gset
SELECT to_jsonb(api.set_event_faqs(:'rock', '[{"question": "Doors?", "answer": "19:00"},
                                               {"question": "Age?", "answer": "16+"}]')) IS NOT NULL AS ok \gset
SET app.current_user_id = 'fan-1';
SELECT to_jsonb(api.submit_review(:'rock', 5, 'Loud', 'Great')) ->> 'id' AS r1 \gset
SET app.current_user_id = 'fan-2';
SELECT to_jsonb(api.submit_review(:'rock', 3, 'Fine', 'Too loud')) ->> 'id' AS r2 \gset
SET app.current_user_id = 'fan-3';
SELECT to_jsonb(api.submit_review(:'rock', 1, 'No', 'Pending forever')) ->> 'id' AS r3 \gset
SELECT to_jsonb(api.record_view(:'rock')) IS NOT NULL AS ok \gset
SELECT to_jsonb(api.record_view(:'rock')) IS NOT NULL AS ok \gset

SET app.current_user_id = 'seed-promoter';
SELECT to_jsonb(api.create_event(venue_id => 'a5eed000-0000-4000-8000-0000000000a1', name => 'Seed Weekly Class',
       event_type => 'recurring', starts_at => date_trunc('hour', now()) + interval '50 days',
       ends_at => date_trunc('hour', now()) + interval '50 days 2 hours',
       sections => '[{"section_name": "Studio", "total_capacity": 20}]')) ->> 'id' AS weekly \gset
SELECT to_jsonb(api.create_schedule(:'weekly', date_trunc('hour', now()) + interval '50 days',
       date_trunc('hour', now()) + interval '50 days 2 hours', 'Europe/Berlin', 'FREQ=WEEKLY;COUNT=4')) ->> 'id' AS sched \gset

SELECT to_jsonb(api.create_event(venue_id => 'a5eed000-0000-4000-8000-0000000000a1', name => 'Seed Cancelled Gala',
       starts_at => date_trunc('hour', now()) + interval '60 days',
       ends_at => date_trunc('hour', now()) + interval '60 days 4 hours',
       sections => '[{"section_name": "Hall", "total_capacity": 300}]')) ->> 'id' AS gala \gset
SELECT to_jsonb(api.publish_event(:'gala')) ->> 'status' AS status \gset
SELECT to_jsonb(api.cancel_event(:'gala', 'Seed: the band split up')) IS NOT NULL AS ok \gset

SELECT to_jsonb(api.create_event(venue_id => 'a5eed000-0000-4000-8000-0000000000a1', name => 'Seed Draft',
       category_id => 'a5eed000-0000-4000-8000-0000000000c1',
       starts_at => date_trunc('hour', now()) + interval '70 days',
       ends_at => date_trunc('hour', now()) + interval '70 days 2 hours',
       idempotency_key => 'seed-draft-1')) ->> 'id' AS draft \gset
RESET ROLE;

-- a tenant admin moderates; moving the sold-out show needs a confirmation token
SET ROLE eventsvc_admin;
SET app.current_user_id = 'seed-admin';
SELECT to_jsonb(api.moderate_review(:'r1', 'approved')) IS NOT NULL AS ok \gset
SELECT to_jsonb(api.moderate_review(:'r2', 'approved')) IS NOT NULL AS ok \gset
SELECT to_jsonb(api.postpone_event(:'rock', 'Seed: storm warning')) ->> 'status' AS status \gset
SELECT to_jsonb(api.reschedule_event(:'rock', date_trunc('hour', now()) + interval '41 days',
       date_trunc('hour', now()) + interval '41 days 3 hours', status => 'ON_SALE')) ->> 'token' AS token \gset
SELECT to_jsonb(api.reschedule_event(:'rock', date_trunc('hour', now()) + interval '41 days',
       date_trunc('hour', now()) + interval '41 days 3 hours', status => 'ON_SALE',
       confirmation_token => :'token')) ->> 'status' AS status \gset
RESET ROLE;

SET ROLE eventsvc_user;
SET app.current_tenant_id = 'b5eed000-0000-4000-8000-000000000001';
SET app.current_user_id = 'globex-promoter';
SELECT to_jsonb(api.create_event(venue_id => 'b5eed000-0000-4000-8000-0000000000a1', name => 'Seed Opera',
       starts_at => date_trunc('hour', now()) + interval '45 days',
       ends_at => date_trunc('hour', now()) + interval '45 days 3 hours',
       sections => '[{"section_name": "Stalls", "total_capacity": 20}]')) ->> 'id' AS opera \gset
SELECT to_jsonb(api.publish_event(:'opera')) ->> 'status' AS status \gset
SELECT to_jsonb(api.transition_event(:'opera', 'ON_SALE')) ->> 'status' AS status \gset
SET app.current_user_id = 'opera-fan';
SELECT to_jsonb(api.reserve_capacity((SELECT id FROM api.event_sections WHERE event_id = :'opera'), 3,
       hold_seconds => 1800)) ->> 'id' AS h5 \gset
RESET ROLE;
RESET app.current_tenant_id;

SET ROLE eventsvc_service;
SET app.current_user_id = 'auth-service';
SET app.scope = 'platform';   -- revocations are platform-wide (docs/tenancy.md)
SELECT to_jsonb(api.revoke_token('seed-jti-1', now() + interval '1 day')) IS NOT NULL AS ok \gset
RESET ROLE;
RESET app.current_user_id;
RESET app.scope;
SELECT eventsvc.cron_send_reminders('60 days') AS reminders \gset

-- Discovery, pgTAP: full-text search over name, description, performers and venue
-- name with ranking, filters and pagination; what each role sees; featured events;
-- the view counter leaves the event row alone; categories and metadata.
BEGIN;
SELECT plan(48);
GRANT ALL ON ALL TABLES IN SCHEMA pg_temp TO PUBLIC;
GRANT ALL ON ALL SEQUENCES IN SCHEMA pg_temp TO PUBLIC;

CREATE TEMP TABLE t AS SELECT
    eventsvc.create_tenant('Disc A', 'disc-a', '71111111-1111-4111-8111-111111111111') AS a,
    eventsvc.create_tenant('Disc B', 'disc-b', '72222222-2222-4222-8222-222222222222') AS b,
    eventsvc.create_tenant('Disc C', 'disc-c', '73333333-3333-4333-8333-333333333333') AS c;
UPDATE eventsvc.tenants SET is_active = false WHERE slug = 'disc-c';
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-000000000001', 'Harbour Amphitheatre', 5000),
    ('72222222-2222-4222-8222-222222222222', '7bbbbbbb-0000-4000-8000-000000000001', 'Cellar Club', 200),
    ('73333333-3333-4333-8333-333333333333', '7ccccccc-0000-4000-8000-000000000001', 'Closed Venue', 200);
-- Names say what each one is for. e1..e4 public and published in tenant A unless noted.
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, short_description, description, status, visibility,
                             starts_at, ends_at, primary_category_id, is_virtual, virtual_event_url,
                             is_featured, featured_order, slug) VALUES
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-0000000000e1', '7aaaaaaa-0000-4000-8000-000000000001',
     'Granite Thunder Live', 'Stadium rock', 'An evening of heavy guitars', 'ON_SALE', 'PUBLIC',
     '2031-06-01 19:00+00', '2031-06-01 23:00+00', (SELECT id FROM eventsvc.event_categories WHERE slug = 'rock'),
     false, NULL, true, 2, 'granite-thunder-live'),
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-0000000000e2', '7aaaaaaa-0000-4000-8000-000000000001',
     'Sunday Jazz Brunch', 'Brunch with a trio', 'Smooth jazz, and a short rock encore at the end', 'PUBLISHED', 'PUBLIC',
     '2031-06-08 11:00+00', '2031-06-08 14:00+00', (SELECT id FROM eventsvc.event_categories WHERE slug = 'jazz'),
     false, NULL, true, 1, 'sunday-jazz-brunch'),
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-0000000000e3', '7aaaaaaa-0000-4000-8000-000000000001',
     'Rock Workshop Draft', NULL, 'Not published yet', 'DRAFT', 'PUBLIC',
     '2031-07-01 19:00+00', '2031-07-01 21:00+00', (SELECT id FROM eventsvc.event_categories WHERE slug = 'rock'),
     false, NULL, true, 3, 'rock-workshop-draft'),
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-0000000000e4', '7aaaaaaa-0000-4000-8000-000000000001',
     'Private Rock Party', NULL, NULL, 'ON_SALE', 'PRIVATE',
     '2031-07-02 19:00+00', '2031-07-02 21:00+00', NULL, false, NULL, false, NULL, 'private-rock-party'),
    ('72222222-2222-4222-8222-222222222222', '7bbbbbbb-0000-4000-8000-0000000000e1', '7bbbbbbb-0000-4000-8000-000000000001',
     'Online Rock Masterclass', NULL, 'Streamed', 'ON_SALE', 'PUBLIC',
     '2031-06-15 18:00+00', '2031-06-15 20:00+00', (SELECT id FROM eventsvc.event_categories WHERE slug = 'workshop'),
     true, 'https://stream.example.com/rock', false, NULL, 'online-rock-masterclass'),
    ('73333333-3333-4333-8333-333333333333', '7ccccccc-0000-4000-8000-0000000000e1', '7ccccccc-0000-4000-8000-000000000001',
     'Rock of an Inactive Tenant', NULL, NULL, 'ON_SALE', 'PUBLIC',
     '2031-06-20 18:00+00', '2031-06-20 20:00+00', NULL, false, NULL, true, 0, 'rock-inactive');
INSERT INTO eventsvc.event_metadata (tenant_id, event_id, performers, headliner, supporting_acts) VALUES
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-0000000000e1',
     '[{"name": "Velvet Avalanche"}, "Copper Mountain"]', 'Velvet Avalanche', '{"Quiet Hours"}');
INSERT INTO eventsvc.event_pricing (tenant_id, event_id, name, currency, base_price) VALUES
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-0000000000e1', 'GA', 'USD', 8900),
    ('71111111-1111-4111-8111-111111111111', '7aaaaaaa-0000-4000-8000-0000000000e2', 'Brunch', 'USD', 4500),
    ('72222222-2222-4222-8222-222222222222', '7bbbbbbb-0000-4000-8000-0000000000e1', 'Stream', 'EUR', 1500);

-- ---------------------------------------------------------------- anonymous
SET LOCAL ROLE eventsvc_anon;
SELECT results_eq($$SELECT name FROM api.search_events('rock')$$,
    $$VALUES ('Online Rock Masterclass'), ('Granite Thunder Live'), ('Sunday Jazz Brunch')$$,
    'anonymous: published PUBLIC events of active tenants only, ranked name (A) > short description (B) > description (C)');
SELECT ok((SELECT bool_and(rank > 0) FROM api.search_events('rock')), 'every hit has a positive rank');
SELECT results_eq($$SELECT name FROM api.search_events('velvet avalanche')$$, $$VALUES ('Granite Thunder Live')$$,
    'performers are searchable');
SELECT results_eq($$SELECT name FROM api.search_events('"quiet hours"')$$, $$VALUES ('Granite Thunder Live')$$,
    'supporting acts are searchable (phrase)');
SELECT results_eq($$SELECT name FROM api.search_events('harbour')$$,
    $$VALUES ('Granite Thunder Live'), ('Sunday Jazz Brunch')$$, 'the venue name is searchable');
SELECT results_eq($$SELECT name FROM api.search_events('rock -jazz')$$,
    $$VALUES ('Online Rock Masterclass'), ('Granite Thunder Live')$$, 'web-search syntax: exclusion');
SELECT is((SELECT count(*)::int FROM api.search_events('workshop draft')), 0, 'a draft is invisible to the public');
SELECT is((SELECT count(*)::int FROM api.search_events('private')), 0, 'a PRIVATE event is invisible to the public');
SELECT is((SELECT count(*)::int FROM api.search_events('inactive')), 0, 'events of an inactive tenant are invisible');
SELECT results_eq($$SELECT name FROM api.search_events(category => 'music')$$,
    $$VALUES ('Granite Thunder Live'), ('Sunday Jazz Brunch')$$, 'a category includes its subcategories, by start time');
SELECT results_eq($$SELECT name FROM api.search_events(category => 'jazz')$$, $$VALUES ('Sunday Jazz Brunch')$$,
    'a subcategory alone');
SELECT results_eq($$SELECT name FROM api.search_events(is_virtual => true)$$, $$VALUES ('Online Rock Masterclass')$$,
    'virtual filter');
SELECT results_eq($$SELECT name FROM api.search_events(min_price => 4000, max_price => 5000)$$, $$VALUES ('Sunday Jazz Brunch')$$,
    'price range in minor units');
SELECT results_eq($$SELECT name FROM api.search_events(min_price => 5000)$$, $$VALUES ('Granite Thunder Live')$$,
    'minimum price alone');
SELECT results_eq($$SELECT name FROM api.search_events(starts_from => '2031-06-05', starts_before => '2031-06-10')$$,
    $$VALUES ('Sunday Jazz Brunch')$$, 'date range');
SELECT results_eq($$SELECT name FROM api.search_events(venue_id => '7bbbbbbb-0000-4000-8000-000000000001')$$,
    $$VALUES ('Online Rock Masterclass')$$, 'venue filter');
SELECT results_eq($$SELECT name FROM api.search_events('rock', page_limit => 1, page_offset => 1)$$,
    $$VALUES ('Granite Thunder Live')$$, 'pagination follows the ranking');
SELECT results_eq($$SELECT min_price, currency FROM api.search_events('granite')$$, $$VALUES (8900::bigint, 'USD')$$,
    'the card carries the lowest price and its currency');
SELECT throws_ok($$SELECT * FROM api.search_events(page_limit => 1000)$$, '22023', 'page_limit must be from 1 to 100',
    'page_limit is bounded');
SELECT throws_ok($$SELECT * FROM api.search_events(category => 'no-such')$$, '22023', 'unknown category "no-such"',
    'an unknown category is an error, not an empty page');
SELECT throws_ok($$SELECT * FROM api.search_events(min_price => 10, max_price => 5)$$, '22023', NULL,
    'an inverted price range is an error');
SELECT results_eq($$SELECT name FROM api.featured_events()$$,
    $$VALUES ('Sunday Jazz Brunch'), ('Granite Thunder Live')$$,
    'featured: visible ones only, in featured_order (draft and inactive tenant left out)');
SELECT results_eq($$SELECT name FROM api.search_events('rock', tenant_id => '72222222-2222-4222-8222-222222222222')$$,
    $$VALUES ('Online Rock Masterclass')$$, 'tenant_id narrows the public catalogue to one tenant');
SELECT is((SELECT count(*)::int FROM api.search_events(tenant_id => '73333333-3333-4333-8333-333333333333')), 0,
    'tenant_id never widens it (an inactive tenant stays invisible)');
SELECT is((SELECT count(*)::int FROM api.featured_events(tenant_id => '72222222-2222-4222-8222-222222222222')), 0,
    'featured events of one tenant');
SELECT is((SELECT count(*)::int FROM api.search_events('!!!')), 0, 'a query of punctuation only matches nothing');
SELECT throws_ok($$SELECT * FROM eventsvc.events$$, '42501', NULL, 'the anonymous role still has no table rights');
RESET ROLE;

-- ---------------------------------------------------------------- tenant users
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '71111111-1111-4111-8111-111111111111';
SELECT results_eq($$SELECT name FROM api.search_events('rock')$$,
    $$VALUES ('Rock Workshop Draft'), ('Private Rock Party'), ('Granite Thunder Live'), ('Sunday Jazz Brunch')$$,
    'a tenant user sees all of its tenant (drafts, private) and nothing of other tenants');
SELECT is((SELECT count(*)::int FROM api.search_events('rock', tenant_id => '72222222-2222-4222-8222-222222222222')), 0,
    'a tenant user cannot reach another tenant through tenant_id');
SELECT results_eq($$SELECT name FROM api.featured_events()$$,
    $$VALUES ('Sunday Jazz Brunch'), ('Granite Thunder Live'), ('Rock Workshop Draft')$$,
    'a tenant user sees its own featured events, drafts included');
-- the search document follows the event, its metadata and its venue (changed by the
-- superuser: tenant roles write through the api only, and the event is on sale)
RESET ROLE;
UPDATE eventsvc.events SET name = 'Basalt Thunder Live' WHERE id = '7aaaaaaa-0000-4000-8000-0000000000e1';
SET LOCAL ROLE eventsvc_user;
SELECT results_eq($$SELECT name FROM api.search_events('basalt')$$, $$VALUES ('Basalt Thunder Live')$$,
    'a renamed event is found under its new name');
SELECT is((SELECT count(*)::int FROM api.search_events('granite')), 0, 'and no longer under the old one');
SELECT api.set_event_metadata('7aaaaaaa-0000-4000-8000-0000000000e1', performers => '["Glass Orchard"]') IS NOT NULL AS set \gset
SELECT is((SELECT count(*)::int FROM api.search_events('glass orchard')), 1, 'changed performers are searchable');
RESET ROLE;
UPDATE eventsvc.venues SET name = 'Lighthouse Bowl' WHERE id = '7aaaaaaa-0000-4000-8000-000000000001';
SET LOCAL ROLE eventsvc_anon;
SELECT is((SELECT count(*)::int FROM api.search_events('lighthouse')), 2, 'a renamed venue is searchable');
SELECT throws_ok($$SELECT * FROM api.search_events('rock', page_offset => -1)$$, '22023', NULL, 'a negative offset');
RESET ROLE;

SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '73333333-3333-4333-8333-333333333333';
SELECT throws_ok($$SELECT * FROM api.search_events('rock')$$, '42501', NULL, 'a user of an inactive tenant is refused');
RESET ROLE;

-- ---------------------------------------------------------------- view counter
SELECT is((SELECT version FROM eventsvc.events WHERE id = '7aaaaaaa-0000-4000-8000-0000000000e2'), 1, 'version before views');
CREATE TEMP TABLE audit_before AS SELECT count(*) AS n FROM eventsvc.event_audit_log;
SET LOCAL ROLE eventsvc_anon;
SELECT api.record_view('7aaaaaaa-0000-4000-8000-0000000000e2') FROM generate_series(1, 25);
SELECT is(api.event_view_count('7aaaaaaa-0000-4000-8000-0000000000e2'), 25::bigint, '25 views counted');
SELECT throws_ok($$SELECT api.record_view('7aaaaaaa-0000-4000-8000-0000000000e3')$$, 'PT404', NULL,
    'a view of a draft is refused for the public');
SELECT throws_ok($$SELECT api.record_view(gen_random_uuid())$$, 'PT404', NULL, 'a view of a missing event is refused');
RESET ROLE;
SELECT is((SELECT version FROM eventsvc.events WHERE id = '7aaaaaaa-0000-4000-8000-0000000000e2'), 1,
    'views do not bump the event version');
SELECT is((SELECT count(*) FROM eventsvc.event_audit_log), (SELECT n FROM audit_before), 'views write no audit entries');

-- ---------------------------------------------------------------- categories and metadata
SET LOCAL ROLE eventsvc_anon;
SELECT is((SELECT count(*)::int FROM api.categories), (SELECT count(*)::int FROM api.category_tree()),
    'the tree lists every active category once');
SELECT results_eq($$SELECT slug, depth, path FROM api.category_tree() WHERE path[1] = 'music' LIMIT 2$$,
    $$VALUES ('music', 0, ARRAY['music']), ('rock', 1, ARRAY['music', 'rock'])$$,
    'the tree is depth-first with slug paths');
SELECT is(api.event_metadata('7aaaaaaa-0000-4000-8000-0000000000e1') ->> 'headliner', 'Velvet Avalanche',
    'metadata of a visible event is public');
RESET ROLE;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '71111111-1111-4111-8111-111111111111';
SELECT throws_ok($$SELECT api.set_event_metadata('7aaaaaaa-0000-4000-8000-0000000000e2',
                                                 custom_fields => '{"Bad Key": 1}')$$, '22023',
    'invalid custom_fields: a key is not a lower-case identifier of 1 to 64 characters', 'custom field keys are checked');
RESET ROLE;
SELECT throws_ok($$UPDATE eventsvc.event_metadata SET custom_fields = '{"nested": {"a": 1}}'$$, '22023',
    'invalid custom_fields: values must be scalars, not objects or arrays', 'the check holds for direct writes too (a DBA''s)');
SET LOCAL ROLE eventsvc_user;
SELECT is(api.set_event_metadata('7aaaaaaa-0000-4000-8000-0000000000e2', performers => '["Trio Nord"]',
                                 custom_fields => '{"dress_code": "smart", "min_age": 18}') -> 'custom_fields',
    '{"dress_code": "smart", "min_age": 18}'::jsonb, 'valid custom fields are stored');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

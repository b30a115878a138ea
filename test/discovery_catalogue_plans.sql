-- Discovery, pgTAP: the public catalogue (a table of the published rows) has an
-- index for each of its filters and orders (keyset pages, category, tag, tenant,
-- featured, id) and follows its sources (events, tenants, venues, categories);
-- events have an index for lookups by id; the search document is the one stored
-- copy of an event's words, with listed and starts_at kept by the event trigger.
-- Plans are read with sequential scans off (and bitmap scans off where the index
-- must also give the order): the test data is small, so the question asked is
-- "can the index serve this query?" (a changed predicate or view that breaks the
-- index's use fails here), not the planner's choice at scale (bench/scale_run
-- measures that, docs/performance.md shows the plans).
BEGIN;
SELECT plan(29);

SELECT eventsvc.create_tenant('Plans', 'plans', '7e111111-1111-4111-8111-111111111111');
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('7e111111-1111-4111-8111-111111111111', '7eaaaaaa-0000-4000-8000-000000000001', 'Plan Hall', 5000);
-- The fixtures and every change to them below are a DBA's direct writes in the state the
-- test needs (events on sale, deleted, moved years ahead): import mode (docs/tenancy.md
-- "Write rules").
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, visibility, starts_at, ends_at,
                             primary_category_id, tags, is_featured, featured_order)
SELECT '7e111111-1111-4111-8111-111111111111', ('7eaaaaaa-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
       '7eaaaaaa-0000-4000-8000-000000000001', 'Plan night ' || i, 'plan-night-' || i,
       CASE WHEN i % 4 = 0 THEN 'DRAFT' ELSE 'ON_SALE' END::eventsvc.event_status, 'PUBLIC',
       '2031-01-01 20:00+00'::timestamptz + i * interval '1 day',
       '2031-01-01 23:00+00'::timestamptz + i * interval '1 day',
       (SELECT id FROM eventsvc.event_categories WHERE slug = CASE WHEN i % 400 = 0 THEN 'jazz' ELSE 'rock' END),
       ARRAY['live', 'tag' || i % 50],
       i % 50 = 0, i
  FROM generate_series(1, 2000) i;
ANALYZE eventsvc.events;

CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SET LOCAL enable_seqscan = off;

-- ---------------------------------------------------------------- public_events
SELECT matches(pg_temp.plan_of($$SELECT count(*) FROM api.public_events WHERE tags @> '{tag1}'$$),
    'Bitmap Index Scan on idx_public_events_tags\s+Index Cond: \(tags @> ',
    'by tag (tags=cs.{X}): the catalogue''s tag index');
SET LOCAL enable_bitmapscan = off;
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM api.public_events
     WHERE starts_at >= '2031-01-10 20:00+00'
       AND (starts_at > '2031-01-10 20:00+00'
            OR (starts_at = '2031-01-10 20:00+00' AND id > '7eaaaaaa-0000-4000-8000-000000000009'))
     ORDER BY starts_at, id LIMIT 20$$),
    '^Limit\s+->  Index Scan using idx_public_events_starts on public_events\s+Index Cond: \(starts_at >= ',
    'a keyset page (order=starts_at,id&starts_at=gte.X&or=(...)) reads 20 rows from its cursor, no sort');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM api.public_events WHERE category = 'jazz' AND starts_at > '2031-01-05' ORDER BY starts_at, id LIMIT 20$$),
    '^Limit\s+->  Index Scan using idx_public_events_category on public_events\s+Index Cond: \(\(category = ''jazz''::text\) AND \(starts_at > ',
    'by category slug (category=eq.C), in start order: the category index, no sort');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM api.public_events WHERE primary_category_id = (SELECT id FROM eventsvc.event_categories WHERE slug = 'jazz')
       AND starts_at > '2031-01-05' ORDER BY starts_at, id LIMIT 20$$),
    'Index Scan using idx_public_events_category_id on public_events\s+Index Cond: \(\(primary_category_id = \$0\) AND \(starts_at > ',
    'by category id, in start order: its index');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM api.public_events WHERE tenant_id = '7e111111-1111-4111-8111-111111111111'
       AND starts_at > '2031-01-05' ORDER BY starts_at, id LIMIT 20$$),
    '^Limit\s+->  Index Scan using idx_public_events_tenant on public_events',
    'a tenant''s storefront in start order: its index, no sort');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM api.public_events WHERE is_featured ORDER BY featured_order, starts_at, id LIMIT 20$$),
    '^Limit\s+->  Index Scan using idx_public_events_featured on public_events',
    'featured, in featured order: the featured index, no sort');
SELECT matches(pg_temp.plan_of($$SELECT * FROM api.public_events WHERE id = '7eaaaaaa-0000-4000-8000-000000000003'$$),
    'Index Scan using idx_public_events_id on public_events\s+Index Cond: \(id = ',
    'one event by id: one index probe');
SET LOCAL ROLE eventsvc_anon;
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM api.public_events WHERE starts_at >= '2031-01-10 20:00+00' ORDER BY starts_at, id LIMIT 20$$),
    '^Limit\s+->  Index Scan using idx_public_events_starts',
    'as the anonymous role too: its own right on the table, no owner rights in between');
RESET ROLE;

-- ---------------------------------------------------------------- the catalogue follows its sources
SELECT is((SELECT count(*)::int FROM api.public_events WHERE tenant_id = '7e111111-1111-4111-8111-111111111111'),
    1500, 'the catalogue holds the tenant''s published events (not its 500 drafts)');
SELECT set_eq($$SELECT * FROM api.public_events$$, $$SELECT * FROM eventsvc.public_event_rows$$,
    'row for row what its definition gives');
UPDATE eventsvc.venues SET name = 'Plan Arena' WHERE id = '7eaaaaaa-0000-4000-8000-000000000001';
SELECT is((SELECT array_agg(DISTINCT venue_name) FROM api.public_events WHERE tenant_id = '7e111111-1111-4111-8111-111111111111'),
    ARRAY['Plan Arena'], 'a venue renamed: its events show the new name');
UPDATE eventsvc.tenants SET is_active = false WHERE id = '7e111111-1111-4111-8111-111111111111';
SELECT is((SELECT count(*)::int FROM api.public_events WHERE tenant_id = '7e111111-1111-4111-8111-111111111111'),
    0, 'a tenant deactivated: its events leave the catalogue');
UPDATE eventsvc.tenants SET is_active = true WHERE id = '7e111111-1111-4111-8111-111111111111';
SELECT is((SELECT count(*)::int FROM api.public_events WHERE tenant_id = '7e111111-1111-4111-8111-111111111111'),
    1500, 'reactivated: they come back');
UPDATE eventsvc.event_categories SET slug = 'jazz-and-blues' WHERE slug = 'jazz';
SELECT is((SELECT count(*)::int FROM api.public_events WHERE category = 'jazz-and-blues'),
    (SELECT count(*)::int FROM eventsvc.public_event_rows WHERE category = 'jazz-and-blues'),
    'a category renamed: its events show the new slug');
UPDATE eventsvc.event_categories SET slug = 'jazz' WHERE slug = 'jazz-and-blues';

-- ---------------------------------------------------------------- lookups by id
SELECT matches(pg_temp.plan_of($$SELECT tenant_id FROM eventsvc.events WHERE id = '7eaaaaaa-0000-4000-8000-000000000003'$$),
    'Index (Only )?Scan using idx_events_id',
    'eventsvc.visible_event_tenant and the internal lookups find an event by id through idx_events_id');

-- ---------------------------------------------------------------- the search document
SELECT hasnt_column('eventsvc', 'events', 'search_vector', 'events keep no second copy of their words');
SELECT is((SELECT count(*)::int FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
            WHERE a.amname = 'gin' AND i.indrelid IN ('eventsvc.events'::regclass, 'eventsvc.event_search_documents'::regclass)
              AND pg_get_indexdef(i.indexrelid) LIKE '%document%'),
          1, 'one full-text index, on the search document');
SELECT results_eq($$SELECT listed, starts_at FROM eventsvc.event_search_documents
                     WHERE event_id = '7eaaaaaa-0000-4000-8000-000000000001'$$,
    $$VALUES (true, '2031-01-02 20:00+00'::timestamptz)$$, 'a published public event''s document is listed, with its start');
SELECT is((SELECT listed FROM eventsvc.event_search_documents WHERE event_id = '7eaaaaaa-0000-4000-8000-000000000004'),
    false, 'a draft''s document is not listed');
UPDATE eventsvc.events SET status = 'PUBLISHED' WHERE id = '7eaaaaaa-0000-4000-8000-000000000004';
SELECT is((SELECT listed FROM eventsvc.event_search_documents WHERE event_id = '7eaaaaaa-0000-4000-8000-000000000004'),
    true, 'publishing lists it');
SELECT is((SELECT status FROM api.public_events WHERE id = '7eaaaaaa-0000-4000-8000-000000000004'),
    'PUBLISHED'::eventsvc.event_status, 'and puts it in the catalogue');
UPDATE eventsvc.events SET visibility = 'PRIVATE' WHERE id = '7eaaaaaa-0000-4000-8000-000000000004';
SELECT is((SELECT listed FROM eventsvc.event_search_documents WHERE event_id = '7eaaaaaa-0000-4000-8000-000000000004'),
    false, 'making it private unlists it');
SELECT is((SELECT count(*)::int FROM api.public_events WHERE id = '7eaaaaaa-0000-4000-8000-000000000004'),
    0, 'and takes it out of the catalogue');
UPDATE eventsvc.events SET deleted_at = now() WHERE id = '7eaaaaaa-0000-4000-8000-000000000001';
SELECT is((SELECT listed FROM eventsvc.event_search_documents WHERE event_id = '7eaaaaaa-0000-4000-8000-000000000001'),
    false, 'deleting it unlists it');
SELECT is((SELECT count(*)::int FROM api.public_events WHERE id = '7eaaaaaa-0000-4000-8000-000000000001'),
    0, 'and takes it out of the catalogue');
DELETE FROM eventsvc.events WHERE id = '7eaaaaaa-0000-4000-8000-000000000030';
SELECT is((SELECT count(*)::int FROM api.public_events WHERE id = '7eaaaaaa-0000-4000-8000-000000000030'),
    0, 'an event removed for good leaves the catalogue');
UPDATE eventsvc.events SET starts_at = '2037-01-02 20:00+00', ends_at = '2037-01-02 23:00+00'
 WHERE id = '7eaaaaaa-0000-4000-8000-000000000002';
SELECT is((SELECT starts_at FROM eventsvc.event_search_documents WHERE event_id = '7eaaaaaa-0000-4000-8000-000000000002'),
    '2037-01-02 20:00+00'::timestamptz, 'moving it moves the document''s start');
SET LOCAL ROLE eventsvc_anon;
SELECT results_eq($$SELECT slug FROM api.search_events('plan', starts_from => '2031-01-01', starts_before => '2031-01-07')$$,
    $$VALUES ('plan-night-3'), ('plan-night-5')$$,
    'the public''s search by words and dates: listed documents only (not the deleted 1, the private 4, the moved 2), ranked then by start');
SELECT results_eq($$SELECT slug FROM api.search_events('plan', starts_from => '2036-12-31')$$,
    $$VALUES ('plan-night-2')$$,
    'and by the document''s start');

SELECT * FROM finish();
ROLLBACK;

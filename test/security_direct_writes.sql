-- Tenant roles write tables only through the api functions. eventsvc_user and
-- eventsvc_admin hold no INSERT, UPDATE or DELETE on any table; each probe of the issue
-- (an event inserted ON_SALE, a past start, a capacity above the venue, a POSIX zone,
-- a date moved after sales, a live event deleted, a PDA and blockchain status set, a
-- section with holds moved, another user's approved review deleted, 500 FAQs, a 2 MB
-- javascript: media link) is refused as a direct write, and the same work through the
-- api still succeeds. Every api writer runs with the owner's rights and a pinned
-- search_path.
--
-- Run against the code before this change (main at 244c604), tests 1-16 and 23 failed
-- and the run stopped at test 24 (api.delete_review did not exist): eventsvc_user held
-- INSERT, UPDATE and DELETE on the eight content tables and every probe was accepted
-- (test 16 then failed only because the probes had already changed the event).
BEGIN;
SELECT plan(28);

CREATE TEMP TABLE tenants AS SELECT
    eventsvc.create_tenant('Direct A', 'direct-a', 'd1111111-1111-4111-8111-1111111111aa') AS a;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('d1111111-1111-4111-8111-1111111111aa', 'd1111111-0000-4000-8000-0000000000a1', 'Direct Hall', 1000);

-- ---------------------------------------------------------------- the grants
SELECT is((SELECT array_agg(format('%s %s %s', r, t, p) ORDER BY r, t, p)
             FROM unnest(ARRAY['eventsvc_user', 'eventsvc_admin', 'eventsvc_anon', 'eventsvc_worker']) r,
                  unnest(ARRAY['events', 'event_schedules', 'event_capacity', 'event_pricing', 'event_metadata',
                               'event_content', 'event_faqs', 'event_reviews', 'capacity_holds', 'venues',
                               'tenants', 'outbox']) t,
                  unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
            WHERE has_table_privilege(r, 'eventsvc.' || t, p)),
          NULL, 'no tenant role (nor anon, nor the worker) may insert, update, delete or truncate a table');

-- The fixtures through the api, as the tenant's admin: an event on sale with a sold
-- seat, a draft, content, FAQs, a review by fan-1 approved by the admin.
SET LOCAL ROLE eventsvc_admin;
SET LOCAL app.current_tenant_id = 'd1111111-1111-4111-8111-1111111111aa';
SET LOCAL app.current_user_id = 'admin-1';
CREATE TEMP TABLE ev AS SELECT api.create_event(venue_id => 'd1111111-0000-4000-8000-0000000000a1', name => 'Live Show',
    starts_at => eventsvc.now() + interval '20 days', ends_at => eventsvc.now() + interval '20 days 2 hours',
    sections => '[{"section_name": "Floor", "total_capacity": 100}]') AS doc;
CREATE TEMP TABLE ev2 AS SELECT api.create_event(venue_id => 'd1111111-0000-4000-8000-0000000000a1', name => 'Draft Show',
    starts_at => eventsvc.now() + interval '30 days', ends_at => eventsvc.now() + interval '30 days 2 hours') AS doc;
GRANT SELECT ON ev, ev2 TO PUBLIC;
SELECT api.publish_event((doc ->> 'id')::uuid) IS NOT NULL AS p FROM ev \gset
SELECT api.transition_event((doc ->> 'id')::uuid, 'ON_SALE') IS NOT NULL AS s FROM ev \gset
SELECT to_jsonb(api.reserve_capacity((doc -> 'sections' -> 0 ->> 'id')::uuid, 2)) ->> 'id' AS hold FROM ev \gset
SELECT to_jsonb(api.confirm_hold(:'hold')) IS NOT NULL AS bought \gset
SELECT api.set_event_faqs((doc ->> 'id')::uuid, '[{"question": "Parking?", "answer": "Yes"}]') IS NOT NULL AS f FROM ev \gset
RESET ROLE;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'fan-1';
SELECT api.submit_review((doc ->> 'id')::uuid, 5, 'Great') ->> 'id' AS review FROM ev \gset
RESET ROLE;
SET LOCAL ROLE eventsvc_admin;
SELECT api.moderate_review(:'review', 'approved') IS NOT NULL AS approved \gset
RESET ROLE;

-- ---------------------------------------------------------------- the issue's probes, as a tenant user
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'fan-2';
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, status, starts_at, ends_at)
                   VALUES ('d1111111-1111-4111-8111-1111111111aa', 'd1111111-0000-4000-8000-0000000000a1', 'Jump', 'jump',
                           'ON_SALE', now() + interval '10 days', now() + interval '10 days 1 hour')$$,
                 '42501', NULL, 'an event inserted ON_SALE');
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, status, starts_at, ends_at)
                   VALUES ('d1111111-1111-4111-8111-1111111111aa', 'd1111111-0000-4000-8000-0000000000a1', 'Old', 'old',
                           'COMPLETED', now() - interval '10 days', now() - interval '9 days')$$,
                 '42501', NULL, 'an event inserted COMPLETED in the past');
SELECT throws_ok(format($$UPDATE eventsvc.events SET starts_at = now() - interval '1 day' WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev2)),
                 '42501', NULL, 'a start moved into the past');
SELECT throws_ok(format($$UPDATE eventsvc.events SET capacity = 5000 WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev2)),
                 '42501', NULL, 'a capacity above the venue''s');
SELECT throws_ok(format($$UPDATE eventsvc.events SET timezone = 'XYZ5' WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev2)),
                 '42501', NULL, 'a POSIX time zone');
SELECT throws_ok(format($$UPDATE eventsvc.events SET starts_at = starts_at + interval '1 day', ends_at = ends_at + interval '1 day' WHERE id = %L$$,
                        (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, 'dates moved after sales without the confirmation flow');
SELECT throws_ok(format($$DELETE FROM eventsvc.events WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, 'a live event deleted');
SELECT throws_ok(format($$UPDATE eventsvc.events SET event_pda = '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU',
                                                     blockchain_status = 'synced' WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, 'event_pda and blockchain_status set');
SELECT throws_ok(format($$UPDATE eventsvc.event_capacity SET event_id = %L WHERE event_id = %L$$,
                        (SELECT doc ->> 'id' FROM ev2), (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, 'a section with holds moved to another event');
SELECT throws_ok(format($$DELETE FROM eventsvc.event_reviews WHERE id = %L$$, :'review'),
                 '42501', NULL, 'another user''s approved review deleted');
SELECT throws_ok(format($$INSERT INTO eventsvc.event_faqs (tenant_id, event_id, position, question, answer)
                          SELECT 'd1111111-1111-4111-8111-1111111111aa', %L, g, 'Q' || g, 'A' FROM generate_series(1, 500) g$$,
                        (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, '500 FAQs');
SELECT throws_ok(format($$INSERT INTO eventsvc.event_content (tenant_id, event_id, locale, media)
                          VALUES ('d1111111-1111-4111-8111-1111111111aa', %L, 'fr',
                                  jsonb_build_array('javascript:' || repeat('a', 2000000)))$$, (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, 'a 2 MB javascript: media link');
SELECT throws_ok(format($$INSERT INTO eventsvc.event_pricing (tenant_id, event_id, name, base_price)
                          VALUES ('d1111111-1111-4111-8111-1111111111aa', %L, 'Free', 0)$$, (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, 'a price tier written directly');
SELECT throws_ok(format($$UPDATE eventsvc.event_metadata SET headliner = 'Someone' WHERE event_id = %L$$, (SELECT doc ->> 'id' FROM ev)),
                 '42501', NULL, 'metadata written directly');
RESET ROLE;

-- ---------------------------------------------------------------- the api, which is the way
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'editor-1';
SELECT lives_ok(format($$SELECT api.update_event(%L, 1, '{"short_description": "Now with a support act"}')$$,
                       (SELECT doc ->> 'id' FROM ev2)), 'api.update_event');
SELECT lives_ok(format($$SELECT api.create_section(%L, 'Balcony', 50)$$, (SELECT doc ->> 'id' FROM ev2)), 'api.create_section');
SELECT lives_ok(format($$SELECT api.create_pricing(%L, 'General', 4500)$$, (SELECT doc ->> 'id' FROM ev2)), 'api.create_pricing');
SELECT lives_ok(format($$SELECT api.create_schedule(%L, eventsvc.now() + interval '31 days', eventsvc.now() + interval '31 days 1 hour')$$,
                       (SELECT doc ->> 'id' FROM ev2)), 'api.create_schedule');
SELECT lives_ok(format($$SELECT api.set_event_content(%L, 'en', 'Long text', '["One"]',
                                                        '[{"url": "https://cdn.example.com/a.jpg", "type": "image"}]')$$,
                       (SELECT doc ->> 'id' FROM ev2)), 'api.set_event_content');
SELECT lives_ok(format($$SELECT api.set_event_faqs(%L, '[{"question": "Doors?", "answer": "19:00"}]')$$,
                       (SELECT doc ->> 'id' FROM ev2)), 'api.set_event_faqs');
SELECT lives_ok(format($$SELECT api.set_event_metadata(%L, headliner => 'The Band')$$, (SELECT doc ->> 'id' FROM ev2)),
                'api.set_event_metadata');
SELECT throws_ok(format($$SELECT api.delete_review(%L)$$, :'review'), '42501',
                 'a review can only be deleted by its author or a tenant admin', 'api.delete_review: not another user''s review');
SET LOCAL app.current_user_id = 'fan-1';
SELECT is(api.delete_review(:'review') ->> 'deleted', 'true', 'api.delete_review: the author deletes their own');
SELECT is((SELECT count(*)::int FROM eventsvc.content_audit_log WHERE content = 'event_reviews' AND action = 'DELETE'
              AND actor_id = 'fan-1'), 1, 'and the deletion is audited with its author');
RESET ROLE;

-- ---------------------------------------------------------------- how the api writers run
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND p.provolatile = 'v'
              AND has_function_privilege('eventsvc_user', p.oid, 'EXECUTE')
              AND NOT p.prosecdef AND p.proname <> 'reserve_capacity'
              AND p.oid <> 'api.create_event'::regproc),
          NULL, 'every api writer a tenant user may call runs with the owner''s rights');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'eventsvc.event_create(jsonb, text)'::regprocedure),
          'api.create_event writes through eventsvc.event_create, which runs with the owner''s rights');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace IN ('api'::regnamespace, 'eventsvc'::regnamespace) AND p.prosecdef
              AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)),
          NULL, 'and each of them pins search_path = pg_catalog, pg_temp');

SELECT * FROM finish();
ROLLBACK;

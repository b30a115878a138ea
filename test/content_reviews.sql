-- Rich content, pgTAP: descriptions per locale with fallback, ordered FAQs,
-- reviews (rating 1..5, one per user per event, moderation by admins only, only
-- approved ones public) and the rating summary kept exact by trigger.
BEGIN;
SELECT plan(40);
GRANT ALL ON ALL TABLES IN SCHEMA pg_temp TO PUBLIC;
GRANT ALL ON ALL SEQUENCES IN SCHEMA pg_temp TO PUBLIC;

CREATE TEMP TABLE t AS SELECT
    eventsvc.create_tenant('Content A', 'content-a', '81111111-1111-4111-8111-111111111111') AS a,
    eventsvc.create_tenant('Content B', 'content-b', '82222222-2222-4222-8222-222222222222') AS b;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-000000000001', 'Content Hall', 100),
    ('82222222-2222-4222-8222-222222222222', '8bbbbbbb-0000-4000-8000-000000000001', 'Other Hall', 100);
-- Fixture events written directly by the superuser in the state the test needs: import
-- mode (docs/tenancy.md "Write rules"); every other write rule still applies.
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-0000000000e1', '8aaaaaaa-0000-4000-8000-000000000001',
     'Opera Night', 'opera-night', 'ON_SALE'),
    ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-0000000000e2', '8aaaaaaa-0000-4000-8000-000000000001',
     'Unpublished Opera', 'unpublished-opera', 'DRAFT'),
    ('82222222-2222-4222-8222-222222222222', '8bbbbbbb-0000-4000-8000-0000000000e1', '8bbbbbbb-0000-4000-8000-000000000001',
     'Foreign Event', 'foreign-event', 'ON_SALE');

-- ---------------------------------------------------------------- content and FAQs
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '81111111-1111-4111-8111-111111111111';
SET LOCAL app.current_user_id = 'editor-1';
SELECT lives_ok($$SELECT api.set_event_content('8aaaaaaa-0000-4000-8000-0000000000e1', 'en', 'A night at the opera.',
                                               '["Full orchestra"]')$$, 'English description stored');
SELECT lives_ok($$SELECT api.set_event_content('8aaaaaaa-0000-4000-8000-0000000000e1', 'de', 'Ein Opernabend.')$$,
                'German description stored');
SELECT is(api.set_event_content('8aaaaaaa-0000-4000-8000-0000000000e1', 'en', 'A night at the opera, revised.')
          -> 'highlights', '["Full orchestra"]'::jsonb, 'updating the text keeps the highlights');
SELECT throws_ok($$SELECT api.set_event_content('8aaaaaaa-0000-4000-8000-0000000000e1', 'english', 'x')$$,
                 '22023', 'invalid locale "english"', 'a malformed locale is refused');
SELECT throws_ok($$SELECT api.set_event_content('8bbbbbbb-0000-4000-8000-0000000000e1', 'en', 'x')$$,
                 'PT404', NULL, 'another tenant''s event is not found');
SELECT lives_ok($$SELECT api.set_event_faqs('8aaaaaaa-0000-4000-8000-0000000000e1',
                  '[{"question": "Is there a dress code?", "answer": "Smart casual."},
                    {"question": "When do doors open?", "answer": "One hour before."},
                    {"question": "Is there a cloakroom?", "answer": "Yes."}]')$$, 'three FAQs stored');
SELECT throws_ok($$SELECT api.set_event_faqs('8aaaaaaa-0000-4000-8000-0000000000e1', '[{"question": "No answer?"}]')$$,
                 '22023', 'faq at position 0 needs a string "question" and a string "answer"', 'a FAQ without answer');
SELECT is((SELECT count(*)::int FROM eventsvc.event_faqs), 3, 'the refused replacement left the FAQs as they were');
RESET ROLE;

SET LOCAL ROLE eventsvc_anon;
SELECT is(api.event_content('8aaaaaaa-0000-4000-8000-0000000000e1', 'de-AT') ->> 'long_description', 'Ein Opernabend.',
          'de-AT falls back to de');
SELECT is(api.event_content('8aaaaaaa-0000-4000-8000-0000000000e1', 'fr') ->> 'locale', 'en', 'fr falls back to en');
SELECT is((SELECT array_agg(f ->> 'question') FROM jsonb_array_elements(
               api.event_content('8aaaaaaa-0000-4000-8000-0000000000e1') -> 'faqs') f),
          ARRAY['Is there a dress code?', 'When do doors open?', 'Is there a cloakroom?'], 'FAQs come in their order');
SELECT throws_ok($$SELECT api.event_content('8aaaaaaa-0000-4000-8000-0000000000e2')$$, 'PT404', NULL,
                 'content of a draft is not public');
SELECT throws_ok($$SELECT api.set_event_content('8aaaaaaa-0000-4000-8000-0000000000e1', 'en', 'x')$$, '42501', NULL,
                 'the public cannot write content');
RESET ROLE;

-- ---------------------------------------------------------------- reviews
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '81111111-1111-4111-8111-111111111111';
SET LOCAL app.current_user_id = 'fan-1';
SELECT is(api.submit_review('8aaaaaaa-0000-4000-8000-0000000000e1', 5, 'Superb') ->> 'moderation_state', 'pending',
          'a new review waits for moderation');
SELECT throws_ok($$SELECT api.submit_review('8aaaaaaa-0000-4000-8000-0000000000e1', 0)$$, '22023',
                 'rating must be a whole number from 1 to 5', 'rating 0 is refused');
SELECT throws_ok($$SELECT api.submit_review('8aaaaaaa-0000-4000-8000-0000000000e1', 6)$$, '22023', NULL, 'rating 6 is refused');
SELECT throws_ok($$INSERT INTO eventsvc.event_reviews (tenant_id, event_id, user_id, rating)
                   VALUES ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-0000000000e1', 'fan-1', 3)$$,
                 '42501', NULL, 'a tenant user writes reviews through the api only');
-- the table's own rules, for a writer that may write it (a superuser, acting as fan-1)
RESET ROLE;
SELECT throws_ok($$INSERT INTO eventsvc.event_reviews (tenant_id, event_id, user_id, rating)
                   VALUES ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-0000000000e1', 'fan-1', 9)$$,
                 '23514', NULL, 'the table refuses a rating outside 1..5 too');
SELECT throws_ok($$INSERT INTO eventsvc.event_reviews (tenant_id, event_id, user_id, rating)
                   VALUES ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-0000000000e1', 'fan-1', 3)$$,
                 '23505', NULL, 'one review per user per event (a direct second insert is a duplicate)');
SET LOCAL ROLE eventsvc_user;
SELECT lives_ok($$SELECT api.submit_review('8aaaaaaa-0000-4000-8000-0000000000e1', 4, 'Very good')$$,
                'submitting again edits the same review');
SELECT is((SELECT count(*)::int FROM eventsvc.event_reviews WHERE user_id = 'fan-1'), 1, 'still one review by fan-1');
SELECT throws_ok($$INSERT INTO eventsvc.event_reviews (tenant_id, event_id, user_id, rating, moderation_state)
                   VALUES ('81111111-1111-4111-8111-111111111111', '8aaaaaaa-0000-4000-8000-0000000000e1', 'fan-9', 5, 'approved')$$,
                 '42501', NULL, 'a user cannot plant an approved review (no direct write at all)');
SELECT throws_ok($$SELECT api.moderate_review(id, 'approved') FROM eventsvc.event_reviews LIMIT 1$$, '42501', NULL,
                 'a user cannot moderate');
SET LOCAL app.current_user_id = 'fan-2';
SELECT lives_ok($$SELECT api.submit_review('8aaaaaaa-0000-4000-8000-0000000000e1', 2, 'Too long')$$, 'fan-2 reviews');
SELECT throws_ok($$UPDATE eventsvc.event_reviews SET rating = 1 WHERE user_id = 'fan-1'$$, '42501',
                 NULL, 'a user cannot edit another user''s review');
SELECT throws_ok($$SELECT api.delete_review(id) FROM eventsvc.event_reviews WHERE user_id = 'fan-1'$$, '42501',
                 'a review can only be deleted by its author or a tenant admin', 'nor delete it');
SET LOCAL app.current_user_id = 'fan-3';
SELECT lives_ok($$SELECT api.submit_review('8aaaaaaa-0000-4000-8000-0000000000e1', 1, 'Spam')$$, 'fan-3 reviews');
RESET ROLE;

SET LOCAL ROLE eventsvc_anon;
SELECT is(api.event_rating('8aaaaaaa-0000-4000-8000-0000000000e1'),
          '{"count": 0, "average": null, "stars": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}'::jsonb,
          'nothing approved yet: no rating');
RESET ROLE;

SET LOCAL ROLE eventsvc_admin;
SET LOCAL app.current_tenant_id = '81111111-1111-4111-8111-111111111111';
SET LOCAL app.current_user_id = 'moderator';
SELECT api.moderate_review(id, CASE user_id WHEN 'fan-3' THEN 'rejected' ELSE 'approved' END)
  FROM eventsvc.event_reviews ORDER BY user_id;
RESET ROLE;

SET LOCAL ROLE eventsvc_anon;
SELECT is(api.event_rating('8aaaaaaa-0000-4000-8000-0000000000e1'),
          '{"count": 2, "average": 3.00, "stars": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}}'::jsonb,
          'approved reviews only: 4 and 2 average 3.00');
SELECT results_eq($$SELECT user_id, rating FROM api.event_reviews('8aaaaaaa-0000-4000-8000-0000000000e1') ORDER BY user_id$$,
                  $$VALUES ('fan-1', 4::smallint), ('fan-2', 2::smallint)$$, 'only approved reviews are public');
RESET ROLE;

-- an edit sends the review back to moderation and out of the summary
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '81111111-1111-4111-8111-111111111111';
SET LOCAL app.current_user_id = 'fan-2';
SELECT is(api.submit_review('8aaaaaaa-0000-4000-8000-0000000000e1', 5, 'Changed my mind') ->> 'moderation_state', 'pending',
          'an edited review goes back to pending');
SELECT is((SELECT (review_count, rating_sum) FROM eventsvc.event_rating_summaries), (1, 4::bigint),
          'the summary dropped the edited review');
RESET ROLE;

-- the summary equals a full recount after deletes too
DELETE FROM eventsvc.event_reviews WHERE user_id = 'fan-1';
SELECT is((SELECT (review_count, rating_sum) FROM eventsvc.event_rating_summaries), (0, 0::bigint),
          'deleting the approved review empties the summary');
SELECT is((SELECT count(*)::int FROM eventsvc.event_rating_summaries s
             CROSS JOIN LATERAL (SELECT count(*)::int AS n, coalesce(sum(r.rating), 0)::bigint AS total
                                   FROM eventsvc.event_reviews r
                                  WHERE r.tenant_id = s.tenant_id AND r.event_id = s.event_id
                                    AND r.moderation_state = 'approved') c
            WHERE (s.review_count, s.rating_sum) IS DISTINCT FROM (c.n, c.total)),
          0, 'every summary equals a recount of approved reviews');

-- every content change is audited with its author; nobody writes the audit by hand
SELECT results_eq($$SELECT content, action, actor_id FROM eventsvc.content_audit_log
                    WHERE content IN ('event_content', 'event_faqs') ORDER BY id LIMIT 3$$,
                  $$VALUES ('event_content', 'INSERT', 'editor-1'), ('event_content', 'INSERT', 'editor-1'),
                           ('event_content', 'UPDATE', 'editor-1')$$, 'content changes are audited with their author');
SELECT is((SELECT changed_fields -> 'long_description' FROM eventsvc.content_audit_log
            WHERE content = 'event_content' AND action = 'UPDATE'),
          '{"old": "A night at the opera.", "new": "A night at the opera, revised."}'::jsonb,
          'an update records old and new values of the changed field only');
SELECT is((SELECT count(*)::int FROM eventsvc.content_audit_log WHERE content = 'event_faqs' AND action = 'INSERT'), 3,
          'each FAQ written is audited');
SELECT is((SELECT actor_role FROM eventsvc.content_audit_log
            WHERE content = 'event_reviews' AND action = 'UPDATE' AND changed_fields ? 'moderation_state' ORDER BY id LIMIT 1),
          'eventsvc_admin', 'moderation is audited with the admin''s role');
SELECT is((SELECT count(*)::int FROM eventsvc.content_audit_log WHERE content = 'event_reviews' AND action = 'DELETE'), 1,
          'a deleted review is audited');
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '81111111-1111-4111-8111-111111111111';
SELECT throws_ok($$INSERT INTO eventsvc.content_audit_log (tenant_id, event_id, content, action, row_key, actor_role)
                   VALUES ('81111111-1111-4111-8111-111111111111', gen_random_uuid(), 'event_faqs', 'DELETE', 'x', 'x')$$,
                 '42501', NULL, 'users cannot write the content audit');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

-- Quotas per tenant: cluster defaults (superuser settings eventsvc.quota_*) and a
-- tenant's own limits (eventsvc.tenant_quotas, set by the platform operator), on live
-- events, seats per hold, seats and live holds per customer, and the size of each JSON
-- document and text an api call stores; api.tenant_usage shows each with its use.
-- Over a count: PT429 (HTTP 429); over a size: PT413 (HTTP 413), refused before any
-- work (no row, no audit entry, no outbox message).
--
-- Run against the code before this change (main at efcc9c2), the run stopped before test
-- 1 (eventsvc.quota_events did not exist): there were no quotas, no eventsvc.quota_*
-- settings, no eventsvc.tenant_quotas and no api.tenant_usage; a whole section went into
-- one hold and a 9.7 MB content document was stored. Run against the code before the
-- quota counter_slots (main at cfce27b), the run stopped before test 15 (no column
-- max_counter_slots): the fair share of the shared seat counters was one cluster setting,
-- no tenant could be given its own, and api.tenant_usage did not show it.
BEGIN;
SELECT plan(29);

CREATE TEMP TABLE tenants AS SELECT
    eventsvc.create_tenant('Quota A', 'quota-a', '9a111111-1111-4111-8111-111111111111') AS a,
    eventsvc.create_tenant('Quota B', 'quota-b', '9a222222-2222-4222-8222-222222222222') AS b;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('9a111111-1111-4111-8111-111111111111', '9a111111-0000-4000-8000-000000000001', 'Quota Hall', 100000),
    ('9a222222-2222-4222-8222-222222222222', '9a222222-0000-4000-8000-000000000001', 'Other Hall', 1000);

CREATE FUNCTION pg_temp.new_event(n int) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.current_tenant_id', '9a111111-1111-4111-8111-111111111111', true);
    SET LOCAL ROLE eventsvc_admin;
    RETURN api.create_event(venue_id => '9a111111-0000-4000-8000-000000000001', name => 'Show ' || n,
                            starts_at => eventsvc.now() + make_interval(days => 10 + n),
                            ends_at => eventsvc.now() + make_interval(days => 10 + n, hours => 2),
                            sections => '[{"section_name": "Floor", "total_capacity": 5000}]');
END
$$;

-- ---------------------------------------------------------------- live events
SET LOCAL eventsvc.quota_events = 3;
CREATE TEMP TABLE ev AS SELECT n, pg_temp.new_event(n) AS doc FROM generate_series(1, 3) n;
RESET ROLE;
GRANT SELECT ON ev TO PUBLIC;
SELECT throws_ok($$SELECT pg_temp.new_event(4)$$, 'PT429', 'quota events exceeded: the tenant has as many live events as it may have',
                 'the fourth live event is over the default quota of 3 (429)');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM eventsvc.events WHERE tenant_id = '9a111111-1111-4111-8111-111111111111'), 3,
          'and nothing of it was written');
INSERT INTO eventsvc.tenant_quotas (tenant_id, max_events) VALUES ('9a111111-1111-4111-8111-111111111111', 4);
SELECT lives_ok($$SELECT pg_temp.new_event(4)$$, 'the tenant''s own quota of 4 lets a fourth one in');
RESET ROLE;
SELECT throws_ok($$SELECT pg_temp.new_event(5)$$, 'PT429', NULL, 'but not a fifth');
RESET ROLE;
SET LOCAL ROLE eventsvc_admin;
SELECT api.cancel_event((doc ->> 'id')::uuid, 'Storm') IS NOT NULL AS cancelled FROM ev WHERE n = 3 \gset
RESET ROLE;
SELECT lives_ok($$SELECT pg_temp.new_event(5)$$, 'a cancelled event no longer counts');
RESET ROLE;

-- ---------------------------------------------------------------- holds
SET LOCAL ROLE eventsvc_admin;
SELECT api.publish_event((doc ->> 'id')::uuid) IS NOT NULL AS p, api.transition_event((doc ->> 'id')::uuid, 'ON_SALE') IS NOT NULL AS s
  FROM ev WHERE n = 1 \gset
RESET ROLE;
CREATE TEMP TABLE sec AS SELECT (doc -> 'sections' -> 0 ->> 'id')::uuid AS id FROM ev WHERE n = 1;
GRANT SELECT ON sec TO PUBLIC;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'bot-1';
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 5000))$$, 'PT429',
                 'quota seats_per_hold exceeded: a hold of 5000 seats is more than one hold may have',
                 'a whole section in one hold is over the default quota of 100 seats per hold');
SELECT lives_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 100))$$, '100 seats in one hold are within it');
RESET ROLE;
UPDATE eventsvc.tenant_quotas SET max_seats_per_hold = 10, max_seats_per_customer = 115, max_holds_per_customer = 3
 WHERE tenant_id = '9a111111-1111-4111-8111-111111111111';
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 11))$$, 'PT429', NULL,
                 'the tenant''s own quota of 10 seats per hold');
SELECT lives_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 10))$$, 'a hold of 10');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 10))$$, 'PT429',
                 'quota seats_per_customer exceeded: bot-1 holds or has bought 110 seats of this event and asks for 10 more',
                 'seats per customer: 110 held, 10 more is over 115');
SELECT lives_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 5))$$, 'a third hold, 115 seats');
SELECT throws_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 1))$$, 'PT429',
                 'quota holds_per_customer exceeded: bot-1 already has 3 live holds for this event',
                 'live holds per customer: a fourth is over 3');
SET LOCAL app.current_user_id = 'fan-2';
SELECT lives_ok($$SELECT to_jsonb(api.reserve_capacity((SELECT id FROM sec), 2))$$, 'another customer is not held back by bot-1');
RESET ROLE;

-- ---------------------------------------------------------------- shared seat counters
-- Tenant A may hold 2 counters; its event of three sections and the Floor above want 4.
UPDATE eventsvc.tenant_quotas SET max_events = 10, max_counter_slots = 2
 WHERE tenant_id = '9a111111-1111-4111-8111-111111111111';
SET LOCAL ROLE eventsvc_admin;
CREATE TEMP TABLE trio AS SELECT api.create_event(venue_id => '9a111111-0000-4000-8000-000000000001', name => 'Trio',
    starts_at => eventsvc.now() + interval '30 days', ends_at => eventsvc.now() + interval '30 days 2 hours',
    sections => '[{"section_name": "N1", "total_capacity": 3}, {"section_name": "N2", "total_capacity": 3},
                  {"section_name": "N3", "total_capacity": 3}]') AS doc;
SELECT api.publish_event((doc ->> 'id')::uuid) IS NOT NULL AS p, api.transition_event((doc ->> 'id')::uuid, 'ON_SALE') IS NOT NULL AS s
  FROM trio \gset
RESET ROLE;
CREATE TEMP TABLE trio_sec AS SELECT (x ->> 'id')::uuid AS id, x ->> 'section_name' AS name
  FROM trio, jsonb_array_elements(doc -> 'sections') x;
GRANT SELECT ON trio_sec TO PUBLIC;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_user_id = 'fan-3';
SELECT count(to_jsonb(api.reserve_capacity(id, 1))) AS reserved FROM (SELECT id FROM trio_sec ORDER BY name) s \gset
RESET ROLE;
SELECT is((SELECT count(*)::int FROM (SELECT id FROM trio_sec UNION ALL SELECT id FROM sec) s
            WHERE eventsvc.escrow_state(s.id) IS NOT NULL), 2,
          'four sections reserved, two shared counters: the tenant''s own quota counter_slots');
SELECT is((SELECT count(*)::int FROM trio_sec t, LATERAL eventsvc.check_capacity(t.id) r
            WHERE (r ->> 'held')::int = 1 AND NOT (r ->> 'oversold')::bool), 3,
          'each section of the event holds its one seat, counter or not');
SELECT id AS row_section FROM trio_sec WHERE eventsvc.escrow_state(id) IS NULL ORDER BY name LIMIT 1 \gset
SET LOCAL ROLE eventsvc_user;
SELECT is((SELECT (quota_limit, used, source)::text FROM api.tenant_usage WHERE quota = 'counter_slots'), '(2,2,tenant)',
          'api.tenant_usage: counter_slots with its use, its limit and where it comes from');
SET LOCAL app.current_user_id = 'fan-last';
SELECT lives_ok(format($$SELECT to_jsonb(api.reserve_capacity(%L, 2))$$, :'row_section'),
                'a section past the share sells its last two seats');
SELECT throws_ok(format($$SELECT to_jsonb(api.reserve_capacity(%L, 1))$$, :'row_section'), 'PT409', NULL,
                 'and refuses one more: exact without a counter of its own');
RESET ROLE;

-- ---------------------------------------------------------------- sizes, refused before any work
SELECT (SELECT count(*) FROM eventsvc.content_audit_log) AS audit_before \gset
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok(format($$SELECT api.set_event_content(%L, 'en', repeat('x', 9700000))$$, (SELECT doc ->> 'id' FROM ev WHERE n = 2)),
                 'PT413', NULL, 'a 9.7 MB long description is over the default 1 MB text quota (413)');
SELECT throws_ok(format($$SELECT api.set_event_content(%L, 'en', 'ok', media => (SELECT jsonb_agg('https://cdn.example.com/' || repeat('a', 1000) || g) FROM generate_series(1, 300) g))$$,
                        (SELECT doc ->> 'id' FROM ev WHERE n = 2)),
                 'PT413', NULL, 'a 300 kB media document is over the default 256 kB document quota');
SELECT throws_ok(format($$SELECT api.set_event_metadata(%L, custom_fields => jsonb_build_object('k', repeat('v', 300000)))$$,
                        (SELECT doc ->> 'id' FROM ev WHERE n = 2)),
                 'PT413', NULL, 'so is a 300 kB metadata document');
SELECT throws_ok(format($$SELECT api.update_event(%L, 1, jsonb_build_object('description', repeat('d', 300000)))$$,
                        (SELECT doc ->> 'id' FROM ev WHERE n = 2)),
                 'PT413', NULL, 'and a 300 kB change of an event');
RESET ROLE;
SELECT is((SELECT count(*) FROM eventsvc.content_audit_log), :'audit_before'::bigint,
          'the refused writes left no row and no audit entry');
UPDATE eventsvc.tenant_quotas SET max_text_bytes = 100 WHERE tenant_id = '9a111111-1111-4111-8111-111111111111';
SET LOCAL ROLE eventsvc_user;
SELECT throws_ok(format($$SELECT api.submit_review(%L, 5, body => repeat('b', 200))$$, (SELECT doc ->> 'id' FROM ev WHERE n = 2)),
                 'PT413', 'body: 204 bytes is larger than the quota text_bytes allows (100 bytes)',
                 'the tenant''s own text quota, naming the field');

-- ---------------------------------------------------------------- the view of use
SELECT results_eq($$SELECT quota, used, quota_limit, source FROM api.tenant_usage
                    WHERE quota IN ('events', 'seats_per_hold', 'seats_per_customer', 'holds_per_customer', 'live_holds')
                    ORDER BY quota$$,
                  $$VALUES ('events', 5::bigint, 10, 'tenant'), ('holds_per_customer', 3::bigint, 3, 'tenant'),
                           ('live_holds', 8::bigint, NULL::int, NULL::text), ('seats_per_customer', 115::bigint, 115, 'tenant'),
                           ('seats_per_hold', 100::bigint, 10, 'tenant')$$,
                  'api.tenant_usage: each quota with its use, its limit and where the limit comes from');
SELECT throws_ok($$UPDATE eventsvc.tenant_quotas SET max_events = 1000000$$, '42501', NULL,
                 'a tenant cannot raise its own quotas');
RESET ROLE;
SET LOCAL ROLE eventsvc_user;
SET LOCAL app.current_tenant_id = '9a222222-2222-4222-8222-222222222222';
SELECT is((SELECT quota_limit FROM api.tenant_usage WHERE quota = 'events'), 3,
          'tenant B sees its own quotas: the default (3 in this session)');
SELECT is((SELECT (quota_limit, used, source)::text FROM api.tenant_usage WHERE quota = 'counter_slots'), '(1000,0,default)',
          'and its counter share: the default eventsvc.escrow_sections_per_tenant, none in use');
SELECT is((SELECT count(*)::int FROM eventsvc.tenant_quotas), 0, 'and none of tenant A''s');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

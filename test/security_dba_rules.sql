-- The rules that matter hold for every writer, a DBA (superuser) writing the tables
-- directly included: they are C triggers, not checks in the api. Each direct INSERT,
-- UPDATE or DELETE below breaks one rule and is refused with the catalogue's code; the
-- documented superuser-only setting eventsvc.import_mode lets a superuser import events
-- in the state they give, and nobody else can set it.
--
-- Run against the code before this change (main at 244c604), tests 2-8 and 10-17 failed
-- and the run stopped at test 18 (eventsvc.import_mode did not exist): every one of the
-- superuser's rule-breaking writes was accepted (an event inserted ON_SALE or starting
-- yesterday, a POSIX zone, a capacity above the venue, a start moved into the past or
-- after sales, a live event deleted or soft-deleted, a status set to synced by hand, a
-- section with holds moved, FAQ number 101, a javascript: or 2 MB media link, 60
-- highlights); test 6 failed there only because the accepted "Jump" event took its slot.
BEGIN;
SELECT plan(22);

CREATE TEMP TABLE tenants AS SELECT
    eventsvc.create_tenant('DBA A', 'dba-a', 'dba11111-1111-4111-8111-111111111111') AS a;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'DBA Hall', 1000);

-- An event on sale with two sold seats, and a draft, through the api.
SET LOCAL ROLE eventsvc_admin;
SET LOCAL app.current_tenant_id = 'dba11111-1111-4111-8111-111111111111';
CREATE TEMP TABLE ev AS SELECT api.create_event(venue_id => 'dba11111-0000-4000-8000-0000000000a1', name => 'Sold Show',
    starts_at => eventsvc.now() + interval '20 days', ends_at => eventsvc.now() + interval '20 days 2 hours',
    sections => '[{"section_name": "Floor", "total_capacity": 100}]') AS doc;
CREATE TEMP TABLE ev2 AS SELECT api.create_event(venue_id => 'dba11111-0000-4000-8000-0000000000a1', name => 'Draft Show',
    starts_at => eventsvc.now() + interval '30 days', ends_at => eventsvc.now() + interval '30 days 2 hours') AS doc;
SELECT api.publish_event((doc ->> 'id')::uuid) IS NOT NULL AS p FROM ev \gset
SELECT api.transition_event((doc ->> 'id')::uuid, 'ON_SALE') IS NOT NULL AS s FROM ev \gset
SELECT to_jsonb(api.reserve_capacity((doc -> 'sections' -> 0 ->> 'id')::uuid, 2)) ->> 'id' AS hold FROM ev \gset
SELECT to_jsonb(api.confirm_hold(:'hold')) IS NOT NULL AS bought \gset
RESET ROLE;
RESET app.current_tenant_id;

-- ---------------------------------------------------------------- the superuser's direct writes
SELECT ok((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), 'these writes are a superuser''s');
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, status, starts_at, ends_at)
                   VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'Jump', 'jump',
                           'ON_SALE', now() + interval '10 days', now() + interval '10 days 1 hour')$$,
                 'PT409', 'a new event starts in DRAFT, not ON_SALE', 'INSERT of an event ON_SALE: the state machine on INSERT');
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, starts_at, ends_at)
                   VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'Past', 'past',
                           now() - interval '1 day', now() - interval '1 day' + interval '2 hours')$$,
                 '22023', 'starts_at: must be at least 2 hours from now', 'INSERT of an event that started yesterday');
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, starts_at, ends_at, timezone)
                   VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'Zone', 'zone',
                           now() + interval '10 days', now() + interval '10 days 1 hour', 'XYZ5')$$,
                 '22023', 'timezone: "XYZ5" is not an IANA time zone name', 'INSERT with a POSIX zone string');
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, starts_at, ends_at, capacity)
                   VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'Big', 'big',
                           now() + interval '10 days', now() + interval '10 days 1 hour', 5000)$$,
                 '22023', 'capacity: 5000 exceeds the venue''s capacity of 1000', 'INSERT with a capacity above the venue');
SELECT lives_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, starts_at, ends_at)
                  VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'Fine', 'fine',
                          now() + interval '10 days', now() + interval '10 days 1 hour')$$,
                'an INSERT that keeps the rules goes through');
SELECT throws_ok(format($$UPDATE eventsvc.events SET starts_at = now() - interval '3 hours', ends_at = now() WHERE id = %L$$,
                        (SELECT doc ->> 'id' FROM ev2)),
                 '22023', NULL, 'UPDATE moving a start into the past');
SELECT throws_ok(format($$UPDATE eventsvc.events SET starts_at = starts_at + interval '1 day', ends_at = ends_at + interval '1 day'
                          WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev)),
                 'PT428', NULL, 'UPDATE moving the dates after sales without the confirmation flow');
SELECT lives_ok(format($$UPDATE eventsvc.events SET short_description = 'Fixed typo' WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev)),
                'a DBA still fixes other columns of an event on sale');
SELECT throws_ok(format($$DELETE FROM eventsvc.events WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev)),
                 'PT409', 'an event in status ON_SALE cannot be deleted', 'DELETE of a live event');
SELECT throws_ok(format($$UPDATE eventsvc.events SET deleted_at = now() WHERE id = %L$$, (SELECT doc ->> 'id' FROM ev)),
                 'PT409', NULL, 'soft delete of a live event');
SELECT throws_ok(format($$UPDATE eventsvc.events SET blockchain_status = 'synced',
                                                     event_pda = '7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU' WHERE id = %L$$,
                        (SELECT doc ->> 'id' FROM ev)),
                 '42501', 'blockchain_status: only the blockchain service reports an event synced',
                 'blockchain_status set to synced by hand (only the service callback does that)');
SELECT throws_ok(format($$UPDATE eventsvc.event_capacity SET event_id = %L WHERE event_id = %L$$,
                        (SELECT doc ->> 'id' FROM ev2), (SELECT doc ->> 'id' FROM ev)),
                 'PT409', NULL, 'a section with holds moved to another event');
SELECT throws_ok(format($$INSERT INTO eventsvc.event_faqs (tenant_id, event_id, position, question, answer)
                          VALUES ('dba11111-1111-4111-8111-111111111111', %L, 100, 'Q101', 'A')$$, (SELECT doc ->> 'id' FROM ev)),
                 '22023', NULL, 'FAQ number 101');
SELECT throws_ok(format($$INSERT INTO eventsvc.event_content (tenant_id, event_id, locale, media)
                          VALUES ('dba11111-1111-4111-8111-111111111111', %L, 'fr', '["javascript:alert(1)"]')$$,
                        (SELECT doc ->> 'id' FROM ev)),
                 '22023', 'media[0]: url must be an https link (https://host.tld/...)', 'a javascript: media link');
SELECT throws_ok(format($$INSERT INTO eventsvc.event_content (tenant_id, event_id, locale, media)
                          VALUES ('dba11111-1111-4111-8111-111111111111', %L, 'fr',
                                  jsonb_build_array('https://cdn.example.com/' || repeat('a', 2000000)))$$,
                        (SELECT doc ->> 'id' FROM ev)),
                 '22023', NULL, 'a 2 MB media link');
SELECT throws_ok(format($$INSERT INTO eventsvc.event_content (tenant_id, event_id, locale, highlights)
                          VALUES ('dba11111-1111-4111-8111-111111111111', %L, 'fr',
                                  (SELECT jsonb_agg('h' || g) FROM generate_series(1, 60) g))$$, (SELECT doc ->> 'id' FROM ev)),
                 '22023', 'highlights: at most 50 entries, got 60', '60 highlights');

-- ---------------------------------------------------------------- the documented override
SET LOCAL eventsvc.import_mode = on;
SELECT lives_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, status, starts_at, ends_at)
                  VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'Imported', 'imported',
                          'COMPLETED', now() - interval '10 days', now() - interval '10 days' + interval '2 hours')$$,
                'with eventsvc.import_mode a superuser imports an event in the status and dates it gives');
SELECT throws_ok($$INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, status, timezone)
                   VALUES ('dba11111-1111-4111-8111-111111111111', 'dba11111-0000-4000-8000-0000000000a1', 'Bad zone', 'bad-zone',
                           'COMPLETED', 'XYZ5')$$,
                 '22023', NULL, 'an import still needs a real time zone');
SET LOCAL eventsvc.import_mode = off;
SET LOCAL ROLE eventsvc_admin;
SELECT throws_ok($$SET eventsvc.import_mode = on$$, '42501', NULL, 'a tenant admin cannot set eventsvc.import_mode');
SELECT throws_ok($$SET eventsvc.blockchain_callback = on$$, '42501', NULL, 'nor eventsvc.blockchain_callback');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM eventsvc.events WHERE tenant_id = 'dba11111-1111-4111-8111-111111111111'), 4,
          'the two api events, the rule-abiding insert and the import: nothing else got in');

SELECT * FROM finish();
ROLLBACK;
